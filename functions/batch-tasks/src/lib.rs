//! `POST /api/{user_id}/tasks/batch`: up to 100 creates, updates,
//! completes and deletes in one request, all or nothing by default; 200
//! with one result per operation, each what its single route would have
//! answered. With an `Idempotency-Key`, a retry replays the first answer.

use lambda_http::{
    Body, Request, Response,
    http::{HeaderValue, StatusCode},
};
use shared::{
    ApiError, AppState,
    auth::UserId,
    batch::{self, Reply},
    endpoint, idempotency, response, routes,
};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::BATCH_TASKS, batch_tasks).await
}

async fn batch_tasks(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let key = idempotency::key(&req)?;
    let batch = batch::batch(&req)?;
    Ok(
        match batch::run(&state.tasks, &user, batch, key.as_ref()).await? {
            Reply::Ran(body) => response::json_text(StatusCode::OK, body),
            Reply::Replayed(body) => {
                let mut response = response::json_text(StatusCode::OK, body);
                response
                    .headers_mut()
                    .insert(idempotency::REPLAYED, HeaderValue::from_static("true"));
                response
            }
        },
    )
}
