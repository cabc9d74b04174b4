//! `GET /api/{user_id}/tasks`: the caller's tasks, sorted (newest first by
//! default), searched and filtered, keyset-paged;
//! a page also ends before its body passes 2 MiB (Lambda's 6 MB response
//! limit). The page has an `ETag`; 304 when `If-None-Match` names it.

use lambda_http::{
    Body, Request, Response,
    http::{StatusCode, header},
};
use shared::{
    ApiError, AppState, auth::UserId, endpoint, etag, metrics, response, routes, task, validation,
};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::LIST_TASKS, list_tasks).await
}

async fn list_tasks(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let query = validation::list_query(&req)?;
    let if_none_match = etag::if_none_match(&req)?;
    let page = state.tasks.list(&user, &query).await?;
    let page = page.into_json(task::MAX_PAGE_BODY_BYTES)?;
    metrics::record(
        metrics::name::TASKS_LISTED,
        metrics::Unit::Count,
        page.count as f64,
        None,
    );
    if if_none_match.is_some_and(|c| c.matches_weakly(&page.etag)) {
        return Ok(response::not_modified(&page.etag)?);
    }
    let response = response::tagged_json(StatusCode::OK, page.body, &page.etag)?;
    let Some(next) = page.next else {
        return Ok(response);
    };
    // The next page keeps the sort, search and filters as sent; the
    // cursor carries the position.
    let link = format!(
        "<{}?limit={}&cursor={}{}>; rel=\"next\"",
        response::tasks_path(user.as_str()),
        query.limit,
        next.encode(),
        response::query_pairs(&query.echo),
    );
    Ok(response::with_header(response, header::LINK, &link)?)
}
