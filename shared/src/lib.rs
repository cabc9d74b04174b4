//! Everything the task functions share: configuration, JWT verification,
//! validation, errors and user-scoped Postgres queries.
//!
//! Where things live:
//! - a route's entry (auth first, span, log line): `endpoint`; the route
//!   table: `routes`;
//! - a rule of the contract: `validation` (bodies, task rules, query);
//! - a query: `repository` (each beside its SQL, scoped by user id),
//!   answering in storage terms; remembered idempotency keys:
//!   `idempotency::store`;
//! - the one error type and its status codes: `error`; building a
//!   response: `response`;
//! - request headers: `etag` (versions), `idempotency` (safe retries);
//! - the change feed's pages: `changes`, and its tokens: `sync_token`; a task's history
//!   pages: `history`;
//! - the task's JSON: `task`, `timestamp`; a list's order: `sort`, and its
//!   cursor: `cursor`; the words a task is found by: `search`;
//! - what a function builds once at start: `state`; its secrets on
//!   Lambda: `secrets`; the HTTP requests it makes itself (secrets, key
//!   set): `http1`; purges without a scheduler: `housekeeping`.

pub mod auth;
pub mod batch;
pub mod changes;
pub mod config;
pub mod cursor;
pub mod db;
pub mod endpoint;
pub mod error;
pub mod etag;
pub mod event;
pub mod history;
pub mod housekeeping;
mod http1;
pub mod idempotency;
pub mod input;
pub mod json;
pub mod lambda;
pub mod metrics;
pub mod migrations;
pub mod repository;
pub mod response;
pub mod routes;
pub mod search;
pub mod secrets;
pub mod sort;
pub mod state;
pub mod sync_token;
pub mod task;
pub mod telemetry;
pub mod timestamp;
pub mod tls;
pub mod validation;

pub use error::ApiError;
pub use state::AppState;

/// A function binary's whole `main`: logging, the state built once per
/// execution environment (`$state` is an expression yielding a future of
/// `Result<state::Starting<State>, state::StartupError>`), then
/// `$handler(request, &state)` for every invocation (a 503 while the state
/// waits for its secrets), then its metrics flushed. One request at a time per environment: a
/// current-thread runtime, no thread pool.
#[macro_export]
macro_rules! function_main {
    ($state:expr, $handler:path) => {
        #[tokio::main(flavor = "current_thread")]
        async fn main() -> Result<(), lambda_http::Error> {
            $crate::telemetry::init();
            $crate::metrics::init(env!("CARGO_PKG_NAME"));
            let starting = $state.await?;
            let starting = &starting;
            $crate::lambda::run(move |req| async move {
                let response = match starting.get().await {
                    Ok(state) => $handler(req, state).await,
                    Err(not_ready) => not_ready.into_response(),
                };
                // This invocation's metrics, before the runtime returns the
                // response (after it, Lambda may freeze the process).
                $crate::metrics::flush();
                response
            })
            .await
        }
    };
}
