//! What a function builds once per execution environment, from its
//! environment, and keeps across warm invocations; or why it cannot start
//! (logged once, naming the variable at fault).
//!
//! Deployed, the secret variables are fetched first (`secrets`). A
//! configuration that is wrong stops the function at init; secrets that
//! cannot be fetched do not: the function starts, answers 503, and each
//! request tries the fetch again until it works. It never runs with a
//! secret missing.

use std::future::Future;

use tokio::sync::OnceCell;

use crate::{
    auth::{Authenticator, KeySetupError},
    config::{self, Config, DbConfig, Env, Source},
    db::{self, Database, DbSetupError},
    error::ApiError,
    idempotency::IdempotencyStore,
    metrics,
    repository::{self, TaskRepository},
    secrets::{self, FetchError, Secrets, WithSecrets},
    tls::Tls,
};

pub struct AppState {
    pub auth: Authenticator,
    pub tasks: TaskRepository,
    pub idempotency: IdempotencyStore,
}

impl AppState {
    pub fn new(config: &Config) -> Result<Self, StartupError> {
        // One TLS connector for the database and the JWKS endpoint.
        let tls = Tls::new(config.db.ca_file.clone());
        let db = Database::new(&config.db, &tls)?;
        Ok(Self {
            auth: Authenticator::new(&config.auth, &tls)?,
            tasks: TaskRepository::new(db.clone(), config.max_tasks_per_user),
            idempotency: IdempotencyStore::new(db, config.max_tasks_per_user),
        })
    }

    /// Opens the first database connection (preparing the task statements
    /// on it) and fetches the JWKS, at once, so that the first request pays
    /// for neither. Failures are logged.
    pub async fn warm_up(&self) {
        self.warm_up_with(&[]).await
    }

    /// The same, preparing the `extra` statements too (a batch's).
    pub async fn warm_up_with(&self, extra: &[db::TypedSql<'_>]) {
        let db = self.tasks.database();
        let hot: Vec<_> = repository::HOT_STATEMENTS
            .iter()
            .chain(extra)
            .copied()
            .collect();
        tokio::join!(db.warm_up(&hot), self.auth.warm_up());
    }
}

/// Why a function could not start: bad configuration, an unusable
/// database or key-set setting, or secrets that could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Db(#[from] DbSetupError),
    #[error(transparent)]
    Keys(#[from] KeySetupError),
    #[error(transparent)]
    Secrets(#[from] FetchError),
}

/// What one kind of function keeps per execution environment.
pub trait FunctionState: Sized {
    /// The secret variables it reads.
    const SECRETS: &'static [&'static str];
    /// Checks the configuration alone.
    fn check(src: &impl Source) -> Result<(), config::ConfigError>;
    fn build(src: &impl Source) -> Result<Self, StartupError>;
    /// Opens what the first request would otherwise open (failures logged).
    fn warm_up(&self) -> impl Future<Output = ()>;
}

impl FunctionState for AppState {
    const SECRETS: &'static [&'static str] = &[
        "DATABASE_URL",
        "BETTER_AUTH_SECRET",
        "BETTER_AUTH_SECRET_PREVIOUS",
    ];
    fn check(src: &impl Source) -> Result<(), config::ConfigError> {
        Config::from_source(src).map(drop)
    }
    fn build(src: &impl Source) -> Result<Self, StartupError> {
        AppState::new(&Config::from_source(src)?)
    }
    async fn warm_up(&self) {
        AppState::warm_up(self).await
    }
}

impl FunctionState for Database {
    const SECRETS: &'static [&'static str] = &["DATABASE_URL"];
    fn check(src: &impl Source) -> Result<(), config::ConfigError> {
        DbConfig::from_source(src).map(drop)
    }
    fn build(src: &impl Source) -> Result<Self, StartupError> {
        let cfg = DbConfig::from_source(src)?;
        Ok(Database::new(&cfg, &Tls::new(cfg.ca_file.clone()))?)
    }
    async fn warm_up(&self) {
        Database::warm_up(self, &[db::PING]).await
    }
}

/// A function's state, built at init, or on a later request when its
/// secrets could not be fetched at init.
pub struct Starting<S> {
    secrets: Secrets,
    state: OnceCell<S>,
}

impl<S: FunctionState> Starting<S> {
    /// The state, fetching the secrets first if they are still missing:
    /// 503 while they cannot be had.
    pub async fn get(&self) -> Result<&S, ApiError> {
        self.state
            .get_or_try_init(|| self.build(config::SECRETS_RETRY_TIMEOUT))
            .await
            .map_err(|e| {
                tracing::error!("cannot start: {e}");
                metrics::count(metrics::name::UNAVAILABLE, Some(("cause", "secrets")));
                ApiError::NotReady
            })
    }

    async fn build(&self, timeout: std::time::Duration) -> Result<S, StartupError> {
        let values = self.secrets.fetch(timeout).await?;
        S::build(&WithSecrets {
            env: &Env,
            values: &values,
        })
    }
}

/// Reads the configuration and builds the state (fetching its secrets
/// first, when the environment names them); `Err` only for a configuration
/// that can never work.
pub async fn start<S: FunctionState>() -> Result<Starting<S>, StartupError> {
    let secrets = (|| {
        let secrets = Secrets::from_source(&Env, S::SECRETS)?;
        // Everything but the secrets' values is checked now, fetched or not.
        S::check(&WithSecrets {
            env: &Env,
            values: &secrets.placeholders(),
        })?;
        Ok::<_, StartupError>(secrets)
    })()
    .inspect_err(|e| tracing::error!("cannot start: {e}"))?;
    let starting = Starting::<S> {
        secrets,
        state: OnceCell::new(),
    };
    match starting.build(secrets::INIT_FETCH_TIMEOUT).await {
        Ok(state) => {
            state.warm_up().await;
            // Nothing else sets it: this cannot fail.
            let _ = starting.state.set(state);
        }
        Err(StartupError::Secrets(e)) => {
            tracing::warn!("{e}; requests answer 503 and try again");
        }
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return Err(e);
        }
    }
    Ok(starting)
}

/// A task function's state; the first database connection and key set are
/// opened now (a failure there is logged, not fatal: requests answer 503).
pub async fn task_state() -> Result<Starting<AppState>, StartupError> {
    start().await
}

/// The health function's state: the database alone.
pub async fn health_state() -> Result<Starting<Database>, StartupError> {
    start().await
}
