//! `PATCH /api/{user_id}/tasks/{task_id}/complete`: no body toggles
//! `completed` atomically; `{"completed": bool}` sets it (safe to retry).

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, http, routes, validation};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    http::handle(req, state, &routes::COMPLETE_TASK, complete_task).await
}

async fn complete_task(req: Request, state: &AppState) -> Result<Response<Body>, ApiError> {
    let user = state
        .auth
        .authorize(req.headers(), http::path_param(&req, "user_id")?)
        .await?;
    let id = http::task_id(&req)?;
    let task = match validation::completion(&req)? {
        None => state.tasks.toggle_completed(&user, id).await?,
        Some(completed) => state.tasks.set_completed(&user, id, completed).await?,
    };
    Ok(http::json_response(
        StatusCode::OK,
        &task.ok_or(ApiError::NotFound)?,
    ))
}
