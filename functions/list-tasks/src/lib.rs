//! `GET /api/{user_id}/tasks`: the caller's tasks, newest first, keyset-paged;
//! a page also ends before its body passes 2 MiB (Lambda's 6 MB response limit).

use lambda_http::{
    Body, Request, Response,
    http::{StatusCode, header},
};
use shared::{ApiError, AppState, http, routes, tasks, validation};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    http::handle(req, state, &routes::LIST_TASKS, list_tasks).await
}

async fn list_tasks(req: Request, state: &AppState) -> Result<Response<Body>, ApiError> {
    let user = state
        .auth
        .authorize(req.headers(), http::path_param(&req, "user_id")?)
        .await?;
    let query = validation::list_query(&req)?;
    let page = state.tasks.list(&user, &query).await?;
    let (body, next) = page.into_json(tasks::MAX_PAGE_BODY_BYTES)?;
    let response = http::json_text_response(StatusCode::OK, body);
    let Some(next) = next else {
        return Ok(response);
    };
    // The next page keeps the filter; the cursor carries the position.
    let filter = query
        .completed
        .map(|c| format!("&completed={c}"))
        .unwrap_or_default();
    let link = format!(
        "<{}?limit={}&cursor={}{filter}>; rel=\"next\"",
        http::tasks_path(user.as_str()),
        query.limit,
        next.encode(),
    );
    http::with_header(response, header::LINK, &link)
}
