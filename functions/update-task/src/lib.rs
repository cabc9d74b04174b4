//! `PUT /api/{user_id}/tasks/{task_id}`: changes the fields sent, keeps the rest.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, auth::UserId, endpoint, response, routes, validation};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::UPDATE_TASK, update_task).await
}

async fn update_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let changes = validation::task_changes(&req)?;
    let task = state
        .tasks
        .update(&user, id, &changes)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(response::json(StatusCode::OK, &task))
}
