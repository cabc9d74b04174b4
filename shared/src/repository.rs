//! `TaskRepository`: every statement on tasks, each scoped by the owner's
//! id (the second wall after the path check), beside the SQL it runs. It
//! answers in storage terms (a task, none, another version) and `DbError`:
//! what that means in HTTP is the handlers' to say.

use chrono::{DateTime, Utc};
use tokio_postgres::{
    Row,
    error::SqlState,
    types::{ToSql, Type},
};
use uuid::Uuid;

use crate::{
    auth::UserId,
    db::{Database, DbError, Executor, Param, TypedSql},
    input::{Due, ListQuery, NewTask, TaskChanges},
    search,
    task::{Page, Positions, Task},
    validation,
};

pub mod batch;
pub mod changes;
pub mod history;
pub mod history_pages;
pub mod list;
pub mod trash;

/// The columns every statement returns, in the order `Task` reads them
/// (`task::column`).
macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at, \
         due_date, due_at, time_zone, due_by, priority, labels"
    };
}
pub(crate) use task_columns;

/// The versions (`updated_at`) a write may change; `None`: any.
pub type Versions<'a> = Option<&'a [DateTime<Utc>]>;

/// `task_columns!` as a constant, for readers outside this module.
pub const TASK_COLUMNS: &str = task_columns!();

/// Inserts the owner's row from `$source` (their id, and their first
/// seq: 1, or 0 when the create is refused) or, when it exists, locks it
/// and takes the next seq when `$bump` holds (a condition on the locked
/// row `u`, e.g. that the owner stores fewer tasks than the limit), and
/// returns its `task_count` and `change_seq` as they are now (under the
/// lock, past the statement's snapshot). The counter is taken here, in the
/// one modification of the user row a statement may make: a second one in
/// the same statement would not see the first.
macro_rules! owner_locked {
    ($source:literal, $($bump:expr),+) => {
        concat!(
            "INSERT INTO users AS u (id, change_seq) ",
            $source,
            " ON CONFLICT (id) DO UPDATE
                SET change_seq = u.change_seq + CASE WHEN ",
            $($bump),+,
            " THEN 1 ELSE 0 END
            RETURNING u.task_count, u.change_seq"
        )
    };
}
pub(crate) use owner_locked;

/// `updated_at` moves forward on every change, strictly, even when two
/// changes fall in the same microsecond. A macro, so that the statements
/// using it are still `&'static str` built at compile time.
macro_rules! touch {
    () => {
        "updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')"
    };
}

/// Every statement, by operation (public so that `bench/sql/` can be
/// checked against them); the list's are built by `list::statement`. A write takes the versions it may change
/// (`If-Match`) as one more parameter, `NULL` for any: the check and the
/// change are one statement, so of two writers holding one version exactly
/// one succeeds.
pub mod sql {
    use super::history::{
        bump_seq_when, created_changes, due_text, field_change, insert_history, updated_changes,
    };

    /// The plain list (newest first, no filter, no cursor), exactly as
    /// `list::statement` builds it: the one to prepare ahead.
    pub const LIST: &str = concat!(
        "SELECT ",
        task_columns!(),
        ", created_at AS sort_key\nFROM tasks\nWHERE user_id = $1\nORDER BY created_at DESC, id DESC\nLIMIT $2"
    );

    /// Creates the owner's row on their first write, and the task unless
    /// they store $5 tasks already: no row then, and no seq taken. The
    /// owner's row is locked (`DO UPDATE`) and its `task_count` read as it
    /// is now, not as the statement's snapshot saw it, so concurrent
    /// creates are counted one after another; the trigger of
    /// `migrations/0005` counts the insert. The task takes the owner's
    /// next seq, and its `created` entry is written with it.
    pub const CREATE: &str = concat!(
        "WITH owner AS (
            ",
        owner_locked!(
            "VALUES ($2, CASE WHEN 0 < $5 THEN 1 ELSE 0 END)",
            "u.task_count < $5"
        ),
        "
        ), new AS (
            INSERT INTO tasks (id, user_id, title, description, due_date, due_at, time_zone,
                priority, labels, title_words, description_words, seq)
            SELECT $1, $2, $3, $4, $6, $7, $8, $9, $10,
                array_to_tsvector($11), array_to_tsvector($12), change_seq
            FROM owner WHERE task_count < $5
            RETURNING ",
        task_columns!(),
        ", seq
        ), hist AS (
            ",
        insert_history!(),
        "SELECT user_id, id, seq, updated_at, 'created', ",
        created_changes!(),
        " FROM new
        )
        SELECT ",
        task_columns!(),
        " FROM new"
    );

    pub const GET: &str = concat!(
        "SELECT ",
        task_columns!(),
        " FROM tasks WHERE user_id = $1 AND id = $2"
    );

    /// Applies the fields that are set ($3-$6, $8-$15) if the task is at
    /// one of the versions $7. The task row is locked first, with the
    /// versions checked on its latest version; only then, and only when it
    /// was found, is the owner's seq taken: a 404 or 412 takes none. The
    /// entry is `completed`/`reopened` (by the resulting value) when the
    /// body sets `completed` and no other field's value changed, else
    /// `updated`.
    pub const UPDATE: &str = concat!(
        "WITH old AS (
            SELECT title, description, completed, due_date, due_at, time_zone, priority, labels
            FROM tasks
            WHERE user_id = $1 AND id = $2
              AND ($7::timestamptz[] IS NULL OR updated_at = ANY($7))
            FOR UPDATE
        ), bump AS (
            ",
        bump_seq_when!("$1", "old"),
        "
        ), new AS (
            UPDATE tasks SET
                title = COALESCE($3, title),
                description = CASE WHEN $4 THEN $5 ELSE description END,
                completed = COALESCE($6, completed),
                due_date = CASE WHEN $8 THEN $9 ELSE due_date END,
                due_at = CASE WHEN $8 THEN $10 ELSE due_at END,
                time_zone = COALESCE($11, time_zone),
                priority = COALESCE($12, priority),
                labels = COALESCE($13, labels),
                title_words = CASE WHEN $3 IS NULL THEN title_words
                    ELSE array_to_tsvector($14) END,
                description_words = CASE WHEN $4 THEN array_to_tsvector($15)
                    ELSE description_words END,
                seq = bump.change_seq, ",
        touch!(),
        " FROM bump
            WHERE user_id = $1 AND id = $2
            RETURNING ",
        task_columns!(),
        ", seq
        ), hist AS (
            ",
        insert_history!(),
        "SELECT n.user_id, n.id, n.seq, n.updated_at,
                CASE WHEN $6 IS NOT NULL AND c.changes - 'completed' = '{}'
                    THEN CASE WHEN n.completed THEN 'completed' ELSE 'reopened' END
                    ELSE 'updated' END,
                c.changes
            FROM new n, old o, LATERAL (SELECT ",
        updated_changes!(),
        " AS changes) c
        )
        SELECT ",
        task_columns!(),
        " FROM new"
    );

    /// Flips `completed` if the task is at one of the versions $3, locking
    /// the task row first as `UPDATE` does.
    pub const TOGGLE: &str = concat!(
        "WITH old AS (
            SELECT completed FROM tasks
            WHERE user_id = $1 AND id = $2
              AND ($3::timestamptz[] IS NULL OR updated_at = ANY($3))
            FOR UPDATE
        ), bump AS (
            ",
        bump_seq_when!("$1", "old"),
        "
        ), new AS (
            UPDATE tasks SET completed = NOT completed, seq = bump.change_seq, ",
        touch!(),
        " FROM bump
            WHERE user_id = $1 AND id = $2
            RETURNING ",
        task_columns!(),
        ", seq
        ), hist AS (
            ",
        insert_history!(),
        "SELECT n.user_id, n.id, n.seq, n.updated_at,
                CASE WHEN n.completed THEN 'completed' ELSE 'reopened' END,
                jsonb_build_object('completed',
                    jsonb_build_object('from', o.completed, 'to', n.completed))
            FROM new n, old o
        )
        SELECT ",
        task_columns!(),
        " FROM new"
    );

    /// Whether the database knows a time zone name (a primary-key probe).
    pub const TIME_ZONE_KNOWN: &str = "SELECT EXISTS (SELECT 1 FROM time_zones WHERE name = $1)";
}

/// What a conditional write did: it wrote (`Done`), or found no task of
/// the user's (`Missing`), or found it at another version than those it
/// may change (`Stale`).
#[derive(Debug)]
pub enum Written<T> {
    Done(T),
    Missing,
    Stale,
}

/// The statements every task function prepares at init, with the parameter
/// types their functions below declare (the statement cache is keyed on
/// both; a test holds them together). The keyed POST's statements
/// (`idempotency`) are prepared when first run.
pub const HOT_STATEMENTS: [TypedSql<'static>; 7] = [
    (sql::LIST, &[Type::TEXT, Type::INT8]),
    (
        sql::CREATE,
        &[
            Type::UUID,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT4,
            Type::DATE,
            Type::TIMESTAMPTZ,
            Type::TEXT,
            Type::INT2,
            Type::TEXT_ARRAY,
            Type::TEXT_ARRAY,
            Type::TEXT_ARRAY,
        ],
    ),
    (sql::GET, &[Type::TEXT, Type::UUID]),
    (
        sql::UPDATE,
        &[
            Type::TEXT,
            Type::UUID,
            Type::TEXT,
            Type::BOOL,
            Type::TEXT,
            Type::BOOL,
            Type::TIMESTAMPTZ_ARRAY,
            Type::BOOL,
            Type::DATE,
            Type::TIMESTAMPTZ,
            Type::TEXT,
            Type::INT2,
            Type::TEXT_ARRAY,
            Type::TEXT_ARRAY,
            Type::TEXT_ARRAY,
        ],
    ),
    (
        sql::TOGGLE,
        &[Type::TEXT, Type::UUID, Type::TIMESTAMPTZ_ARRAY],
    ),
    (
        trash::sql::TRASH,
        &[Type::TEXT, Type::UUID, Type::TIMESTAMPTZ_ARRAY],
    ),
    history_pages::STATEMENTS[0],
];

/// The statements on tasks, run by `E`: the pool, each statement on its
/// own, or one transaction (a batch: `TaskRepository<&Transaction>`,
/// through `on`), the same functions either way.
#[derive(Clone)]
pub struct TaskRepository<E = Database> {
    db: E,
    /// The most tasks one user may store.
    max_tasks: i32,
}

impl<E: Executor> TaskRepository<E> {
    pub fn new(db: E, max_tasks: i32) -> Self {
        Self { db, max_tasks }
    }

    /// The same statements, run by `executor` (a transaction).
    pub fn on<X: Executor>(&self, executor: X) -> TaskRepository<X> {
        TaskRepository::new(executor, self.max_tasks)
    }

    /// The most tasks one user may store (`MAX_TASKS_PER_USER`).
    pub fn max_tasks(&self) -> i32 {
        self.max_tasks
    }

    pub fn database(&self) -> &E {
        &self.db
    }

    /// One page of a list in its sort, searched and filtered, paged by
    /// keyset (`list`).
    pub async fn list(&self, user: &UserId, query: &ListQuery) -> Result<Page, DbError> {
        let statement = list::statement(user.as_str(), query);
        let params: Vec<Param<'_>> = statement
            .params
            .iter()
            .map(|(value, ty)| (value.as_ref() as &(dyn ToSql + Sync), ty.clone()))
            .collect();
        // A statement with a search or a filter beyond `completed` is
        // planned with its values each time: a generic plan of it, blind to
        // how many tasks a word or a label matches, may walk all of a
        // user's tasks (measured: 231 ms at 100,000).
        let rows = if statement.selective {
            self.db
                .query_planned_each_time(&statement.sql, &params)
                .await?
        } else {
            self.db.query(&statement.sql, &params).await?
        };
        let positions = Positions {
            sort: query.sort,
            fingerprint: query.filters.fingerprint(),
        };
        Page::of_rows(rows, query.limit, positions)
    }

    /// Creates the task, and its owner's row on the owner's first write,
    /// in one statement; `None` when the owner stores `max_tasks` already.
    pub async fn create(&self, user: &UserId, task: &NewTask) -> Result<Option<Task>, DbError> {
        // UUIDv7: ids sort by creation time.
        let id = Uuid::now_v7();
        let (due_date, due_at) = Due::columns(task.due.as_ref());
        let words = Words::of(task);
        let row = self
            .db
            .query_opt(
                sql::CREATE,
                &[
                    (&id, Type::UUID),
                    (&user.as_str(), Type::TEXT),
                    (&task.title, Type::TEXT),
                    (&task.description, Type::TEXT),
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
            .map_err(|e| refused_input(e, Some(&task.time_zone)))?;
        if row.is_none() {
            // Past the limit nothing was inserted, so no foreign key judged
            // the zone: a bad one is a 400 before the 409.
            check_time_zone(&self.db, &task.time_zone).await?;
        }
        Ok(row.map(Task))
    }

    pub async fn get(&self, user: &UserId, id: Uuid) -> Result<Option<Task>, DbError> {
        let params = [(&user.as_str() as _, Type::TEXT), (&id as _, Type::UUID)];
        let row = self.db.query_opt(sql::GET, &params).await?;
        Ok(row.map(Task))
    }

    /// Applies the fields that are set; the others keep their value. With
    /// `versions`, only if the task is at one of them.
    pub async fn update(
        &self,
        user: &UserId,
        id: Uuid,
        changes: &TaskChanges,
        versions: Versions<'_>,
    ) -> Result<Written<Task>, DbError> {
        let set_description = changes.description.is_some();
        let description = changes.description.as_ref().and_then(Option::as_ref);
        let set_due = changes.due.is_some();
        let (due_date, due_at) = Due::columns(changes.due.as_ref().and_then(Option::as_ref));
        let title_words = changes.title.as_deref().map(search::words);
        let description_words = description.map_or_else(Vec::new, |d| search::words(d));
        let time_zone = changes.time_zone.as_deref();
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
                    (&set_due, Type::BOOL),
                    (&due_date, Type::DATE),
                    (&due_at, Type::TIMESTAMPTZ),
                    (&time_zone, Type::TEXT),
                    (&changes.priority, Type::INT2),
                    (&changes.labels, Type::TEXT_ARRAY),
                    (&title_words, Type::TEXT_ARRAY),
                    (&description_words, Type::TEXT_ARRAY),
                ],
            )
            .await
            .map_err(|e| refused_input(e, time_zone))?;
        // No row: a bad zone is still a 400, before the 404 or 412 (the
        // statement checked it against no row).
        if row.is_none()
            && let Some(zone) = time_zone
        {
            check_time_zone(&self.db, zone).await?;
        }
        Ok(self.written(user, id, row, versions).await?.map(Task))
    }

    /// Sets `completed` explicitly (safe to retry).
    pub async fn set_completed(
        &self,
        user: &UserId,
        id: Uuid,
        completed: bool,
        versions: Versions<'_>,
    ) -> Result<Written<Task>, DbError> {
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
    ) -> Result<Written<Task>, DbError> {
        let params = [
            (&user.as_str() as _, Type::TEXT),
            (&id as _, Type::UUID),
            (&versions as _, Type::TIMESTAMPTZ_ARRAY),
        ];
        let row = self.db.query_opt(sql::TOGGLE, &params).await?;
        Ok(self.written(user, id, row, versions).await?.map(Task))
    }

    /// What a write returned. When a conditional one changed nothing, the
    /// task is either not there or at another version; reading it again
    /// only decides which: the write itself was atomic.
    async fn written(
        &self,
        user: &UserId,
        id: Uuid,
        row: Option<Row>,
        versions: Versions<'_>,
    ) -> Result<Written<Row>, DbError> {
        Ok(match (row, versions) {
            (Some(row), _) => Written::Done(row),
            (None, Some(_)) if self.get(user, id).await?.is_some() => Written::Stale,
            (None, _) => Written::Missing,
        })
    }
}

/// A task's search words (`search::words`), as the `text[]` the statements
/// turn into `tsvector`s.
pub(crate) struct Words {
    pub title: Vec<String>,
    pub description: Vec<String>,
}

impl Words {
    pub fn of(task: &NewTask) -> Self {
        Self {
            title: search::words(&task.title),
            description: task
                .description
                .as_deref()
                .map_or_else(Vec::new, search::words),
        }
    }
}

/// A 400 naming `time_zone` unless the database knows `zone`. For the
/// paths where a statement wrote no row, so no check ran; a write that
/// stores the zone is checked by the foreign key at no extra cost.
pub(crate) async fn check_time_zone(db: &impl Executor, zone: &str) -> Result<(), DbError> {
    let row = db
        .query_opt(sql::TIME_ZONE_KNOWN, &[(&zone, Type::TEXT)])
        .await?
        .ok_or_else(|| DbError::internal("EXISTS returned no row"))?;
    if row.try_get::<_, bool>(0).map_err(DbError::internal)? {
        Ok(())
    } else {
        Err(DbError::Invalid(validation::unknown_time_zone(zone)))
    }
}

/// The database's refusals that are the client's input, as the 400 naming
/// its field; every other error as it is. The time zone is the one rule
/// only the database can judge (its foreign key, or `task_due_by`'s 22023
/// for a zone PostgreSQL does not know at all); the CHECKs repeat rules
/// validation enforces first.
pub(crate) fn refused_input(e: DbError, time_zone: Option<&str>) -> DbError {
    let Some(refusal) = e.refusal() else { return e };
    let code = refusal.code();
    let field = match (code, refusal.constraint()) {
        (&SqlState::FOREIGN_KEY_VIOLATION, Some("tasks_time_zone_fkey")) => "time_zone",
        (&SqlState::INVALID_PARAMETER_VALUE, _) if refusal.message().contains("time zone") => {
            "time_zone"
        }
        (&SqlState::CHECK_VIOLATION, Some("tasks_due_date_check" | "tasks_due_at_check")) => "due",
        (&SqlState::CHECK_VIOLATION, Some("tasks_priority_check")) => "priority",
        (&SqlState::CHECK_VIOLATION, Some("tasks_labels_check")) => "labels",
        _ => return e,
    };
    DbError::Invalid(match (field, time_zone) {
        ("time_zone", Some(zone)) => validation::unknown_time_zone(zone),
        ("time_zone", None) => "time_zone: not an IANA time zone name".to_owned(),
        (field, _) => format!("{field}: a value out of range"),
    })
}

impl<T> Written<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Written<U> {
        match self {
            Self::Done(value) => Written::Done(f(value)),
            Self::Missing => Written::Missing,
            Self::Stale => Written::Stale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TASK_COLUMNS;
    use crate::task::column;

    #[test]
    fn task_columns_are_where_task_reads_them() {
        let names: Vec<&str> = TASK_COLUMNS.split(", ").collect();
        for (name, at) in [
            ("id", column::ID),
            ("user_id", column::USER_ID),
            ("title", column::TITLE),
            ("description", column::DESCRIPTION),
            ("completed", column::COMPLETED),
            ("created_at", column::CREATED_AT),
            ("updated_at", column::UPDATED_AT),
            ("due_date", column::DUE_DATE),
            ("due_at", column::DUE_AT),
            ("time_zone", column::TIME_ZONE),
            ("due_by", column::DUE_BY),
            ("priority", column::PRIORITY),
            ("labels", column::LABELS),
        ] {
            assert_eq!(names.get(at), Some(&name), "{name}");
        }
        assert_eq!(names.len(), column::COUNT);
    }
}
