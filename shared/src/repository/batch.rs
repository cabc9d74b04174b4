//! The statements only a batch runs: the pre-lock of its tasks, and a run
//! of consecutive creates as one statement. Every other operation of a
//! batch is the single route's own statement, on the batch's transaction.

use tokio_postgres::types::Type;
use uuid::Uuid;

use super::{TaskRepository, Words, task_columns};
use crate::{
    auth::UserId,
    db::{DbError, Executor},
    input::{Due, NewTask},
    task::Task,
};

pub mod sql {
    use super::super::history::{created_changes, due_text, insert_history};
    use super::task_columns;

    /// Locks the batch's existing tasks ($2) in id order, before anything
    /// takes the user row: the lock order of every write (task rows by id,
    /// then the user row), so a batch never deadlocks with a single write
    /// holding one of its tasks and waiting for the user row.
    pub const LOCK_TASKS: &str = "SELECT id FROM tasks WHERE user_id = $1 AND id = ANY($2)
        ORDER BY id FOR UPDATE";

    /// Consecutive creates of a batch, as `repository::sql::CREATE` would
    /// make them one by one: $1 user, $2 ids, $3 titles, $4 descriptions,
    /// $5 due dates, $6 due moments, $7 zones, $8 priorities, $9 labels
    /// (each joined by `,`, which no label holds), $10 title words and
    /// $11 description words (each joined by ` `), $12 the most tasks a
    /// user may store. The owner's row is locked and its `task_count` read
    /// as it is now; only the first creates that fit under the limit are
    /// made (`made` of them; the rest are the caller's 409s). They take
    /// `made` seqs in one bump, in order, and a `created` history entry
    /// each, as a single POST's.
    pub const CREATE_TASKS: &str = concat!(
        "WITH input AS (
            SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::date[],
                $6::timestamptz[], $7::text[], $8::int2[], $9::text[], $10::text[], $11::text[])
                WITH ORDINALITY AS i(id, title, description, due_date, due_at, time_zone,
                    priority, labels, title_words, description_words, n)
        ), owner AS (
            INSERT INTO users AS u (id, change_seq)
            VALUES ($1, LEAST(cardinality($2), GREATEST($12, 0)))
            ON CONFLICT (id) DO UPDATE SET change_seq = u.change_seq
                + LEAST(cardinality($2), GREATEST($12 - u.task_count, 0))
            RETURNING u.change_seq, LEAST(cardinality($2), GREATEST($12 - u.task_count, 0)) AS made
        ), new AS (
            INSERT INTO tasks (id, user_id, title, description, due_date, due_at, time_zone,
                priority, labels, title_words, description_words, seq)
            SELECT i.id, $1, i.title, i.description, i.due_date, i.due_at, i.time_zone,
                i.priority, string_to_array(i.labels, ','),
                array_to_tsvector(string_to_array(i.title_words, ' ')),
                array_to_tsvector(string_to_array(i.description_words, ' ')),
                o.change_seq - o.made + i.n
            FROM input i, owner o
            WHERE i.n <= o.made
            ORDER BY i.n
            RETURNING *
        ), hist AS (
            ",
        insert_history!(),
        "SELECT user_id, id, seq, updated_at, 'created', ",
        created_changes!(),
        " FROM new
        )
        SELECT ",
        task_columns!(),
        " FROM new ORDER BY seq"
    );

    /// The names among $1 that are not IANA time zones the database knows
    /// (one probe for a whole batch, before it writes).
    pub const UNKNOWN_TIME_ZONES: &str = "SELECT DISTINCT z FROM unnest($1::text[]) z
        WHERE NOT EXISTS (SELECT FROM time_zones WHERE name = z)";
}

impl<E: Executor> TaskRepository<E> {
    /// Locks the user's tasks among `ids` (in id order; the others are
    /// not there, or not theirs: those operations' 404s).
    pub async fn lock_tasks(&self, user: &UserId, ids: &[Uuid]) -> Result<(), DbError> {
        if ids.is_empty() {
            return Ok(());
        }
        let params = [
            (&user.as_str() as _, Type::TEXT),
            (&ids as _, Type::UUID_ARRAY),
        ];
        self.db.query(sql::LOCK_TASKS, &params).await.map(drop)
    }

    /// Creates `tasks` in order, in one statement, as far as the owner's
    /// limit allows: the tasks made, the first ones of `tasks` (fewer when
    /// the limit is reached).
    pub async fn create_many(
        &self,
        user: &UserId,
        tasks: &[&NewTask],
    ) -> Result<Vec<Task>, DbError> {
        // UUIDv7, in order: ids sort by creation time.
        let ids: Vec<Uuid> = tasks.iter().map(|_| Uuid::now_v7()).collect();
        let titles: Vec<&str> = tasks.iter().map(|t| t.title.as_str()).collect();
        let descriptions: Vec<Option<&str>> =
            tasks.iter().map(|t| t.description.as_deref()).collect();
        let dues: Vec<_> = tasks.iter().map(|t| Due::columns(t.due.as_ref())).collect();
        let due_dates: Vec<_> = dues.iter().map(|(date, _)| *date).collect();
        let due_ats: Vec<_> = dues.iter().map(|(_, at)| *at).collect();
        let zones: Vec<&str> = tasks.iter().map(|t| t.time_zone.as_str()).collect();
        let priorities: Vec<i16> = tasks.iter().map(|t| t.priority).collect();
        let labels: Vec<String> = tasks.iter().map(|t| t.labels.join(",")).collect();
        let words: Vec<Words> = tasks.iter().map(|t| Words::of(t)).collect();
        let title_words: Vec<String> = words.iter().map(|w| w.title.join(" ")).collect();
        let description_words: Vec<String> =
            words.iter().map(|w| w.description.join(" ")).collect();
        let rows = self
            .db
            .query(
                sql::CREATE_TASKS,
                &[
                    (&user.as_str(), Type::TEXT),
                    (&ids, Type::UUID_ARRAY),
                    (&titles, Type::TEXT_ARRAY),
                    (&descriptions, Type::TEXT_ARRAY),
                    (&due_dates, Type::DATE_ARRAY),
                    (&due_ats, Type::TIMESTAMPTZ_ARRAY),
                    (&zones, Type::TEXT_ARRAY),
                    (&priorities, Type::INT2_ARRAY),
                    (&labels, Type::TEXT_ARRAY),
                    (&title_words, Type::TEXT_ARRAY),
                    (&description_words, Type::TEXT_ARRAY),
                    (&self.max_tasks, Type::INT4),
                ],
            )
            .await
            .map_err(|e| super::refused_input(e, None))?;
        Ok(rows.into_iter().map(Task).collect())
    }

    /// The names among `zones` the database does not know as time zones.
    pub async fn unknown_time_zones(&self, zones: &[&str]) -> Result<Vec<String>, DbError> {
        let rows = self
            .db
            .query(sql::UNKNOWN_TIME_ZONES, &[(&zones, Type::TEXT_ARRAY)])
            .await?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(DbError::internal))
            .collect()
    }
}
