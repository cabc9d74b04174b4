//! `GET /api/{user_id}/tasks/{task_id}/history`: the task's history
//! entries, newest first, also while it is in the trash; paged like a list
//! (`limit`, a `cursor` bound to this task, `Link`, the 2 MiB budget). The
//! page has an `ETag`; 304 when `If-None-Match` names it. 404 when the
//! task is neither live nor in the caller's trash.

use lambda_http::{
    Body, Request, Response,
    http::{StatusCode, header},
};
use shared::{
    ApiError, AppState, auth::UserId, changes, endpoint, etag, response, routes, task, validation,
};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::TASK_HISTORY, task_history).await
}

async fn task_history(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let id = endpoint::task_id(&req)?;
    let query = validation::history_query(&req, id)?;
    let if_none_match = etag::if_none_match(&req)?;
    let rows = state
        .tasks
        .history(&user, id, query.before, query.limit + 1)
        .await?
        .ok_or(ApiError::NotFound)?;
    let page = rows.into_json(id, query.limit, task::MAX_PAGE_BODY_BYTES)?;
    changes::purge_bounds(&state.tasks).await;
    if if_none_match.is_some_and(|c| c.matches_weakly(&page.etag)) {
        return Ok(response::not_modified(&page.etag)?);
    }
    let response = response::tagged_json(StatusCode::OK, page.body, &page.etag)?;
    let Some(next) = page.next else {
        return Ok(response);
    };
    let link = format!(
        "<{}/{}/history?limit={}&cursor={}>; rel=\"next\"",
        response::tasks_path(user.as_str()),
        id,
        query.limit,
        next.encode(),
    );
    Ok(response::with_header(response, header::LINK, &link)?)
}
