//! Request bodies and query parameters: parsing and the contract's rules.
//!
//! Everything here is pure: it turns untrusted bytes into typed values or a
//! 4xx `ApiError` that names the field at fault.

use lambda_http::{Request, RequestExt, http::header};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};

use crate::{error::ApiError, tasks::Cursor};

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_TITLE_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_PAGE_SIZE: usize = 1000;

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

// The serde names below show up in error details ("expected task"), so
// they say what the client sent, not what our structs are called.
#[derive(Deserialize)]
#[serde(rename = "task", deny_unknown_fields)]
struct CreateBody {
    title: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename = "task changes", deny_unknown_fields)]
struct UpdateBody {
    #[serde(default, deserialize_with = "present")]
    title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    completed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename = "completion", deny_unknown_fields)]
struct CompletionBody {
    completed: bool,
}

/// A field that is present: `null` is only accepted where `T` accepts it,
/// so `"title": null` is an error while `"description": null` is `Some(None)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

pub fn new_task(req: &Request) -> Result<NewTask, ApiError> {
    let body: CreateBody =
        json_body(req)?.ok_or_else(|| ApiError::bad_request("request body is required"))?;
    Ok(NewTask {
        title: title(&body.title)?,
        description: body.description.map(description).transpose()?,
    })
}

pub fn task_changes(req: &Request) -> Result<TaskChanges, ApiError> {
    let body: UpdateBody =
        json_body(req)?.ok_or_else(|| ApiError::bad_request("request body is required"))?;
    if body.title.is_none() && body.description.is_none() && body.completed.is_none() {
        return Err(ApiError::bad_request(
            "request body must set at least one of title, description, completed",
        ));
    }
    Ok(TaskChanges {
        title: body.title.as_deref().map(title).transpose()?,
        description: body
            .description
            .map(|d| d.map(description).transpose())
            .transpose()?,
        completed: body.completed,
    })
}

/// PATCH `/complete`: `None` (no body) means toggle.
pub fn completion(req: &Request) -> Result<Option<bool>, ApiError> {
    Ok(json_body::<CompletionBody>(req)?.map(|b| b.completed))
}

/// Trimmed, 1–255 characters, storable.
pub fn title(raw: &str) -> Result<String, ApiError> {
    let title = raw.trim();
    if title.is_empty() {
        return Err(ApiError::bad_request("title must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::bad_request(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    storable("title", title)?;
    Ok(title.to_owned())
}

/// Kept as sent (not trimmed), at most 1000 characters, storable.
pub fn description(raw: String) -> Result<String, ApiError> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::bad_request(format!(
            "description must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    storable("description", &raw)?;
    Ok(raw)
}

/// PostgreSQL text cannot hold U+0000; refuse it here rather than let the
/// database fail the statement.
fn storable(field: &str, value: &str) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(ApiError::bad_request(format!(
            "{field} must not contain NUL (U+0000) characters"
        )));
    }
    Ok(())
}

/// The JSON body, or `None` when there is none. 413 over the size limit,
/// 415 for a declared non-JSON type, 400 for anything unparsable.
fn json_body<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
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

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(body: &str, content_type: Option<&str>) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::from(body)).unwrap()
    }

    fn detail(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        match result.unwrap_err() {
            ApiError::BadRequest(d) => d,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn title_is_trimmed_with_unicode_white_space_and_counted_in_characters() {
        assert_eq!(title("\u{3000} Buy milk\u{2003}\n").unwrap(), "Buy milk");
        assert_eq!(title(&"é".repeat(255)).unwrap().chars().count(), 255);
        assert!(detail(title(&"é".repeat(256))).contains("title"));
        assert!(detail(title(" \u{85}\u{a0} ")).contains("title"));
        assert!(detail(title("a\0b")).contains("NUL"));
    }

    #[test]
    fn description_is_kept_verbatim() {
        assert_eq!(description(" x ".into()).unwrap(), " x ");
        assert_eq!(description(String::new()).unwrap(), "");
        assert_eq!(
            description("😀".repeat(1000)).unwrap().chars().count(),
            1000
        );
        assert!(detail(description("😀".repeat(1001))).contains("description"));
    }

    #[test]
    fn update_distinguishes_absent_from_null() {
        let changes = task_changes(&request(r#"{"description":null}"#, None)).unwrap();
        assert_eq!(changes.description, Some(None));
        assert_eq!(changes.title, None);
        let changes = task_changes(&request(r#"{"completed":true}"#, None)).unwrap();
        assert_eq!(changes.description, None);
        assert!(detail(task_changes(&request("{}", None))).contains("at least one"));
        assert!(detail(task_changes(&request(r#"{"title":null}"#, None))).contains("title"));
        assert!(
            detail(task_changes(&request(r#"{"completed":null}"#, None))).contains("completed")
        );
    }

    #[test]
    fn bad_json_names_the_field() {
        assert!(detail(new_task(&request(r#"{"title":5}"#, None))).starts_with("title:"));
        assert!(detail(new_task(&request(r#"{"title":"a","x":1}"#, None))).contains("x"));
        assert!(
            detail(new_task(&request(r#"{"title":"a","title":"b"}"#, None)))
                .contains("duplicate field `title`")
        );
        assert!(detail(new_task(&request(r#"{}"#, None))).contains("title"));
        assert!(detail(new_task(&request(r#"{"title":"a"} x"#, None))).contains("invalid JSON"));
        assert!(detail(new_task(&request("", None))).contains("required"));
    }

    #[test]
    fn content_type_must_be_json_when_given() {
        assert!(
            new_task(&request(
                r#"{"title":"a"}"#,
                Some("application/json; charset=utf-8")
            ))
            .is_ok()
        );
        assert!(matches!(
            new_task(&request(r#"{"title":"a"}"#, Some("text/plain"))),
            Err(ApiError::UnsupportedMediaType)
        ));
    }

    #[test]
    fn completion_body_is_optional_but_strict() {
        assert_eq!(completion(&request("", None)).unwrap(), None);
        assert_eq!(
            completion(&request(r#"{"completed":false}"#, None)).unwrap(),
            Some(false)
        );
        assert!(detail(completion(&request(r#"{"completed":"yes"}"#, None))).contains("completed"));
        assert!(detail(completion(&request("null", None))).contains("JSON"));
        assert!(detail(completion(&request("[true]", None))).contains("JSON object"));
        assert!(detail(new_task(&request(r#"["title"]"#, None))).contains("JSON object"));
        assert!(detail(new_task(&request("[", None))).contains("invalid JSON"));
    }
}
