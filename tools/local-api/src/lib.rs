//! One HTTP server for every route, for frontend work and tests.
//!
//! Each request is turned into the API Gateway HTTP API (payload 2.0) event
//! that API Gateway would send, handed to the very handler function the
//! Lambda binary runs through lambda_http's own conversions, and answered
//! from the Lambda response document the runtime would send (`gateway`).

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{RawPathParams, Request, State, rejection::RawPathParamsRejection},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodFilter, MethodRouter},
};
use serde_json::json;
use shared::{
    AppState, lambda,
    routes::{ROUTES, Route},
};

pub mod cors;
pub mod docs;
pub mod gateway;
pub mod token;

pub use cors::AllowedOrigins;

/// What every route's handler needs: the state, and the address it listens
/// on (API Gateway's `Host` is its own domain, never the client's).
#[derive(Clone)]
struct Served {
    state: Arc<AppState>,
    listener: SocketAddr,
}

/// The router: every route of `shared::routes::ROUTES`, the OpenAPI
/// document and its docs page, CORS, and JSON 404/405 answers for anything
/// else. `listener` is the address the server is bound to.
pub fn app(state: Arc<AppState>, origins: AllowedOrigins, listener: SocketAddr) -> Router {
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
        let not_allowed = move |method: &Method| {
            let detail = format!("{method} is not allowed here; allowed: {allow}");
            let mut response = detail_response(StatusCode::METHOD_NOT_ALLOWED, detail);
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        };
        let mut methods = MethodRouter::new();
        for route in routes {
            let filter = MethodFilter::try_from(
                Method::from_bytes(route.method.as_bytes()).expect("route methods are valid"),
            )
            .expect("route methods are filterable");
            let not_allowed = not_allowed.clone();
            methods = methods.on(
                filter,
                move |State(served): State<Served>,
                      params: Result<RawPathParams, RawPathParamsRejection>,
                      req: Request| async move {
                    // axum answers HEAD with the GET route; an HTTP API has
                    // no HEAD route.
                    if req.method() == Method::HEAD {
                        return not_allowed(req.method());
                    }
                    match params {
                        Ok(params) => invoke(served, route, pairs(&params), req).await,
                        // e.g. a percent-encoded id that is not UTF-8.
                        Err(e) => detail_response(StatusCode::BAD_REQUEST, e.body_text()),
                    }
                },
            );
        }
        let methods = methods.fallback(
            move |State(served): State<Served>,
                  params: Result<RawPathParams, RawPathParamsRejection>,
                  req: Request| async move {
                // `/tasks/batch` is also a `{task_id}` to API Gateway for
                // the methods the batch route does not take.
                match (shadowed(path, req.method()), params) {
                    (Some((route, name, value)), Ok(params)) if req.method() != Method::HEAD => {
                        let mut params = pairs(&params);
                        params.push((name.to_owned(), value.to_owned()));
                        invoke(served, route, params, req).await
                    }
                    _ => not_allowed(req.method()),
                }
            },
        );
        router = router.route(path, methods);
    }
    router
        .merge(docs::router())
        .fallback(|req: Request| async move {
            let detail = format!("no route for {} {}", req.method(), req.uri().path());
            detail_response(StatusCode::NOT_FOUND, detail)
        })
        .with_state(Served { state, listener })
        .layer(middleware::from_fn(log_unhandled))
        .layer(cors::cors(origins))
}

/// The API's error shape, for the answers the local server gives itself.
fn detail_response(status: StatusCode, detail: String) -> Response {
    let body = json!({ "detail": detail }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
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

/// The path parameters as axum decoded them (once, as API Gateway does).
fn pairs(params: &RawPathParams) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The route API Gateway picks for `method` on the literal `path` when no
/// route of that path takes the method: one whose template has a
/// parameter where `path` has its literal (`GET /api/{user_id}/tasks/batch`
/// is `GET /api/{user_id}/tasks/{task_id}`), with that parameter's name
/// and value.
fn shadowed(
    path: &'static str,
    method: &Method,
) -> Option<(&'static Route, &'static str, &'static str)> {
    let segments: Vec<&'static str> = path.split('/').collect();
    ROUTES.iter().find_map(|route| {
        if route.method != method.as_str() || route.path == path {
            return None;
        }
        let theirs: Vec<&'static str> = route.path.split('/').collect();
        if theirs.len() != segments.len() {
            return None;
        }
        let mut bound = None;
        for (mine, theirs) in segments.iter().zip(&theirs) {
            if mine == theirs {
                continue;
            }
            match theirs.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !mine.starts_with('{') => bound = Some((route, name, *mine)),
                _ => return None,
            }
        }
        bound
    })
}

async fn invoke(
    served: Served,
    route: &'static Route,
    params: Vec<(String, String)>,
    req: Request,
) -> Response {
    let event = match gateway::request_event(route, &params, served.listener, req).await {
        Ok(event) => event,
        Err(response) => return response,
    };
    let state = &served.state;
    let document = lambda::invoke(event, |req| call_function(state, route.function, req)).await;
    let mut response = gateway::http_response(&document);
    response.extensions_mut().insert(Logged);
    response
}

/// The handler of the function (binary) named `function`, as its `main`
/// hands it to the runtime.
pub async fn call_function(
    state: &AppState,
    function: &str,
    req: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    match function {
        "list-tasks" => list_tasks::handler(req, state).await,
        "create-task" => create_task::handler(req, state).await,
        "get-task" => get_task::handler(req, state).await,
        "update-task" => update_task::handler(req, state).await,
        "delete-task" => delete_task::handler(req, state).await,
        "complete-task" => complete_task::handler(req, state).await,
        "list-trash" => list_trash::handler(req, state).await,
        "restore-task" => restore_task::handler(req, state).await,
        "delete-task-for-good" => delete_task_for_good::handler(req, state).await,
        "batch-tasks" => batch_tasks::handler(req, state).await,
        "task-history" => task_history::handler(req, state).await,
        "list-changes" => list_changes::handler(req, state).await,
        "health" => health::handler(req, state.tasks.database()).await,
        other => {
            shared::ApiError::internal(format!("no handler for function {other}")).into_response()
        }
    }
}
