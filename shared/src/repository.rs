//! `TaskRepository`: every statement on tasks, each scoped by the owner's
//! id (the second wall after the path check), beside the SQL it runs.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use chrono::{DateTime, Utc};
use tokio_postgres::{Row, types::Type};
use uuid::Uuid;

use crate::{
    auth::UserId,
    db::Database,
    error::ApiError,
    idempotency::{self, IdempotencyKey},
    input::{ListQuery, NewTask, TaskChanges},
    task::{Page, Task},
};

/// The columns every statement returns, in the order `Task` reads them.
macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at"
    };
}

/// The versions (`updated_at`) a write may change; `None`: any.
pub type Versions<'a> = Option<&'a [DateTime<Utc>]>;

/// `task_columns!` as a constant, for readers outside this module.
pub const TASK_COLUMNS: &str = task_columns!();

/// `updated_at` moves forward on every change, strictly, even when two
/// changes fall in the same microsecond. A macro, so that the statements
/// using it are still `&'static str` built at compile time.
macro_rules! touch {
    () => {
        "updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')"
    };
}

/// How long an `Idempotency-Key` is remembered.
macro_rules! key_lifetime {
    () => {
        "interval '24 hours'"
    };
}

/// Every statement, by operation (public so that `bench/sql/` can be
/// checked against them). A write takes the versions it may change
/// (`If-Match`) as one more parameter, `NULL` for any: the check and the
/// change are one statement, so of two writers holding one version exactly
/// one succeeds.
pub mod sql {
    pub const LIST: &str = concat!(
        "SELECT ",
        task_columns!(),
        " FROM tasks
        WHERE user_id = $1
          AND ($2::boolean IS NULL OR completed = $2)
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
        ORDER BY created_at DESC, id DESC
        LIMIT $5"
    );

    pub const CREATE: &str = concat!(
        "WITH owner AS (
            INSERT INTO users (id) VALUES ($2) ON CONFLICT (id) DO NOTHING
        )
        INSERT INTO tasks (id, user_id, title, description)
        VALUES ($1, $2, $3, $4)
        RETURNING ",
        task_columns!()
    );

    /// A keyed POST seen before: the first 201's task rebuilt from the key
    /// ($3, $4: the retry's title and description, the same as the first's
    /// when the fingerprint $5 matches; a new task's `updated_at` is its
    /// `created_at`), and whether it is the same task.
    pub const REPLAY: &str = concat!(
        "SELECT task_id, user_id, $3::text, $4::text, false, created_at, created_at,
            fingerprint = $5 AS same_task
        FROM idempotency_keys
        WHERE user_id = $1 AND key = $2 AND created_at > now() - ",
        key_lifetime!()
    );

    /// A keyed POST: claims the key ($5, fingerprint $6) and creates the
    /// task in one statement, or neither. The transaction-scoped advisory
    /// lock on (user, key) marks the request in progress: a concurrent one
    /// does not wait, it reads `locked = false` (409). The lock ends with
    /// the statement, so it is safe behind a transaction-mode pooler. An
    /// unexpired key of the user (committed after the caller's `REPLAY`)
    /// claims nothing, and the caller replays; an expired one is taken over.
    pub const CREATE_ONCE: &str = concat!(
        "WITH attempt AS (
            SELECT pg_try_advisory_xact_lock(hashtext($2), hashtext($5)) AS locked
        ),
        owner AS (
            INSERT INTO users (id) SELECT $2 FROM attempt WHERE locked
            ON CONFLICT (id) DO NOTHING
        ),
        claimed AS (
            INSERT INTO idempotency_keys AS k (user_id, key, fingerprint, task_id)
            SELECT $2, $5, $6, $1 FROM attempt WHERE locked
            ON CONFLICT (user_id, key) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, task_id = EXCLUDED.task_id,
                    created_at = EXCLUDED.created_at
                WHERE k.created_at <= now() - ",
        key_lifetime!(),
        "
            RETURNING task_id
        ),
        created AS (
            INSERT INTO tasks (id, user_id, title, description)
            SELECT task_id, $2, $3, $4 FROM claimed
            RETURNING ",
        task_columns!(),
        "
        )
        SELECT created.*, attempt.locked FROM attempt LEFT JOIN created ON true"
    );

    /// Up to 100 expired keys, oldest first, of any user (they are nobody's
    /// data any more, and nothing of them is returned). Rows another purge
    /// holds are skipped, not waited for.
    pub const PURGE_EXPIRED_KEYS: &str = concat!(
        "DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM idempotency_keys
            WHERE created_at <= now() - ",
        key_lifetime!(),
        "
            ORDER BY created_at
            LIMIT 100
            FOR UPDATE SKIP LOCKED
        ))"
    );

    pub const GET: &str = concat!(
        "SELECT ",
        task_columns!(),
        " FROM tasks WHERE user_id = $1 AND id = $2"
    );

    pub const UPDATE: &str = concat!(
        "UPDATE tasks SET
            title = COALESCE($3, title),
            description = CASE WHEN $4 THEN $5 ELSE description END,
            completed = COALESCE($6, completed), ",
        touch!(),
        " WHERE user_id = $1 AND id = $2
          AND ($7::timestamptz[] IS NULL OR updated_at = ANY($7))
        RETURNING ",
        task_columns!()
    );

    pub const TOGGLE: &str = concat!(
        "UPDATE tasks SET completed = NOT completed, ",
        touch!(),
        " WHERE user_id = $1 AND id = $2
          AND ($3::timestamptz[] IS NULL OR updated_at = ANY($3))
        RETURNING ",
        task_columns!()
    );

    pub const DELETE: &str = "DELETE FROM tasks WHERE user_id = $1 AND id = $2
        AND ($3::timestamptz[] IS NULL OR updated_at = ANY($3))
        RETURNING id";
}

/// What a keyed POST did.
pub enum Creation {
    Created(Task),
    /// The key's first 201, answered again.
    Replayed(Task),
}

/// Every how many keys claimed (per execution environment) expired keys
/// are purged. Each purge removes up to 100, so more go than come
/// (100 / 16 > 1): the table holds about a day of keys without any
/// scheduler. Not every time: the purge costs about as much as the claim.
const PURGE_EVERY: u32 = 16;

#[derive(Clone)]
pub struct TaskRepository {
    db: Database,
    /// Keys claimed in this execution environment.
    claimed: Arc<AtomicU32>,
}

impl TaskRepository {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            claimed: Arc::default(),
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Newest first, filtered and paged by keyset.
    pub async fn list(&self, user: &UserId, query: &ListQuery) -> Result<Page, ApiError> {
        // One row more than asked tells whether another page follows.
        let fetch = query.limit as i64 + 1;
        let (after_time, after_id) = match query.after {
            Some(c) => (Some(c.created_at), Some(c.id)),
            None => (None, None),
        };
        let rows = self
            .db
            .query(
                sql::LIST,
                &[
                    (&user.as_str(), Type::TEXT),
                    (&query.completed, Type::BOOL),
                    (&after_time, Type::TIMESTAMPTZ),
                    (&after_id, Type::UUID),
                    (&fetch, Type::INT8),
                ],
            )
            .await?;
        let mut tasks: Vec<Task> = rows.into_iter().map(Task).collect();
        let next = if tasks.len() > query.limit {
            tasks.truncate(query.limit);
            tasks.last().map(Task::position).transpose()?
        } else {
            None
        };
        Ok(Page { tasks, next })
    }

    /// Creates the task, and its owner's row on the owner's first write,
    /// in one statement.
    pub async fn create(&self, user: &UserId, task: &NewTask) -> Result<Task, ApiError> {
        // UUIDv7: ids sort by creation time.
        let id = Uuid::now_v7();
        let row = self
            .db
            .query_opt(
                sql::CREATE,
                &[
                    (&id, Type::UUID),
                    (&user.as_str(), Type::TEXT),
                    (&task.title, Type::TEXT),
                    (&task.description, Type::TEXT),
                ],
            )
            .await?
            .ok_or_else(|| ApiError::Internal("INSERT returned no row".into()))?;
        Ok(Task(row))
    }

    /// `create` for a request with an `Idempotency-Key`: the first creates,
    /// a retry of the same task replays the first 201 (for 24 hours),
    /// another task under the key is a 422, and a request while the first
    /// is still in progress a 409.
    pub async fn create_once(
        &self,
        user: &UserId,
        task: &NewTask,
        key: &IdempotencyKey,
    ) -> Result<Creation, ApiError> {
        let fingerprint = idempotency::fingerprint(task);
        // A retry is only read: it costs no more than the first request.
        if let Some(replay) = self.replay(user, task, key, &fingerprint).await? {
            return Ok(replay);
        }
        let id = Uuid::now_v7();
        let row = self
            .db
            .query_opt(
                sql::CREATE_ONCE,
                &[
                    (&id, Type::UUID),
                    (&user.as_str(), Type::TEXT),
                    (&task.title, Type::TEXT),
                    (&task.description, Type::TEXT),
                    (&key.as_str(), Type::TEXT),
                    (&fingerprint.as_slice(), Type::BYTEA),
                ],
            )
            .await?
            .ok_or_else(|| ApiError::Internal("keyed INSERT returned no row".into()))?;
        let read = |e: tokio_postgres::Error| ApiError::Internal(format!("keyed INSERT: {e}"));
        if !row.try_get::<_, bool>(7).map_err(read)? {
            return Err(ApiError::IdempotencyKeyInProgress);
        }
        if row.try_get::<_, Option<Uuid>>(0).map_err(read)?.is_some() {
            if self
                .claimed
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(PURGE_EVERY)
            {
                self.purge_expired_keys().await;
            }
            return Ok(Creation::Created(Task(row)));
        }
        // A request with this key finished after our first look.
        self.replay(user, task, key, &fingerprint)
            .await?
            .ok_or_else(|| ApiError::Internal("idempotency key neither claimed nor found".into()))
    }

    /// The task is created: a failed purge is only logged (the next one
    /// will do).
    async fn purge_expired_keys(&self) {
        if let Err(e) = self.db.query(sql::PURGE_EXPIRED_KEYS, &[]).await {
            tracing::warn!(error = %e, "purging expired idempotency keys failed");
        }
    }

    /// The key's first 201 if it is remembered and names the same task;
    /// a 422 if it names another.
    async fn replay(
        &self,
        user: &UserId,
        task: &NewTask,
        key: &IdempotencyKey,
        fingerprint: &[u8; 32],
    ) -> Result<Option<Creation>, ApiError> {
        let row = self
            .db
            .query_opt(
                sql::REPLAY,
                &[
                    (&user.as_str(), Type::TEXT),
                    (&key.as_str(), Type::TEXT),
                    (&task.title, Type::TEXT),
                    (&task.description, Type::TEXT),
                    (&fingerprint.as_slice(), Type::BYTEA),
                ],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let same_task: bool = row
            .try_get(7)
            .map_err(|e| ApiError::Internal(format!("idempotency key row: {e}")))?;
        if !same_task {
            return Err(ApiError::IdempotencyKeyReused);
        }
        Ok(Some(Creation::Replayed(Task(row))))
    }

    pub async fn get(&self, user: &UserId, id: Uuid) -> Result<Option<Task>, ApiError> {
        let params = [(&user.as_str() as _, Type::TEXT), (&id as _, Type::UUID)];
        let row = self.db.query_opt(sql::GET, &params).await?;
        Ok(row.map(Task))
    }

    /// Applies the fields that are set; the others keep their value. With
    /// `versions`, only if the task is at one of them (else 412).
    pub async fn update(
        &self,
        user: &UserId,
        id: Uuid,
        changes: &TaskChanges,
        versions: Versions<'_>,
    ) -> Result<Option<Task>, ApiError> {
        let set_description = changes.description.is_some();
        let description = changes.description.as_ref().and_then(Option::as_ref);
        let row = self
            .db
            .query_opt(
                sql::UPDATE,
                &[
                    (&user.as_str(), Type::TEXT),
                    (&id, Type::UUID),
                    (&changes.title, Type::TEXT),
                    (&set_description, Type::BOOL),
                    (&description, Type::TEXT),
                    (&changes.completed, Type::BOOL),
                    (&versions, Type::TIMESTAMPTZ_ARRAY),
                ],
            )
            .await?;
        Ok(self.written(user, id, row, versions).await?.map(Task))
    }

    /// Sets `completed` explicitly (safe to retry).
    pub async fn set_completed(
        &self,
        user: &UserId,
        id: Uuid,
        completed: bool,
        versions: Versions<'_>,
    ) -> Result<Option<Task>, ApiError> {
        let changes = TaskChanges {
            completed: Some(completed),
            ..TaskChanges::default()
        };
        self.update(user, id, &changes, versions).await
    }

    /// Flips `completed` in one atomic statement: concurrent toggles never
    /// read the same old value.
    pub async fn toggle_completed(
        &self,
        user: &UserId,
        id: Uuid,
        versions: Versions<'_>,
    ) -> Result<Option<Task>, ApiError> {
        let params = [
            (&user.as_str() as _, Type::TEXT),
            (&id as _, Type::UUID),
            (&versions as _, Type::TIMESTAMPTZ_ARRAY),
        ];
        let row = self.db.query_opt(sql::TOGGLE, &params).await?;
        Ok(self.written(user, id, row, versions).await?.map(Task))
    }

    /// Whether a task was deleted.
    pub async fn delete(
        &self,
        user: &UserId,
        id: Uuid,
        versions: Versions<'_>,
    ) -> Result<bool, ApiError> {
        let params = [
            (&user.as_str() as _, Type::TEXT),
            (&id as _, Type::UUID),
            (&versions as _, Type::TIMESTAMPTZ_ARRAY),
        ];
        let row = self.db.query_opt(sql::DELETE, &params).await?;
        Ok(self.written(user, id, row, versions).await?.is_some())
    }

    /// What a write returned. When a conditional one changed nothing, the
    /// task is either not there (not found) or at another version (412);
    /// reading it again only decides which: the write itself was atomic.
    async fn written(
        &self,
        user: &UserId,
        id: Uuid,
        row: Option<Row>,
        versions: Versions<'_>,
    ) -> Result<Option<Row>, ApiError> {
        match (row, versions) {
            (Some(row), _) => Ok(Some(row)),
            (None, Some(_)) if self.get(user, id).await?.is_some() => {
                Err(ApiError::PreconditionFailed)
            }
            (None, _) => Ok(None),
        }
    }
}
