//! `DELETE /api/{user_id}/tasks/{task_id}`: 204, or 404 if there was none;
//! with `If-Match`, 412 unless the task is at a version it names.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, auth::UserId, endpoint, etag, response, routes};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::DELETE_TASK, delete_task).await
}

async fn delete_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let versions = etag::if_match_versions(&req)?;
    let written = state.tasks.delete(&user, id, versions.as_deref()).await?;
    endpoint::written(written)?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}
