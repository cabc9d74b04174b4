//! What a function builds once per execution environment, from its
//! environment, and keeps across warm invocations; or why it cannot start
//! (logged once, naming the variable at fault).

use crate::{
    auth::Authenticator,
    config::{self, Config, DbConfig},
    db::{self, Database, DbSetupError},
    idempotency::IdempotencyStore,
    repository::TaskRepository,
    tls::Tls,
};

pub struct AppState {
    pub auth: Authenticator,
    pub tasks: TaskRepository,
    pub idempotency: IdempotencyStore,
}

impl AppState {
    pub fn new(config: &Config) -> Result<Self, DbSetupError> {
        // One TLS connector for the database and the JWKS endpoint.
        let tls = Tls::new(config.db.ca_file.clone());
        let db = Database::new(&config.db, &tls)?;
        Ok(Self {
            auth: Authenticator::new(&config.auth, &tls),
            tasks: TaskRepository::new(db.clone(), config.max_tasks_per_user),
            idempotency: IdempotencyStore::new(db, config.max_tasks_per_user),
        })
    }

    /// Opens the first database connection and fetches the JWKS, at once,
    /// so that the first request pays for neither. Failures are logged.
    pub async fn warm_up(&self) {
        tokio::join!(self.tasks.database().warm_up(), self.auth.warm_up());
    }
}

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
