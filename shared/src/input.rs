//! What validation turns requests into, and the repository takes: the
//! validated inputs of each operation.

use chrono::{DateTime, NaiveDate, Utc};
use siphasher::sip::SipHasher13;
use std::hash::Hasher;

use crate::{cursor::Cursor, sort::Sort, sync_token::Token};

/// The largest page (and the default).
pub const MAX_PAGE_SIZE: usize = 1000;

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

/// The filters and the search of a list; all of them hold (AND).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filters {
    pub completed: Option<bool>,
    pub priority: Option<i16>,
    /// Labels every task must carry: distinct, sorted.
    pub labels: Vec<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    pub overdue: Option<bool>,
    pub has_due: Option<bool>,
    /// `q`'s words (each the start of a word of the task's): distinct,
    /// sorted; empty without `q`.
    pub words: Vec<String>,
}

impl Filters {
    /// Only `completed`, or nothing: the filters before sorts and search
    /// (a first-format cursor belongs to these).
    pub fn only_completed(&self) -> bool {
        *self
            == Self {
                completed: self.completed,
                ..Self::default()
            }
    }

    /// What a cursor carries to be bound to these filters: a hash of
    /// their meaning (not their spelling: `label=a&label=b` and
    /// `label=b&label=a` are the same list). SipHash, keyed with zeros:
    /// a forged cursor can only page through its owner's own tasks.
    pub fn fingerprint(&self) -> u64 {
        let mut h = SipHasher13::new();
        let mut text = |tag: &str, value: &str| {
            h.write(tag.as_bytes());
            h.write_usize(value.len());
            h.write(value.as_bytes());
        };
        let flag = |b: Option<bool>| b.map_or("", |b| if b { "1" } else { "0" });
        text("completed", flag(self.completed));
        text(
            "priority",
            &self.priority.map(|p| p.to_string()).unwrap_or_default(),
        );
        for label in &self.labels {
            text("label", label);
        }
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros().to_string());
        text("due_before", &time(self.due_before).unwrap_or_default());
        text("due_after", &time(self.due_after).unwrap_or_default());
        text("overdue", flag(self.overdue));
        text("has_due", flag(self.has_due));
        for word in &self.words {
            text("q", word);
        }
        h.finish()
    }
}

/// Validated `GET /tasks` parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    pub sort: Sort,
    pub filters: Filters,
    pub limit: usize,
    pub after: Option<Cursor>,
    /// The sort, search and filter parameters as the client sent them (in
    /// a fixed order), for the next page's `Link`.
    pub echo: Vec<(&'static str, String)>,
}

impl Default for ListQuery {
    /// The plain list: newest first, everything, the largest page.
    fn default() -> Self {
        Self {
            sort: Sort::default(),
            filters: Filters::default(),
            limit: MAX_PAGE_SIZE,
            after: None,
            echo: Vec::new(),
        }
    }
}

/// Validated `GET /trash` parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TrashQuery {
    pub limit: usize,
    /// A trash cursor (`Cursor::is_of_trash`).
    pub after: Option<Cursor>,
}

/// A validated history query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    pub limit: usize,
    /// Entries older than this seq (`i64::MAX`: from the newest).
    pub before: i64,
}

/// A validated `GET /changes` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangesQuery {
    /// `None`: a first sync.
    pub since: Option<Token>,
    pub limit: usize,
}
