//! A task's history: a page of its entries, newest first, and the
//! entries' 365-day bound. The entries are written by the writes
//! themselves, in their own statements.

use tokio_postgres::{Row, types::Type};
use uuid::Uuid;

use crate::{
    auth::UserId,
    db::{DbError, TypedSql},
    repository::{
        TaskRepository,
        changes::{count, in_order},
    },
};

/// Where each of a history row's columns is.
pub mod column {
    pub const FOUND: usize = 0;
    pub const SEQ: usize = 1;
    pub const AT: usize = 2;
    pub const ACTION: usize = 3;
    /// The `changes` object as JSON text (jsonb's output is JSON).
    pub const CHANGES: usize = 4;
}

pub mod sql {
    /// Whether the task is the caller's, live or in the trash (within its
    /// 30 days: past them it is gone for every route, purged or not), and
    /// if so up to $4 of its entries with seq below $3, newest first, on
    /// the history's primary key. An entry's seq is its write's: unique
    /// per user and increasing in commit order.
    pub const PAGE: &str = "SELECT f.found, h.seq, h.at, h.action, h.changes::text
        FROM (SELECT EXISTS (SELECT FROM tasks WHERE user_id = $1 AND id = $2)
                  OR EXISTS (SELECT FROM trashed_tasks WHERE user_id = $1 AND id = $2
                             AND purge_after > now()) AS found) f
        LEFT JOIN LATERAL (
            SELECT seq, at, action, changes FROM task_history
            WHERE f.found AND user_id = $1 AND task_id = $2 AND seq < $3
            ORDER BY seq DESC
            LIMIT $4
        ) h ON true";

    /// Up to 100 entries older than 365 days (8,760 hours), of any user,
    /// skipping rows another purge holds. The BRIN index on `at` finds
    /// them (entries are written in time order).
    pub const PURGE_OLD: &str = "WITH gone AS (
            DELETE FROM task_history WHERE ctid = ANY (ARRAY(
                SELECT ctid FROM task_history
                WHERE at < now() - interval '8760 hours'
                LIMIT 100
                FOR UPDATE SKIP LOCKED))
            RETURNING 1
        )
        SELECT count(*) FROM gone";
}

pub const STATEMENTS: [TypedSql<'static>; 1] =
    [(sql::PAGE, &[Type::TEXT, Type::UUID, Type::INT8, Type::INT8])];

/// A page of a task's history: `None` when the task is not the caller's
/// (live or in the trash).
pub struct HistoryRows(pub Vec<Row>);

impl TaskRepository {
    /// Up to `fetch` entries of the task older than seq `before`, newest
    /// first; `None` when it is neither live nor in the caller's trash.
    pub async fn history(
        &self,
        user: &UserId,
        task: Uuid,
        before: i64,
        fetch: usize,
    ) -> Result<Option<HistoryRows>, DbError> {
        let fetch = fetch as i64;
        let rows = self
            .database()
            .query(
                sql::PAGE,
                &[
                    (&user.as_str(), Type::TEXT),
                    (&task, Type::UUID),
                    (&before, Type::INT8),
                    (&fetch, Type::INT8),
                ],
            )
            .await?;
        let mut rows = in_order(rows, |row| {
            row.try_get::<_, Option<i64>>(column::SEQ)
                .map(std::cmp::Reverse)
        })?;
        let found = match rows.first() {
            Some(row) => row
                .try_get::<_, bool>(column::FOUND)
                .map_err(DbError::internal)?,
            None => return Err(DbError::internal("the history statement returned no row")),
        };
        if !found {
            return Ok(None);
        }
        // A task without entries (written by hand) is one row of NULLs.
        if rows
            .first()
            .map(|r| r.try_get::<_, Option<i64>>(column::SEQ))
            .transpose()
            .map_err(DbError::internal)?
            .flatten()
            .is_none()
        {
            rows.clear();
        }
        Ok(Some(HistoryRows(rows)))
    }

    /// Purges up to 100 entries past their 365 days; how many.
    pub async fn purge_old_history(&self) -> Result<i64, DbError> {
        count(self.database().query(sql::PURGE_OLD, &[]).await?)
    }
}
