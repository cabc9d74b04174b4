//! The rules of the fields issue 27 added to a task: `due`, `time_zone`,
//! `priority`, `labels`. Each error names its field.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::{error::ApiError, input::Due};

/// The last date a date `due` may name: its `due_by` (the next midnight,
/// anywhere on Earth) must still fall in year 9999.
pub const LAST_DUE_DATE: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 30).expect("a date");
pub const MAX_PRIORITY: i64 = 3;
pub const MAX_LABELS: usize = 20;
pub const MAX_LABEL_CHARS: usize = 50;
/// Longer than any IANA name (the longest is 32 characters): a cheap bound
/// before the database checks the name.
pub const MAX_TIME_ZONE_CHARS: usize = 64;

/// A date `YYYY-MM-DD` (years 1 to 9999-12-30), or an RFC 3339 date-time
/// with an offset whose moment falls in years 1–9999 in UTC as sent and in
/// UTC. Fractions beyond microseconds are cut; a leap second (`:60`) is the
/// moment after, as PostgreSQL reads it.
pub fn due(raw: &str) -> Result<Due, ApiError> {
    if raw.len() == 10 {
        let date = date(raw).ok_or_else(|| {
            ApiError::bad_request(format!(
                "due: {raw:?} is not a calendar date YYYY-MM-DD (years 0001-9999)"
            ))
        })?;
        if date > LAST_DUE_DATE {
            return Err(ApiError::bad_request(
                "due: a date due must be at most 9999-12-30",
            ));
        }
        return Ok(Due::Date(date));
    }
    let moment = DateTime::parse_from_rfc3339(raw).map_err(|_| {
        ApiError::bad_request(
            "due: must be null, a date YYYY-MM-DD or an RFC 3339 date-time with an offset \
             (2026-12-24T17:00:00+01:00)",
        )
    })?;
    let utc = moment.with_timezone(&Utc);
    // Whole microseconds: what PostgreSQL stores and the API answers.
    let utc = DateTime::from_timestamp_micros(utc.timestamp_micros()).unwrap_or(utc);
    let in_range = |year: i32| (1..=9999).contains(&year);
    if !in_range(moment.year()) || !in_range(utc.year()) {
        return Err(ApiError::bad_request(
            "due: a date-time due must fall in years 0001-9999, in UTC too",
        ));
    }
    Ok(Due::At(utc))
}

/// `YYYY-MM-DD` exactly: four-digit year from 0001, two-digit month and day.
fn date(raw: &str) -> Option<NaiveDate> {
    let bytes = raw.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = bytes.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0, |value, digit| value * 10 + u32::from(digit - b'0'))
        })
    };
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)?;
    (year >= 1).then_some(date)
}

/// An IANA zone name's shape; the database's `time_zones` table decides
/// whether it is one (a 400 naming `time_zone` when not).
pub fn time_zone(raw: String) -> Result<String, ApiError> {
    let shaped = !raw.is_empty()
        && raw.len() <= MAX_TIME_ZONE_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b));
    if !shaped {
        return Err(ApiError::bad_request(unknown_time_zone(&raw)));
    }
    Ok(raw)
}

/// The detail of the 400 for a name that is not an IANA time zone name
/// (here, or when the database does not know it).
pub fn unknown_time_zone(raw: &str) -> String {
    let shown: String = raw.chars().take(MAX_TIME_ZONE_CHARS).collect();
    format!(
        "time_zone: {shown:?} is not an IANA time zone name (such as \"Europe/Berlin\" or \"UTC\")"
    )
}

/// 0 (none) to 3 (high): a JSON integer, which JSON Schema takes to be any
/// number without a fraction (`2.0` is 2; `2.5` is refused).
pub fn priority(raw: serde_json::Number) -> Result<i16, ApiError> {
    let value = raw.as_i64().or_else(|| {
        raw.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=MAX_PRIORITY as f64).contains(f))
            .map(|f| f as i64)
    });
    match value {
        Some(priority @ 0..=MAX_PRIORITY) => Ok(priority as i16),
        _ => Err(ApiError::bad_request(format!(
            "priority: must be an integer from 0 to {MAX_PRIORITY}"
        ))),
    }
}

/// At most 20 as sent; each trimmed like a title, then 1–50 characters
/// without `,`; duplicates after trimming dropped, the first kept.
pub fn labels(raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    if raw.len() > MAX_LABELS {
        return Err(ApiError::bad_request(format!(
            "labels: at most {MAX_LABELS} labels"
        )));
    }
    let mut labels: Vec<String> = Vec::with_capacity(raw.len());
    for (at, label) in raw.iter().enumerate() {
        let label = label.trim();
        let chars = label.chars().count();
        if chars == 0 || chars > MAX_LABEL_CHARS {
            return Err(ApiError::bad_request(format!(
                "labels[{at}]: must be 1-{MAX_LABEL_CHARS} characters after trimming white space"
            )));
        }
        if label.contains(',') {
            return Err(ApiError::bad_request(format!(
                "labels[{at}]: must not contain a comma"
            )));
        }
        if label.contains('\0') {
            return Err(ApiError::bad_request(format!(
                "labels[{at}]: must not contain NUL (U+0000) characters"
            )));
        }
        if !labels.iter().any(|kept| kept == label) {
            labels.push(label.to_owned());
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        match result.unwrap_err() {
            ApiError::BadRequest(d) => d,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    fn at(text: &str) -> Due {
        Due::At(DateTime::parse_from_rfc3339(text).unwrap().to_utc())
    }

    #[test]
    fn a_date_is_kept_as_a_date() {
        let date = |y, m, d| Due::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        assert_eq!(due("2026-12-24").unwrap(), date(2026, 12, 24));
        assert_eq!(due("0001-01-01").unwrap(), date(1, 1, 1));
        assert_eq!(due("9999-12-30").unwrap(), date(9999, 12, 30));
        assert_eq!(due("2028-02-29").unwrap(), date(2028, 2, 29));
        for bad in [
            "9999-12-31",
            "0000-01-01",
            "2026-02-29",
            "2026-13-01",
            "2026-1-010",
            "2026/12/24",
            "+2026-1224",
            "2026-12-2x",
            "２０２６-12-2",
        ] {
            assert!(detail(due(bad)).starts_with("due:"), "{bad}");
        }
    }

    #[test]
    fn a_date_time_needs_an_offset_and_becomes_utc() {
        assert_eq!(
            due("2026-12-24T17:00:00+01:00").unwrap(),
            at("2026-12-24T16:00:00Z")
        );
        assert_eq!(
            due("2026-12-24T16:00:00.1234567Z").unwrap(),
            at("2026-12-24T16:00:00.123456Z")
        );
        assert_eq!(
            due("2026-12-31T23:59:60Z").unwrap(),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            due("0001-01-01T00:00:00Z").unwrap(),
            at("0001-01-01T00:00:00Z")
        );
        for bad in [
            "2026-12-24T17:00:00",
            "2026-12-24T17:00",
            "2026-12-24 17:00:00+01:00x",
            "2026-12-24T25:00:00Z",
            "tomorrow",
            "",
            "0000-12-31T23:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-12:00",
        ] {
            assert!(detail(due(bad)).starts_with("due:"), "{bad}");
        }
    }

    #[test]
    fn time_zone_names_are_shaped_like_iana_names() {
        for name in [
            "UTC",
            "Europe/Berlin",
            "America/Port-au-Prince",
            "Etc/GMT+12",
        ] {
            assert_eq!(time_zone(name.into()).unwrap(), name);
        }
        for bad in [
            "",
            "Europe Berlin",
            "Europe/Berlin\0",
            "Zürich",
            &"A".repeat(65),
        ] {
            assert!(detail(time_zone(bad.into())).starts_with("time_zone:"));
        }
    }

    #[test]
    fn priority_is_0_to_3() {
        let number = |text: &str| serde_json::from_str::<serde_json::Number>(text).unwrap();
        assert_eq!(priority(number("0")).unwrap(), 0);
        assert_eq!(priority(number("3")).unwrap(), 3);
        assert_eq!(priority(number("2.0")).unwrap(), 2);
        assert_eq!(priority(number("1e0")).unwrap(), 1);
        for bad in [
            "-1",
            "4",
            "32768",
            "-9223372036854775808",
            "1.5",
            "3.0000001",
            "1e20",
            "-0.5",
        ] {
            assert!(
                detail(priority(number(bad))).starts_with("priority:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn labels_are_trimmed_checked_and_deduplicated() {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            labels(strings(&[" home ", "work", "home", "\u{3000}work"])).unwrap(),
            strings(&["home", "work"])
        );
        assert_eq!(labels(vec![]).unwrap(), Vec::<String>::new());
        assert_eq!(labels(vec!["é".repeat(50)]).unwrap(), vec!["é".repeat(50)]);
        // 20 as sent, even when fewer are kept.
        assert_eq!(labels(vec!["a".into(); 20]).unwrap(), strings(&["a"]));
        assert!(detail(labels(vec!["a".into(); 21])).starts_with("labels:"));
        assert!(detail(labels(vec!["é".repeat(51)])).starts_with("labels[0]:"));
        assert!(detail(labels(strings(&["a", "  "]))).starts_with("labels[1]:"));
        assert!(detail(labels(strings(&["a,b"]))).contains("comma"));
        assert!(detail(labels(strings(&["a\0"]))).contains("NUL"));
    }
}
