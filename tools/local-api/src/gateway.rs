//! The one file that must match API Gateway: an HTTP request becomes the
//! HTTP API (payload 2.0) event API Gateway would send, and the Lambda
//! response document (the bytes the runtime would POST back) becomes the
//! HTTP response API Gateway would give.
//!
//! What we assume of API Gateway, from its documentation and published
//! captures:
//! - Path parameters and `rawPath` arrive percent-decoded (once);
//!   `rawQueryString` stays as sent.
//! - A header sent several times arrives once, its values joined with
//!   commas; cookies arrive in `cookies`, not as a header.
//! - `Host` is the API's own domain (here, the listener's address), and
//!   `X-Forwarded-Proto` / `X-Forwarded-Port` describe the listener: what a
//!   client sends in them is replaced.
//! - HTTP APIs have no implicit HEAD route (the router handles that).
//! - A Lambda response over 6,291,556 bytes, or one that is not a valid
//!   response document, is a 500 `{"message":"Internal Server Error"}`.

use std::{
    net::SocketAddr,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use lambda_http::{
    Body as LambdaBody,
    aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse},
};
use percent_encoding::percent_decode_str;
use shared::{lambda, routes::Route};

/// API Gateway's own payload limit is 10 MB; anything under it reaches the
/// function, which applies its route's rule (64 KiB, a batch 1 MiB; after
/// authentication). Past this larger bound the local server answers 413
/// itself.
const MAX_LOCAL_BODY: usize = 4 * 1024 * 1024;

/// The HTTP API payload 2.0 event for this request.
pub async fn request_event(
    route: &Route,
    params: &[(String, String)],
    listener: SocketAddr,
    req: Request,
) -> Result<ApiGatewayV2httpRequest, Response> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_LOCAL_BODY).await.map_err(|_| {
        let detail = format!("request body exceeds {MAX_LOCAL_BODY} bytes");
        crate::detail_response(StatusCode::PAYLOAD_TOO_LARGE, detail)
    })?;
    let raw_path = parts.uri.path();
    let path = percent_decode_str(raw_path)
        .decode_utf8()
        .map_or_else(|_| raw_path.to_owned(), |p| p.into_owned());
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(route.key.into());
    event.raw_path = Some(path.clone());
    event.raw_query_string = Some(parts.uri.query().unwrap_or_default().into());
    // Already percent-decoded once by axum, as API Gateway does.
    event.path_parameters = params.iter().cloned().collect();
    let (headers, cookies) = gateway_headers(&parts.headers, listener);
    event.headers = headers;
    event.cookies = cookies;
    let context = &mut event.request_context;
    context.route_key = Some(route.key.into());
    context.stage = Some("$default".into());
    context.domain_name = Some(listener.to_string());
    context.request_id = Some(uuid::Uuid::now_v7().to_string());
    context.time_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    context.http.method = parts.method.clone();
    context.http.path = Some(path);
    context.http.protocol = Some(format!("{:?}", parts.version));
    if !bytes.is_empty() {
        match std::str::from_utf8(&bytes) {
            Ok(text) => event.body = Some(text.to_owned()),
            Err(_) => {
                event.body = Some(STANDARD.encode(&bytes));
                event.is_base64_encoded = true;
            }
        }
    }
    Ok(event)
}

/// One value per header name (repeats joined with commas), cookies apart,
/// and the listener's own `Host` and forwarding headers.
fn gateway_headers(sent: &HeaderMap, listener: SocketAddr) -> (HeaderMap, Option<Vec<String>>) {
    let mut headers = HeaderMap::new();
    let mut cookies = Vec::new();
    for name in sent.keys() {
        let values = sent.get_all(name).iter();
        if name == header::COOKIE {
            for value in values.filter_map(|v| v.to_str().ok()) {
                cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            }
            continue;
        }
        let joined = values
            .map(HeaderValue::as_bytes)
            .collect::<Vec<_>>()
            .join(&b","[..]);
        if let Ok(value) = HeaderValue::from_bytes(&joined) {
            headers.insert(name.clone(), value);
        }
    }
    let forwarded = [
        (header::HOST, listener.to_string()),
        (HeaderName::from_static("x-forwarded-proto"), "http".into()),
        (
            HeaderName::from_static("x-forwarded-port"),
            listener.port().to_string(),
        ),
    ];
    for (name, value) in forwarded {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (headers, (!cookies.is_empty()).then_some(cookies))
}

/// The HTTP response API Gateway makes of a Lambda response document.
pub fn http_response(document: &[u8]) -> Response {
    let Some(lambda) = lambda::parse_response(document) else {
        tracing::warn!(
            bytes = document.len(),
            "the function's response is one Lambda would refuse; API Gateway answers 500"
        );
        return gateway_error();
    };
    let ApiGatewayV2httpResponse {
        status_code,
        headers,
        body,
        is_base64_encoded,
        cookies,
        ..
    } = lambda;
    let bytes = match body {
        None | Some(LambdaBody::Empty) => Vec::new(),
        Some(LambdaBody::Text(text)) if is_base64_encoded => match STANDARD.decode(text) {
            Ok(bytes) => bytes,
            Err(_) => return gateway_error(),
        },
        Some(LambdaBody::Text(text)) => text.into_bytes(),
        Some(LambdaBody::Binary(bytes)) => bytes,
        Some(_) => return gateway_error(),
    };
    let Ok(status) = u16::try_from(status_code).map(StatusCode::from_u16) else {
        return gateway_error();
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = headers;
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// API Gateway's own answer when the integration fails.
fn gateway_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"message":"Internal Server Error"}"#,
    )
        .into_response()
}
