//! Tasks: the model, its JSON form, and the repository whose every
//! statement is scoped by the owner's id (the second wall after the
//! path check in `auth`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use tokio_postgres::{Row, types::Type};
use uuid::Uuid;

use crate::{
    auth::UserId,
    db::Database,
    error::ApiError,
    validation::{ListQuery, NewTask, TaskChanges},
};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Task {
    pub id: Uuid,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[serde(serialize_with = "rfc3339_micros")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339_micros")]
    pub updated_at: DateTime<Utc>,
}

/// `2026-02-03T12:00:00.123456Z`: always six digits, always `Z`.
fn rfc3339_micros<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

impl Task {
    fn from_row(row: &Row) -> Result<Self, ApiError> {
        let internal =
            |e: tokio_postgres::Error| ApiError::Internal(format!("reading a task row: {e}"));
        Ok(Self {
            id: row.try_get(0).map_err(internal)?,
            user_id: row.try_get(1).map_err(internal)?,
            title: row.try_get(2).map_err(internal)?,
            description: row.try_get(3).map_err(internal)?,
            completed: row.try_get(4).map_err(internal)?,
            created_at: row.try_get(5).map_err(internal)?,
            updated_at: row.try_get(6).map_err(internal)?,
        })
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
        const SQL: &str =
            "SELECT id, user_id, title, description, completed, created_at, updated_at
            FROM tasks
            WHERE user_id = $1
              AND ($2::boolean IS NULL OR completed = $2)
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
            ORDER BY created_at DESC, id DESC
            LIMIT $5";
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
        let mut tasks = rows
            .iter()
            .map(Task::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if tasks.len() > query.limit {
            tasks.truncate(query.limit);
            tasks.last().map(|t| Cursor {
                created_at: t.created_at,
                id: t.id,
            })
        } else {
            None
        };
        Ok(Page { tasks, next })
    }

    /// Creates the task, and its owner's row on the owner's first write,
    /// in one statement.
    pub async fn create(&self, user: &UserId, task: &NewTask) -> Result<Task, ApiError> {
        const SQL: &str = "WITH owner AS (
                INSERT INTO users (id) VALUES ($2) ON CONFLICT (id) DO NOTHING
            )
            INSERT INTO tasks (id, user_id, title, description)
            VALUES ($1, $2, $3, $4)
            RETURNING id, user_id, title, description, completed, created_at, updated_at";
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
        Task::from_row(&row)
    }

    pub async fn get(&self, user: &UserId, id: Uuid) -> Result<Option<Task>, ApiError> {
        const SQL: &str =
            "SELECT id, user_id, title, description, completed, created_at, updated_at
            FROM tasks WHERE user_id = $1 AND id = $2";
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
            " WHERE user_id = $1 AND id = $2
            RETURNING id, user_id, title, description, completed, created_at, updated_at"
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
        row.as_ref().map(Task::from_row).transpose()
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
            " WHERE user_id = $1 AND id = $2
            RETURNING id, user_id, title, description, completed, created_at, updated_at"
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
        row.as_ref().map(Task::from_row).transpose()
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
    fn timestamps_have_microseconds_and_z() {
        let t = DateTime::from_timestamp_micros(1_770_120_000_000_000).unwrap();
        let task = Task {
            id: Uuid::nil(),
            user_id: "u".into(),
            title: "t".into(),
            description: None,
            completed: false,
            created_at: t,
            updated_at: t,
        };
        let json = serde_json::to_value(&task).unwrap();
        assert_eq!(json["created_at"], "2026-02-03T12:00:00.000000Z");
        assert_eq!(json["description"], serde_json::Value::Null);
    }
}
