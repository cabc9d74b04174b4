//! Reading a JSON request body: its size (413), its declared type (415),
//! and JSON that is one object, with the field at fault named (400).

use lambda_http::{Request, http::header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body of a single-task route.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The JSON body, or `None` when there is none. 413 over the size limit,
/// 415 for a declared non-JSON type, 400 for anything unparsable.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, ApiError> {
    json_body_within(req, MAX_BODY_BYTES)
}

/// `json_body` with a route's own size limit (a batch takes more).
pub fn json_body_within<T: DeserializeOwned>(
    req: &Request,
    max_bytes: usize,
) -> Result<Option<T>, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge(max_bytes));
    }
    if bytes.is_empty() {
        return Ok(None);
    }
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE)
        && !is_json(content_type.to_str().unwrap_or_default())
    {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_json(bytes).map(Some)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde's derived structs also accept an array of the fields in order
    // (`[true]` as `{"completed": true}`): every body here is an object.
    let first = bytes.iter().find(|b| !b" \t\r\n".contains(b));
    if first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            ApiError::bad_request(format!("invalid JSON body: {}", e.inner()))
        } else {
            ApiError::bad_request(format!("{path}: {}", e.inner()))
        }
    })?;
    // Trailing bytes after the value (`{"title":"a"} x`) are malformed too.
    de.end()
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    Ok(value)
}
