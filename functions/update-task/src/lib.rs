//! `PUT /api/{user_id}/tasks/{task_id}`: changes the fields sent, keeps the
//! rest; with `If-Match`, 412 unless the task is at a version it names.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, auth::UserId, endpoint, etag, routes, validation};

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
    let task = state
        .tasks
        .update(&user, id, &changes, versions.as_deref())
        .await?
        .ok_or(ApiError::NotFound)?;
    endpoint::task_response(StatusCode::OK, &task)
}
