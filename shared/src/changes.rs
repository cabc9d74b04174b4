//! The change feed (`GET /api/{user_id}/changes`): a page of changes, its
//! `next` token, and the checks that make a token a 410.
//!
//! A first sync (no `since`) walks the live tasks in the list's order,
//! those whose seq is at most the floor (the counter of its first page's
//! snapshot); then it reads by seq from that floor on, as every later sync
//! does. Each page is one statement (`repository::changes`), and `next`
//! comes from that statement's snapshot. Why no change is skipped:
//! docs/design.md, "The change feed".

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use crate::sync_token::{Position, Token};
use crate::{
    auth::UserId,
    cursor::SortValue,
    db::DbError,
    error::ApiError,
    housekeeping::NowAndThen,
    repository::{
        TaskRepository,
        changes::{ChangeRows, Counters, WalkFrom, column},
    },
    task::{Task, column as task_column},
    timestamp::Rfc3339Micros,
};
use crate::{input::ChangesQuery, sync_token};

/// Tombstones are kept this long; a token older is a 410.
pub const TOMBSTONE_DAYS: i64 = 90;

/// A page as JSON: `{"changes": [...], "next": "...", "more": bool}`.
pub struct ChangesJson {
    pub body: String,
    /// How many changes it holds.
    pub count: usize,
}

/// Reads one page of `user`'s changes, within `max_bytes` of body.
pub async fn page(
    tasks: &TaskRepository,
    user: &UserId,
    query: &ChangesQuery,
    max_bytes: usize,
) -> Result<ChangesJson, ApiError> {
    let now = Utc::now();
    if let Some(token) = &query.since
        && token.issued_at < now.timestamp() - TOMBSTONE_DAYS * 86_400
    {
        return Err(gone(format!(
            "since: the token is older than {TOMBSTONE_DAYS} days, \
             the time deleted tasks are remembered"
        )));
    }
    let fetch = query.limit + 1;
    let position = query.since.map(|t| t.position);
    let (rows, walk_floor) = match position {
        None => {
            let from = WalkFrom {
                created_at: i64::MAX,
                id: Uuid::max(),
            };
            (tasks.changes_walk(user, from, fetch).await?, None)
        }
        Some(Position::Walk {
            floor,
            created_at_micros,
            id,
        }) => {
            let from = WalkFrom {
                created_at: created_at_micros,
                id,
            };
            (tasks.changes_walk(user, from, fetch).await?, Some(floor))
        }
        Some(Position::Since(since)) => (tasks.changes_since(user, since, fetch).await?, None),
    };
    if let Some(token) = &query.since {
        check(token, &rows.counters)?;
    }
    let head = Token {
        user_tag: sync_token::user_tag(user.as_str()),
        epoch: rows.counters.epoch,
        issued_at: now.timestamp(),
        position: Position::Since(0),
    };
    let counters = rows.counters;
    // A walk's page leaves out the tasks changed after its floor: they come
    // after the walk, by seq.
    let skip_above = match position {
        None | Some(Position::Walk { .. }) => Some(walk_floor.unwrap_or(counters.change_seq)),
        Some(Position::Since(_)) => None,
    };
    let items = Items::write(rows, query.limit, max_bytes, skip_above)?;
    let (position, more) = match (position, items.cut) {
        // The walk goes on after the last task sent.
        (None | Some(Position::Walk { .. }), Some(last)) => {
            let floor = walk_floor.unwrap_or(counters.change_seq);
            let position = Position::Walk {
                floor,
                created_at_micros: last.created_at,
                id: last.id,
            };
            (position, true)
        }
        // The walk is done: on by seq from its floor, at once if anything
        // changed since (those tasks were left out of the walk).
        (None | Some(Position::Walk { .. }), None) => {
            let floor = walk_floor.unwrap_or(counters.change_seq);
            (Position::Since(floor), counters.change_seq > floor)
        }
        (Some(Position::Since(_)), Some(last)) => (Position::Since(last.seq), true),
        // Every change this snapshot holds was sent: it is complete up to
        // its counter, which no uncommitted write is below (one user's
        // seqs commit in order).
        (Some(Position::Since(_)), None) => (Position::Since(counters.change_seq), false),
    };
    let next = Token { position, ..head };
    let mut body = items.json;
    body.push_str(r#"],"next":""#);
    body.push_str(&next.encode());
    body.push_str(if more {
        r#"","more":true}"#
    } else {
        r#"","more":false}"#
    });
    Ok(ChangesJson {
        body,
        count: items.count,
    })
}

/// The 410s: a token from before the owner's row was made again, ahead of
/// its counter (never issued by this database: restored from a backup, or
/// forged), or below a purged tombstone (it may have missed a deletion).
fn check(token: &Token, counters: &Counters) -> Result<(), ApiError> {
    let start_again = "start again without `since`";
    if token.epoch != 0 && token.epoch != counters.epoch {
        return Err(gone(format!(
            "since: the token belongs to an earlier account of this user; {start_again}"
        )));
    }
    let seq = match token.position {
        Position::Walk { floor, .. } => floor,
        Position::Since(since) => since,
    };
    if seq > counters.change_seq {
        return Err(gone(format!(
            "since: the token is ahead of this user's changes (a database restored \
             from a backup?); {start_again}"
        )));
    }
    if let Position::Since(since) = token.position
        && since < counters.purged_seq
    {
        return Err(gone(format!(
            "since: deleted tasks newer than the token were forgotten after \
             {TOMBSTONE_DAYS} days; {start_again}"
        )));
    }
    Ok(())
}

fn gone(detail: String) -> ApiError {
    ApiError::Gone(detail)
}

/// The last change a page sent, where the next one starts after.
#[derive(Clone, Copy)]
struct Last {
    seq: i64,
    /// Microseconds since 2000-01-01, as PostgreSQL sends them.
    created_at: i64,
    id: Uuid,
}

/// The opening of the body and its changes.
struct Items {
    json: String,
    count: usize,
    /// Where the page was cut, by its size or its byte budget; `None`
    /// when it holds every row the statement found.
    cut: Option<Last>,
}

/// The room the end of the body takes: `],"next":"<token>","more":false}`.
const TAIL_BYTES: usize = 160;

impl Items {
    /// Rows with a seq above `skip_above` are passed over: not sent, yet
    /// the page's position moves past them.
    fn write(
        rows: ChangeRows,
        limit: usize,
        max_bytes: usize,
        skip_above: Option<i64>,
    ) -> Result<Self, DbError> {
        let mut json = String::with_capacity((rows.rows.len() * 320 + 64).min(max_bytes));
        json.push_str(r#"{"changes":["#);
        let mut count = 0;
        let mut last = None;
        let full = rows.rows.len() > limit;
        for row in rows.rows.into_iter().take(limit) {
            let seq: i64 = row.try_get(column::SEQ).map_err(DbError::internal)?;
            let deleted_at: Option<DateTime<Utc>> =
                row.try_get(column::DELETED_AT).map_err(DbError::internal)?;
            let id: Uuid = row.try_get(task_column::ID).map_err(DbError::internal)?;
            if skip_above.is_some_and(|floor| seq > floor) {
                let created_at = match row.try_get::<_, SortValue>(task_column::CREATED_AT) {
                    Ok(SortValue::Time(micros)) => micros,
                    _ => return Err(DbError::internal("created_at is not a timestamp")),
                };
                last = Some(Last {
                    seq,
                    created_at,
                    id,
                });
                continue;
            }
            let start = json.len();
            if count > 0 {
                json.push(',');
            }
            let created_at = match deleted_at {
                Some(deleted_at) => {
                    json.push_str(r#"{"id":""#);
                    json.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
                    json.push_str(r#"","deleted":true,"deleted_at":""#);
                    Rfc3339Micros(deleted_at).write(&mut json);
                    json.push_str(r#""}"#);
                    0
                }
                None => {
                    let created_at = row
                        .try_get::<_, SortValue>(task_column::CREATED_AT)
                        .map_err(DbError::internal)?;
                    Task(row).write_json(&mut json)?;
                    match created_at {
                        SortValue::Time(micros) => micros,
                        _ => return Err(DbError::internal("created_at is not a timestamp")),
                    }
                }
            };
            if count > 0 && json.len() + TAIL_BYTES > max_bytes {
                json.truncate(start);
                return Ok(Self {
                    json,
                    count,
                    cut: last,
                });
            }
            count += 1;
            last = Some(Last {
                seq,
                created_at,
                id,
            });
        }
        Ok(Self {
            json,
            count,
            cut: if full { last } else { None },
        })
    }
}

/// Pages of a feed or of a history read in this execution environment:
/// every 16th purges the feed's old rows (`purge_bounds`).
static READS: NowAndThen = NowAndThen::after_the_first();

/// After a read's answer is built: now and then, up to 100 tombstones past
/// their 90 days and up to 100 history entries past their 365, of any
/// user. A failure is only logged: the caller's answer stands.
pub async fn purge_bounds(tasks: &TaskRepository) {
    if !READS.due() {
        return;
    }
    if let Err(e) = tasks.purge_tombstones().await {
        tracing::warn!(error = %e, "purging old tombstones failed");
    }
    if let Err(e) = tasks.purge_old_history().await {
        tracing::warn!(error = %e, "purging old history failed");
    }
}
