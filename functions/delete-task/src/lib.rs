//! `DELETE /api/{user_id}/tasks/{task_id}`: 204, or 404 if there was none.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, http, routes};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    http::handle(req, state, &routes::DELETE_TASK, delete_task).await
}

async fn delete_task(req: Request, state: &AppState) -> Result<Response<Body>, ApiError> {
    let user = state
        .auth
        .authorize(req.headers(), http::path_param(&req, "user_id")?)
        .await?;
    let id = http::task_id(&req)?;
    if !state.tasks.delete(&user, id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(http::empty_response(StatusCode::NO_CONTENT))
}
