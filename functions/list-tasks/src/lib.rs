//! `GET /api/{user_id}/tasks`: the caller's tasks, newest first, keyset-paged.

use lambda_http::{
    Body, Request, Response,
    http::{StatusCode, header},
};
use shared::{ApiError, AppState, http, routes, validation};

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
    let response = http::json_response(StatusCode::OK, &page.tasks);
    let Some(next) = page.next else {
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
