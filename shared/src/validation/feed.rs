//! The query parameters of the history and the change feed: `limit` as a
//! list's, and the position (`cursor`, bound to its task; `since`, bound
//! to its user). A bad value is a 400 naming its parameter.

use lambda_http::Request;
use uuid::Uuid;

use crate::{
    auth::UserId,
    cursor::HistoryCursor,
    error::ApiError,
    input::{ChangesQuery, HistoryQuery},
    sync_token::{Refused, Token},
};

use super::query::{bad, page_size, single};

pub fn history_query(req: &Request, task: Uuid) -> Result<HistoryQuery, ApiError> {
    let limit = page_size(single(req, "limit")?)?;
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
    let limit = page_size(single(req, "limit")?)?;
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
