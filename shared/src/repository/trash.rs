//! The trash: DELETE moves a task to `trashed_tasks` (one statement), from
//! where it is listed, restored, or gone for good (a tombstone kept for
//! the change feed, its history deleted). Thirty days after its deletion
//! it is gone for good: every read of the trash already treats it so
//! (`purge_after > now()`), and a bounded purge piggybacks on trash moves
//! to take the rows away, without a scheduler.
//!
//! Each write is one statement through `self.db`. It locks the task's row
//! first (with the `If-Match` in its `WHERE`), and bumps the owner's
//! `change_seq` only when that row exists: a refused write (404, 412, 409)
//! takes no seq and writes no history, by data dependency. Lock order:
//! the task's row, then the user's row (docs/design.md).

use tokio_postgres::types::Type;
use uuid::Uuid;

use super::{TaskRepository, Versions, Written, task_columns};
use crate::{
    auth::UserId,
    cursor::{Cursor, TRASH_FINGERPRINT},
    db::{DbError, Executor},
    housekeeping::NowAndThen,
    sort::Sort,
    task::{Page, Positions, Task, column},
};

/// The trash statements (public, as the repository's are).
pub mod sql {
    use super::{
        super::history::{bump_seq_when, insert_history},
        task_columns,
    };

    /// DELETE /tasks/{id}: the row moves to the trash whole, with its
    /// `updated_at` (its ETag does not change), the new seq, `deleted_at`
    /// strictly after its last change (so the `deleted` entry sorts after
    /// it), and `purge_after` 720 hours later (hours: no time zone in it).
    /// $1 user, $2 id, $3 If-Match versions (NULL: any).
    pub const TRASH: &str = concat!(
        "WITH old AS (
            SELECT * FROM tasks
            WHERE user_id = $1 AND id = $2 AND ($3::timestamptz[] IS NULL OR updated_at = ANY($3))
            FOR UPDATE
        ), bump AS (
            ",
        bump_seq_when!("$1", "old"),
        "
        ), gone AS (
            DELETE FROM tasks t USING bump WHERE t.user_id = $1 AND t.id = $2
        ), trashed AS (
            INSERT INTO trashed_tasks (id, user_id, title, description, completed, created_at,
                updated_at, due_date, due_at, time_zone, due_by, priority, labels, title_words,
                description_words, seq, deleted_at, purge_after)
            SELECT o.id, o.user_id, o.title, o.description, o.completed, o.created_at,
                o.updated_at, o.due_date, o.due_at, o.time_zone, o.due_by, o.priority, o.labels,
                o.title_words, o.description_words, b.change_seq, d.at, d.at + interval '720 hours'
            FROM old o, bump b,
                LATERAL (SELECT GREATEST(clock_timestamp(), o.updated_at + interval '1 microsecond') AS at) d
            RETURNING user_id, id, seq, deleted_at
        ), hist AS (
            ",
        insert_history!(),
        "SELECT user_id, id, seq, deleted_at, 'deleted', '{}' FROM trashed
        )
        SELECT id FROM trashed"
    );

    /// POST /trash/{id}/restore: the row moves back with the same id and
    /// fields, a new seq, and `updated_at` strictly after its deletion (a
    /// new ETag); `due_by` is computed again. Not when the owner stores $4
    /// tasks already: the user row's `task_count` is read under its lock,
    /// as a create reads it. $1 user, $2 id, $3 versions (the ETag at
    /// deletion), $4 the task limit. One row always: the task's columns
    /// (NULL when nothing was restored), then whether the task was in the
    /// trash at a version it may take (so a refusal then was the limit's).
    pub const RESTORE: &str = concat!(
        "WITH old AS (
            SELECT * FROM trashed_tasks
            WHERE user_id = $1 AND id = $2 AND purge_after > now()
              AND ($3::timestamptz[] IS NULL OR updated_at = ANY($3))
            FOR UPDATE
        ), bump AS (
            -- bump_seq_when!, and the task limit, on the locked user row.
            UPDATE users SET change_seq = change_seq + 1
            WHERE id = $1 AND task_count < $4 AND EXISTS (SELECT FROM old)
            RETURNING change_seq
        ), gone AS (
            DELETE FROM trashed_tasks t USING bump WHERE t.user_id = $1 AND t.id = $2
        ), restored AS (
            INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at,
                due_date, due_at, time_zone, priority, labels, title_words, description_words, seq)
            SELECT o.id, o.user_id, o.title, o.description, o.completed, o.created_at,
                GREATEST(clock_timestamp(), o.deleted_at + interval '1 microsecond'),
                o.due_date, o.due_at, o.time_zone, o.priority, o.labels, o.title_words,
                o.description_words, b.change_seq
            FROM old o, bump b
            RETURNING *
        ), hist AS (
            ",
        insert_history!(),
        "SELECT user_id, id, seq, updated_at, 'restored', '{}' FROM restored
        )
        SELECT ",
        task_columns!(),
        ", EXISTS (SELECT FROM old) AS in_trash
        FROM (SELECT) AS one LEFT JOIN restored ON true"
    );

    /// DELETE /trash/{id}: gone for good. No new seq (the tombstone a
    /// client sees is the one it got at deletion); the history goes.
    /// $1 user, $2 id, $3 versions.
    pub const DESTROY: &str = "WITH gone AS (
            DELETE FROM trashed_tasks
            WHERE user_id = $1 AND id = $2 AND purge_after > now()
              AND ($3::timestamptz[] IS NULL OR updated_at = ANY($3))
            RETURNING user_id, id, seq, deleted_at
        ), tomb AS (
            INSERT INTO task_tombstones (user_id, id, seq, deleted_at)
            SELECT user_id, id, seq, deleted_at FROM gone
        ), hist AS (
            DELETE FROM task_history
            WHERE user_id = $1 AND task_id = $2 AND EXISTS (SELECT FROM gone)
        )
        SELECT id FROM gone";

    /// Whether the task is in the user's trash, and at which version: what
    /// tells a refused restore or delete-for-good's 404, 412 and 409 apart.
    pub const TRASHED_VERSION: &str = "SELECT updated_at FROM trashed_tasks
        WHERE user_id = $1 AND id = $2 AND purge_after > now()";

    /// Up to 100 trashed tasks past their 30 days, of any user, oldest
    /// first: each gone for good as by DESTROY. Rows another statement
    /// holds are skipped, never waited for; no user row is locked. Rows
    /// are found by key (`= ANY (ARRAY(…))`, a LATERAL lookup per task),
    /// not joined: with statistics behind a burst of deletions, a join was
    /// planned as a hash over a sequential scan of the whole trash and
    /// history (25 ms at 15,000 rows, growing with the tables; measured).
    pub const PURGE_TRASH: &str = "WITH gone AS (
            DELETE FROM trashed_tasks
            WHERE id = ANY (ARRAY(
                SELECT id FROM trashed_tasks
                WHERE purge_after <= now()
                ORDER BY purge_after LIMIT 100
                FOR UPDATE SKIP LOCKED))
            RETURNING user_id, id, seq, deleted_at
        ), tomb AS (
            INSERT INTO task_tombstones (user_id, id, seq, deleted_at)
            SELECT user_id, id, seq, deleted_at FROM gone
        ), hist AS (
            DELETE FROM task_history WHERE ctid = ANY (ARRAY(
                SELECT h.ctid FROM gone g, LATERAL (
                    SELECT ctid FROM task_history
                    WHERE user_id = g.user_id AND task_id = g.id) h))
        )
        SELECT count(*) FROM gone";

    /// The first page of the trash, last deleted first; $2 the page size
    /// plus one. `deleted_at` last: it is the page's sort key.
    pub const LIST_TRASH: &str = concat!(
        "SELECT ",
        task_columns!(),
        ", deleted_at FROM trashed_tasks
        WHERE user_id = $1 AND purge_after > now()
        ORDER BY deleted_at DESC, id DESC
        LIMIT $2"
    );

    /// A later page: after ($2, $3), the cursor's (deleted_at, id).
    pub const LIST_TRASH_AFTER: &str = concat!(
        "SELECT ",
        task_columns!(),
        ", deleted_at FROM trashed_tasks
        WHERE user_id = $1 AND purge_after > now()
          AND (deleted_at, id) < ($2, $3)
        ORDER BY deleted_at DESC, id DESC
        LIMIT $4"
    );
}

/// What a restore did.
#[derive(Debug)]
pub enum Restored {
    Done(Task),
    /// Not in the user's trash (or past its 30 days).
    Missing,
    /// In the trash at another version than `If-Match` named.
    Stale,
    /// The user stores the most tasks a user may; nothing changed.
    LimitReached,
}

/// Trash moves in this execution environment (one process): every 16th
/// purges the expired trash.
static TRASHED: NowAndThen = NowAndThen::from_the_first();

impl<E: Executor> TaskRepository<E> {
    /// Moves the task to the trash (DELETE /tasks/{id}). With `versions`,
    /// only if the task is at one of them.
    pub async fn delete(
        &self,
        user: &UserId,
        id: Uuid,
        versions: Versions<'_>,
    ) -> Result<Written<()>, DbError> {
        let params = [
            (&user.as_str() as _, Type::TEXT),
            (&id as _, Type::UUID),
            (&versions as _, Type::TIMESTAMPTZ_ARRAY),
        ];
        let row = self.db.query_opt(sql::TRASH, &params).await?;
        let written = self.written(user, id, row, versions).await?.map(drop);
        if matches!(written, Written::Done(())) {
            self.purge_trash_now_and_then().await;
        }
        Ok(written)
    }

    /// Moves the task back from the trash, unless the user is at the task
    /// limit. With `versions`, only if it is at one of them.
    pub async fn restore(
        &self,
        user: &UserId,
        id: Uuid,
        versions: Versions<'_>,
    ) -> Result<Restored, DbError> {
        let params = [
            (&user.as_str() as _, Type::TEXT),
            (&id as _, Type::UUID),
            (&versions as _, Type::TIMESTAMPTZ_ARRAY),
            (&self.max_tasks as _, Type::INT4),
        ];
        let row = self
            .db
            .query_opt(sql::RESTORE, &params)
            .await?
            .ok_or_else(|| DbError::internal("the restore returned no row"))?;
        if row
            .try_get::<_, Option<Uuid>>(column::ID)
            .map_err(DbError::internal)?
            .is_some()
        {
            return Ok(Restored::Done(Task(row)));
        }
        // Locked in the trash at a version it may take, and not restored:
        // the limit refused it, as the statement saw it.
        if row.try_get("in_trash").map_err(DbError::internal)? {
            return Ok(Restored::LimitReached);
        }
        Ok(match self.trashed_version(user, id, versions).await? {
            Written::Stale => Restored::Stale,
            // There now at a version it may take: trashed after the
            // statement's snapshot, so not in the trash as it saw it.
            Written::Missing | Written::Done(()) => Restored::Missing,
        })
    }

    /// Deletes the trashed task for good: a tombstone stays for the change
    /// feed, its history goes.
    pub async fn delete_for_good(
        &self,
        user: &UserId,
        id: Uuid,
        versions: Versions<'_>,
    ) -> Result<Written<()>, DbError> {
        let params = [
            (&user.as_str() as _, Type::TEXT),
            (&id as _, Type::UUID),
            (&versions as _, Type::TIMESTAMPTZ_ARRAY),
        ];
        if self.db.query_opt(sql::DESTROY, &params).await?.is_some() {
            return Ok(Written::Done(()));
        }
        Ok(match self.trashed_version(user, id, versions).await? {
            Written::Stale => Written::Stale,
            // There now at a version it may take: trashed again after the
            // statement's snapshot, so not in the trash as it saw it.
            Written::Missing | Written::Done(()) => Written::Missing,
        })
    }

    /// One page of the user's trash, last deleted first; each row ends
    /// with its `deleted_at` (`Page::into_trash_json`).
    pub async fn list_trash(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&Cursor>,
    ) -> Result<Page, DbError> {
        let fetch = limit as i64 + 1;
        let rows = match after {
            None => {
                let params = [(&user.as_str() as _, Type::TEXT), (&fetch as _, Type::INT8)];
                self.db.query(sql::LIST_TRASH, &params).await?
            }
            Some(cursor) => {
                let params = [
                    (&user.as_str() as _, Type::TEXT),
                    (&cursor.key as _, Type::TIMESTAMPTZ),
                    (&cursor.id as _, Type::UUID),
                    (&fetch as _, Type::INT8),
                ];
                self.db.query(sql::LIST_TRASH_AFTER, &params).await?
            }
        };
        let positions = Positions {
            sort: Sort::default(),
            fingerprint: TRASH_FINGERPRINT,
        };
        Page::of_rows(rows, limit, positions)
    }

    /// Takes up to 100 trashed tasks past their 30 days away for good, of
    /// any user; how many. Run every 16th trash move (`TRASHED`).
    pub async fn purge_trash(&self) -> Result<i64, DbError> {
        // Unnamed: run once in 16 moves, it need not hold a statement in
        // every session's cache.
        let rows = self
            .db
            .query_planned_each_time(sql::PURGE_TRASH, &[])
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| DbError::internal("count(*) returned no row"))?;
        row.try_get(0).map_err(DbError::internal)
    }

    /// After a successful trash move: now and then, the purge. Its failure
    /// (a timeout included) is only logged: the task is trashed, and the
    /// next purge will do.
    async fn purge_trash_now_and_then(&self) {
        // Not inside a batch's transaction: a failed purge would abort it.
        if self.db.in_transaction() {
            return;
        }
        if TRASHED.due()
            && let Err(e) = self.purge_trash().await
        {
            tracing::warn!(error = %e, "purging the expired trash failed");
        }
    }

    /// Why a write on a trashed task found no row: not in the user's trash
    /// (`Missing`), at another version (`Stale`), or there at a version
    /// the write may change (`Done`: refused for another reason).
    async fn trashed_version(
        &self,
        user: &UserId,
        id: Uuid,
        versions: Versions<'_>,
    ) -> Result<Written<()>, DbError> {
        let params = [(&user.as_str() as _, Type::TEXT), (&id as _, Type::UUID)];
        let Some(row) = self.db.query_opt(sql::TRASHED_VERSION, &params).await? else {
            return Ok(Written::Missing);
        };
        let version = row.try_get(0).map_err(DbError::internal)?;
        Ok(match versions {
            Some(versions) if !versions.contains(&version) => Written::Stale,
            _ => Written::Done(()),
        })
    }
}
