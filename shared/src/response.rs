//! Building responses: JSON bodies (always as text), empty ones, and the
//! paths that `Location` and `Link` name.

use lambda_http::{
    Body, Response,
    http::{HeaderValue, StatusCode, header},
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_path_encodes_the_user_id() {
        assert_eq!(tasks_path("Vre1c5XZ"), "/api/Vre1c5XZ/tasks");
        assert_eq!(tasks_path("a/b c?é"), "/api/a%2Fb%20c%3F%C3%A9/tasks");
    }
}
