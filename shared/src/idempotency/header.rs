//! The `Idempotency-Key` header (IETF
//! draft-ietf-httpapi-idempotency-key-header), and the fingerprint that
//! tells a retry of the same task from a reuse of the key for another.

use lambda_http::{Request, http::HeaderName};
use sha2::{Digest, Sha256};

use chrono::Datelike;

use crate::{
    error::ApiError,
    input::{DEFAULT_TIME_ZONE, Due, NewTask},
};

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// `Idempotent-Replayed: true` marks an answer given again.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub const MAX_KEY_CHARS: usize = 255;

/// A key as the client chose it: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key in a header value: an RFC 8941 string whose quotes (and
    /// `\"`, `\\` escapes) are not part of it when it starts with `"`, else
    /// the value itself. `openapi.json` spells the same rule as a pattern.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim_matches([' ', '\t']);
        let key = match value.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => value.to_owned(),
        };
        let visible = key.bytes().all(|b| (0x21..=0x7e).contains(&b));
        (visible && (1..=MAX_KEY_CHARS).contains(&key.len())).then_some(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The request's key, if it sent one; a malformed one is a 400 naming it.
pub fn key(req: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = req.headers().get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request("Idempotency-Key: send it once"));
    }
    value
        .to_str()
        .ok()
        .and_then(IdempotencyKey::parse)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Idempotency-Key: must be 1-{MAX_KEY_CHARS} visible ASCII characters, optionally in double quotes"
            ))
        })
}

/// The rest of an sf-string after its opening quote: up to the closing
/// quote, which must end the value.
fn unquote(rest: &str) -> Option<String> {
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                c @ ('"' | '\\') => out.push(c),
                _ => return None,
            },
            '"' => return chars.as_str().is_empty().then_some(out),
            c => out.push(c),
        }
    }
    None // no closing quote
}

/// SHA-256 of the validated task, every writable field: a retry must send
/// the same task. Each field is length-prefixed or tagged, so no two tasks
/// share an encoding (an absent description differs from an empty one).
/// A task whose due, zone, priority and labels are all at their defaults
/// is hashed as before they existed, so keys remembered across that change
/// still replay; any other adds a tail after the head, which is
/// self-delimiting (length-prefixed), so the two never meet.
pub fn fingerprint(task: &NewTask) -> [u8; 32] {
    let mut hash = Sha256::new();
    text(&mut hash, &task.title);
    match &task.description {
        None => hash.update([0]),
        Some(d) => {
            hash.update([1]);
            text(&mut hash, d);
        }
    }
    let defaults = task.due.is_none()
        && task.time_zone == DEFAULT_TIME_ZONE
        && task.priority == 0
        && task.labels.is_empty();
    if !defaults {
        hash.update(b"\x02v27");
        match task.due {
            None => hash.update([0]),
            Some(Due::Date(date)) => {
                hash.update([1]);
                hash.update(date.num_days_from_ce().to_be_bytes());
            }
            Some(Due::At(at)) => {
                hash.update([2]);
                hash.update(at.timestamp_micros().to_be_bytes());
            }
        }
        text(&mut hash, &task.time_zone);
        hash.update(task.priority.to_be_bytes());
        hash.update((task.labels.len() as u64).to_be_bytes());
        for label in &task.labels {
            text(&mut hash, label);
        }
    }
    hash.finalize().into()
}

/// A string, length-prefixed.
fn text(hash: &mut Sha256, text: &str) {
    hash.update((text.len() as u64).to_be_bytes());
    hash.update(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(value: &str) -> Option<String> {
        IdempotencyKey::parse(value).map(|k| k.0)
    }

    #[test]
    fn bare_and_quoted_keys_are_the_same_key() {
        assert_eq!(key_of("abc-123").as_deref(), Some("abc-123"));
        assert_eq!(key_of("\"abc-123\"").as_deref(), Some("abc-123"));
        assert_eq!(key_of(" \"abc\" ").as_deref(), Some("abc"));
        assert_eq!(key_of(r#""a\"b\\c""#).as_deref(), Some(r#"a"b\c"#));
        assert_eq!(key_of(&"k".repeat(255)).map(|k| k.len()), Some(255));
        // Quotes inside a bare key are part of it.
        assert_eq!(key_of("a\"b").as_deref(), Some("a\"b"));
        assert_eq!(key_of("abc\"").as_deref(), Some("abc\""));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for value in [
            "",
            "\"\"",
            "a b",
            "\"a b\"",
            "\"abc",
            "\"a\"b\"",
            "\"a\\nb\"",
            "caf\u{e9}",
            "a\u{7f}",
            &"k".repeat(256),
            &format!("\"{}\"", "k".repeat(256)),
        ] {
            assert_eq!(key_of(value), None, "{value:?}");
        }
    }

    #[test]
    fn the_fingerprint_tells_tasks_apart() {
        let task = |title: &str, description: Option<&str>| {
            NewTask::new(title, description.map(Into::into))
        };
        let a = fingerprint(&task("ab", None));
        assert_eq!(a, fingerprint(&task("ab", None)));
        for other in [
            task("ab", Some("")),
            task("a", Some("b")),
            task("abc", None),
            task("ab", Some("x")),
        ] {
            assert_ne!(a, fingerprint(&other), "{other:?}");
        }
    }

    #[test]
    fn a_task_of_defaults_keeps_the_fingerprint_it_had_before_issue_27() {
        // The encoding before `due`, `time_zone`, `priority`, `labels`.
        let mut before = Sha256::new();
        before.update(2u64.to_be_bytes());
        before.update(b"ab");
        before.update([1]);
        before.update(1u64.to_be_bytes());
        before.update(b"x");
        let before: [u8; 32] = before.finalize().into();
        assert_eq!(fingerprint(&NewTask::new("ab", Some("x".into()))), before);
    }

    #[test]
    fn the_fingerprint_covers_every_writable_field() {
        use chrono::{DateTime, NaiveDate};
        let base = NewTask::new("ab", None);
        let a = fingerprint(&base);
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let at = DateTime::from_timestamp_micros(1_798_128_000_000_000).unwrap();
        let variants = [
            NewTask {
                due: Some(Due::Date(date)),
                ..base.clone()
            },
            NewTask {
                due: Some(Due::At(at)),
                ..base.clone()
            },
            NewTask {
                time_zone: "Europe/Berlin".into(),
                ..base.clone()
            },
            NewTask {
                priority: 1,
                ..base.clone()
            },
            NewTask {
                labels: vec!["a".into()],
                ..base.clone()
            },
            NewTask {
                labels: vec!["a".into(), "b".into()],
                ..base.clone()
            },
            NewTask {
                labels: vec!["b".into(), "a".into()],
                ..base.clone()
            },
            NewTask {
                labels: vec!["ab".into()],
                ..base.clone()
            },
        ];
        let prints: Vec<[u8; 32]> = variants.iter().map(fingerprint).collect();
        for (i, print) in prints.iter().enumerate() {
            assert_ne!(*print, a, "{:?}", variants[i]);
            for (j, other) in prints.iter().enumerate().skip(i + 1) {
                assert_ne!(print, other, "{:?} / {:?}", variants[i], variants[j]);
            }
        }
        assert_eq!(fingerprint(&variants[4].clone()), prints[4]);
    }
}
