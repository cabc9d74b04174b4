//! The contract as OpenAPI 3.1 at `/openapi.json`, and Swagger UI at
//! `/docs`. Every asset is compiled into the binary: nothing is downloaded
//! at build or run time.

use axum::{
    Router,
    http::header,
    response::{Html, IntoResponse},
    routing::get,
};

/// The OpenAPI document of the contract (kept at the repository root, where
/// schemathesis and frontend tooling find it).
pub const OPENAPI_JSON: &str = include_str!("../../../openapi.json");

const DOCS_HTML: &str = include_str!("../assets/docs.html");
const SWAGGER_JS: &str = include_str!("../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &str = include_str!("../assets/swagger-ui/swagger-ui.css");
const FAVICON: &[u8] = include_bytes!("../assets/swagger-ui/favicon-32x32.png");

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let asset = |content_type: &'static str, body: &'static [u8]| {
        get(move || async move {
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "public, max-age=3600"),
                ],
                body,
            )
                .into_response()
        })
    };
    Router::new()
        .route(
            "/openapi.json",
            asset("application/json", OPENAPI_JSON.as_bytes()),
        )
        .route("/docs", get(|| async { Html(DOCS_HTML) }))
        .route(
            "/docs/swagger-ui-bundle.js",
            asset("text/javascript; charset=utf-8", SWAGGER_JS.as_bytes()),
        )
        .route(
            "/docs/swagger-ui.css",
            asset("text/css; charset=utf-8", SWAGGER_CSS.as_bytes()),
        )
        .route("/docs/favicon-32x32.png", asset("image/png", FAVICON))
}
