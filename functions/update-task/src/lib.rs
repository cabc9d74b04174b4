//! `PUT /api/{user_id}/tasks/{task_id}`: changes the fields sent, keeps the
//! rest; with `If-Match`, 412 unless the task is at a version it names.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, auth::UserId, endpoint, etag, response, routes, validation};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::UPDATE_TASK, update_task).await
}

async fn update_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let versions = etag::if_match_versions(&req)?;
    let changes = validation::task_changes(&req)?;
    let written = state
        .tasks
        .update(&user, id, &changes, versions.as_deref())
        .await?;
    let task = endpoint::written(written)?;
    let body = task.to_json()?;
    Ok(response::tagged_json(StatusCode::OK, body, &task.etag()?)?)
}
