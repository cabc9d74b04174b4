//! What validation turns requests into, and the repository takes: the
//! validated inputs of each operation.

use chrono::{DateTime, NaiveDate, Utc};

use crate::cursor::Cursor;

/// The zone a task's date `due` ends in when none is sent.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// When a task is due: a calendar date (answered as sent), or a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Date(NaiveDate),
    At(DateTime<Utc>),
}

impl Due {
    /// The two columns it is stored in: `due_date`, `due_at`.
    pub fn columns(due: Option<&Due>) -> (Option<NaiveDate>, Option<DateTime<Utc>>) {
        match due {
            None => (None, None),
            Some(Due::Date(date)) => (Some(*date), None),
            Some(Due::At(at)) => (None, Some(*at)),
        }
    }
}

/// A validated POST body, the defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub due: Option<Due>,
    /// An IANA name; whether the database knows it is checked on writing.
    pub time_zone: String,
    pub priority: i16,
    /// Trimmed, without duplicates, in the order sent.
    pub labels: Vec<String>,
}

impl NewTask {
    /// A task of only a title and a description, every other field at its
    /// default.
    pub fn new(title: impl Into<String>, description: Option<String>) -> Self {
        Self {
            title: title.into(),
            description,
            due: None,
            time_zone: DEFAULT_TIME_ZONE.to_owned(),
            priority: 0,
            labels: Vec::new(),
        }
    }
}

/// A validated PUT body: `None` keeps a field; `description: Some(None)`
/// and `due: Some(None)` clear theirs.
#[derive(Debug, Default, PartialEq)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    pub due: Option<Option<Due>>,
    pub time_zone: Option<String>,
    pub priority: Option<i16>,
    pub labels: Option<Vec<String>>,
}

/// Validated `GET /tasks` parameters.
#[derive(Debug, PartialEq)]
pub struct ListQuery {
    pub completed: Option<bool>,
    pub limit: usize,
    pub after: Option<Cursor>,
}
