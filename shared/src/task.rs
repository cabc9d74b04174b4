//! A task: the row the database returns, its JSON form, and pages of them.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer, ser::Error as _, ser::SerializeStruct};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{cursor::Cursor, error::ApiError, etag, timestamp::Rfc3339Micros};

/// A task as the database returned it (the columns of
/// `repository::TASK_COLUMNS`, in that order). It is written to JSON
/// straight from the row, without copying its text into a struct first
/// (BENCHMARKS.md measured the copies).
pub struct Task(pub(crate) Row);

/// Only the id: a task's text never goes to a log.
impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id().ok())
            .finish_non_exhaustive()
    }
}

impl Task {
    pub fn id(&self) -> Result<Uuid, ApiError> {
        self.0.try_get(0).map_err(unreadable)
    }

    /// Its strong ETag: its version, `updated_at`.
    pub fn etag(&self) -> Result<String, ApiError> {
        Ok(etag::of_version(self.0.try_get(6).map_err(unreadable)?))
    }

    pub fn position(&self) -> Result<Cursor, ApiError> {
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
    /// `max_bytes` (it always holds at least one task), its ETag, and the
    /// position the next page starts after, if any task follows.
    pub fn into_json(self, max_bytes: usize) -> Result<PageJson, ApiError> {
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
        Ok(PageJson {
            etag: page_etag(&self.tasks[..kept])?,
            body,
            count: kept,
            next,
        })
    }
}

/// A page written out.
pub struct PageJson {
    pub body: String,
    /// How many tasks the body holds.
    pub count: usize,
    pub etag: String,
    pub next: Option<Cursor>,
}

/// A page's strong ETag: a digest of which tasks it holds, in order, at
/// which versions — what its body is made of (the owner is the URL's).
fn page_etag(tasks: &[Task]) -> Result<String, ApiError> {
    let mut digest = Sha256::new();
    for task in tasks {
        let updated_at: DateTime<Utc> = task.0.try_get(6).map_err(unreadable)?;
        digest.update(task.id()?.as_bytes());
        digest.update(updated_at.timestamp_micros().to_be_bytes());
    }
    Ok(format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(&digest.finalize()[..16])
    ))
}
