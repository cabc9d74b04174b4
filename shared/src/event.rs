//! Reading the raw event before lambda_http does, so that every event
//! API Gateway can deliver gets the API's own answer.
//!
//! lambda_http cannot be taught to refuse politely: an event it cannot
//! deserialize (a header value with a control character, which API Gateway
//! passes on) never reaches a handler — the invocation fails and the client
//! gets the gateway's bare 500 — and a few it can deserialize make its
//! conversion into a request panic (`unwrap`/`expect` on the URL, the URI
//! and a base64 body), which under `panic = "abort"` ends the process. So
//! the runtime hands us the event as raw JSON; it is read here, the cases
//! the conversion would panic on are refused first, and a refusal is a 400
//! naming what is wrong — never the offending value, which may be a token.

use base64::Engine;
use lambda_http::{
    aws_lambda_events::apigw::ApiGatewayV2httpRequest,
    http::{HeaderName, HeaderValue, Uri, header::HOST},
};
use reqwest::Url;

use crate::error::ApiError;

/// The event as an HTTP API (payload 2.0) request lambda_http can convert
/// without panicking, or the 400 that says why not.
pub fn read(json: &str) -> Result<ApiGatewayV2httpRequest, ApiError> {
    let event: ApiGatewayV2httpRequest = serde_json::from_str(json).map_err(|e| {
        // serde's message may quote a header value: only its place is logged.
        tracing::warn!(
            category = ?e.classify(),
            line = e.line(),
            column = e.column(),
            "unreadable event"
        );
        header_fault(json).unwrap_or_else(|| {
            ApiError::bad_request("request: the event is not an HTTP API request")
        })
    })?;
    check_body(&event)?;
    check_uri(&event)?;
    Ok(event)
}

/// The first header whose name or value HTTP forbids, as a 400 naming it.
fn header_fault(json: &str) -> Option<ApiError> {
    let event: serde_json::Value = serde_json::from_str(json).ok()?;
    let headers = event.get("headers")?.as_object()?;
    for (name, value) in headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Some(ApiError::bad_request(format!(
                "header name {}: holds a character HTTP forbids in a header name",
                shown(name)
            )));
        }
        let fine =
            |v: &serde_json::Value| v.as_str().is_some_and(|s| s.parse::<HeaderValue>().is_ok());
        let valid = match value {
            serde_json::Value::Array(values) => values.iter().all(fine),
            value => fine(value),
        };
        if !valid {
            return Some(ApiError::bad_request(format!(
                "{}: the header value holds a character HTTP forbids (a control character)",
                shown(name)
            )));
        }
    }
    None
}

/// A header name as the detail shows it: control characters escaped, and
/// no longer than a name need be.
fn shown(name: &str) -> String {
    name.chars().take(64).flat_map(char::escape_debug).collect()
}

/// lambda_http decodes a body marked base64 with `expect`.
fn check_body(event: &ApiGatewayV2httpRequest) -> Result<(), ApiError> {
    match &event.body {
        Some(body) if event.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(drop)
            .map_err(|_| ApiError::bad_request("body: marked base64-encoded but is not")),
        _ => Ok(()),
    }
}

/// lambda_http builds the request's URI from `X-Forwarded-Proto`, `Host`
/// (or the domain name), the stage and path, and the raw query string, and
/// unwraps each step: the same steps here, answered instead.
fn check_uri(event: &ApiGatewayV2httpRequest) -> Result<(), ApiError> {
    let host = event
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or(event.request_context.domain_name.as_deref());
    let path = path_with_stage(
        event.request_context.stage.as_deref(),
        event.raw_path.as_deref().unwrap_or_default(),
    );
    let mut uri = match host {
        None => Url::parse(&format!("http://localhost{path}"))
            .map(|url| url.path().to_owned())
            .map_err(|_| ApiError::bad_request("path: not a valid URL path"))?,
        Some(host) => {
            let scheme = event
                .headers
                .get("x-forwarded-proto")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("https");
            Url::parse(&format!("{scheme}://{host}{path}"))
                .map_err(|_| {
                    ApiError::bad_request("Host, X-Forwarded-Proto: do not make a valid URL")
                })?
                .to_string()
        }
    };
    if let Some(query) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    Uri::try_from(uri)
        .map(drop)
        .map_err(|_| ApiError::bad_request("query string: holds a character a URI cannot carry"))
}

/// lambda_http's path with the stage: `/{stage}` put in front unless the
/// stage is `$default` or the path already starts with it.
fn path_with_stage(stage: Option<&str>, path: &str) -> String {
    if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_some() {
        return path.to_owned();
    }
    match stage {
        None | Some("$default") => path.to_owned(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.to_owned(),
        Some(stage) => format!("/{stage}{path}"),
    }
}
