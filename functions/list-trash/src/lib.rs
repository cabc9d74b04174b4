//! `GET /api/{user_id}/trash`: the caller's trashed tasks, last deleted
//! first, each with its `deleted_at`; keyset-paged (`limit`, `cursor`,
//! `Link`) and ended early before its body passes 2 MiB, as the task list
//! is. The page has an `ETag`; 304 when `If-None-Match` names it.

use lambda_http::{
    Body, Request, Response,
    http::{StatusCode, header},
};
use shared::{
    ApiError, AppState, auth::UserId, endpoint, etag, response, routes, task, validation,
};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::LIST_TRASH, list_trash).await
}

async fn list_trash(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let query = validation::trash_query(&req)?;
    let if_none_match = etag::if_none_match(&req)?;
    let page = state
        .tasks
        .list_trash(&user, query.limit, query.after.as_ref())
        .await?;
    let page = page.into_trash_json(task::MAX_PAGE_BODY_BYTES)?;
    if if_none_match.is_some_and(|c| c.matches_weakly(&page.etag)) {
        return Ok(response::not_modified(&page.etag)?);
    }
    let response = response::tagged_json(StatusCode::OK, page.body, &page.etag)?;
    let Some(next) = page.next else {
        return Ok(response);
    };
    let link = format!(
        "<{}?limit={}&cursor={}>; rel=\"next\"",
        response::trash_path(user.as_str()),
        query.limit,
        next.encode(),
    );
    Ok(response::with_header(response, header::LINK, &link)?)
}
