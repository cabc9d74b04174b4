//! `POST /api/{user_id}/tasks`: creates a task; 201 with `Location`. With
//! an `Idempotency-Key`, a retry replays the first 201 instead.

use lambda_http::{
    Body, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use shared::{
    ApiError, AppState,
    auth::UserId,
    endpoint,
    idempotency::{self, Creation},
    response, routes,
    task::Task,
    validation,
};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::CREATE_TASK, create_task).await
}

async fn create_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let key = idempotency::key(&req)?;
    let new_task = validation::new_task(&req)?;
    let creation = match &key {
        None => match state.tasks.create(&user, &new_task).await? {
            Some(task) => Creation::Created(task),
            None => Creation::LimitReached,
        },
        Some(key) => state.idempotency.create_once(&user, &new_task, key).await?,
    };
    match creation {
        Creation::Created(task) => created(&user, &task),
        Creation::Replayed(task) => {
            let mut response = created(&user, &task)?;
            response
                .headers_mut()
                .insert(idempotency::REPLAYED, HeaderValue::from_static("true"));
            Ok(response)
        }
        Creation::InProgress => Err(ApiError::IdempotencyKeyInProgress),
        Creation::Reused => Err(ApiError::IdempotencyKeyReused),
        Creation::LimitReached => Err(ApiError::TaskLimitReached(state.tasks.max_tasks())),
    }
}

fn created(user: &UserId, task: &Task) -> Result<Response<Body>, ApiError> {
    let location = format!("{}/{}", response::tasks_path(user.as_str()), task.id()?);
    let response = response::tagged_json(StatusCode::CREATED, task.to_json()?, &task.etag()?)?;
    Ok(response::with_header(
        response,
        header::LOCATION,
        &location,
    )?)
}
