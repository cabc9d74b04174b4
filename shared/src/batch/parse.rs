//! A batch's body: its shape (a malformed batch is one 400 for the whole
//! request), then each operation, validated by the single routes' rules
//! (an invalid one is that operation's 400, inside the 200).

use chrono::{DateTime, Utc};
use lambda_http::Request;
use serde::{Deserialize, Deserializer, de::IgnoredAny};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    error::ApiError,
    etag,
    input::{NewTask, TaskChanges},
    validation::{self, json_body_within},
};

/// The largest batch body (a single task's route takes 64 KiB).
pub const MAX_BATCH_BODY_BYTES: usize = 1024 * 1024;
/// The most operations in one batch.
pub const MAX_OPERATIONS: usize = 100;

/// A validated batch: its operations in order, each valid or the 400 it
/// gets, and whether it is all or nothing.
#[derive(Debug)]
pub struct Batch {
    pub operations: Vec<Result<Operation, ApiError>>,
    pub atomic: bool,
    /// SHA-256 of the body as JSON, whitespace and key order aside: what
    /// an `Idempotency-Key` retry must send again.
    pub fingerprint: [u8; 32],
}

/// One operation, as the single-task route would take it.
#[derive(Debug)]
pub enum Operation {
    Create(NewTask),
    Update {
        id: Uuid,
        changes: TaskChanges,
        versions: Option<Vec<DateTime<Utc>>>,
    },
    /// `completed: None` toggles, as PATCH `/complete` without a body.
    Complete {
        id: Uuid,
        completed: Option<bool>,
        versions: Option<Vec<DateTime<Utc>>>,
    },
    Delete {
        id: Uuid,
        versions: Option<Vec<DateTime<Utc>>>,
    },
}

impl Operation {
    /// The existing task it writes (creates write none).
    pub fn task_id(&self) -> Option<Uuid> {
        match self {
            Self::Create(_) => None,
            Self::Update { id, .. } | Self::Complete { id, .. } | Self::Delete { id, .. } => {
                Some(*id)
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename = "batch", deny_unknown_fields)]
struct BatchBody {
    operations: Vec<Box<RawValue>>,
    #[serde(default = "yes")]
    atomic: bool,
}

fn yes() -> bool {
    true
}

/// Only `op`: what the rest of an operation must be.
#[derive(Deserialize)]
#[serde(rename = "operation")]
struct Head {
    op: String,
}

#[derive(Deserialize)]
#[serde(rename = "create operation", deny_unknown_fields)]
struct CreateOp {
    #[allow(dead_code)] // read by `Head`
    op: IgnoredAny,
    task: Box<RawValue>,
}

#[derive(Deserialize)]
#[serde(rename = "update operation", deny_unknown_fields)]
struct UpdateOp {
    #[allow(dead_code)]
    op: IgnoredAny,
    id: String,
    task: Box<RawValue>,
    #[serde(default)]
    if_match: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename = "complete operation", deny_unknown_fields)]
struct CompleteOp {
    #[allow(dead_code)]
    op: IgnoredAny,
    id: String,
    #[serde(default, deserialize_with = "present")]
    completed: Option<bool>,
    #[serde(default)]
    if_match: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename = "delete operation", deny_unknown_fields)]
struct DeleteOp {
    #[allow(dead_code)]
    op: IgnoredAny,
    id: String,
    #[serde(default)]
    if_match: Option<String>,
}

/// A field that is present: `"completed": null` is a 400, not a toggle.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

const OPS: &str = "create, update, complete or delete";

/// The batch of the request: 413 over 1 MiB, 415 for a non-JSON type, 400
/// for a malformed batch (not an object, no or too many operations, an
/// operation that is not an object or names no known `op`), naming what
/// is wrong.
pub fn batch(req: &Request) -> Result<Batch, ApiError> {
    let body: BatchBody = json_body_within(req, MAX_BATCH_BODY_BYTES)?
        .ok_or_else(|| ApiError::bad_request("request body is required"))?;
    if body.operations.is_empty() {
        return Err(ApiError::bad_request(
            "operations: must hold 1 to 100 operations",
        ));
    }
    if body.operations.len() > MAX_OPERATIONS {
        return Err(ApiError::bad_request(format!(
            "operations: at most {MAX_OPERATIONS} operations, got {}",
            body.operations.len()
        )));
    }
    let mut operations = Vec::with_capacity(body.operations.len());
    for (at, raw) in body.operations.iter().enumerate() {
        let json = raw.get();
        if !json.starts_with('{') {
            return Err(ApiError::bad_request(format!(
                "operations[{at}]: must be an object with an `op`"
            )));
        }
        let head: Head = serde_json::from_str(json).map_err(|e| {
            ApiError::bad_request(format!("operations[{at}]: {}", without_position(&e)))
        })?;
        operations.push(match head.op.as_str() {
            "create" => create(json),
            "update" => update(json),
            "complete" => complete(json),
            "delete" => delete(json),
            other => {
                return Err(ApiError::bad_request(format!(
                    "operations[{at}].op: {other:?} is not an operation; expected {OPS}"
                )));
            }
        });
    }
    Ok(Batch {
        operations,
        atomic: body.atomic,
        fingerprint: fingerprint(req.body().as_ref())?,
    })
}

fn create(json: &str) -> Result<Operation, ApiError> {
    let op: CreateOp = fields(json)?;
    validation::new_task_json(op.task.get()).map(Operation::Create)
}

fn update(json: &str) -> Result<Operation, ApiError> {
    let op: UpdateOp = fields(json)?;
    let id = task_id(&op.id)?;
    let versions = versions(op.if_match.as_deref())?;
    let changes = validation::task_changes_json(op.task.get())?;
    Ok(Operation::Update {
        id,
        changes,
        versions,
    })
}

fn complete(json: &str) -> Result<Operation, ApiError> {
    let op: CompleteOp = fields(json)?;
    Ok(Operation::Complete {
        id: task_id(&op.id)?,
        completed: op.completed,
        versions: versions(op.if_match.as_deref())?,
    })
}

fn delete(json: &str) -> Result<Operation, ApiError> {
    let op: DeleteOp = fields(json)?;
    Ok(Operation::Delete {
        id: task_id(&op.id)?,
        versions: versions(op.if_match.as_deref())?,
    })
}

/// An operation's own fields; a wrong one is its 400, naming the field.
fn fields<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = without_position(e.inner());
        if path == "." {
            ApiError::bad_request(inner)
        } else {
            ApiError::bad_request(format!("{path}: {inner}"))
        }
    })
}

/// serde_json's message without " at line 1 column 42": the column is of
/// the operation, not of the body the client sent.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// `id`: a UUID in its canonical hyphenated form, as `{task_id}` in a path.
fn task_id(raw: &str) -> Result<Uuid, ApiError> {
    (raw.len() == 36)
        .then(|| Uuid::try_parse(raw).ok())
        .flatten()
        .ok_or_else(|| ApiError::bad_request("id: must be a UUID"))
}

/// `if_match`, as the `If-Match` header: `None` when absent or `*`.
fn versions(raw: Option<&str>) -> Result<Option<Vec<DateTime<Utc>>>, ApiError> {
    raw.map_or(Ok(None), etag::if_match_field)
}

/// SHA-256 of the body's JSON value, each object's keys in sorted order,
/// each value tagged and length-prefixed: the same batch sent again with
/// other white space or key order (or `atomic: true` spelt out) has the
/// same fingerprint.
fn fingerprint(body: &[u8]) -> Result<[u8; 32], ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    // `atomic` left out is `atomic: true`: the same batch.
    if let Some(batch) = value.as_object_mut() {
        batch
            .entry("atomic")
            .or_insert(serde_json::Value::Bool(true));
    }
    let mut hash = Sha256::new();
    feed(&mut hash, &value);
    Ok(hash.finalize().into())
}

fn feed(hash: &mut Sha256, value: &serde_json::Value) {
    use serde_json::Value;
    let text = |hash: &mut Sha256, text: &str| {
        hash.update((text.len() as u64).to_be_bytes());
        hash.update(text.as_bytes());
    };
    match value {
        Value::Null => hash.update([0]),
        Value::Bool(b) => hash.update([1, u8::from(*b)]),
        Value::Number(n) => {
            hash.update([2]);
            text(hash, &n.to_string());
        }
        Value::String(s) => {
            hash.update([3]);
            text(hash, s);
        }
        Value::Array(items) => {
            hash.update([4]);
            hash.update((items.len() as u64).to_be_bytes());
            items.iter().for_each(|item| feed(hash, item));
        }
        Value::Object(map) => {
            hash.update([5]);
            hash.update((map.len() as u64).to_be_bytes());
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            for key in keys {
                text(hash, key);
                feed(hash, &map[key]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(body: &str) -> Request {
        lambda_http::http::Request::builder()
            .body(Body::from(body))
            .unwrap()
    }

    fn whole(body: &str) -> String {
        match batch(&request(body)) {
            Err(ApiError::BadRequest(d)) => d,
            other => panic!("{body}: expected a 400, got {other:?}"),
        }
    }

    fn one(op: &str) -> Result<Operation, ApiError> {
        let mut b = batch(&request(&format!(r#"{{"operations":[{op}]}}"#))).unwrap();
        b.operations.remove(0)
    }

    fn detail(op: &str) -> String {
        match one(op) {
            Err(ApiError::BadRequest(d)) => d,
            other => panic!("{op}: expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_malformed_batch_is_refused_whole_naming_what_is_wrong() {
        assert!(whole("[]").contains("JSON object"));
        assert!(whole("{}").contains("operations"));
        assert!(whole(r#"{"operations":[]}"#).starts_with("operations:"));
        assert!(whole(r#"{"operations":{}}"#).starts_with("operations:"));
        assert!(
            whole(r#"{"operations":[{"op":"create","task":{"title":"a"}}],"x":1}"#).contains("`x`")
        );
        assert!(
            whole(r#"{"operations":[{"op":"create","task":{"title":"a"}}],"atomic":null}"#)
                .starts_with("atomic:")
        );
        assert!(whole(r#"{"operations":[1]}"#).starts_with("operations[0]:"));
        assert!(whole(r#"{"operations":[{"task":{}}]}"#).starts_with("operations[0]:"));
        assert!(
            whole(r#"{"operations":[{"op":"create","task":{"title":"a"}},{"op":"move"}]}"#)
                .starts_with("operations[1].op:")
        );
        let ops = vec![r#"{"op":"delete","id":"x"}"#; 101].join(",");
        assert!(whole(&format!(r#"{{"operations":[{ops}]}}"#)).contains("at most 100"));
        let ops = vec![r#"{"op":"delete","id":"x"}"#; 100].join(",");
        assert_eq!(
            batch(&request(&format!(r#"{{"operations":[{ops}]}}"#)))
                .unwrap()
                .operations
                .len(),
            100
        );
    }

    #[test]
    fn an_invalid_operation_is_its_own_400_with_the_single_routes_detail() {
        assert_eq!(
            detail(r#"{"op":"create","task":{"title":" "}}"#),
            "title must not be empty"
        );
        assert!(detail(r#"{"op":"create","task":{"title":5}}"#).starts_with("title:"));
        assert!(detail(r#"{"op":"create"}"#).contains("task"));
        assert!(detail(r#"{"op":"create","task":{"title":"a"},"id":"x"}"#).contains("`id`"));
        assert!(detail(r#"{"op":"update","id":"x","task":{"title":"a"}}"#).starts_with("id:"));
        let id = "0192f1d6-3b7e-7c4a-9d2e-5f6a7b8c9d0e";
        assert!(
            detail(&format!(r#"{{"op":"update","id":"{id}","task":{{}}}}"#))
                .contains("at least one")
        );
        assert!(
            detail(&format!(
                r#"{{"op":"update","id":"{id}","task":{{"title":"a"}},"if_match":"x"}}"#
            ))
            .starts_with("if_match:")
        );
        assert!(
            detail(&format!(
                r#"{{"op":"complete","id":"{id}","completed":null}}"#
            ))
            .starts_with("completed:")
        );
        assert!(matches!(
            one(&format!(r#"{{"op":"complete","id":"{id}"}}"#)),
            Ok(Operation::Complete {
                completed: None,
                ..
            })
        ));
        assert!(matches!(
            one(&format!(r#"{{"op":"delete","id":"{id}","if_match":"*"}}"#)),
            Ok(Operation::Delete { versions: None, .. })
        ));
    }

    #[test]
    fn the_fingerprint_ignores_white_space_and_key_order_only() {
        let print = |body: &str| batch(&request(body)).unwrap().fingerprint;
        let a = print(r#"{"operations":[{"op":"create","task":{"title":"a"}}]}"#);
        assert_eq!(
            a,
            print(r#"{ "operations" : [ { "task" : {"title":"a"}, "op":"create" } ] }"#)
        );
        assert_ne!(
            a,
            print(r#"{"operations":[{"op":"create","task":{"title":"b"}}]}"#)
        );
        assert_ne!(
            a,
            print(r#"{"operations":[{"op":"create","task":{"title":"a"}}],"atomic":false}"#)
        );
    }
}
