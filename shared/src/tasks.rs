//! Tasks: the model, its JSON form, and the repository whose every
//! statement is scoped by the owner's id (the second wall after the
//! path check in `auth`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Serialize, Serializer, ser::Error as _, ser::SerializeStruct};
use tokio_postgres::{Row, types::Type};
use uuid::Uuid;

use crate::{
    auth::UserId,
    db::Database,
    error::ApiError,
    validation::{ListQuery, NewTask, TaskChanges},
};

/// A task as the database returned it. It is written to JSON straight from
/// the row, without copying its text into a struct first: a page of 1000
/// tasks is ~170 KB of JSON, and the copies showed in the benchmark.
pub struct Task(Row);

/// Only the id: a task's text never goes to a log.
impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id().ok())
            .finish_non_exhaustive()
    }
}

/// The columns every statement returns, in the order `Task` reads them.
macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at"
    };
}

impl Task {
    pub fn id(&self) -> Result<Uuid, ApiError> {
        self.0.try_get(0).map_err(unreadable)
    }

    fn position(&self) -> Result<Cursor, ApiError> {
        Ok(Cursor {
            created_at: self.0.try_get(5).map_err(unreadable)?,
            id: self.id()?,
        })
    }
}

/// A column that does not read as its type is a bug in our SQL.
fn unreadable(e: tokio_postgres::Error) -> ApiError {
    ApiError::Internal(format!("reading a task row: {e}"))
}

impl Serialize for Task {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = &self.0;
        let bad = |e: tokio_postgres::Error| S::Error::custom(format!("reading a task row: {e}"));
        let mut task = s.serialize_struct("Task", 7)?;
        task.serialize_field("id", &row.try_get::<_, Uuid>(0).map_err(bad)?)?;
        task.serialize_field("user_id", row.try_get::<_, &str>(1).map_err(bad)?)?;
        task.serialize_field("title", row.try_get::<_, &str>(2).map_err(bad)?)?;
        let description = row.try_get::<_, Option<&str>>(3).map_err(bad)?;
        task.serialize_field("description", &description)?;
        task.serialize_field("completed", &row.try_get::<_, bool>(4).map_err(bad)?)?;
        let created_at = row.try_get(5).map_err(bad)?;
        task.serialize_field("created_at", &Rfc3339Micros(created_at))?;
        let updated_at = row.try_get(6).map_err(bad)?;
        task.serialize_field("updated_at", &Rfc3339Micros(updated_at))?;
        task.end()
    }
}

/// `2026-02-03T12:00:00.123456Z`: always six digits, always `Z`.
struct Rfc3339Micros(DateTime<Utc>);

impl Serialize for Rfc3339Micros {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0.naive_utc(); // once: each field of a DateTime converts again
        let micros = t.nanosecond() / 1000;
        if !(0..=9999).contains(&t.year()) || micros > 999_999 {
            // A year beyond four digits, or a leap second: chrono's own text.
            return s.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true));
        }
        // Chrono's fields written at fixed width into a buffer on the stack:
        // two per task, and `to_rfc3339_opts` (a String, formatting
        // machinery) was a tenth of a list's CPU in the benchmark's profile;
        // this takes 45 % fewer instructions (BENCHMARKS.md).
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        for (range, value) in [
            (0..4, t.year().unsigned_abs()),
            (5..7, t.month()),
            (8..10, t.day()),
            (11..13, t.hour()),
            (14..16, t.minute()),
            (17..19, t.second()),
            (20..26, micros),
        ] {
            let mut value = value;
            for digit in text[range].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        s.serialize_str(std::str::from_utf8(&text).map_err(S::Error::custom)?)
    }
}

/// A position in the newest-first order: list tasks strictly after it.
/// Opaque to clients: base64url of the creation time in microseconds and
/// the id, the same pair the index is sorted by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        bytes[8..].copy_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Any 24 bytes are a position. A time outside years 1–9999 is clamped
    /// there: PostgreSQL cannot compare with it, and no task lies beyond.
    pub fn decode(raw: &str) -> Option<Self> {
        const MIN_MICROS: i64 = -62_135_596_800_000_000; // 0001-01-01T00:00:00Z
        const MAX_MICROS: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z
        let bytes: [u8; 24] = URL_SAFE_NO_PAD.decode(raw).ok()?.try_into().ok()?;
        let micros = i64::from_be_bytes(bytes[..8].try_into().ok()?).clamp(MIN_MICROS, MAX_MICROS);
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros)?,
            id: Uuid::from_slice(&bytes[8..]).ok()?,
        })
    }
}

/// One page of a listing, and where the next one starts if there is one.
pub struct Page {
    pub tasks: Vec<Task>,
    pub next: Option<Cursor>,
}

/// The largest list body sent. A Lambda response (the body as a JSON
/// string, escaped once more, plus headers) must stay under 6,291,556
/// bytes or API Gateway answers 500; a page of 1000 tasks can reach 9 MB
/// of JSON. Escaping a body again at most doubles it, so 2 MiB leaves room.
pub const MAX_PAGE_BODY_BYTES: usize = 2 * 1024 * 1024;

impl Page {
    /// The page as a JSON array that ends before the body would pass
    /// `max_bytes` (it always holds at least one task), and the position
    /// the next page starts after, if any task follows.
    pub fn into_json(self, max_bytes: usize) -> Result<(String, Option<Cursor>), ApiError> {
        let mut body = Vec::with_capacity(1024);
        body.push(b'[');
        let mut kept = 0;
        for task in &self.tasks {
            let start = body.len();
            if kept > 0 {
                body.push(b',');
            }
            serde_json::to_writer(&mut body, task)
                .map_err(|e| ApiError::Internal(format!("serializing a task: {e}")))?;
            // One byte more for the closing `]`.
            if kept > 0 && body.len() + 1 > max_bytes {
                body.truncate(start);
                break;
            }
            kept += 1;
        }
        body.push(b']');
        let next = match self.tasks.get(..kept) {
            Some([.., last]) if kept < self.tasks.len() => Some(last.position()?),
            _ => self.next,
        };
        let body = String::from_utf8(body)
            .map_err(|e| ApiError::Internal(format!("task JSON is not UTF-8: {e}")))?;
        Ok((body, next))
    }
}

/// `updated_at` moves forward on every change, strictly, even when two
/// changes fall in the same microsecond. A macro, so that the statements
/// using it are still `&'static str` built at compile time.
macro_rules! touch {
    () => {
        "updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')"
    };
}

#[derive(Clone)]
pub struct TaskRepository {
    db: Database,
}

impl TaskRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Newest first, filtered and paged by keyset.
    pub async fn list(&self, user: &UserId, query: &ListQuery) -> Result<Page, ApiError> {
        const SQL: &str = concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks
            WHERE user_id = $1
              AND ($2::boolean IS NULL OR completed = $2)
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
            ORDER BY created_at DESC, id DESC
            LIMIT $5"
        );
        // One row more than asked tells whether another page follows.
        let fetch = query.limit as i64 + 1;
        let (after_time, after_id) = match query.after {
            Some(c) => (Some(c.created_at), Some(c.id)),
            None => (None, None),
        };
        let rows = self
            .db
            .query(
                SQL,
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
        const SQL: &str = concat!(
            "WITH owner AS (
                INSERT INTO users (id) VALUES ($2) ON CONFLICT (id) DO NOTHING
            )
            INSERT INTO tasks (id, user_id, title, description)
            VALUES ($1, $2, $3, $4)
            RETURNING ",
            task_columns!()
        );
        // UUIDv7: ids sort by creation time.
        let id = Uuid::now_v7();
        let row = self
            .db
            .query_opt(
                SQL,
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

    pub async fn get(&self, user: &UserId, id: Uuid) -> Result<Option<Task>, ApiError> {
        const SQL: &str = concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE user_id = $1 AND id = $2"
        );
        self.one(SQL, user, id).await
    }

    /// Applies the fields that are set; the others keep their value.
    pub async fn update(
        &self,
        user: &UserId,
        id: Uuid,
        changes: &TaskChanges,
    ) -> Result<Option<Task>, ApiError> {
        const SQL: &str = concat!(
            "UPDATE tasks SET
                title = COALESCE($3, title),
                description = CASE WHEN $4 THEN $5 ELSE description END,
                completed = COALESCE($6, completed), ",
            touch!(),
            " WHERE user_id = $1 AND id = $2 RETURNING ",
            task_columns!()
        );
        let set_description = changes.description.is_some();
        let description = changes.description.as_ref().and_then(Option::as_ref);
        let row = self
            .db
            .query_opt(
                SQL,
                &[
                    (&user.as_str(), Type::TEXT),
                    (&id, Type::UUID),
                    (&changes.title, Type::TEXT),
                    (&set_description, Type::BOOL),
                    (&description, Type::TEXT),
                    (&changes.completed, Type::BOOL),
                ],
            )
            .await?;
        Ok(row.map(Task))
    }

    /// Sets `completed` explicitly (safe to retry).
    pub async fn set_completed(
        &self,
        user: &UserId,
        id: Uuid,
        completed: bool,
    ) -> Result<Option<Task>, ApiError> {
        let changes = TaskChanges {
            completed: Some(completed),
            ..TaskChanges::default()
        };
        self.update(user, id, &changes).await
    }

    /// Flips `completed` in one atomic statement: concurrent toggles never
    /// read the same old value.
    pub async fn toggle_completed(
        &self,
        user: &UserId,
        id: Uuid,
    ) -> Result<Option<Task>, ApiError> {
        const SQL: &str = concat!(
            "UPDATE tasks SET completed = NOT completed, ",
            touch!(),
            " WHERE user_id = $1 AND id = $2 RETURNING ",
            task_columns!()
        );
        self.one(SQL, user, id).await
    }

    /// Whether a task was deleted.
    pub async fn delete(&self, user: &UserId, id: Uuid) -> Result<bool, ApiError> {
        const SQL: &str = "DELETE FROM tasks WHERE user_id = $1 AND id = $2 RETURNING id";
        let params = [(&user.as_str() as _, Type::TEXT), (&id as _, Type::UUID)];
        Ok(self.db.query_opt(SQL, &params).await?.is_some())
    }

    /// A statement on one task of one user, returning it if it exists.
    async fn one(&self, sql: &str, user: &UserId, id: Uuid) -> Result<Option<Task>, ApiError> {
        let params = [(&user.as_str() as _, Type::TEXT), (&id as _, Type::UUID)];
        let row = self.db.query_opt(sql, &params).await?;
        Ok(row.map(Task))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_770_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in [
            "",
            "abc",
            "!!!!",
            &c.encode()[1..],
            &format!("{}A", c.encode()),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn any_24_bytes_are_a_position_within_years_1_to_9999() {
        for (micros, year) in [
            (i64::MIN, 1),
            (-(1 << 62), 1),
            (1 << 62, 9999),
            (i64::MAX, 9999),
        ] {
            let mut bytes = [1u8; 24];
            bytes[..8].copy_from_slice(&micros.to_be_bytes());
            let cursor = Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes)).unwrap();
            assert_eq!(cursor.created_at.year(), year, "{micros}");
        }
    }

    #[test]
    fn timestamps_have_six_digits_and_z() {
        for (micros, text) in [
            (1_770_120_000_000_000, "2026-02-03T12:00:00.000000Z"),
            (1_770_120_000_123_456, "2026-02-03T12:00:00.123456Z"),
            (-62_135_596_800_000_000, "0001-01-01T00:00:00.000000Z"),
        ] {
            let t = DateTime::from_timestamp_micros(micros).unwrap();
            let json = serde_json::to_value(Rfc3339Micros(t)).unwrap();
            assert_eq!(json, text);
        }
    }

    /// The fixed-width writer says what chrono says, from PostgreSQL's
    /// first timestamp (4713 BC) to chrono's last (outside years 0–9999
    /// chrono itself writes the text).
    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let (first, last) = (
            -210_866_803_200_000_000_i64,
            DateTime::<Utc>::MAX_UTC.timestamp_micros(),
        );
        let step = last / 200_003 - first / 200_003;
        let edges = [
            -62_167_219_200_000_001, // 0000-01-01 minus 1 µs
            -62_167_219_200_000_000, // 0000-01-01
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
            253_402_300_800_000_000, // 10000-01-01
            951_782_400_000_000,     // 2000-02-29
            0,
        ];
        for micros in (0..=200_003)
            .map(|i| first + i * step + i % 1_000_000)
            .chain(edges)
        {
            let t = DateTime::from_timestamp_micros(micros).unwrap();
            let json = serde_json::to_value(Rfc3339Micros(t)).unwrap();
            assert_eq!(
                json,
                t.to_rfc3339_opts(SecondsFormat::Micros, true),
                "{micros}"
            );
        }
    }
}
