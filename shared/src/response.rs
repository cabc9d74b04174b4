//! Building responses: JSON bodies (always as text), empty ones, the
//! headers we set, and the paths that `Location` and `Link` name. Errors
//! are not known here: `error` builds its answers with these.

use lambda_http::{
    Body, Response,
    http::{HeaderName, HeaderValue, StatusCode, header, header::InvalidHeaderValue},
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

/// What a body that cannot be serialised (a bug) is answered with.
const INTERNAL_ERROR_JSON: &str = r#"{"detail":"internal server error"}"#;

pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => json_text(status, text),
        Err(e) => {
            tracing::error!(cause = %e, "serializing a response");
            json_text(
                StatusCode::INTERNAL_SERVER_ERROR,
                INTERNAL_ERROR_JSON.to_owned(),
            )
        }
    }
}

/// A JSON body already written. It goes out as `Body::Text`: lambda_http
/// sends `Body::Binary` base64-encoded (a third larger, and CPU spent on it),
/// and a Lambda response must stay under 6 MB.
pub fn json_text(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// A header value we built that cannot be one (it cannot happen with
/// encoded ids): an internal error, not a panic.
#[derive(Debug, thiserror::Error)]
#[error("header {name}: {source}")]
pub struct HeaderError {
    name: HeaderName,
    source: InvalidHeaderValue,
}

/// Sets a header whose value we built.
pub fn with_header(
    mut response: Response<Body>,
    name: HeaderName,
    value: &str,
) -> Result<Response<Body>, HeaderError> {
    match HeaderValue::from_str(value) {
        Ok(value) => {
            response.headers_mut().insert(name, value);
            Ok(response)
        }
        Err(source) => Err(HeaderError { name, source }),
    }
}

/// A JSON body already written (a task, a page), with its `ETag`.
pub fn tagged_json(
    status: StatusCode,
    text: String,
    etag: &str,
) -> Result<Response<Body>, HeaderError> {
    with_header(json_text(status, text), header::ETAG, etag)
}

/// 304: the client's copy (`etag`) is current; no body.
pub fn not_modified(etag: &str) -> Result<Response<Body>, HeaderError> {
    with_header(empty(StatusCode::NOT_MODIFIED), header::ETAG, etag)
}

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `/api/{user_id}/tasks`, with the user id percent-encoded.
pub fn tasks_path(user_id: &str) -> String {
    format!("/api/{}/tasks", utf8_percent_encode(user_id, SEGMENT))
}

/// `/api/{user_id}/trash`, with the user id percent-encoded.
pub fn trash_path(user_id: &str) -> String {
    format!("/api/{}/trash", utf8_percent_encode(user_id, SEGMENT))
}

/// Characters left as they are in a query value: RFC 3986 unreserved
/// (`+`, `&`, `=`, `#` and `%` are always encoded).
const QUERY_VALUE: &AsciiSet = SEGMENT;

/// `&name=value` for each pair, each value percent-encoded.
pub fn query_pairs(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("&{name}={}", utf8_percent_encode(value, QUERY_VALUE)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_path_encodes_the_user_id() {
        assert_eq!(tasks_path("Vre1c5XZ"), "/api/Vre1c5XZ/tasks");
        assert_eq!(tasks_path("a/b c?é"), "/api/a%2Fb%20c%3F%C3%A9/tasks");
    }

    #[test]
    fn query_pairs_encode_every_value() {
        let pairs = [
            ("q", "e-mail été & co".to_owned()),
            ("due_before", "2026-12-24T17:00:00+01:00".to_owned()),
        ];
        assert_eq!(
            query_pairs(&pairs),
            "&q=e-mail%20%C3%A9t%C3%A9%20%26%20co&due_before=2026-12-24T17%3A00%3A00%2B01%3A00"
        );
    }
}
