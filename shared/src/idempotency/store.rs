//! The remembered `Idempotency-Key`s: a keyed POST claims its key and
//! creates its task in one statement, a retry replays the first 201, and
//! expired keys are purged along the way. Scoped by user id, as every
//! statement; it answers in storage terms, never HTTP.

use std::sync::Arc;

use tokio_postgres::types::Type;
use uuid::Uuid;

use super::header::{IdempotencyKey, fingerprint};
use crate::{
    auth::UserId,
    db::{Database, DbError},
    housekeeping::NowAndThen,
    input::{Due, NewTask},
    repository::{Words, check_time_zone, owner_locked, refused_input, task_columns},
    task::{Task, column},
};

/// How long an `Idempotency-Key` is remembered.
macro_rules! key_lifetime {
    () => {
        "interval '24 hours'"
    };
}

/// The statements on keys (public, as the repository's are).
pub mod sql {
    use super::{owner_locked, task_columns};
    use crate::repository::history::{created_changes, due_text, insert_history};

    /// A keyed POST seen before: the first 201's task rebuilt from the key
    /// ($3, $4, $6-$10: the retry's fields, the same as the first's when
    /// the fingerprint $5 matches; a new task's `updated_at` is its
    /// `created_at`, its `due_by` what the same function computed), and
    /// whether it is the same task. Rebuilt, not read from `tasks`: the
    /// answer is the first 201's even when the task has changed since.
    pub const REPLAY: &str = concat!(
        "SELECT task_id, user_id, $3::text, $4::text, false, created_at, created_at,
            $6::date, $7::timestamptz, $8::text, task_due_by($6, $7, $8),
            $9::smallint, $10::text[],
            fingerprint = $5 AS same_task
        FROM idempotency_keys
        WHERE user_id = $1 AND key = $2 AND created_at > now() - ",
        key_lifetime!()
    );

    /// A keyed POST: claims the key ($5, fingerprint $6) and creates the
    /// task ($3, $4, $8-$14 as `repository::sql::CREATE`'s $3, $4, $6-$12)
    /// with its seq and `created` entry, in one statement, or none of it
    /// (also when the owner stores $7 tasks already: `within_limit` is
    /// false then). The transaction-scoped advisory
    /// lock on (user, key) marks the request in progress: a concurrent one
    /// does not wait, it reads `locked = false` (409). The lock ends with
    /// the statement, so it is safe behind a transaction-mode pooler. An
    /// unexpired key of the user (committed after the caller's `REPLAY`)
    /// claims nothing, and the caller replays; an expired one is taken over.
    /// The seq is taken in the owner's row (its one modification in this
    /// statement) unless the statement's snapshot already holds the key
    /// unexpired; a same-key request committing in the microseconds
    /// between that snapshot and the claim leaves an unused seq, a gap the
    /// change feed does not mind (it needs seqs ordered, not dense).
    pub const CREATE_ONCE: &str = concat!(
        "WITH attempt AS (
            SELECT pg_try_advisory_xact_lock(hashtext($2), hashtext($5)) AS locked
        ),
        owner AS (
            ",
        owner_locked!(
            "SELECT $2, CASE WHEN 0 < $7 THEN 1 ELSE 0 END FROM attempt WHERE locked",
            "u.task_count < $7 AND NOT EXISTS (SELECT FROM idempotency_keys
                WHERE user_id = $2 AND key = $5 AND created_at > now() - ",
            key_lifetime!(),
            ")"
        ),
        "
        ),
        claimed AS (
            INSERT INTO idempotency_keys AS k (user_id, key, fingerprint, task_id)
            SELECT $2, $5, $6, $1 FROM owner WHERE task_count < $7
            ON CONFLICT (user_id, key) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, task_id = EXCLUDED.task_id,
                    created_at = EXCLUDED.created_at
                WHERE k.created_at <= now() - ",
        key_lifetime!(),
        "
            RETURNING task_id
        ),
        created AS (
            INSERT INTO tasks (id, user_id, title, description, due_date, due_at,
                time_zone, priority, labels, title_words, description_words, seq)
            SELECT task_id, $2, $3, $4, $8, $9, $10, $11, $12,
                array_to_tsvector($13), array_to_tsvector($14), owner.change_seq
            FROM claimed, owner
            RETURNING ",
        task_columns!(),
        ", seq
        ),
        hist AS (
            ",
        insert_history!(),
        "SELECT user_id, id, seq, updated_at, 'created', ",
        created_changes!(),
        " FROM created
        )
        SELECT ",
        task_columns!(),
        ", attempt.locked,
            COALESCE((SELECT task_count < $7 FROM owner), true) AS within_limit
        FROM attempt LEFT JOIN created ON true"
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
}

/// What a keyed POST did.
#[derive(Debug)]
pub enum Creation {
    Created(Task),
    /// The key's first 201, to be answered again.
    Replayed(Task),
    /// A request with this key is still being processed.
    InProgress,
    /// The key was used for a different task.
    Reused,
    /// The owner stores the most tasks a user may; nothing was created.
    LimitReached,
}

#[derive(Clone)]
pub struct IdempotencyStore {
    db: Database,
    /// The most tasks one user may store.
    max_tasks: i32,
    /// Keys claimed through this store: every 16th purges expired keys,
    /// so the table holds about a day of keys.
    claimed: Arc<NowAndThen>,
}

impl IdempotencyStore {
    pub fn new(db: Database, max_tasks: i32) -> Self {
        Self {
            db,
            max_tasks,
            claimed: Arc::default(),
        }
    }

    /// Creates the task under `key`: the first request creates, a retry of
    /// the same task replays the first 201 (for 24 hours); another task
    /// under the key, a request while the first is still in progress, or
    /// one past the owner's task limit, creates nothing.
    pub async fn create_once(
        &self,
        user: &UserId,
        task: &NewTask,
        key: &IdempotencyKey,
    ) -> Result<Creation, DbError> {
        let fingerprint = fingerprint(task);
        // A retry is only read: it costs no more than the first request.
        if let Some(replay) = self.replay(user, task, key, &fingerprint).await? {
            return Ok(replay);
        }
        let id = Uuid::now_v7();
        let (due_date, due_at) = Due::columns(task.due.as_ref());
        let words = Words::of(task);
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
                    (&self.max_tasks, Type::INT4),
                    (&due_date, Type::DATE),
                    (&due_at, Type::TIMESTAMPTZ),
                    (&task.time_zone, Type::TEXT),
                    (&task.priority, Type::INT2),
                    (&task.labels, Type::TEXT_ARRAY),
                    (&words.title, Type::TEXT_ARRAY),
                    (&words.description, Type::TEXT_ARRAY),
                ],
            )
            .await
            .map_err(|e| refused_input(e, Some(&task.time_zone)))?
            .ok_or_else(|| DbError::internal("keyed INSERT returned no row"))?;
        if !row
            .try_get::<_, bool>("locked")
            .map_err(DbError::internal)?
        {
            // Nothing was inserted, so no foreign key judged the zone: a
            // bad one is a 400 before the 409.
            check_time_zone(&self.db, &task.time_zone).await?;
            return Ok(Creation::InProgress);
        }
        let created = row.try_get::<_, Option<Uuid>>(column::ID);
        if created.map_err(DbError::internal)?.is_some() {
            if self.claimed.due() {
                self.purge_expired_keys().await;
            }
            return Ok(Creation::Created(Task(row)));
        }
        // A request with this key finished after our first look, or the
        // owner is at the limit (and the key unclaimed).
        let within_limit: bool = row.try_get("within_limit").map_err(DbError::internal)?;
        match self.replay(user, task, key, &fingerprint).await? {
            Some(replay) => Ok(replay),
            None if !within_limit => {
                // Nothing inserted: the zone is judged here, a 400 first.
                check_time_zone(&self.db, &task.time_zone).await?;
                Ok(Creation::LimitReached)
            }
            None => Err(DbError::internal(
                "idempotency key neither claimed nor found",
            )),
        }
    }

    /// The task is created: a failed purge is only logged (the next one
    /// will do).
    async fn purge_expired_keys(&self) {
        if let Err(e) = self.db.query(sql::PURGE_EXPIRED_KEYS, &[]).await {
            tracing::warn!(error = %e, "purging expired idempotency keys failed");
        }
    }

    /// The key's first 201 if it is remembered and names the same task;
    /// `Reused` if it names another.
    async fn replay(
        &self,
        user: &UserId,
        task: &NewTask,
        key: &IdempotencyKey,
        fingerprint: &[u8; 32],
    ) -> Result<Option<Creation>, DbError> {
        let (due_date, due_at) = Due::columns(task.due.as_ref());
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
                    (&due_date, Type::DATE),
                    (&due_at, Type::TIMESTAMPTZ),
                    (&task.time_zone, Type::TEXT),
                    (&task.priority, Type::INT2),
                    (&task.labels, Type::TEXT_ARRAY),
                ],
            )
            .await
            .map_err(|e| refused_input(e, Some(&task.time_zone)))?;
        let Some(row) = row else { return Ok(None) };
        let same_task: bool = row.try_get("same_task").map_err(DbError::internal)?;
        Ok(Some(if same_task {
            Creation::Replayed(Task(row))
        } else {
            // The first request's zone was known; this one's may not be:
            // a bad one is a 400 before the 422.
            check_time_zone(&self.db, &task.time_zone).await?;
            Creation::Reused
        }))
    }
}
