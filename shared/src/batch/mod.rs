//! `POST /tasks/batch`: up to 100 operations in one request, run in order
//! on one transaction, each answered as its single-task route would
//! answer it. Parsing and validation (`parse`), running them (`run`).

mod parse;
mod run;

pub use parse::{Batch, MAX_BATCH_BODY_BYTES, MAX_OPERATIONS, Operation, batch};
pub use run::{Answer, Reply, run};

use tokio_postgres::types::Type;

use crate::{
    config::{self, Source},
    db::TypedSql,
    idempotency::batches,
    repository::batch::sql as batch_sql,
    state::{AppState, FunctionState, Starting, StartupError, start},
};

/// The statements only a batch runs, with the types it binds, prepared at
/// the batch function's warm-up beside `repository::HOT_STATEMENTS` (its
/// updates, completes and deletes are the single routes'): a first batch
/// on a connection prepares nothing on the spot.
pub const HOT_STATEMENTS: [TypedSql<'static>; 6] = [
    (batches::sql::LOCK_BATCH_KEY, &[Type::TEXT, Type::TEXT]),
    (
        batches::sql::FIND_BATCH,
        &[Type::TEXT, Type::TEXT, Type::BYTEA],
    ),
    (
        batches::sql::REMEMBER_BATCH,
        &[Type::TEXT, Type::TEXT, Type::BYTEA, Type::TEXT],
    ),
    // Every 16th keyed batch's housekeeping, the first one's too.
    (batches::sql::PURGE_EXPIRED_BATCHES, &[]),
    (batch_sql::LOCK_TASKS, &[Type::TEXT, Type::UUID_ARRAY]),
    (
        batch_sql::CREATE_TASKS,
        &[
            Type::TEXT,
            Type::UUID_ARRAY,
            Type::TEXT_ARRAY,
            Type::TEXT_ARRAY,
            Type::DATE_ARRAY,
            Type::TIMESTAMPTZ_ARRAY,
            Type::TEXT_ARRAY,
            Type::INT2_ARRAY,
            Type::TEXT_ARRAY,
            Type::TEXT_ARRAY,
            Type::TEXT_ARRAY,
            Type::INT4,
        ],
    ),
];

/// The batch function's state: a task function's, warmed up with the
/// batch's own statements too (`batch::HOT_STATEMENTS`). Its handler takes
/// it as the `AppState` it derefs to.
pub struct BatchState(AppState);

impl std::ops::Deref for BatchState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

impl FunctionState for BatchState {
    const SECRETS: &'static [&'static str] = AppState::SECRETS;
    fn check(src: &impl Source) -> Result<(), config::ConfigError> {
        AppState::check(src)
    }
    fn build(src: &impl Source) -> Result<Self, StartupError> {
        AppState::build(src).map(Self)
    }
    async fn warm_up(&self) {
        self.0.warm_up_with(&HOT_STATEMENTS).await
    }
}

/// The batch function's state (`BatchState`).
pub async fn batch_state() -> Result<Starting<BatchState>, StartupError> {
    start().await
}
