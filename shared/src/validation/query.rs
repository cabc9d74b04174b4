//! `GET /tasks` query parameters.

use lambda_http::{Request, RequestExt};

use crate::{cursor::Cursor, error::ApiError, input::ListQuery};

pub const MAX_PAGE_SIZE: usize = 1000;

/// `completed`, `limit`, `cursor`; other parameters are ignored.
pub fn list_query(req: &Request) -> Result<ListQuery, ApiError> {
    let params = req.query_string_parameters_ref();
    let single = |name: &str| -> Result<Option<&str>, ApiError> {
        match params.and_then(|p| p.all(name)).as_deref() {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(*one)),
            Some(_) => Err(ApiError::bad_request(format!(
                "{name}: given more than once"
            ))),
        }
    };
    let completed = match single("completed")? {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_request(
                "completed: must be `true` or `false`",
            ));
        }
    };
    let limit = match single("limit")? {
        None => MAX_PAGE_SIZE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit: must be an integer from 1 to {MAX_PAGE_SIZE}"
                ))
            })?,
    };
    let after = single("cursor")?
        .map(|raw| {
            Cursor::decode(raw)
                .ok_or_else(|| ApiError::bad_request("cursor: is not a valid cursor"))
        })
        .transpose()?;
    Ok(ListQuery {
        completed,
        limit,
        after,
    })
}
