//! CORS for browsers on other origins: which origins (`ALLOWED_ORIGINS`),
//! and the methods and headers they may use and read. `template.yaml`'s
//! `CorsConfiguration` says the same for the deployed API (a test holds
//! them together).

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// Which origins may call the API from a browser.
#[derive(Clone, Debug)]
pub enum AllowedOrigins {
    Any,
    List(Vec<HeaderValue>),
}

impl AllowedOrigins {
    /// `ALLOWED_ORIGINS`: comma-separated origins, or `*`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim() == "*" {
            return Ok(Self::Any);
        }
        raw.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let valid =
                    (o.starts_with("http://") || o.starts_with("https://")) && !o.ends_with('/');
                valid
                    .then(|| HeaderValue::from_str(o).ok())
                    .flatten()
                    .ok_or_else(|| {
                        format!(
                            "ALLOWED_ORIGINS: `{o}` is not an origin like https://app.example.com"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self::List)
    }
}

pub fn cors(origins: AllowedOrigins) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::LOCATION,
            header::LINK,
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            header::ETAG,
            HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(std::time::Duration::from_secs(600));
    match origins {
        AllowedOrigins::Any => layer.allow_origin(Any),
        AllowedOrigins::List(list) => layer.allow_origin(AllowOrigin::list(list)),
    }
}
