//! `GET /api/{user_id}/tasks/{task_id}`: one of the caller's tasks.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, auth::UserId, endpoint, response, routes};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::GET_TASK, get_task).await
}

async fn get_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let task = state
        .tasks
        .get(&user, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(response::json(StatusCode::OK, &task))
}
