//! `GET /api/{user_id}/changes?since=<token>&limit=N`: what changed in
//! the caller's tasks since the token (without one: every live task), as
//! `{"changes": [...], "next": "<token>", "more": bool}`; each page one
//! statement, its `next` from that statement's snapshot (`shared::changes`).
//! A token too old, or ahead of the user's changes, is a 410.

use lambda_http::{Body, Request, Response, http::StatusCode};
use shared::{
    ApiError, AppState, auth::UserId, changes, endpoint, response, routes, task, validation,
};

pub async fn handler(req: Request, state: &AppState) -> Response<Body> {
    endpoint::task_route(req, state, &routes::LIST_CHANGES, list_changes).await
}

async fn list_changes(
    req: Request,
    state: &AppState,
    user: UserId,
) -> Result<Response<Body>, ApiError> {
    let query = validation::changes_query(&req, &user)?;
    let page = changes::page(&state.tasks, &user, &query, task::MAX_PAGE_BODY_BYTES).await?;
    changes::purge_bounds(&state.tasks).await;
    Ok(response::json_text(StatusCode::OK, page.body))
}
