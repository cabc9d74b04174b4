//! `POST /api/{user_id}/tasks`: creates a task; 201 with `Location`.

use lambda_http::{
    Body, Request, Response,
    http::{StatusCode, header},
};
use shared::{ApiError, AppState, http, routes, validation};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    http::handle(req, state, &routes::CREATE_TASK, create_task).await
}

async fn create_task(req: Request, state: &AppState) -> Result<Response<Body>, ApiError> {
    let user = state
        .auth
        .authorize(req.headers(), http::path_param(&req, "user_id")?)
        .await?;
    let new_task = validation::new_task(&req)?;
    let task = state.tasks.create(&user, &new_task).await?;
    let location = format!("{}/{}", http::tasks_path(user.as_str()), task.id()?);
    http::with_header(
        http::json_response(StatusCode::CREATED, &task),
        header::LOCATION,
        &location,
    )
}
