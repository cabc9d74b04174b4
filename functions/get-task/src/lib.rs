//! `GET /api/{user_id}/tasks/{task_id}`: one of the caller's tasks.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, http, routes};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    http::handle(req, state, &routes::GET_TASK, get_task).await
}

async fn get_task(req: Request, state: &AppState) -> Result<Response<Body>, ApiError> {
    let user = state
        .auth
        .authorize(req.headers(), http::path_param(&req, "user_id")?)
        .await?;
    let id = http::task_id(&req)?;
    let task = state
        .tasks
        .get(&user, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(http::json_response(StatusCode::OK, &task))
}
