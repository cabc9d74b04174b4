//! Everything the task functions share: configuration, JWT verification,
//! validation, errors and user-scoped Postgres queries.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod lambda;
pub mod migrations;
pub mod routes;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod tls;
pub mod validation;

pub use error::ApiError;
pub use state::AppState;

/// Why a function could not start: bad configuration or an unusable
/// database setting. Printed once at init, naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Db(#[from] db::DbSetupError),
}
