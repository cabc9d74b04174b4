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
use url::Url;

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
    let scheme = event
        .headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("https");
    let raw_path = event.raw_path.as_deref().unwrap_or_default();
    let query = event.raw_query_string.as_deref().unwrap_or_default();
    if host.is_some_and(is_plain_host)
        && matches!(scheme, "https" | "http")
        && (raw_path.is_empty() || raw_path.starts_with('/'))
        && query.bytes().all(|b| b.is_ascii_graphic())
    {
        // What API Gateway sends: the URL cannot fail to parse (only a
        // host, a port or a scheme can make it fail, and a path that does
        // not start with `/` can change the host), and its serialisation
        // and such a query make a valid URI. The checks below parse as
        // much again as lambda_http does; this spares them.
        return Ok(());
    }
    let path = path_with_stage(event.request_context.stage.as_deref(), raw_path);
    let mut uri = match host {
        None => Url::parse(&format!("http://localhost{path}"))
            .map(|url| url.path().to_owned())
            .map_err(|_| ApiError::bad_request("path: not a valid URL path"))?,
        Some(host) => Url::parse(&format!("{scheme}://{host}{path}"))
            .map_err(|_| ApiError::bad_request("Host, X-Forwarded-Proto: do not make a valid URL"))?
            .to_string(),
    };
    if let Some(query) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    Uri::try_from(uri)
        .map(drop)
        .map_err(|_| ApiError::bad_request("query string: holds a character a URI cannot carry"))
}

/// A host name the URL parser takes as it is: ASCII letters, digits, `-`
/// and `.`, its last label starting with a letter (so it is not read as
/// an IPv4 address), no IDNA (`xn--`) label, and an optional port up to
/// 65535. Anything else takes the full check.
fn is_plain_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n <= 65_535)
    });
    let last_label_ok = name
        .rsplit('.')
        .next()
        .and_then(|label| label.bytes().next())
        .is_some_and(|b| b.is_ascii_alphabetic());
    port_ok
        && last_label_ok
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !name.split('.').any(|label| {
            label
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every host the fast path takes, the URL parser takes too.
    #[test]
    fn plain_hosts_parse_as_urls() {
        for host in [
            "abc123defg.execute-api.eu-west-1.amazonaws.com",
            "api.example.com:8443",
            "localhost",
            "LOCALHOST:3000",
            "a..b",
            "x",
            "a-.b",
        ] {
            assert!(is_plain_host(host), "{host}");
            assert!(Url::parse(&format!("https://{host}/p")).is_ok(), "{host}");
        }
        for host in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "a.123",
            "a.0x1f",
            "xn--zz.com",
            "a.XN--zz",
            "bad host",
            "a:99999",
            "a:",
            "a:1:2",
            "[::1]",
            "",
            "caf\u{e9}.com",
            "a/b",
            "a@b",
        ] {
            assert!(!is_plain_host(host), "{host}");
        }
    }

    fn event(change: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/get-task.json")).unwrap();
        change(&mut event);
        event.to_string()
    }

    #[test]
    fn both_paths_agree_with_lambda_http() {
        // Each of these converts without panicking (lambda_http's own
        // conversion, run here) when `read` lets it through.
        for change in [
            |e: &mut serde_json::Value| e["headers"]["host"] = "127.0.0.1:3000".into(),
            |e: &mut serde_json::Value| e["headers"]["host"] = "[::1]:3000".into(),
            |e: &mut serde_json::Value| e["rawQueryString"] = "a=%20b&c=d".into(),
            |e: &mut serde_json::Value| e["requestContext"]["stage"] = "dev".into(),
            |e: &mut serde_json::Value| {
                e["headers"].as_object_mut().unwrap().remove("host");
            },
        ] {
            let json = event(change);
            let read = read(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            let request =
                lambda_http::Request::from(lambda_http::request::LambdaRequest::ApiGatewayV2(read));
            assert!(
                request.uri().path().contains("/tasks/"),
                "{}",
                request.uri()
            );
        }
        // These take the full check: refused where lambda_http would
        // panic, converted where it would not.
        type Change = fn(&mut serde_json::Value);
        let cases: [(Change, bool); 6] = [
            (|e| e["headers"]["host"] = "a.123".into(), true),
            (|e| e["headers"]["host"] = "a:99999".into(), true),
            (|e| e["headers"]["x-forwarded-proto"] = "ht tp".into(), true),
            (|e| e["rawQueryString"] = "a=b c".into(), true),
            (|e| e["rawQueryString"] = "a=\u{e9}".into(), false),
            (|e| e["rawPath"] = "@evil.example/x".into(), false),
        ];
        for (change, refused) in cases {
            let json = event(change);
            match read(&json) {
                Ok(read) => {
                    assert!(!refused, "{json}");
                    let _ = lambda_http::Request::from(
                        lambda_http::request::LambdaRequest::ApiGatewayV2(read),
                    );
                }
                Err(e) => assert!(refused, "{json}: {e}"),
            }
        }
    }
}
