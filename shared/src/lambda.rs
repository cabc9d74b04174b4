//! The Lambda side of every function: an API Gateway HTTP API event
//! becomes a request, the handler answers, and the answer becomes the
//! response document the runtime POSTs back. `run` does it under the real
//! runtime; `invoke` does the same without it, so local-api and the tests
//! see exactly the bytes Lambda would get.
//!
//! The event is read as raw JSON, checked and deserialised by `event` (so
//! that one lambda_http cannot read still gets the API's 400), then
//! converted into a request by lambda_http. The answer is not put through lambda_http's
//! `IntoResponse`: for a text body that clones the headers, collects the
//! body into fresh bytes, decodes them by the `charset` of `Content-Type`
//! (encoding_rs and its tables, ~150 KB in every zip) and copies them once
//! more — work for handlers that do not know what their body is. Ours
//! always do: JSON as `Body::Text`, nothing as `Body::Empty`. `document`
//! builds the same `ApiGatewayV2httpResponse` lambda_http builds from such a
//! response (a test holds it to lambda_http's output byte for byte).

use std::{convert::Infallible, future::Future, pin::Pin};

use serde_json::value::RawValue;

use lambda_http::{
    Body, Context, Error, LambdaEvent, Request, RequestExt, Response,
    aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse},
    http::{HeaderMap, header::SET_COOKIE},
    lambda_runtime,
    request::LambdaRequest,
    service_fn,
};

use crate::{ApiError, event};

/// Lambda refuses a synchronous response larger than this (its error
/// names 6291556 bytes); API Gateway then answers 500.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// Serves `handler` under the Lambda runtime until the environment ends.
pub async fn run<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    // The event as raw JSON: one lambda_http cannot read is still answered
    // (`event`), where the runtime would fail the invocation.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let LambdaEvent { payload, context } = event;
        // Boxed, as lambda_http's adapter boxes it: the handler's future
        // nested whole inside the runtime's loop is a type too deep for the
        // compiler to lay out.
        let answer: Pin<Box<dyn Future<Output = Response<Body>> + '_>> =
            match event::read(payload.get()) {
                Ok(event) => Box::pin(handler(request(
                    LambdaRequest::ApiGatewayV2(event),
                    context,
                ))),
                Err(refusal) => Box::pin(std::future::ready(refused(refusal, &context))),
            };
        async move { Ok::<_, Infallible>(document(answer.await)) }
    }))
    .await
}

/// The answer to an event `event::read` refused, logged as a request is.
fn refused(refusal: ApiError, context: &Context) -> Response<Body> {
    tracing::warn!(
        request_id = context.request_id,
        status = refusal.status().as_u16(),
        detail = %refusal,
        "request"
    );
    refusal.into_response()
}

/// `invoke` for an event as raw JSON, read as `run` reads it: the document
/// `run` would send, for any event.
pub async fn invoke_raw<F, Fut>(event: &str, handler: F) -> Vec<u8>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    match event::read(event) {
        Ok(event) => invoke(event, handler).await,
        Err(refusal) => {
            serde_json::to_vec(&document(refused(refusal, &Context::default()))).unwrap_or_default()
        }
    }
}

/// The Lambda response document for `event`, as the runtime would send it.
pub async fn invoke<F, Fut>(event: ApiGatewayV2httpRequest, handler: F) -> Vec<u8>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let req = request(LambdaRequest::ApiGatewayV2(event), Context::default());
    // The runtime serialises with serde_json too; a failure there (a header
    // that is not UTF-8) is an invocation error, which API Gateway turns
    // into a 500: the same here, as an empty document.
    serde_json::to_vec(&document(handler(req).await)).unwrap_or_default()
}

/// The request lambda_http's own adapter would hand a handler, but for
/// the X-Ray trace id it copies into `x-amzn-trace-id`: nothing here reads
/// it, and the runtime hands it to X-Ray itself (`_X_AMZN_TRACE_ID`).
fn request(event: LambdaRequest, context: Context) -> Request {
    Request::from(event).with_lambda_context(context)
}

/// What API Gateway reads back: status, headers (payload 2.0 has no
/// multi-value headers; the serialiser writes each name's first value, and
/// our handlers send one), `Set-Cookie` as `cookies`, and the body: text as
/// it is, bytes base64-encoded by the serialiser.
fn document(response: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .collect();
    headers.remove(SET_COOKIE);
    let (is_base64_encoded, body) = match body {
        // An empty text, as lambda_http sends it.
        Body::Empty => (false, Some(Body::Text(String::new()))),
        text @ Body::Text(_) => (false, Some(text)),
        bytes @ Body::Binary(_) => (true, Some(bytes)),
        // `Body` is non-exhaustive; a kind added later is sent as nothing
        // rather than guessed at (lambda_http does the same).
        _ => (false, None),
    };
    let mut doc = ApiGatewayV2httpResponse::default();
    doc.status_code = parts.status.as_u16().into();
    doc.headers = headers;
    doc.multi_value_headers = HeaderMap::new();
    doc.body = body;
    doc.is_base64_encoded = is_base64_encoded;
    doc.cookies = cookies;
    doc
}

/// Reads a Lambda response document back, as API Gateway does; `None` when
/// API Gateway would answer 500 instead (too large, or not a response).
pub fn parse_response(document: &[u8]) -> Option<ApiGatewayV2httpResponse> {
    if document.len() > MAX_RESPONSE_BYTES {
        return None;
    }
    serde_json::from_slice(document).ok()
}

#[cfg(test)]
mod tests {
    use lambda_http::{Adapter, Service, http::StatusCode};

    use super::*;

    /// The document lambda_http's own adapter (what `lambda_http::run`
    /// wraps a handler in) makes of `response`.
    async fn lambda_http_document(response: Response<Body>) -> Vec<u8> {
        let event: ApiGatewayV2httpRequest =
            serde_json::from_str(include_str!("../../events/health.json")).unwrap();
        let mut response = Some(response);
        let mut adapter = Adapter::from(service_fn(|_req: Request| {
            let answer = response.take().unwrap();
            async move { Ok::<_, Infallible>(answer) }
        }));
        let payload = LambdaRequest::ApiGatewayV2(event);
        let document = adapter
            .call(LambdaEvent::new(payload, Context::default()))
            .await
            .unwrap();
        serde_json::to_vec(&document).unwrap()
    }

    fn responses() -> Vec<Response<Body>> {
        let json = |status: StatusCode, text: &str| {
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .header("etag", "\"3\"")
                .header("cache-control", "private, no-cache")
                .body(Body::Text(text.to_owned()))
                .unwrap()
        };
        vec![
            json(StatusCode::OK, r#"{"title":"quote \" and \\ and é😀"}"#),
            json(StatusCode::CREATED, "{}"),
            json(StatusCode::UNAUTHORIZED, r#"{"detail":"no"}"#),
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header("etag", "\"4\"")
                .body(Body::Empty)
                .unwrap(),
            Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::Empty)
                .unwrap(),
            Response::builder()
                .header("content-type", "application/octet-stream")
                .body(Body::Binary(vec![0, 159, 146, 150, 255]))
                .unwrap(),
            Response::builder()
                .header("content-type", "text/plain")
                .header("set-cookie", "a=1; Secure")
                .header("set-cookie", "b=2")
                .body(Body::Text("plain".into()))
                .unwrap(),
        ]
    }

    #[tokio::test]
    async fn writes_the_document_lambda_http_writes() {
        for (response, same) in responses().into_iter().zip(responses()) {
            let ours = serde_json::to_vec(&document(response)).unwrap();
            let theirs = lambda_http_document(same).await;
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }

    #[tokio::test]
    async fn invoke_hands_the_handler_the_event_and_returns_its_document() {
        let event: ApiGatewayV2httpRequest =
            serde_json::from_str(include_str!("../../events/get-task.json")).unwrap();
        let document = invoke(event, async |req: Request| {
            let path = req.uri().path().to_owned();
            let user = req
                .path_parameters_ref()
                .and_then(|p| p.first("user_id").map(str::to_owned));
            Response::new(Body::Text(format!("{path} {user:?}")))
        })
        .await;
        let document = parse_response(&document).unwrap();
        let Some(Body::Text(text)) = document.body else {
            panic!("no text body: {document:?}");
        };
        assert_eq!(
            text,
            r#"/api/demo-user/tasks/0192f1d6-3b7e-7c4a-9d2e-5f6a7b8c9d0e Some("demo-user")"#
        );
    }
}
