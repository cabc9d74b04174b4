//! One HTTP server for every route, for frontend work and tests.
//!
//! Each request is turned into the API Gateway HTTP API (payload 2.0) event
//! that API Gateway would send, converted by lambda_http exactly as in
//! Lambda, and handed to the very handler function the Lambda binary runs.

use std::{
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::{Body as AxumBody, to_bytes},
    extract::{RawPathParams, Request, State, rejection::RawPathParamsRejection},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodFilter, MethodRouter},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use lambda_http::{
    Body as LambdaBody, aws_lambda_events::apigw::ApiGatewayV2httpRequest, request::LambdaRequest,
};
use serde_json::json;
use shared::{
    AppState,
    routes::{ROUTES, Route},
};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

pub mod docs;
pub mod token;

/// API Gateway's own payload limit is 10 MB; anything under it reaches the
/// function, which applies the API's 64 KiB rule (after authentication).
/// Past this larger bound the local server answers 413 itself.
const MAX_LOCAL_BODY: usize = 1024 * 1024;

/// Which origins may call the API from a browser.
#[derive(Clone, Debug)]
pub enum AllowedOrigins {
    Any,
    List(Vec<HeaderValue>),
}

impl AllowedOrigins {
    /// `ALLOWED_ORIGINS`: comma-separated origins, or `*`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim() == "*" {
            return Ok(Self::Any);
        }
        raw.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let valid =
                    (o.starts_with("http://") || o.starts_with("https://")) && !o.ends_with('/');
                valid
                    .then(|| HeaderValue::from_str(o).ok())
                    .flatten()
                    .ok_or_else(|| {
                        format!(
                            "ALLOWED_ORIGINS: `{o}` is not an origin like https://app.example.com"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self::List)
    }
}

/// The router: every route of `shared::routes::ROUTES`, the OpenAPI
/// document and its docs page, CORS, and JSON 404/405 answers for anything
/// else.
pub fn app(state: Arc<AppState>, origins: AllowedOrigins) -> Router {
    let mut router = Router::new();
    let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let routes: Vec<&'static Route> = ROUTES.iter().filter(|r| r.path == path).collect();
        let allow = routes
            .iter()
            .map(|r| r.method)
            .collect::<Vec<_>>()
            .join(", ");
        let mut methods = MethodRouter::new();
        for route in routes {
            let filter = MethodFilter::try_from(
                Method::from_bytes(route.method.as_bytes()).expect("route methods are valid"),
            )
            .expect("route methods are filterable");
            methods = methods.on(
                filter,
                move |State(state): State<Arc<AppState>>,
                      params: Result<RawPathParams, RawPathParamsRejection>,
                      req: Request| async move {
                    match params {
                        Ok(params) => invoke(state, route, params, req).await,
                        // e.g. a percent-encoded id that is not UTF-8.
                        Err(e) => detail_response(StatusCode::BAD_REQUEST, e.body_text()),
                    }
                },
            );
        }
        let methods = methods.fallback(move |req: Request| async move {
            let detail = format!("{} is not allowed here; allowed: {allow}", req.method());
            let mut response = detail_response(StatusCode::METHOD_NOT_ALLOWED, detail);
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        });
        router = router.route(path, methods);
    }
    router
        .merge(docs::router())
        .fallback(|req: Request| async move {
            let detail = format!("no route for {} {}", req.method(), req.uri().path());
            detail_response(StatusCode::NOT_FOUND, detail)
        })
        .with_state(state)
        .layer(middleware::from_fn(log_unhandled))
        .layer(cors(origins))
}

/// The API's error shape, for the answers the local server gives itself.
fn detail_response(status: StatusCode, detail: String) -> Response {
    let body = json!({ "detail": detail }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn cors(origins: AllowedOrigins) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([
            header::LOCATION,
            header::LINK,
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
        ])
        .max_age(std::time::Duration::from_secs(600));
    match origins {
        AllowedOrigins::Any => layer.allow_origin(Any),
        AllowedOrigins::List(list) => layer.allow_origin(AllowOrigin::list(list)),
    }
}

/// Marks responses whose handler already logged them.
#[derive(Clone, Copy)]
struct Logged;

/// One log line for what no handler logged (404, 405, oversized bodies).
async fn log_unhandled(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let response = next.run(req).await;
    if response.extensions().get::<Logged>().is_none() {
        tracing::info!(
            route = format!("{method} {path}"),
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        );
    }
    response
}

async fn invoke(
    state: Arc<AppState>,
    route: &'static Route,
    params: RawPathParams,
    req: Request,
) -> Response {
    let event = match gateway_event(route, &params, req).await {
        Ok(event) => event,
        Err(response) => return response,
    };
    let req = lambda_http::Request::from(LambdaRequest::ApiGatewayV2(event));
    let response = match route.function {
        "list-tasks" => list_tasks::handler(req, &state).await,
        "create-task" => create_task::handler(req, &state).await,
        "get-task" => get_task::handler(req, &state).await,
        "update-task" => update_task::handler(req, &state).await,
        "delete-task" => delete_task::handler(req, &state).await,
        "complete-task" => complete_task::handler(req, &state).await,
        "health" => health::handler(req, state.tasks.database()).await,
        other => {
            shared::ApiError::Internal(format!("no handler for function {other}")).into_response()
        }
    };
    let (parts, body) = response.into_parts();
    let bytes = match body {
        LambdaBody::Empty => Vec::new(),
        LambdaBody::Text(text) => text.into_bytes(),
        LambdaBody::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    let mut response = Response::from_parts(parts, AxumBody::from(bytes));
    response.extensions_mut().insert(Logged);
    response
}

/// The HTTP API payload 2.0 event for this request, as API Gateway builds
/// it: decoded path parameters, raw query string, text or base64 body.
async fn gateway_event(
    route: &Route,
    params: &RawPathParams,
    req: Request,
) -> Result<ApiGatewayV2httpRequest, Response> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_LOCAL_BODY).await.map_err(|_| {
        let detail = format!("request body exceeds {MAX_LOCAL_BODY} bytes");
        detail_response(StatusCode::PAYLOAD_TOO_LARGE, detail)
    })?;
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(route.key.into());
    event.raw_path = Some(parts.uri.path().into());
    event.raw_query_string = Some(parts.uri.query().unwrap_or_default().into());
    // Already percent-decoded once by axum, as API Gateway does.
    event.path_parameters = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    event.request_context.route_key = Some(route.key.into());
    event.request_context.stage = Some("$default".into());
    event.request_context.request_id = Some(uuid::Uuid::now_v7().to_string());
    event.request_context.time_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    event.request_context.http.method = parts.method.clone();
    event.request_context.http.path = Some(parts.uri.path().into());
    event.request_context.http.protocol = Some(format!("{:?}", parts.version));
    event.headers = parts.headers;
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
