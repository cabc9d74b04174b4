//! The Postgres pool and the one way statements are run.
//!
//! Statements are named and prepared once per connection (with their
//! declared parameter types), then only bound and executed: PostgreSQL
//! parses and plans them once, not on every request. Production sits behind
//! Neon's pooler (PgBouncer ≥ 1.21, transaction mode, with
//! `max_prepared_statements`), which carries them to whichever server
//! connection runs them. A statement the server no longer knows, or whose
//! cached plan a migration made stale, is prepared again, once. For a pooler
//! without that support, `DB_PREPARED_STATEMENTS=false` sends every
//! statement unnamed through `query_typed`, and nothing outlives it.

use std::{
    borrow::Cow,
    error::Error as _,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, Pool, PoolError, QueueMode, RecyclingMethod,
    Runtime,
};
use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::{
    CancelToken, Client, NoTls, Row,
    config::SslMode,
    error::SqlState,
    types::{ToSql, Type},
};

use crate::{
    config::{CANCEL_TIMEOUT, DbConfig, IDLE_CHECK_TIMEOUT},
    metrics,
    tls::{Tls, TlsError},
};

/// A statement parameter with its declared type.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// Why a statement failed, without HTTP: `error::ApiError` maps it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached now, or is in a passing state.
    #[error("the database is unavailable")]
    Unavailable,
    /// Input the database refused that validation cannot judge alone (a
    /// time zone it does not know); the detail names the field, as a 400's.
    #[error("{0}")]
    Invalid(String),
    /// Anything else: a bug in our SQL, or in how a row is read. The cause
    /// is logged, never sent.
    #[error("database error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DbError {
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }

    /// The server's error, when it refused the statement (a constraint,
    /// a bad value): for the repository to tell input from bugs.
    pub fn refusal(&self) -> Option<&tokio_postgres::error::DbError> {
        match self {
            Self::Internal(cause) => cause.downcast_ref::<Refused>()?.0.as_db_error(),
            _ => None,
        }
    }
}

/// Failures compare by kind, what the API answers for them (the causes of
/// two internal errors are not comparable).
impl PartialEq for DbError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl Eq for DbError {}

/// A statement the server refused, shown as its SQLSTATE and message only:
/// its DETAIL may quote a row (a task's text never goes to a log).
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(.0))]
struct Refused(#[source] tokio_postgres::Error);

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
    /// How a cancel request reaches the server: as connections do.
    cancel_tls: Option<MakeTlsConnector>,
    /// The last `/health` round trip, shared by the pool's clones: when it
    /// ended, and whether the database answered.
    last_ping: Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>,
    /// Named, cached statements (`DbConfig::prepared_statements`).
    prepared: bool,
    /// How many times a migration made a cached plan stale (0A000) in this
    /// process. Past 0, statements are prepared under a text of their own
    /// (see `statement_text`).
    plan_generation: Arc<AtomicU32>,
}

/// A statement to prepare at warm-up: its SQL and declared parameter types,
/// exactly as it is later run (the cache is keyed on both).
pub type TypedSql<'a> = (&'a str, &'a [Type]);

/// The health check's statement.
pub const PING: TypedSql<'static> = ("SELECT 1", &[]);

/// How long one `/health` round trip's outcome stands for the next calls.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);

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
        let cancel_tls = if wants_tls(&pg) {
            Some(MakeTlsConnector::new(tls.connector()?))
        } else {
            None
        };
        let manager = match &cancel_tls {
            Some(tls) => Manager::from_config(pg, tls.clone(), manager_config),
            None => Manager::from_config(pg, NoTls, manager_config),
        };
        let idle_check_after = cfg.idle_check_after;
        let pool = Pool::builder(manager)
            .max_size(cfg.pool_max_size)
            .runtime(Runtime::Tokio1)
            // The most recently used connection first: its backend is awake
            // and warm; with the default FIFO, a light load wakes a
            // different idle backend for every request.
            .queue_mode(QueueMode::Lifo)
            .wait_timeout(Some(cfg.pool_wait_timeout))
            // TCP, TLS and the startup exchange, all within the connect
            // timeout (tokio-postgres' own covers the TCP connect only).
            .create_timeout(Some(cfg.connect_timeout))
            .recycle_timeout(Some(IDLE_CHECK_TIMEOUT))
            .pre_recycle(Hook::async_fn(move |client, metrics| {
                Box::pin(async move {
                    if metrics.last_used() < idle_check_after {
                        return Ok(());
                    }
                    match tokio::time::timeout(IDLE_CHECK_TIMEOUT, client.simple_query("")).await {
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
            cancel_tls,
            last_ping: Arc::default(),
            prepared: cfg.prepared_statements,
            plan_generation: Arc::default(),
        })
    }

    /// Opens one connection now, during init (which runs at full CPU on
    /// Lambda), and prepares the `hot` statements on it, pipelined in one
    /// round trip, so the first request pays for neither the TLS handshake
    /// nor the planning. A failure is only logged: requests will answer 503
    /// (or prepare lazily) until it works.
    pub async fn warm_up(&self, hot: &[TypedSql<'_>]) {
        let client = match self.client().await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "database not reachable at start; will retry per request");
                return;
            }
        };
        if !self.prepared || hot.is_empty() {
            return;
        }
        let prepares = futures_util::future::join_all(
            hot.iter()
                .map(|(sql, types)| client.prepare_typed_cached(sql, types)),
        );
        match tokio::time::timeout(self.statement_timeout, prepares).await {
            Ok(results) => {
                if let Some(e) = results.into_iter().find_map(Result::err) {
                    tracing::warn!(cause = %describe(&e), "preparing statements at start failed");
                }
            }
            Err(_) => {
                tracing::warn!("preparing statements at start timed out");
                drop(Object::take(client));
            }
        }
    }

    /// Rows of one statement.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        self.execute(sql, params, true).await
    }

    /// One statement on a pooled connection; `cacheable`: it may be named
    /// and cached (when prepared statements are on).
    async fn execute(
        &self,
        sql: &str,
        params: &[Param<'_>],
        cacheable: bool,
    ) -> Result<Vec<Row>, DbError> {
        let client = self.client().await?;
        let (result, usable, _) = self.execute_on(&client, sql, params, cacheable, None).await;
        if !usable {
            drop(Object::take(client));
        }
        result
    }

    /// One statement on `client`, within the statement timeout (and, in a
    /// transaction, by its `deadline`), whether the connection may be used
    /// again (one that timed out or lost its connection must not go back to
    /// the pool), and whether the statement was stale in a transaction.
    async fn execute_on(
        &self,
        client: &Object,
        sql: &str,
        params: &[Param<'_>],
        cacheable: bool,
        deadline: Option<tokio::time::Instant>,
    ) -> (Result<Vec<Row>, DbError>, bool, bool) {
        let in_transaction = deadline.is_some();
        let timeout = match deadline {
            Some(deadline) => self
                .statement_timeout
                .min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            None => self.statement_timeout,
        };
        let started = std::time::Instant::now();
        let answered = {
            let statement = self.run(client, sql, params, cacheable, in_transaction);
            tokio::pin!(statement);
            match tokio::time::timeout(timeout, &mut statement).await {
                Ok(result) => Some(result),
                Err(_) => {
                    // Still running on the server, holding a backend (behind
                    // a pooler, a server slot too): cancel it, and give it a
                    // moment to end while this client is still connected — a
                    // pooler forwards a cancel only for a client it still has.
                    let deadline = tokio::time::Instant::now() + CANCEL_TIMEOUT;
                    self.cancel(client.cancel_token(), deadline).await;
                    let _ = tokio::time::timeout_at(deadline, &mut statement).await;
                    None
                }
            }
        };
        metrics::duration(metrics::name::DB_STATEMENT, started.elapsed());
        match answered {
            Some(Ok(rows)) => (Ok(rows), true, false),
            // Its connection task may not have seen the socket close yet:
            // make sure the next request gets another connection.
            Some(Err(e)) if connection_lost(&e) => (Err(classify(e)), false, false),
            // Inside a transaction a stale statement cannot be prepared
            // again (the error aborted it): the cache is cleared, and the
            // transaction's owner runs it again on a fresh one
            // (`Transaction::went_stale`), or answers 503.
            Some(Err(e)) if in_transaction && statement_stale(&e) => {
                (Err(DbError::Unavailable), true, true)
            }
            Some(Err(e)) => (Err(classify(e)), true, false),
            // Timed out: closed, not reused.
            None => (Err(DbError::Unavailable), false, false),
        }
    }

    /// Runs one statement on `client`: named and cached, or unnamed.
    async fn run(
        &self,
        client: &Object,
        sql: &str,
        params: &[Param<'_>],
        cacheable: bool,
        in_transaction: bool,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        if !self.prepared || !cacheable {
            return client.query_typed(sql, params).await;
        }
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
        let generation = self.plan_generation.load(Ordering::Relaxed);
        let text = statement_text(sql, generation);
        match run_cached(client, &text, &types, &values).await {
            Err(e) if statement_stale(&e) => {
                tracing::warn!(cause = %describe(&e), "prepared statement stale; preparing it again");
                // Dropping the cached one also closes it on the server (a
                // close of an unknown name is no error there).
                client.statement_cache.remove(&text, &types);
                if plan_changed(&e) {
                    // Once, however many requests saw it at the same time.
                    let _ = self.plan_generation.compare_exchange(
                        generation,
                        generation + 1,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                if in_transaction {
                    // The transaction will run again from its start: after
                    // `DISCARD ALL` or a reset the server forgot every name,
                    // not only this one.
                    client.statement_cache.clear();
                    return Err(e);
                }
                let text = statement_text(sql, self.plan_generation.load(Ordering::Relaxed));
                run_cached(client, &text, &types, &values).await
            }
            result => result,
        }
    }

    /// Rows of one statement that must be planned with its values every
    /// time it runs, never with a generic plan: a statement whose best plan
    /// depends on how many rows its values match (a search word, a label).
    /// Always unnamed (`query_typed`), never in the statement cache, even
    /// with prepared statements on: PostgreSQL may switch a named statement
    /// to a generic plan after its fifth run.
    pub async fn query_planned_each_time(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>, DbError> {
        self.execute(sql, params, false).await
    }

    /// Sends the cancel request by `deadline`; awaited, not spawned: Lambda
    /// freezes the process once the response is sent.
    async fn cancel(&self, token: CancelToken, deadline: tokio::time::Instant) {
        let sent = match &self.cancel_tls {
            Some(tls) => tokio::time::timeout_at(deadline, token.cancel_query(tls.clone())).await,
            None => tokio::time::timeout_at(deadline, token.cancel_query(NoTls)).await,
        };
        match sent {
            Ok(Ok(())) => tracing::warn!("statement timed out; cancelled"),
            Ok(Err(e)) => tracing::warn!(error = %e, "statement timed out; cancelling failed"),
            Err(_) => tracing::warn!("statement timed out; cancelling timed out"),
        }
    }

    /// At most one row of one statement.
    pub async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// One round trip to the server.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.query(PING.0, &[]).await.map(drop)
    }

    /// `ping`'s outcome for `/health`, which needs no token: at most one
    /// round trip per `PING_INTERVAL` per execution environment, so that
    /// nobody can turn every call into a statement (or, with the database
    /// down, a connection attempt). Calls in between, and calls waiting
    /// while one is in flight, get its outcome (a failure as `Unavailable`).
    pub async fn recent_ping(&self) -> Result<(), DbError> {
        let mut last = self.last_ping.lock().await;
        if let Some((at, answered)) = *last
            && at.elapsed() < PING_INTERVAL
        {
            return if answered {
                Ok(())
            } else {
                Err(DbError::Unavailable)
            };
        }
        let outcome = self.ping().await;
        *last = Some((Instant::now(), outcome.is_ok()));
        outcome
    }

    async fn client(&self) -> Result<Object, DbError> {
        let waiting = std::time::Instant::now();
        let client = self.pool.get().await;
        metrics::duration(metrics::name::DB_WAIT, waiting.elapsed());
        client.map_err(|e| {
            // Not getting a connection (refused, timed out, TLS or auth
            // failure) means the database cannot be reached: 503.
            let cause = match &e {
                PoolError::Backend(e) => describe(e),
                other => other.to_string(),
            };
            tracing::warn!(cause, "no database connection");
            DbError::Unavailable
        })
    }
}

/// What runs statements: the pool (`Database`, each statement on its own)
/// or one open transaction (`Transaction`). The repository's functions take
/// either, so a batch runs the single routes' own statements on its
/// transaction, with the same statement cache and timeouts.
#[allow(async_fn_in_trait)] // used with concrete types only; no `dyn`
pub trait Executor: Sync {
    /// Rows of one statement (named and cached when prepared statements
    /// are on).
    async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError>;

    /// Rows of one statement planned with its values each time
    /// (`Database::query_planned_each_time`).
    async fn query_planned_each_time(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>, DbError>;

    /// At most one row of one statement.
    async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Whether its statements run in one explicit transaction, where a
    /// failed one aborts the rest (housekeeping then waits for a request
    /// of its own).
    fn in_transaction(&self) -> bool {
        false
    }
}

impl Executor for Database {
    async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        Database::query(self, sql, params).await
    }

    async fn query_planned_each_time(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>, DbError> {
        Database::query_planned_each_time(self, sql, params).await
    }
}

impl<T: Executor> Executor for &T {
    async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        T::query(self, sql, params).await
    }

    async fn query_planned_each_time(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>, DbError> {
        T::query_planned_each_time(self, sql, params).await
    }

    fn in_transaction(&self) -> bool {
        T::in_transaction(self)
    }
}

/// One explicit transaction on one pooled connection: `BEGIN` … `COMMIT`.
/// All its statements together have the time of one statement
/// (`DB_STATEMENT_TIMEOUT_MS`): a transaction takes the one statement's
/// slot of the time budget (docs/operations.md).
/// Behind PgBouncer in transaction mode the pooler pins one server
/// connection to it until it ends, and nothing outlives it (no session
/// state; its locks are transaction-scoped). Dropped without `commit` or
/// `rollback` (an error, a panic), its connection is closed, not pooled:
/// the server rolls it back.
pub struct Transaction<'db> {
    db: &'db Database,
    client: Option<Object>,
    /// False once a statement timed out or lost the connection: every
    /// later one is refused, and the connection is closed at the end.
    usable: AtomicBool,
    /// When its time is up: its statements share one statement timeout.
    deadline: tokio::time::Instant,
    /// A cached statement was stale (`statement_stale`): the transaction is
    /// aborted, but can run again from its start with fresh prepares.
    stale: AtomicBool,
}

impl Database {
    /// Takes a pooled connection and opens a transaction on it.
    pub async fn transaction(&self) -> Result<Transaction<'_>, DbError> {
        let (transaction, ()) = self.transaction_with(None, async |_| ()).await?;
        Ok(transaction)
    }

    /// Opens a transaction with `reads` pipelined behind its `BEGIN`: their
    /// statements go out before `BEGIN`'s answer is back, in one round
    /// trip (tokio-postgres sends a statement when its future is first
    /// polled, and the server runs them in order). `reads` must write
    /// nothing: were `BEGIN` alone to fail, they would have run on their
    /// own. Their outcome is returned beside the transaction (a failed
    /// one, stale statements included, is theirs to report). `deadline`:
    /// an earlier one's, for a transaction run again (`went_stale`), so
    /// that both together take one statement's time; else one statement
    /// timeout from now.
    pub async fn transaction_with<T>(
        &self,
        deadline: Option<tokio::time::Instant>,
        reads: impl AsyncFnOnce(&Transaction<'_>) -> T,
    ) -> Result<(Transaction<'_>, T), DbError> {
        let client = self.client().await?;
        let transaction = Transaction {
            db: self,
            client: Some(client),
            usable: AtomicBool::new(true),
            deadline: deadline
                .unwrap_or_else(|| tokio::time::Instant::now() + self.statement_timeout),
            stale: AtomicBool::new(false),
        };
        let (begun, read) =
            futures_util::future::join(transaction.control("BEGIN"), reads(&transaction)).await;
        begun?;
        Ok((transaction, read))
    }
}

/// The one savepoint a transaction holds at a time (`Transaction::savepoint`).
macro_rules! savepoint {
    ($command:literal) => {
        concat!($command, " op")
    };
}

impl Transaction<'_> {
    async fn execute(
        &self,
        sql: &str,
        params: &[Param<'_>],
        cacheable: bool,
    ) -> Result<Vec<Row>, DbError> {
        let Some(client) = self.client.as_ref() else {
            return Err(DbError::internal("transaction already ended"));
        };
        if !self.usable.load(Ordering::Relaxed) {
            return Err(DbError::Unavailable);
        }
        let (result, usable, stale) = self
            .db
            .execute_on(client, sql, params, cacheable, Some(self.deadline))
            .await;
        if !usable {
            self.usable.store(false, Ordering::Relaxed);
        }
        if stale {
            self.stale.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Whether a statement failed for being stale (a name the server
    /// forgot, a plan a migration changed): nothing of it is committed, so
    /// after `rollback` the whole transaction may run once more, and its
    /// statements are prepared afresh.
    pub fn went_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed) && self.usable.load(Ordering::Relaxed)
    }

    /// When its time is up.
    pub fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }

    /// A statement without parameters or rows (`BEGIN`, `SAVEPOINT`, …).
    async fn control(&self, sql: &str) -> Result<(), DbError> {
        self.execute(sql, &[], false).await.map(drop)
    }

    /// Marks the point `rollback_to_savepoint` returns to (one at a time:
    /// a new one replaces the last).
    pub async fn savepoint(&self) -> Result<(), DbError> {
        self.control(savepoint!("SAVEPOINT")).await
    }

    /// Undoes everything since `savepoint`, also after a failed statement.
    pub async fn rollback_to_savepoint(&self) -> Result<(), DbError> {
        self.control(savepoint!("ROLLBACK TO SAVEPOINT")).await
    }

    /// Keeps everything since `savepoint`.
    pub async fn release_savepoint(&self) -> Result<(), DbError> {
        self.control(savepoint!("RELEASE SAVEPOINT")).await
    }

    pub async fn commit(self) -> Result<(), DbError> {
        self.end("COMMIT").await
    }

    pub async fn rollback(self) -> Result<(), DbError> {
        self.end("ROLLBACK").await
    }

    async fn end(mut self, sql: &str) -> Result<(), DbError> {
        let result = self.control(sql).await;
        if result.is_ok() && self.usable.load(Ordering::Relaxed) {
            // Ended: the connection goes back to the pool.
            self.client.take();
        }
        result
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        // Still open (or its end failed): never back to the pool.
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

impl Executor for Transaction<'_> {
    async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        self.execute(sql, params, true).await
    }

    async fn query_planned_each_time(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>, DbError> {
        self.execute(sql, params, false).await
    }

    fn in_transaction(&self) -> bool {
        true
    }
}

/// The text a statement is prepared under: its SQL, and once a migration
/// has made a plan stale, a comment naming the generation. PgBouncer shares
/// one server-side statement per query text across its clients and only
/// parses a text a server connection has not seen: the same text prepared
/// again would be handed the stale plan again. A new text is parsed afresh
/// on every server connection (PostgreSQL ignores the comment).
fn statement_text(sql: &str, generation: u32) -> Cow<'_, str> {
    if generation == 0 {
        Cow::Borrowed(sql)
    } else {
        Cow::Owned(format!("{sql}\n/* plans, generation {generation} */"))
    }
}

/// Binds and executes `sql`'s cached statement, preparing it first if this
/// connection has not yet.
async fn run_cached(
    client: &Object,
    sql: &str,
    types: &[Type],
    values: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let statement = client.prepare_typed_cached(sql, types).await?;
    client.query(&statement, values).await
}

/// A cached statement the server can no longer run as prepared: it no
/// longer knows the name (26000: `DISCARD ALL`, a server reset, a pooler
/// restart), or a migration changed what its plan returns (0A000).
fn statement_stale(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME) || plan_changed(e)
}

/// 0A000 "cached plan must not change result type": the tables a prepared
/// statement reads changed under it.
fn plan_changed(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::FEATURE_NOT_SUPPORTED
            && db
                .message()
                .starts_with("cached plan must not change result type")
    })
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

/// The server ended the session: Neon suspending an idle compute, a
/// crash, an idle session timed out.
const SESSION_ENDED: [SqlState; 3] = [
    SqlState::ADMIN_SHUTDOWN,
    SqlState::CRASH_SHUTDOWN,
    SqlState::IDLE_SESSION_TIMEOUT,
];

/// States that pass: retrying the same request shortly may well succeed.
const TRANSIENT: [SqlState; 5] = [
    // A server starting or stopping.
    SqlState::CANNOT_CONNECT_NOW,
    // Lost a race with another transaction.
    SqlState::T_R_SERIALIZATION_FAILURE,
    SqlState::T_R_DEADLOCK_DETECTED,
    // A server-side statement_timeout, or a cancel.
    SqlState::QUERY_CANCELED,
    // A read-only database: a failover, or a replica in its place.
    SqlState::READ_ONLY_SQL_TRANSACTION,
];

/// Whether the error means the connection is gone.
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        // 08: connection exception.
        Some(code) => code.code().starts_with("08") || SESSION_ENDED.contains(code),
        None => e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// Maps a failed statement to the API's error. A lost connection or a
/// transient state of the server is a 503; input problems were caught by
/// validation, so anything else is a bug.
fn classify(e: tokio_postgres::Error) -> DbError {
    let unavailable = connection_lost(&e)
        || e.code().is_some_and(|code| {
            // 53: insufficient resources.
            code.code().starts_with("53") || TRANSIENT.contains(code)
        });
    if unavailable {
        tracing::warn!(cause = %describe(&e), "database unavailable");
        DbError::Unavailable
    } else {
        DbError::internal(Refused(e))
    }
}

fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_plan_generation_is_a_new_text_and_the_same_sql() {
        let sql = "SELECT 1 WHERE $1::int > 0";
        assert!(matches!(statement_text(sql, 0), Cow::Borrowed(s) if s == sql));
        let (first, second) = (statement_text(sql, 1), statement_text(sql, 2));
        assert_ne!(first, second);
        for text in [first, second] {
            // The SQL itself, then only a comment.
            let rest = text.strip_prefix(sql).expect("starts with the SQL");
            let comment = rest.trim();
            assert!(
                comment.starts_with("/*") && comment.ends_with("*/"),
                "{rest}"
            );
            assert_eq!(comment.matches("*/").count(), 1, "{rest}");
        }
    }
}
