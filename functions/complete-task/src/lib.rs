//! `PATCH /api/{user_id}/tasks/{task_id}/complete`: no body toggles
//! `completed` atomically; `{"completed": bool}` sets it (safe to retry);
//! with `If-Match`, 412 unless the task is at a version it names.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, auth::UserId, endpoint, etag, response, routes, validation};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::COMPLETE_TASK, complete_task).await
}

async fn complete_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let versions = etag::if_match_versions(&req)?;
    let versions = versions.as_deref();
    let written = match validation::completion(&req)? {
        None => state.tasks.toggle_completed(&user, id, versions).await?,
        Some(completed) => {
            state
                .tasks
                .set_completed(&user, id, completed, versions)
                .await?
        }
    };
    let task = endpoint::written(written)?;
    let body = task.to_json()?;
    Ok(response::tagged_json(StatusCode::OK, body, &task.etag()?)?)
}
