//! What every handler does around its own work: read path parameters,
//! write JSON, turn errors into responses, and log one line per request.

use std::time::Instant;

use lambda_http::{
    Body, Request, RequestExt, Response,
    http::{HeaderValue, StatusCode, header},
    request::RequestContext,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use uuid::Uuid;

use crate::{error::ApiError, routes::Route};

/// Runs one request through `work`, maps its error to a response, and logs
/// the request id, route, status and latency — never headers or bodies.
pub async fn handle<S: ?Sized>(
    req: Request,
    state: &S,
    route: &Route,
    work: impl AsyncFnOnce(Request, &S) -> Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let response = work(req, state)
        .await
        .unwrap_or_else(ApiError::into_response);
    tracing::info!(
        request_id,
        route = route.key,
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// API Gateway's request id when there is one (it matches the access
/// log), else the Lambda invocation id.
fn request_id(req: &Request) -> String {
    let from_gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_default()
}

/// A path parameter as API Gateway decoded it.
pub fn path_param<'r>(req: &'r Request, name: &str) -> Result<&'r str, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .ok_or_else(|| ApiError::Internal(format!("route has no `{name}` path parameter")))
}

/// `{task_id}`: a UUID in its canonical hyphenated form.
pub fn task_id(req: &Request) -> Result<Uuid, ApiError> {
    let raw = path_param(req, "task_id")?;
    // Uuid::try_parse also takes braced, urn: and 32-digit forms; a path
    // segment only takes the canonical 36-character one.
    (raw.len() == 36)
        .then(|| Uuid::try_parse(raw).ok())
        .flatten()
        .ok_or_else(|| ApiError::bad_request("task_id: must be a UUID"))
}

pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => json_text_response(status, text),
        Err(e) => ApiError::Internal(format!("serializing a response: {e}")).into_response(),
    }
}

/// A JSON body already written. It goes out as `Body::Text`: lambda_http
/// sends `Body::Binary` base64-encoded (a third larger, and CPU spent on it),
/// and a Lambda response must stay under 6 MB.
pub fn json_text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn empty_response(status: StatusCode) -> Response<Body> {
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

/// Sets a header whose value we built; a value that cannot be a header
/// (it cannot happen with encoded ids) is an internal error, not a panic.
pub fn with_header(
    mut response: Response<Body>,
    name: header::HeaderName,
    value: &str,
) -> Result<Response<Body>, ApiError> {
    let value = HeaderValue::from_str(value)
        .map_err(|e| ApiError::Internal(format!("header {name}: {e}")))?;
    response.headers_mut().insert(name, value);
    Ok(response)
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
