//! The query parameters of the history and the change feed: `limit` as a
//! list's, and the position (`cursor`, bound to its task; `since`, bound
//! to its user). A bad value is a 400 naming its parameter.

use lambda_http::{Request, RequestExt};
use uuid::Uuid;

use crate::{
    auth::UserId,
    cursor::HistoryCursor,
    error::ApiError,
    input::{ChangesQuery, HistoryQuery, MAX_PAGE_SIZE},
    sync_token::{Refused, Token},
};

pub fn history_query(req: &Request, task: Uuid) -> Result<HistoryQuery, ApiError> {
    let limit = limit(req)?;
    let before = match single(req, "cursor")? {
        None => i64::MAX,
        Some(raw) => {
            let cursor =
                HistoryCursor::decode(raw).ok_or_else(|| bad("cursor", "is not a valid cursor"))?;
            if cursor.task != task {
                return Err(bad(
                    "cursor",
                    "was made for another task's history; start again without a cursor",
                ));
            }
            cursor.before
        }
    };
    Ok(HistoryQuery { limit, before })
}

pub fn changes_query(req: &Request, user: &UserId) -> Result<ChangesQuery, ApiError> {
    let limit = limit(req)?;
    let since = single(req, "since")?
        .map(|raw| {
            Token::decode(raw, user.as_str()).map_err(|refused| match refused {
                Refused::Malformed => bad("since", "is not a sync token"),
                Refused::NotYours => bad("since", "is another user's sync token"),
            })
        })
        .transpose()?;
    Ok(ChangesQuery { since, limit })
}

fn single<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>, ApiError> {
    let values = req
        .query_string_parameters_ref()
        .and_then(|p| p.all(name))
        .unwrap_or_default();
    match values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(bad(name, "given more than once")),
    }
}

/// `limit`: 1 to 1000, 1000 when absent (as a list's).
fn limit(req: &Request) -> Result<usize, ApiError> {
    match single(req, "limit")? {
        None => Ok(MAX_PAGE_SIZE),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    format!("must be an integer from 1 to {MAX_PAGE_SIZE}"),
                )
            }),
    }
}

fn bad(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{name}: {reason}"))
}
