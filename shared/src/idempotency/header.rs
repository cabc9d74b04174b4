//! The `Idempotency-Key` header (IETF
//! draft-ietf-httpapi-idempotency-key-header), and the fingerprint that
//! tells a retry of the same task from a reuse of the key for another.

use lambda_http::{Request, http::HeaderName};
use sha2::{Digest, Sha256};

use crate::{error::ApiError, input::NewTask};

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

/// SHA-256 of the validated task: a retry must send the same title and
/// description. Each field is length-prefixed, so no two tasks share an
/// encoding (and an absent description differs from an empty one).
pub fn fingerprint(task: &NewTask) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update((task.title.len() as u64).to_be_bytes());
    hash.update(task.title.as_bytes());
    match &task.description {
        None => hash.update([0]),
        Some(d) => {
            hash.update([1]);
            hash.update((d.len() as u64).to_be_bytes());
            hash.update(d.as_bytes());
        }
    }
    hash.finalize().into()
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
        let task = |title: &str, description: Option<&str>| NewTask {
            title: title.into(),
            description: description.map(Into::into),
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
}
