//! The contract's rules for task bodies: which fields, their types, and
//! their limits, each error naming the field at fault.

use lambda_http::Request;
use serde::{Deserialize, Deserializer};

use super::{
    body::{json_body, parse_json},
    fields,
};
use crate::{
    error::ApiError,
    input::{DEFAULT_TIME_ZONE, NewTask, TaskChanges},
};

pub const MAX_TITLE_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

// The serde names below show up in error details ("expected task"), so
// they say what the client sent, not what our structs are called.
#[derive(Deserialize)]
#[serde(rename = "task", deny_unknown_fields)]
struct CreateBody {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    due: Option<String>,
    // `null` is no zone and no priority: a 400, as on PUT.
    #[serde(default, deserialize_with = "present")]
    time_zone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    priority: Option<serde_json::Number>,
    #[serde(default, deserialize_with = "present")]
    labels: Option<Vec<String>>,
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
    #[serde(default, deserialize_with = "present")]
    due: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    time_zone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    priority: Option<serde_json::Number>,
    #[serde(default, deserialize_with = "present")]
    labels: Option<Vec<String>>,
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
    create_body(body)
}

/// A batch's `create` task: the POST body's rules, with its details.
pub fn new_task_json(json: &str) -> Result<NewTask, ApiError> {
    create_body(parse_json(json.as_bytes())?)
}

fn create_body(body: CreateBody) -> Result<NewTask, ApiError> {
    Ok(NewTask {
        title: title(&body.title)?,
        description: body.description.map(description).transpose()?,
        due: body.due.as_deref().map(fields::due).transpose()?,
        time_zone: match body.time_zone {
            Some(zone) => fields::time_zone(zone)?,
            None => DEFAULT_TIME_ZONE.to_owned(),
        },
        priority: body
            .priority
            .map(fields::priority)
            .transpose()?
            .unwrap_or(0),
        labels: body
            .labels
            .map(fields::labels)
            .transpose()?
            .unwrap_or_default(),
    })
}

pub fn task_changes(req: &Request) -> Result<TaskChanges, ApiError> {
    let body: UpdateBody =
        json_body(req)?.ok_or_else(|| ApiError::bad_request("request body is required"))?;
    update_body(body)
}

/// A batch's `update` task: the PUT body's rules, with its details.
pub fn task_changes_json(json: &str) -> Result<TaskChanges, ApiError> {
    update_body(parse_json(json.as_bytes())?)
}

fn update_body(body: UpdateBody) -> Result<TaskChanges, ApiError> {
    let changes = TaskChanges {
        title: body.title.as_deref().map(title).transpose()?,
        description: body
            .description
            .map(|d| d.map(description).transpose())
            .transpose()?,
        completed: body.completed,
        due: body
            .due
            .map(|d| d.as_deref().map(fields::due).transpose())
            .transpose()?,
        time_zone: body.time_zone.map(fields::time_zone).transpose()?,
        priority: body.priority.map(fields::priority).transpose()?,
        labels: body.labels.map(fields::labels).transpose()?,
    };
    if changes == TaskChanges::default() {
        return Err(ApiError::bad_request(
            "request body must set at least one of title, description, completed, \
             due, time_zone, priority, labels",
        ));
    }
    Ok(changes)
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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::{Body, http::header};

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
