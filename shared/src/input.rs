//! What validation turns requests into, and the repository takes: the
//! validated inputs of each operation.

use crate::cursor::Cursor;

/// A validated POST body.
#[derive(Debug, PartialEq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
}

/// A validated PUT body: `None` keeps a field, `description: Some(None)` clears it.
#[derive(Debug, Default, PartialEq)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

/// Validated `GET /tasks` parameters.
#[derive(Debug, PartialEq)]
pub struct ListQuery {
    pub completed: Option<bool>,
    pub limit: usize,
    pub after: Option<Cursor>,
}
