//! `GET /health`: whether the database answers. No token needed, so the
//! answer is checked at most once a second (`Database::recent_ping`).

use lambda_http::{
    Body, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use serde_json::json;
use shared::{ApiError, db::Database, endpoint, response, routes};

pub async fn handler(req: Request, db: &Database) -> Response<Body> {
    endpoint::handle(req, db, &routes::HEALTH, health).await
}

async fn health(_req: Request, db: &Database) -> Result<Response<Body>, ApiError> {
    let mut response = match db.recent_ping().await {
        Ok(()) => response::json(StatusCode::OK, &json!({ "status": "ok" })),
        Err(_) => {
            let mut response = response::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "status": "unavailable" }),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(response::RETRY_AFTER_SECONDS),
            );
            response
        }
    };
    // A cached answer would say nothing of the database now.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
