//! `PUT /api/{user_id}/tasks/{task_id}`: changes the fields sent, keeps the rest.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, http, routes, validation};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    http::handle(req, state, &routes::UPDATE_TASK, update_task).await
}

async fn update_task(req: Request, state: &AppState) -> Result<Response<Body>, ApiError> {
    let user = state
        .auth
        .authorize(req.headers(), http::path_param(&req, "user_id")?)
        .await?;
    let id = http::task_id(&req)?;
    let changes = validation::task_changes(&req)?;
    let task = state
        .tasks
        .update(&user, id, &changes)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(http::json_response(StatusCode::OK, &task))
}
