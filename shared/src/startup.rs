//! What a function builds at init from its environment, once per
//! execution environment, or why it cannot start (logged once, naming the
//! variable at fault).

use crate::{
    AppState,
    config::{self, Config, DbConfig},
    db::{self, Database},
    tls::Tls,
};

/// Why a function could not start: bad configuration or an unusable
/// database setting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Db(#[from] db::DbSetupError),
}

/// A task function's state; the first database connection and key set are
/// opened now (a failure there is logged, not fatal: requests answer 503).
pub async fn task_state() -> Result<AppState, StartupError> {
    let state = (|| Ok::<_, StartupError>(AppState::new(&Config::from_env()?)?))()
        .inspect_err(|e| tracing::error!("cannot start: {e}"))?;
    state.warm_up().await;
    Ok(state)
}

/// The health function's state: the database alone.
pub async fn health_state() -> Result<Database, StartupError> {
    let db = (|| {
        let cfg = DbConfig::from_env()?;
        Ok::<_, StartupError>(Database::new(&cfg, &Tls::new(cfg.ca_file.clone()))?)
    })()
    .inspect_err(|e| tracing::error!("cannot start: {e}"))?;
    db.warm_up().await;
    Ok(db)
}
