//! The one error type of the API and the one place it becomes a response.

use lambda_http::{
    Body, Response,
    http::{HeaderValue, StatusCode, header},
};

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "1";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad or missing token: `token_present` decides whether the challenge
    /// carries `error="invalid_token"` (RFC 6750 §3.1: not when none was sent).
    #[error("{detail}")]
    Unauthorized {
        detail: &'static str,
        token_present: bool,
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
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let mut response = crate::response::json(
            self.status(),
            &serde_json::json!({ "detail": self.to_string() }),
        );
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized { token_present, .. } => {
                let challenge = if token_present {
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
