//! The Postgres pool and the one way statements are run.
//!
//! Production sits behind Neon's pooler (PgBouncer, transaction mode), where
//! consecutive statements may land on different server connections. So every
//! statement goes through `query_typed`: parameter types are sent with an
//! unnamed statement in one round trip, and nothing outlives the statement.

use std::{error::Error as _, str::FromStr, time::Duration};

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, Pool, PoolError, QueueMode, RecyclingMethod,
    Runtime,
};
use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::{
    Client, NoTls, Row,
    config::SslMode,
    error::SqlState,
    types::{ToSql, Type},
};

use crate::{
    config::DbConfig,
    error::ApiError,
    tls::{Tls, TlsError},
};

/// A statement parameter with its declared type.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("DATABASE_URL: {0}")]
    Url(#[from] tokio_postgres::Error),
    #[error("connection pool: {0}")]
    Pool(String),
}

/// The pool and its timeouts. Built once per execution environment; it
/// connects lazily, so a function starts (and answers 503) while the
/// database is down, and recovers on its own when it returns.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    statement_timeout: Duration,
}

impl Database {
    pub fn new(cfg: &DbConfig, tls: &Tls) -> Result<Self, DbSetupError> {
        let mut pg = tokio_postgres::Config::from_str(&cfg.url)?;
        pg.connect_timeout(cfg.connect_timeout);
        pg.application_name("task-api");
        let manager_config = ManagerConfig {
            // `Fast` only checks whether the socket is known to be closed.
            // A connection idle long enough to have been cut while the
            // Lambda was frozen gets one real round trip first (below).
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if wants_tls(&pg) {
            Manager::from_config(pg, MakeTlsConnector::new(tls.connector()?), manager_config)
        } else {
            Manager::from_config(pg, NoTls, manager_config)
        };
        let idle_check_after = cfg.idle_check_after;
        let check_timeout = cfg.connect_timeout;
        let pool = Pool::builder(manager)
            .max_size(cfg.pool_max_size)
            .runtime(Runtime::Tokio1)
            // The most recently used connection first: its backend is awake
            // and warm; with the default FIFO, a light load wakes a
            // different idle backend for every request.
            .queue_mode(QueueMode::Lifo)
            .wait_timeout(Some(cfg.pool_wait_timeout))
            .create_timeout(Some(cfg.connect_timeout + Duration::from_millis(500)))
            .recycle_timeout(Some(cfg.connect_timeout))
            .pre_recycle(Hook::async_fn(move |client, metrics| {
                Box::pin(async move {
                    if metrics.last_used() < idle_check_after {
                        return Ok(());
                    }
                    match tokio::time::timeout(check_timeout, client.simple_query("")).await {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(e)) => Err(HookError::Backend(e)),
                        Err(_) => Err(HookError::message("idle connection check timed out")),
                    }
                })
            }))
            .build()
            .map_err(|e| DbSetupError::Pool(e.to_string()))?;
        Ok(Self {
            pool,
            statement_timeout: cfg.statement_timeout,
        })
    }

    /// Reads `DbConfig` from the environment and warms up: what a function
    /// that needs only the database (`health`) calls in `main`.
    pub async fn from_env() -> Result<Self, crate::StartupError> {
        crate::telemetry::init();
        let db = (|| {
            let cfg = DbConfig::from_env()?;
            Ok::<_, crate::StartupError>(Self::new(&cfg, &Tls::new(cfg.ca_file.clone()))?)
        })()
        .inspect_err(|e| tracing::error!("cannot start: {e}"))?;
        db.warm_up().await;
        Ok(db)
    }

    /// Opens one connection now, during init (which runs at full CPU on
    /// Lambda), so the first request does not pay for the TLS handshake.
    /// A failure is only logged: requests will answer 503 until it works.
    pub async fn warm_up(&self) {
        if let Err(e) = self.client().await {
            tracing::warn!(error = %e, "database not reachable at start; will retry per request");
        }
    }

    /// Rows of one statement.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, ApiError> {
        let client = self.client().await?;
        match tokio::time::timeout(self.statement_timeout, client.query_typed(sql, params)).await {
            Ok(result) => result.map_err(|e| classify(&e)),
            Err(_) => {
                // The statement may still be running on that connection:
                // take it out of the pool so it is closed, not reused.
                drop(Object::take(client));
                tracing::warn!("statement timed out");
                Err(ApiError::Unavailable)
            }
        }
    }

    /// At most one row of one statement.
    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, ApiError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// One round trip to the server, for `/health`.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.query("SELECT 1", &[]).await.map(drop)
    }

    async fn client(&self) -> Result<Object, ApiError> {
        self.pool.get().await.map_err(|e| {
            // Not getting a connection (refused, timed out, TLS or auth
            // failure) means the database cannot be reached: 503.
            let cause = match &e {
                PoolError::Backend(e) => describe(e),
                other => other.to_string(),
            };
            tracing::warn!(cause, "no database connection");
            ApiError::Unavailable
        })
    }
}

/// Whether connections may use TLS (`sslmode=prefer` or `require`). Only
/// then is a TLS connector built: building one loads the system's CA bundle
/// (see `tls`), for nothing when the URL says `sslmode=disable`.
fn wants_tls(pg: &tokio_postgres::Config) -> bool {
    pg.get_ssl_mode() != SslMode::Disable
}

/// A single connection outside the pool, for migrations.
pub async fn connect(cfg: &DbConfig) -> Result<Client, DbSetupError> {
    let mut pg = tokio_postgres::Config::from_str(&cfg.url)?;
    pg.connect_timeout(cfg.connect_timeout);
    // The connection future must be polled or every query hangs.
    if wants_tls(&pg) {
        let tls = Tls::new(cfg.ca_file.clone()).connector()?;
        let (client, connection) = pg.connect(MakeTlsConnector::new(tls)).await?;
        tokio::spawn(connection);
        Ok(client)
    } else {
        let (client, connection) = pg.connect(NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }
}

/// Maps a failed statement to the API's error. Only a lost connection is a
/// 503; input problems were caught by validation, so anything else is a bug.
fn classify(e: &tokio_postgres::Error) -> ApiError {
    let unavailable = match e.code() {
        Some(code) => {
            let class = &code.code()[..2];
            // 08: connection exception, 53: insufficient resources,
            // 57P0x: shutdown / cannot connect now (e.g. Neon suspending).
            class == "08"
                || class == "53"
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(code)
        }
        None => e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>()),
    };
    if unavailable {
        tracing::warn!(cause = %describe(e), "database connection lost");
        ApiError::Unavailable
    } else {
        ApiError::Internal(describe(e))
    }
}

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
