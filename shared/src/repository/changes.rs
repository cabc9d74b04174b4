//! The change feed's statements: one page in one statement (so one
//! snapshot: the counter it reports and the rows it returns agree), and
//! the tombstones' 90-day bound. Why a page cannot skip a change:
//! docs/design.md, "The change feed".

use chrono::{DateTime, Utc};
use tokio_postgres::{Row, types::Type};

use crate::{
    auth::UserId,
    cursor::SortValue,
    db::{DbError, TypedSql},
    repository::TaskRepository,
};

/// Where each of a page's columns is, after the task's
/// (`task::column`, the first 13): the row's seq, `deleted_at` (a
/// tombstone's; NULL for a live task), then the owner's counter,
/// `purged_seq` and `created_at` as this statement's snapshot saw them.
pub mod column {
    pub const SEQ: usize = 13;
    pub const DELETED_AT: usize = 14;
    pub const CHANGE_SEQ: usize = 15;
    pub const PURGED_SEQ: usize = 16;
    pub const EPOCH: usize = 17;
}

/// The owner's counters, as one snapshot saw them; no row yet (no write
/// ever) reads as zeros. An aggregate over no row is still one row.
macro_rules! owner_counters {
    () => {
        "WITH u AS (
            SELECT COALESCE(max(change_seq), 0) AS change_seq,
                   COALESCE(max(purged_seq), 0) AS purged_seq,
                   max(created_at) AS epoch
            FROM users WHERE id = $1
        )"
    };
}

/// The statements, beside the function that runs them.
pub mod sql {
    use crate::repository::task_columns;

    /// A first sync's page: the live tasks in the list's order (its index,
    /// `(user_id, created_at DESC, id DESC)`: the list's own plan), after
    /// ($2, $3). Those whose seq is above the walk's floor (this
    /// statement's counter on the first page) are left out in Rust
    /// (`changes::page`), not here: a filter on seq of unknown selectivity
    /// made the planner read all the user's tasks by the seq index and
    /// sort them (EXPLAIN, 10,000 tasks: 18 ms against the list's 1.9).
    /// Keyed by (created_at, id), not by seq: rows written by hand all
    /// have seq 0 (migration 0006), and ties cannot be paged by seq alone.
    /// $4: the page size plus one.
    pub const WALK: &str = concat!(
        owner_counters!(),
        "
        SELECT t.*, u.change_seq, u.purged_seq, u.epoch
        FROM u LEFT JOIN LATERAL (
            SELECT ",
        task_columns!(),
        ", seq, NULL::timestamptz AS deleted_at
            FROM tasks
            WHERE user_id = $1 AND (created_at, id) < ($2, $3)
            ORDER BY created_at DESC, id DESC
            LIMIT $4
        ) t ON true"
    );

    /// Every change after seq $2, oldest first, in its latest state: a
    /// live task, a task in the trash or gone for good (tombstones). Each
    /// task is in exactly one of the three tables, and every seq above 0
    /// is one write's, so seq alone orders and pages them. A Merge Append
    /// of the three `(user_id, seq)` indexes. $3: the page size plus one.
    pub const SINCE: &str = concat!(
        owner_counters!(),
        ", c AS (
            (SELECT ",
        task_columns!(),
        ", seq, NULL::timestamptz AS deleted_at
             FROM tasks WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
            UNION ALL
            (SELECT id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    seq, deleted_at
             FROM trashed_tasks WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
            UNION ALL
            (SELECT id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    seq, deleted_at
             FROM task_tombstones WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
        )
        SELECT c.*, u.change_seq, u.purged_seq, u.epoch
        FROM u LEFT JOIN LATERAL (SELECT * FROM c ORDER BY seq LIMIT $3) c ON true"
    );

    /// Up to 100 tombstones older than 90 days (2,160 hours: no time zone
    /// in it), of any user whose row is free: it never waits on a writer,
    /// so it never deadlocks nor delays anyone. `purged_seq` keeps the
    /// newest purged seq, in the same statement: a snapshot that misses a
    /// tombstone also sees the raised `purged_seq`, and a token below it is
    /// a 410.
    pub const PURGE_TOMBSTONES: &str = "WITH expired AS (
            SELECT user_id FROM task_tombstones
            WHERE deleted_at <= now() - interval '2160 hours'
            ORDER BY deleted_at LIMIT 100
        ), owners AS (
            SELECT id FROM users WHERE id IN (SELECT user_id FROM expired)
            ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
        ), gone AS (
            DELETE FROM task_tombstones WHERE ctid = ANY (ARRAY(
                SELECT ctid FROM task_tombstones
                WHERE user_id IN (SELECT id FROM owners)
                  AND deleted_at <= now() - interval '2160 hours'
                ORDER BY deleted_at LIMIT 100
                FOR UPDATE SKIP LOCKED))
            RETURNING user_id, seq
        ), marked AS (
            UPDATE users u SET purged_seq = GREATEST(u.purged_seq, g.seq)
            FROM (SELECT user_id, max(seq) AS seq FROM gone GROUP BY user_id) g
            WHERE u.id = g.user_id
        )
        SELECT count(*) FROM gone";
}

/// The statements of the feed, with their parameter types (prepared when
/// first run: a task function other than `list-changes` never runs them).
pub const STATEMENTS: [TypedSql<'static>; 2] = [
    (
        sql::WALK,
        &[Type::TEXT, Type::TIMESTAMPTZ, Type::UUID, Type::INT8],
    ),
    (sql::SINCE, &[Type::TEXT, Type::INT8, Type::INT8]),
];

/// The owner's counters as a page's snapshot saw them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    /// The seq of the owner's latest committed write (K).
    pub change_seq: i64,
    /// The newest seq of a purged tombstone.
    pub purged_seq: i64,
    /// The owner row's creation, in Unix microseconds; 0 without a row.
    pub epoch: i64,
}

/// One statement's rows: up to the page size plus one, and the counters.
pub struct ChangeRows {
    pub rows: Vec<Row>,
    pub counters: Counters,
}

/// Where a first sync's walk stands.
#[derive(Clone, Copy, Debug)]
pub struct WalkFrom {
    /// `created_at` as PostgreSQL sends it (microseconds since 2000);
    /// `i64::MAX` (infinity) before the first task.
    pub created_at: i64,
    pub id: uuid::Uuid,
}

impl TaskRepository {
    /// A first sync's page: up to `fetch` live tasks after `from`.
    pub async fn changes_walk(
        &self,
        user: &UserId,
        from: WalkFrom,
        fetch: usize,
    ) -> Result<ChangeRows, DbError> {
        let fetch = fetch as i64;
        let created_at = SortValue::Time(from.created_at);
        let rows = self
            .database()
            .query(
                sql::WALK,
                &[
                    (&user.as_str(), Type::TEXT),
                    (&created_at, Type::TIMESTAMPTZ),
                    (&from.id, Type::UUID),
                    (&fetch, Type::INT8),
                ],
            )
            .await?;
        let rows = in_order(rows, |row| {
            Ok(std::cmp::Reverse((
                row.try_get::<_, Option<DateTime<Utc>>>(crate::task::column::CREATED_AT)?,
                row.try_get::<_, Option<uuid::Uuid>>(crate::task::column::ID)?,
            )))
        })?;
        ChangeRows::of(rows)
    }

    /// Up to `fetch` changes after seq `since`, oldest first.
    pub async fn changes_since(
        &self,
        user: &UserId,
        since: i64,
        fetch: usize,
    ) -> Result<ChangeRows, DbError> {
        let fetch = fetch as i64;
        let rows = self
            .database()
            .query(
                sql::SINCE,
                &[
                    (&user.as_str(), Type::TEXT),
                    (&since, Type::INT8),
                    (&fetch, Type::INT8),
                ],
            )
            .await?;
        let rows = in_order(rows, |row| row.try_get::<_, Option<i64>>(column::SEQ))?;
        ChangeRows::of(rows)
    }

    /// Purges up to 100 tombstones past their 90 days; how many.
    pub async fn purge_tombstones(&self) -> Result<i64, DbError> {
        count(self.database().query(sql::PURGE_TOMBSTONES, &[]).await?)
    }
}

/// The rows in `key` order. The page statements have no outer `ORDER BY`:
/// their rows come out of one index walk through a nested loop, already in
/// order, and an outer sort of a page of 1000 doubled the statement's time
/// (1.0 against 0.4 ms, EXPLAIN ANALYZE). Checked here in one pass, and
/// sorted only if PostgreSQL ever answered otherwise.
pub(crate) fn in_order<K: Ord>(
    rows: Vec<Row>,
    key: impl Fn(&Row) -> Result<K, tokio_postgres::Error>,
) -> Result<Vec<Row>, DbError> {
    let keys = rows
        .iter()
        .map(&key)
        .collect::<Result<Vec<K>, _>>()
        .map_err(DbError::internal)?;
    if keys.is_sorted() {
        return Ok(rows);
    }
    let mut keyed: Vec<(K, Row)> = keys.into_iter().zip(rows).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

/// A `SELECT count(*)`'s one value.
pub(crate) fn count(rows: Vec<Row>) -> Result<i64, DbError> {
    rows.first()
        .ok_or_else(|| DbError::internal("count(*) returned no row"))?
        .try_get(0)
        .map_err(DbError::internal)
}

impl ChangeRows {
    /// Every row carries the counters (an empty page is one row of NULLs
    /// and the counters: the LEFT JOIN); the rows are those with an id.
    fn of(mut rows: Vec<Row>) -> Result<Self, DbError> {
        let first = rows
            .first()
            .ok_or_else(|| DbError::internal("a changes page without its counters"))?;
        let epoch: Option<DateTime<Utc>> =
            first.try_get(column::EPOCH).map_err(DbError::internal)?;
        let counters = Counters {
            change_seq: first
                .try_get(column::CHANGE_SEQ)
                .map_err(DbError::internal)?,
            purged_seq: first
                .try_get(column::PURGED_SEQ)
                .map_err(DbError::internal)?,
            epoch: epoch.map_or(0, |t| t.timestamp_micros()),
        };
        let empty = first
            .try_get::<_, Option<uuid::Uuid>>(0)
            .map_err(DbError::internal)?
            .is_none();
        if empty {
            rows.clear();
        }
        Ok(Self { rows, counters })
    }
}
