//! What the Lambda runtime does around a handler, without the Runtime API:
//! an API Gateway HTTP API event becomes a request, the handler answers,
//! and the answer becomes the JSON document the runtime POSTs back. Both
//! conversions are lambda_http's own (its `Adapter`, which `lambda_http::run`
//! wraps every function in), so local-api and the tests see exactly the
//! bytes Lambda would get.

use std::{convert::Infallible, future::Future};

use lambda_http::{
    Adapter, Body, Context, LambdaEvent, Request, Response, Service,
    aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse},
    request::LambdaRequest,
    service_fn,
};

/// Lambda refuses a synchronous response larger than this (its error
/// names 6291556 bytes); API Gateway then answers 500.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// The Lambda response document for `event`, as the runtime would send it.
pub async fn invoke<F, Fut>(event: ApiGatewayV2httpRequest, handler: F) -> Vec<u8>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    let mut adapter = Adapter::from(service_fn(|req| {
        let answer = handler(req);
        async move { Ok::<_, Infallible>(answer.await) }
    }));
    let payload = LambdaRequest::ApiGatewayV2(event);
    let response = match adapter
        .call(LambdaEvent::new(payload, Context::default()))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    // The runtime serialises with serde_json too; a failure there (a header
    // that is not UTF-8) is an invocation error, which API Gateway turns
    // into a 500: the same here, as an empty document.
    serde_json::to_vec(&response).unwrap_or_default()
}

/// Reads a Lambda response document back, as API Gateway does; `None` when
/// API Gateway would answer 500 instead (too large, or not a response).
pub fn parse_response(document: &[u8]) -> Option<ApiGatewayV2httpResponse> {
    if document.len() > MAX_RESPONSE_BYTES {
        return None;
    }
    serde_json::from_slice(document).ok()
}
