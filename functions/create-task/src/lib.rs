//! `POST /api/{user_id}/tasks`: creates a task; 201 with `Location`.

use lambda_http::{
    Body, Request, Response,
    http::{StatusCode, header},
};
use shared::{ApiError, AppState, auth::UserId, endpoint, response, routes, validation};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::CREATE_TASK, create_task).await
}

async fn create_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let new_task = validation::new_task(&req)?;
    let task = state.tasks.create(&user, &new_task).await?;
    let location = format!("{}/{}", response::tasks_path(user.as_str()), task.id()?);
    endpoint::with_header(
        endpoint::task_response(StatusCode::CREATED, &task)?,
        header::LOCATION,
        &location,
    )
}
