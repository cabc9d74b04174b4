//! A task's history (`GET /api/{user_id}/tasks/{task_id}/history`):
//! pages of entries `{"at", "action", "changes"}`, newest first, paged
//! like a list (`limit`, a cursor bound to its task, the byte budget, a
//! page `ETag`).

use std::hash::Hasher;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use siphasher::sip128::{Hasher128, SipHasher13};
use uuid::Uuid;

use crate::{
    cursor::HistoryCursor,
    db::DbError,
    repository::history_pages::{HistoryRows, column},
    timestamp::Rfc3339Micros,
};

/// A page written out.
pub struct HistoryJson {
    pub body: String,
    pub count: usize,
    pub etag: String,
    /// Where the next page starts, when entries follow.
    pub next: Option<HistoryCursor>,
}

impl HistoryRows {
    /// The page as a JSON array of at most `limit` entries that ends
    /// before the body would pass `max_bytes` (at least one entry).
    pub fn into_json(
        self,
        task: Uuid,
        limit: usize,
        max_bytes: usize,
    ) -> Result<HistoryJson, DbError> {
        let mut body = String::with_capacity((self.0.len() * 160 + 2).min(max_bytes));
        // Entries never change: which seqs a page holds is what its body
        // is made of (the task is the URL's).
        let mut etag = SipHasher13::new();
        body.push('[');
        let mut count = 0;
        let mut last = None;
        let more = self.0.len() > limit;
        let mut cut = false;
        for row in self.0.iter().take(limit) {
            let start = body.len();
            if count > 0 {
                body.push(',');
            }
            let seq: i64 = row.try_get(column::SEQ).map_err(DbError::internal)?;
            let at: DateTime<Utc> = row.try_get(column::AT).map_err(DbError::internal)?;
            let action: &str = row.try_get(column::ACTION).map_err(DbError::internal)?;
            let changes: &str = row.try_get(column::CHANGES).map_err(DbError::internal)?;
            body.push_str(r#"{"at":""#);
            Rfc3339Micros(at).write(&mut body);
            // The action is one of six words (a CHECK), `changes` is
            // jsonb's own output: neither needs escaping.
            body.push_str(r#"","action":""#);
            body.push_str(action);
            body.push_str(r#"","changes":"#);
            body.push_str(changes);
            body.push('}');
            if count > 0 && body.len() + 1 > max_bytes {
                body.truncate(start);
                cut = true;
                break;
            }
            etag.write(&seq.to_be_bytes());
            count += 1;
            last = Some(seq);
        }
        body.push(']');
        let next = match last {
            Some(before) if more || cut => Some(HistoryCursor { task, before }),
            _ => None,
        };
        Ok(HistoryJson {
            body,
            count,
            etag: format!(
                "\"{}\"",
                URL_SAFE_NO_PAD.encode(etag.finish128().as_bytes())
            ),
            next,
        })
    }
}
