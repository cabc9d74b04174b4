//! Request bodies and query parameters: parsing and the contract's rules.
//!
//! Everything here is pure: it turns untrusted bytes into the validated
//! inputs of `input`, or a 4xx `ApiError` that names the field at fault.

mod body;
mod feed;
mod fields;
mod query;
mod rules;

pub use crate::input::MAX_PAGE_SIZE;
pub use body::{MAX_BODY_BYTES, json_body_within};
pub use feed::{changes_query, history_query};
pub use fields::{
    LAST_DUE_DATE, MAX_LABEL_CHARS, MAX_LABELS, MAX_PRIORITY, MAX_TIME_ZONE_CHARS,
    unknown_time_zone,
};
pub use query::{list_query, trash_query};
pub use rules::{
    MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, completion, description, new_task, new_task_json,
    task_changes, task_changes_json, title,
};
