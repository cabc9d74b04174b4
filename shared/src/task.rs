//! A task: the row the database returns, its JSON form, and pages of them.

use std::{fmt::Write as _, hash::Hasher};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDate, Utc};
use siphasher::sip128::{Hasher128, SipHasher13};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{
    cursor::{Cursor, SortValue},
    db::DbError,
    etag,
    sort::Sort,
    timestamp::Rfc3339Micros,
};

/// Where each column is in a task's row: the order of
/// `repository::TASK_COLUMNS`. Read by position, not by name: a name is
/// looked up among the row's columns on every read, for every task of a
/// page.
pub mod column {
    pub const ID: usize = 0;
    pub const USER_ID: usize = 1;
    pub const TITLE: usize = 2;
    pub const DESCRIPTION: usize = 3;
    pub const COMPLETED: usize = 4;
    pub const CREATED_AT: usize = 5;
    pub const UPDATED_AT: usize = 6;
    pub const DUE_DATE: usize = 7;
    pub const DUE_AT: usize = 8;
    pub const TIME_ZONE: usize = 9;
    pub const DUE_BY: usize = 10;
    pub const PRIORITY: usize = 11;
    pub const LABELS: usize = 12;
    /// How many columns a task's row has.
    pub const COUNT: usize = 13;
}

/// A task as the database returned it (the columns of
/// `repository::TASK_COLUMNS`, at `column`'s positions). It is written to JSON
/// straight from the row (`Task::to_json`), without copying its text into
/// a struct first (the copies were measured in 5348ef8).
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
    pub fn id(&self) -> Result<Uuid, DbError> {
        self.0.try_get(column::ID).map_err(unreadable)
    }

    /// When a trashed task was deleted: the last column of a trash row.
    fn deleted_at(&self) -> Result<DateTime<Utc>, DbError> {
        let last = self.0.len().checked_sub(1);
        let at = last.ok_or_else(|| DbError::internal("a trash row without deleted_at"))?;
        self.0.try_get(at).map_err(unreadable)
    }

    /// Its strong ETag: its version, `updated_at`.
    pub fn etag(&self) -> Result<String, DbError> {
        Ok(etag::of_version(
            self.0.try_get(column::UPDATED_AT).map_err(unreadable)?,
        ))
    }
}

/// Where a list's tasks are: the cursor of each, in that list's sort and
/// filters. A list row ends with its `sort_key` (`repository::list`).
#[derive(Clone, Copy, Debug)]
pub struct Positions {
    pub sort: Sort,
    pub fingerprint: u64,
}

impl Positions {
    pub fn of(&self, task: &Task) -> Result<Cursor, DbError> {
        let last = task.0.len().checked_sub(1);
        let key = last.ok_or_else(|| DbError::internal("a list row without its sort key"))?;
        Ok(Cursor {
            sort: self.sort,
            fingerprint: Some(self.fingerprint),
            key: task.0.try_get::<_, SortValue>(key).map_err(unreadable)?,
            id: task.id()?,
        })
    }
}

/// A column that does not read as its type is a bug in our SQL.
fn unreadable(e: tokio_postgres::Error) -> DbError {
    DbError::internal(e)
}

impl Task {
    /// The task's JSON.
    pub fn to_json(&self) -> Result<String, DbError> {
        let mut out = String::with_capacity(256);
        self.fields()?.write_json(&mut out)?;
        Ok(out)
    }

    /// Appends the task's JSON to `out` (a page that holds tasks among
    /// other things: the change feed).
    pub(crate) fn write_json(&self, out: &mut String) -> Result<(), DbError> {
        self.fields()?.write_json(out)
    }

    fn fields(&self) -> Result<Fields<'_>, DbError> {
        let row = &self.0;
        Ok(Fields {
            id: row.try_get(column::ID).map_err(unreadable)?,
            user_id: row.try_get(column::USER_ID).map_err(unreadable)?,
            title: row.try_get(column::TITLE).map_err(unreadable)?,
            description: row.try_get(column::DESCRIPTION).map_err(unreadable)?,
            completed: row.try_get(column::COMPLETED).map_err(unreadable)?,
            created_at: row.try_get(column::CREATED_AT).map_err(unreadable)?,
            updated_at: row.try_get(column::UPDATED_AT).map_err(unreadable)?,
            due_date: row.try_get(column::DUE_DATE).map_err(unreadable)?,
            due_at: row.try_get(column::DUE_AT).map_err(unreadable)?,
            time_zone: row.try_get(column::TIME_ZONE).map_err(unreadable)?,
            due_by: row.try_get(column::DUE_BY).map_err(unreadable)?,
            priority: row.try_get(column::PRIORITY).map_err(unreadable)?,
            labels: row.try_get(column::LABELS).map_err(unreadable)?,
        })
    }
}

/// A task's fields, borrowed from its row.
struct Fields<'r> {
    id: Uuid,
    user_id: &'r str,
    title: &'r str,
    description: Option<&'r str>,
    completed: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// `due`: a date (answered as sent) or a moment, never both.
    due_date: Option<NaiveDate>,
    due_at: Option<DateTime<Utc>>,
    time_zone: &'r str,
    due_by: Option<DateTime<Utc>>,
    priority: i16,
    labels: Vec<&'r str>,
}

impl Fields<'_> {
    /// Appends the task's JSON object to `out`: the text serde_json wrote
    /// for it, with the keys, id and timestamps (which never need escaping)
    /// copied as they are, not escaped byte by byte (a list's JSON took
    /// half the instructions; measured in 01ad79c).
    fn write_json(&self, out: &mut String) -> Result<(), DbError> {
        out.push_str(r#"{"id":""#);
        out.push_str(
            self.id
                .hyphenated()
                .encode_lower(&mut Uuid::encode_buffer()),
        );
        out.push_str(r#"","user_id":"#);
        json_string(out, self.user_id)?;
        out.push_str(r#","title":"#);
        json_string(out, self.title)?;
        out.push_str(r#","description":"#);
        match self.description {
            Some(description) => json_string(out, description)?,
            None => out.push_str("null"),
        }
        out.push_str(if self.completed {
            r#","completed":true,"created_at":""#
        } else {
            r#","completed":false,"created_at":""#
        });
        Rfc3339Micros(self.created_at).write(out);
        out.push_str(r#"","updated_at":""#);
        Rfc3339Micros(self.updated_at).write(out);
        out.push_str(r#"","due":"#);
        match (self.due_date, self.due_at) {
            (Some(date), _) => {
                // `YYYY-MM-DD`: chrono pads years 1-9999 to four digits.
                out.push('"');
                write!(out, "{date}").map_err(|_| DbError::internal("writing a due date"))?;
                out.push('"');
            }
            (None, Some(at)) => timestamp(out, at),
            (None, None) => out.push_str("null"),
        }
        out.push_str(r#","time_zone":"#);
        json_string(out, self.time_zone)?;
        out.push_str(r#","due_by":"#);
        match self.due_by {
            Some(due_by) => timestamp(out, due_by),
            None => out.push_str("null"),
        }
        out.push_str(r#","priority":"#);
        out.push_str(itoa::Buffer::new().format(self.priority));
        out.push_str(r#","labels":["#);
        for (at, label) in self.labels.iter().enumerate() {
            if at > 0 {
                out.push(',');
            }
            json_string(out, label)?;
        }
        out.push_str("]}");
        Ok(())
    }
}

/// A timestamp as a JSON string.
fn timestamp(out: &mut String, at: DateTime<Utc>) {
    out.push('"');
    Rfc3339Micros(at).write(out);
    out.push('"');
}

/// `text` as a JSON string (`json::write_string`).
fn json_string(out: &mut String, text: &str) -> Result<(), DbError> {
    crate::json::write_string(out, text).map_err(|_| DbError::internal("writing a task's JSON"))
}

/// One page of a listing, and where the next one starts if there is one.
pub struct Page {
    pub tasks: Vec<Task>,
    pub next: Option<Cursor>,
    pub positions: Positions,
}

/// The largest list body sent. A Lambda response (the body as a JSON
/// string, escaped once more, plus headers) must stay under 6,291,556
/// bytes or API Gateway answers 500; a page of 1000 tasks can reach 9 MB
/// of JSON. Escaping a body again at most doubles it, so 2 MiB leaves room.
pub const MAX_PAGE_BODY_BYTES: usize = 2 * 1024 * 1024;

impl Page {
    /// The page from rows fetched one past `limit`: the extra row only
    /// says that more follow, after the last task kept.
    pub fn of_rows(rows: Vec<Row>, limit: usize, positions: Positions) -> Result<Self, DbError> {
        let mut tasks: Vec<Task> = rows.into_iter().map(Task).collect();
        let next = if tasks.len() > limit {
            tasks.truncate(limit);
            tasks.last().map(|t| positions.of(t)).transpose()?
        } else {
            None
        };
        Ok(Self {
            tasks,
            next,
            positions,
        })
    }

    /// The page as a JSON array that ends before the body would pass
    /// `max_bytes` (it always holds at least one task), its ETag, and the
    /// position the next page starts after, if any task follows.
    #[inline(never)] // a phase of its own in bench/lambda-path's profile
    pub fn into_json(self, max_bytes: usize) -> Result<PageJson, DbError> {
        self.write(max_bytes, false)
    }

    /// A trash page (`repository::trash`): each task also carries its
    /// `deleted_at`, the last column of its row, which the ETag covers too.
    pub fn into_trash_json(self, max_bytes: usize) -> Result<PageJson, DbError> {
        self.write(max_bytes, true)
    }

    fn write(self, max_bytes: usize, trashed: bool) -> Result<PageJson, DbError> {
        // Room for tasks of typical length up front, not doubling (and
        // copying) its way up to a large page.
        let mut body = String::with_capacity((self.tasks.len() * 320 + 2).min(max_bytes));
        let mut etag = PageEtag::default();
        body.push('[');
        let mut kept = 0;
        for task in &self.tasks {
            let start = body.len();
            if kept > 0 {
                body.push(',');
            }
            let fields = task.fields()?;
            fields.write_json(&mut body)?;
            let deleted_at = if trashed {
                let at = task.deleted_at()?;
                body.pop(); // the object's `}`
                body.push_str(r#","deleted_at":""#);
                Rfc3339Micros(at).write(&mut body);
                body.push_str("\"}");
                Some(at)
            } else {
                None
            };
            // One byte more for the closing `]`.
            if kept > 0 && body.len() + 1 > max_bytes {
                body.truncate(start);
                break;
            }
            etag.add(&fields);
            if let Some(at) = deleted_at {
                etag.0.write(&at.timestamp_micros().to_be_bytes());
            }
            kept += 1;
        }
        body.push(']');
        let next = match self.tasks.get(..kept) {
            Some([.., last]) if kept < self.tasks.len() => Some(self.positions.of(last)?),
            _ => self.next,
        };
        Ok(PageJson {
            etag: etag.finish(),
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

/// A page's strong ETag: a 128-bit hash of which tasks it holds, in order,
/// at which versions — what its body is made of (the owner is the URL's).
/// SipHash-1-3, not SHA-256: a validator needs no resistance to forgery
/// (a page is only its owner's), and SHA-256 in software took 12 % of a
/// 1000-task list's instructions (measured in 01ad79c).
#[derive(Default)]
struct PageEtag(SipHasher13);

impl PageEtag {
    fn add(&mut self, task: &Fields<'_>) {
        self.0.write(task.id.as_bytes());
        self.0
            .write(&task.updated_at.timestamp_micros().to_be_bytes());
    }

    fn finish(&self) -> String {
        format!(
            "\"{}\"",
            URL_SAFE_NO_PAD.encode(self.0.finish128().as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json wrote for a task before `write_json`: the reference.
    #[derive(serde::Serialize)]
    struct Reference<'a> {
        id: Uuid,
        user_id: &'a str,
        title: &'a str,
        description: Option<&'a str>,
        completed: bool,
        created_at: String,
        updated_at: String,
        due: Option<String>,
        time_zone: &'a str,
        due_by: Option<String>,
        priority: i16,
        labels: Vec<&'a str>,
    }

    #[test]
    fn a_task_is_written_byte_for_byte_as_serde_json_writes_it() {
        let texts = [
            "Plain title",
            "",
            r#"say "hi" \ back\slash"#,
            "tab\tnew\nline\r\u{1}\u{1f}\u{7f}",
            "é ☃ \u{2028} 😀 </script>",
        ];
        let times = [0, 1_770_120_000_123_456, 253_402_300_800_000_000];
        for (i, text) in texts.iter().enumerate() {
            let created_at = DateTime::from_timestamp_micros(times[i % 3]).expect("time");
            let updated_at = DateTime::from_timestamp_micros(times[(i + 1) % 3]).expect("time");
            let id = Uuid::from_u128(0x0192_0000_7000_8000_0000_0000_0000_0000 + i as u128);
            let dates = [(1, 1, 1), (2026, 12, 24), (9999, 12, 30)];
            let (y, m, d) = dates[i % 3];
            let date = NaiveDate::from_ymd_opt(y, m, d).expect("date");
            let dues = [(None, None), (Some(date), None), (None, Some(updated_at))];
            let cases = [None, Some(*text)]
                .into_iter()
                .flat_map(|description| dues.map(|due| (description, due)));
            for (description, (due_date, due_at)) in cases {
                let due_by = due_at.or(due_date.map(|_| created_at));
                let labels = if description.is_some() {
                    vec![*text, "home", "é ☃"]
                } else {
                    vec![]
                };
                let fields = Fields {
                    id,
                    user_id: text,
                    title: text,
                    description,
                    completed: i % 2 == 0,
                    created_at,
                    updated_at,
                    due_date,
                    due_at,
                    time_zone: "America/Port-au-Prince",
                    due_by,
                    priority: (i % 4) as i16,
                    labels: labels.clone(),
                };
                let mut written = String::new();
                fields.write_json(&mut written).expect("written");
                let reference = serde_json::to_string(&Reference {
                    id,
                    user_id: text,
                    title: text,
                    description,
                    completed: i % 2 == 0,
                    created_at: Rfc3339Micros(created_at).text(),
                    updated_at: Rfc3339Micros(updated_at).text(),
                    due: due_date
                        .map(|d| d.format("%Y-%m-%d").to_string())
                        .or(due_at.map(|t| Rfc3339Micros(t).text())),
                    time_zone: "America/Port-au-Prince",
                    due_by: due_by.map(|t| Rfc3339Micros(t).text()),
                    priority: (i % 4) as i16,
                    labels,
                })
                .expect("reference");
                assert_eq!(written, reference);
            }
        }
    }
}
