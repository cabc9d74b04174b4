//! `POST /api/{user_id}/trash/{task_id}/restore`: the trashed task back
//! among the caller's tasks, same id and fields, with a new `updated_at`
//! (so a new ETag): 200 with it. 404 when it is not in the caller's trash;
//! with `If-Match`, 412 unless it names the ETag the task had when it was
//! deleted; 409 when the caller stores the most tasks a user may. A body
//! is ignored (docs/contract.md).

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{
    ApiError, AppState, auth::UserId, endpoint, etag, repository::trash::Restored, response, routes,
};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::RESTORE_TASK, restore_task).await
}

async fn restore_task(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let versions = etag::if_match_versions(&req)?;
    let task = match state.tasks.restore(&user, id, versions.as_deref()).await? {
        Restored::Done(task) => task,
        Restored::Missing => return Err(ApiError::NotFound),
        Restored::Stale => return Err(ApiError::PreconditionFailed),
        Restored::LimitReached => return Err(ApiError::TaskLimitReached(state.tasks.max_tasks())),
    };
    let body = task.to_json()?;
    Ok(response::tagged_json(StatusCode::OK, body, &task.etag()?)?)
}
