//! `GET /api/{user_id}/tasks/{task_id}`: one of the caller's tasks, with its
//! `ETag`; 304 when `If-None-Match` names it.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, auth::UserId, endpoint, etag, response, routes};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::GET_TASK, get_task).await
}

async fn get_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let if_none_match = etag::if_none_match(&req)?;
    let task = state
        .tasks
        .get(&user, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let current = task.etag()?;
    if if_none_match.is_some_and(|c| c.matches_weakly(&current)) {
        return Ok(response::not_modified(&current)?);
    }
    let body = task.to_json()?;
    Ok(response::tagged_json(StatusCode::OK, body, &current)?)
}
