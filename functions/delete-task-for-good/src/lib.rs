//! `DELETE /api/{user_id}/trash/{task_id}`: the trashed task gone for
//! good (204): a tombstone stays for the change feed, its history goes.
//! 404 when it is not in the caller's trash; with `If-Match`, 412 unless
//! the task is at a version it names.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{ApiError, AppState, auth::UserId, endpoint, etag, response, routes};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(
        req,
        state,
        &routes::DELETE_TASK_FOR_GOOD,
        delete_task_for_good,
    )
    .await
}

async fn delete_task_for_good(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let versions = etag::if_match_versions(&req)?;
    let written = state
        .tasks
        .delete_for_good(&user, id, versions.as_deref())
        .await?;
    endpoint::written(written)?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}
