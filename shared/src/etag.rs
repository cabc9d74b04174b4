//! Versions: strong ETags, and the `If-Match` / `If-None-Match`
//! preconditions that name them (RFC 9110 §8.8.3, §13.1).
//!
//! A task's ETag is its `updated_at` (which strictly increases on every
//! change) as opaque text: comparing versions is comparing timestamps, so
//! the check and the change are one statement (`repository`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Datelike, Utc};
use lambda_http::{Request, http::HeaderName};

use crate::error::ApiError;

/// The strong ETag of a task last changed at `updated_at`.
pub fn of_version(updated_at: DateTime<Utc>) -> String {
    format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(updated_at.timestamp_micros().to_be_bytes())
    )
}

/// The version a strong ETag of ours names, if it is one. Ours name
/// times PostgreSQL wrote; a forged tag may name any instant chrono can
/// hold, some beyond what a `timestamptz` parameter can carry (a 500 once):
/// one outside years 1–9999 names no version of ours.
fn version(opaque: &str) -> Option<DateTime<Utc>> {
    let inner = opaque.strip_prefix('"')?.strip_suffix('"')?;
    let bytes: [u8; 8] = URL_SAFE_NO_PAD.decode(inner).ok()?.try_into().ok()?;
    DateTime::from_timestamp_micros(i64::from_be_bytes(bytes))
        .filter(|t| (1..=9999).contains(&t.year()))
}

/// One entity tag: `W/"x"` or `"x"` (the quotes kept).
#[derive(Debug, PartialEq, Eq)]
pub struct EntityTag {
    weak: bool,
    opaque: String,
}

/// A precondition header: `*`, or a list of entity tags.
#[derive(Debug, PartialEq, Eq)]
pub enum Condition {
    Any,
    Tags(Vec<EntityTag>),
}

impl Condition {
    /// `If-None-Match`: weak comparison, so `W/"x"` matches `"x"`.
    pub fn matches_weakly(&self, etag: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| t.opaque == etag),
        }
    }

    /// `If-Match`: the versions a write may change (strong comparison, so
    /// weak tags name none); `None` for `*`, which any existing task meets.
    pub fn versions(&self) -> Option<Vec<DateTime<Utc>>> {
        match self {
            Self::Any => None,
            Self::Tags(tags) => Some(
                tags.iter()
                    .filter(|t| !t.weak)
                    .filter_map(|t| version(&t.opaque))
                    .collect(),
            ),
        }
    }
}

/// The versions `If-Match` lets a write change; `None` when any will do
/// (no header, or `*`).
pub fn if_match_versions(req: &Request) -> Result<Option<Vec<DateTime<Utc>>>, ApiError> {
    let condition = condition(req, lambda_http::http::header::IF_MATCH)?;
    Ok(condition.and_then(|c| c.versions()))
}

/// A batch operation's `if_match` (the header's value, as a JSON string):
/// the versions it lets the operation change, as `if_match_versions`.
pub fn if_match_field(value: &str) -> Result<Option<Vec<DateTime<Utc>>>, ApiError> {
    parse(value).map(|c| c.versions()).ok_or_else(|| {
        ApiError::bad_request(
            "if_match: must be `*` or a list of entity tags such as \"abc\" or W/\"abc\"",
        )
    })
}

pub fn if_none_match(req: &Request) -> Result<Option<Condition>, ApiError> {
    condition(req, lambda_http::http::header::IF_NONE_MATCH)
}

/// The header's condition, if it was sent (repeats are one list); a
/// malformed one is a 400 naming it.
fn condition(req: &Request, name: HeaderName) -> Result<Option<Condition>, ApiError> {
    let mut values = req.headers().get_all(&name).iter().peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    let malformed = || {
        ApiError::bad_request(format!(
            "{}: must be `*` or a list of entity tags such as \"abc\" or W/\"abc\"",
            canonical(&name)
        ))
    };
    let mut text = String::new();
    for value in values {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(value.to_str().map_err(|_| malformed())?);
    }
    parse(&text).map(Some).ok_or_else(malformed)
}

/// `If-Match`, `If-None-Match`, as the contract names them.
fn canonical(name: &HeaderName) -> &'static str {
    if name == lambda_http::http::header::IF_MATCH {
        "If-Match"
    } else {
        "If-None-Match"
    }
}

/// `*`, or `#entity-tag` (empty elements allowed, at least one tag).
fn parse(text: &str) -> Option<Condition> {
    if text.trim() == "*" {
        return Some(Condition::Any);
    }
    let mut tags = Vec::new();
    let mut rest = text.trim_start_matches([' ', '\t', ',']);
    while !rest.is_empty() {
        let (weak, tail) = match rest.strip_prefix("W/") {
            Some(tail) => (true, tail),
            None => (false, rest),
        };
        let inner = tail.strip_prefix('"')?;
        let end = inner.find('"')?;
        let opaque = &inner[..end];
        // etagc: %x21 / %x23-7E / obs-text (no controls, space or quote).
        if !opaque
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        tags.push(EntityTag {
            weak,
            opaque: format!("\"{opaque}\""),
        });
        rest = inner[end + 1..].trim_start_matches([' ', '\t']);
        match rest.strip_prefix(',') {
            Some(next) => rest = next.trim_start_matches([' ', '\t', ',']),
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    (!tags.is_empty()).then_some(Condition::Tags(tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SubsecRound;

    fn tag(weak: bool, opaque: &str) -> EntityTag {
        EntityTag {
            weak,
            opaque: opaque.into(),
        }
    }

    #[test]
    fn only_tags_naming_a_storable_instant_are_versions() {
        let now = Utc::now();
        assert_eq!(version(&of_version(now)), Some(now.trunc_subsecs(6)));
        // Found by schemathesis: 8 bytes that decode to an instant beyond
        // what PostgreSQL's timestamptz holds.
        assert_eq!(version("\"25EZApTByAA\""), None);
        for micros in [i64::MIN, i64::MAX, -62_135_596_800_000_001] {
            let forged = format!("\"{}\"", URL_SAFE_NO_PAD.encode(micros.to_be_bytes()));
            assert_eq!(version(&forged), None, "{micros}");
        }
    }

    #[test]
    fn headers_parse_as_rfc_9110_lists() {
        assert_eq!(parse("*"), Some(Condition::Any));
        assert_eq!(
            parse(r#""a", W/"b" ,,"c""#),
            Some(Condition::Tags(vec![
                tag(false, "\"a\""),
                tag(true, "\"b\""),
                tag(false, "\"c\"")
            ]))
        );
        assert_eq!(
            parse(r#""""#),
            Some(Condition::Tags(vec![tag(false, "\"\"")]))
        );
        for bad in [
            "",
            "abc",
            "\"a",
            "\"a\" \"b\"",
            "W/a",
            "*, \"a\"",
            "\"a b\"",
            ",",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions_round_trip_and_compare_strongly() {
        let t = DateTime::from_timestamp_micros(1_770_000_000_123_456).unwrap();
        let etag = of_version(t);
        assert_eq!(version(&etag), Some(t));
        let strong = parse(&etag).unwrap();
        assert_eq!(strong.versions(), Some(vec![t]));
        assert!(strong.matches_weakly(&etag));
        let weak = parse(&format!("W/{etag}")).unwrap();
        assert_eq!(
            weak.versions(),
            Some(vec![]),
            "a weak tag never matches If-Match"
        );
        assert!(weak.matches_weakly(&etag), "but does If-None-Match");
        assert_eq!(parse("*").unwrap().versions(), None);
        assert!(!parse(r#""other""#).unwrap().matches_weakly(&etag));
    }
}
