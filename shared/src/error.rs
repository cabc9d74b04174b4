//! The one error type of the API and the one place it becomes a response.

use lambda_http::{
    Body, Response,
    http::{HeaderValue, StatusCode, header},
};

use crate::{db::DbError, response};

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
    /// A sync token the feed can no longer continue from (the detail says
    /// why); the client starts again without it.
    #[error("{0}")]
    Gone(String),
    /// A request with this `Idempotency-Key` is still being processed.
    #[error("Idempotency-Key: a request with this key is still in progress; retry shortly")]
    IdempotencyKeyInProgress,
    /// The `Idempotency-Key` was used for a different task.
    #[error("Idempotency-Key: this key was already used for a different task; use a new key")]
    IdempotencyKeyReused,
    /// The `Idempotency-Key` was used for a different batch.
    #[error("Idempotency-Key: this key was already used for a different batch; use a new key")]
    BatchKeyReused,
    /// The caller stores the most tasks a user may (`MAX_TASKS_PER_USER`).
    #[error("task limit reached: a user may store {0} tasks; delete some to create more")]
    TaskLimitReached(i32),
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    #[error("the database is unavailable, retry shortly")]
    Unavailable,
    /// The JWKS endpoint cannot be reached, so the token cannot be judged.
    #[error("the token signing keys are unavailable, retry shortly")]
    KeysUnavailable,
    /// The function's secrets could not be fetched yet (logged at start
    /// and on each retry).
    #[error("the service is starting, retry shortly")]
    NotReady,
    /// A bug of ours. The cause is logged, never sent.
    #[error("internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
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
impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable => Self::Unavailable,
            DbError::Invalid(detail) => Self::BadRequest(detail),
            internal @ DbError::Internal(_) => Self::internal(internal),
        }
    }
}

/// A header value we built that cannot be one: a bug.
impl From<response::HeaderError> for ApiError {
    fn from(e: response::HeaderError) -> Self {
        Self::internal(e)
    }
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    /// A bug of ours, with its cause (an error, or a sentence saying what
    /// cannot happen).
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::Gone(_) => StatusCode::GONE,
            // The collection's state forbids it, until the client changes
            // it (deletes tasks): not a retry later (429), nor a matter of
            // rights (403). Unlike a key in progress, no Retry-After.
            Self::IdempotencyKeyInProgress | Self::TaskLimitReached(_) => StatusCode::CONFLICT,
            Self::IdempotencyKeyReused | Self::BatchKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable | Self::KeysUnavailable | Self::NotReady => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let mut response = response::json(
            self.status(),
            &serde_json::json!({ "detail": self.to_string() }),
        );
        let headers = response.headers_mut();
        // Nothing of an error is kept, by a CDN in front or the browser.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
            Self::Unavailable
            | Self::KeysUnavailable
            | Self::NotReady
            | Self::IdempotencyKeyInProgress => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(response::RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn an_internal_error_keeps_its_cause_and_never_sends_it() {
        let error = ApiError::from(DbError::internal("42P01: relation \"x\" does not exist"));
        let cause = error.source().expect("a source").to_string();
        assert!(cause.contains("42P01"), "{cause}");
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let Body::Text(body) = response.body() else {
            panic!("a text body")
        };
        assert_eq!(body, r#"{"detail":"internal server error"}"#);
    }

    #[test]
    fn an_unavailable_database_stays_a_503() {
        let error = ApiError::from(DbError::Unavailable);
        assert!(matches!(error, ApiError::Unavailable));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
