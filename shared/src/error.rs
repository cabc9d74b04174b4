//! The one error type of the API and the one place it becomes a response.

use crate::metrics;
use lambda_http::{
    Body, Response,
    http::{HeaderValue, StatusCode, header},
};

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "1";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad or missing token; `reason` is what the metrics count.
    #[error("{detail}")]
    Unauthorized {
        detail: &'static str,
        reason: Refusal,
    },
    #[error("this token does not grant access to another user's tasks")]
    Forbidden,
    #[error("{0}")]
    BadRequest(String),
    #[error("task not found")]
    NotFound,
    /// `If-Match` named versions the task is no longer at.
    #[error("If-Match: the task has changed since that version; fetch it again")]
    PreconditionFailed,
    /// A request with this `Idempotency-Key` is still being processed.
    #[error("Idempotency-Key: a request with this key is still in progress; retry shortly")]
    IdempotencyKeyInProgress,
    /// The `Idempotency-Key` was used for a different task.
    #[error("Idempotency-Key: this key was already used for a different task; use a new key")]
    IdempotencyKeyReused,
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    #[error("the database is unavailable, retry shortly")]
    Unavailable,
    /// The JWKS endpoint cannot be reached, so the token cannot be judged.
    #[error("the token signing keys are unavailable, retry shortly")]
    KeysUnavailable,
    /// The cause is logged, never sent.
    #[error("internal server error")]
    Internal(String),
}

/// Why a token was refused, as the `unauthorized` metric's dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// Not `Bearer <JWT>`, too large, or not a JWT.
    Malformed,
    Expired,
    BadSignature,
    /// A `kid` the key set does not hold.
    UnknownKey,
    /// An algorithm not accepted, or not its key's.
    Algorithm,
    /// A claim missing or not accepted (`iss`, `aud`, `nbf`, `sub`).
    Claims,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Expired => "expired",
            Self::BadSignature => "bad_signature",
            Self::UnknownKey => "unknown_key",
            Self::Algorithm => "algorithm",
            Self::Claims => "claims",
        }
    }
}

/// Storage knows no HTTP: its two failures become the API's here.
impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Unavailable => Self::Unavailable,
            crate::db::DbError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::IdempotencyKeyInProgress => StatusCode::CONFLICT,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable | Self::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        match &self {
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            Self::Unauthorized { reason, .. } => metrics::count(
                metrics::name::UNAUTHORIZED,
                Some(("reason", reason.as_str())),
            ),
            Self::Unavailable => {
                metrics::count(metrics::name::UNAVAILABLE, Some(("cause", "database")))
            }
            Self::KeysUnavailable => {
                metrics::count(metrics::name::UNAVAILABLE, Some(("cause", "keys")))
            }
            _ => {}
        }
        let mut response = crate::response::json(
            self.status(),
            &serde_json::json!({ "detail": self.to_string() }),
        );
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized { reason, .. } => {
                // RFC 6750 §3.1: no error code when no token was sent.
                let challenge = if reason != Refusal::Missing {
                    r#"Bearer error="invalid_token""#
                } else {
                    "Bearer"
                };
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            // The first request's answer is a retry away.
            Self::Unavailable | Self::KeysUnavailable | Self::IdempotencyKeyInProgress => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}
