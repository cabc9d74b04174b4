//! `GET /health`: whether the database answers. No token needed.

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
    Ok(match db.ping().await {
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
    })
}
