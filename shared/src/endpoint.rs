//! The one way a request is served: a span carrying its request id and
//! route (so every log line of the request names both), the work, its error
//! counted and turned into a response, and one line with the status and
//! latency — never headers or bodies. Task routes go through `task_route`, which
//! authenticates (401) and checks the path's owner (403) before the
//! handler runs, and hands the handler the caller: a handler cannot forget
//! the check, nor reorder it. Its answers are `Cache-Control: private,
//! no-cache`; errors are `no-store` (`ApiError`).

use std::time::Instant;

use lambda_http::{
    Body, Request, RequestExt, Response,
    http::{HeaderValue, header},
    request::RequestContext,
};
use tracing::Instrument;
use uuid::Uuid;

use crate::{AppState, auth::UserId, error::ApiError, metrics, repository::Written, routes::Route};

/// Runs one request through `work` inside its span; counts and maps its
/// error to a response, and logs the request id, route, status and latency.
pub async fn handle<S: ?Sized>(
    req: Request,
    state: &S,
    route: &Route,
    work: impl AsyncFnOnce(Request, &S) -> Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let span = tracing::info_span!("request", request_id, route = route.key);
    async move {
        let response = work(req, state).await.unwrap_or_else(|e| {
            count(&e);
            e.into_response()
        });
        tracing::info!(
            request_id,
            route = route.key,
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }
    .instrument(span)
    .await
}

/// A task route: the token is verified and the path's `{user_id}` checked
/// against it before `work` runs with the caller.
pub async fn task_route(
    req: Request,
    state: &AppState,
    route: &Route,
    work: impl AsyncFnOnce(Request, &AppState, UserId) -> Result<Response<Body>, ApiError>,
) -> Response<Body> {
    handle(req, state, route, async move |req, state: &AppState| {
        let owner = path_param(&req, "user_id")?;
        let user = state.auth.authorize(req.headers(), owner).await?;
        let mut response = work(req, state, user).await?;
        // One user's answer: a shared cache (a CDN put in front) never
        // keeps it, and the browser revalidates (ETag) before reusing it.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        Ok(response)
    })
    .await
}

/// The refusals and outages the metrics count (`metrics::name`).
fn count(error: &ApiError) {
    match error {
        ApiError::Unauthorized { reason, .. } => metrics::count(
            metrics::name::UNAUTHORIZED,
            Some(("reason", reason.as_str())),
        ),
        ApiError::Unavailable => {
            metrics::count(metrics::name::UNAVAILABLE, Some(("cause", "database")))
        }
        ApiError::KeysUnavailable => {
            metrics::count(metrics::name::UNAVAILABLE, Some(("cause", "keys")))
        }
        _ => {}
    }
}

/// A conditional write's outcome as the API answers it: the task is not
/// there (404), or at another version than `If-Match` named (412).
pub fn written<T>(outcome: Written<T>) -> Result<T, ApiError> {
    match outcome {
        Written::Done(value) => Ok(value),
        Written::Missing => Err(ApiError::NotFound),
        Written::Stale => Err(ApiError::PreconditionFailed),
    }
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
        .ok_or_else(|| ApiError::internal(format!("route has no `{name}` path parameter")))
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
