//! `GET /tasks` query parameters: sort, search, filters, page size and
//! cursor. A bad value is a 400 naming its parameter; other parameters are
//! ignored.

use chrono::{DateTime, Utc};
use lambda_http::{Request, RequestExt};

use super::fields::{MAX_LABEL_CHARS, MAX_LABELS};
use crate::{
    cursor::Cursor,
    error::ApiError,
    input::MAX_PAGE_SIZE,
    input::{Filters, ListQuery, TrashQuery},
    search,
    sort::Sort,
};

pub const MAX_QUERY_CHARS: usize = 200;
pub const MAX_QUERY_WORDS: usize = 10;

/// The parameters, in the order the next page's `Link` repeats them.
const ECHOED: [&str; 9] = [
    "sort",
    "q",
    "completed",
    "priority",
    "label",
    "due_before",
    "due_after",
    "overdue",
    "has_due",
];

pub fn list_query(req: &Request) -> Result<ListQuery, ApiError> {
    let params = req.query_string_parameters_ref();
    let all = |name: &str| -> Vec<&str> {
        params
            .and_then(|p| p.all(name))
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    let single = |name: &str| -> Result<Option<&str>, ApiError> {
        match all(name).as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(bad(name, "given more than once")),
        }
    };

    // API Gateway (payload 2.0) joins a repeated parameter's values with
    // commas, and lambda_http splits every value at its commas: `q=milk,
    // bread` arrives as two values. Joined again, `q` is what was sent (a
    // comma separates words anyway). Labels hold no comma, by the contract.
    let q = match all("q").as_slice() {
        [] => None,
        values => Some(values.join(",")),
    };
    let sort = match single("sort")? {
        None => Sort::default(),
        Some(raw) => Sort::parse(raw).ok_or_else(|| {
            bad(
                "sort",
                "must be one of created_at, updated_at, due_by, priority, title, \
                 each optionally preceded by `-`",
            )
        })?,
    };
    let filters = Filters {
        completed: single("completed")?
            .map(|r| boolean("completed", r))
            .transpose()?,
        priority: single("priority")?.map(priority).transpose()?,
        labels: labels(&all("label"))?,
        due_before: single("due_before")?
            .map(|r| time("due_before", r))
            .transpose()?,
        due_after: single("due_after")?
            .map(|r| time("due_after", r))
            .transpose()?,
        overdue: single("overdue")?
            .map(|r| boolean("overdue", r))
            .transpose()?,
        has_due: single("has_due")?
            .map(|r| boolean("has_due", r))
            .transpose()?,
        words: q
            .as_deref()
            .map(query_words)
            .transpose()?
            .unwrap_or_default(),
    };
    let limit = page_size(single("limit")?)?;
    let after = single("cursor")?
        .map(|raw| Cursor::decode(raw).ok_or_else(|| bad("cursor", "is not a valid cursor")))
        .transpose()?;
    if let Some(cursor) = &after
        && !belongs(cursor, sort, &filters)
    {
        return Err(bad(
            "cursor",
            "was made for another sort, search or filters; \
             start again without a cursor, or send the ones it was made with",
        ));
    }
    let echo = ECHOED
        .iter()
        .flat_map(|&name| match (name, &q) {
            ("q", Some(q)) => vec![(name, q.clone())],
            _ => all(name)
                .into_iter()
                .map(|v| (name, v.to_owned()))
                .collect(),
        })
        .collect();
    Ok(ListQuery {
        sort,
        filters,
        limit,
        after,
        echo,
    })
}

/// `GET /trash`: `limit` and `cursor` as the task list takes them; a
/// cursor of another list is a 400 naming `cursor`. Other parameters are
/// ignored.
pub fn trash_query(req: &Request) -> Result<TrashQuery, ApiError> {
    let limit = page_size(single(req, "limit")?)?;
    let after = single(req, "cursor")?
        .map(|raw| match Cursor::decode(raw) {
            Some(cursor) if cursor.is_of_trash() => Ok(cursor),
            Some(_) => Err(bad(
                "cursor",
                "was made for another list; start again without a cursor",
            )),
            None => Err(bad("cursor", "is not a valid cursor")),
        })
        .transpose()?;
    Ok(TrashQuery { limit, after })
}

/// `limit`: 1–1000, default 1000.
/// A parameter given at most once (the pages' `limit`, `cursor`, `since`).
pub(super) fn single<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>, ApiError> {
    match req
        .query_string_parameters_ref()
        .and_then(|p| p.all(name))
        .unwrap_or_default()
        .as_slice()
    {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(bad(name, "given more than once")),
    }
}

pub(super) fn page_size(raw: Option<&str>) -> Result<usize, ApiError> {
    match raw {
        None => Ok(MAX_PAGE_SIZE),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    format!("must be an integer from 1 to {MAX_PAGE_SIZE}"),
                )
            }),
    }
}

/// A cursor continues the list it was made in. One of the first format
/// (before sorts and filters) is a position in the default order, and was
/// never bound to `completed`: it keeps working as it did.
fn belongs(cursor: &Cursor, sort: Sort, filters: &Filters) -> bool {
    cursor.sort == sort
        && match cursor.fingerprint {
            Some(fingerprint) => fingerprint == filters.fingerprint(),
            None => sort == Sort::default() && filters.only_completed(),
        }
}

pub(super) fn bad(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{name}: {reason}"))
}

fn boolean(name: &str, raw: &str) -> Result<bool, ApiError> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(name, "must be `true` or `false`")),
    }
}

fn priority(raw: &str) -> Result<i16, ApiError> {
    match raw {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        "3" => Ok(3),
        _ => Err(bad("priority", "must be 0, 1, 2 or 3")),
    }
}

/// Labels as a task's are written (trimmed like a title, 1–50 characters,
/// no `,`), so that a filter names a label a task could carry; distinct.
fn labels(raw: &[&str]) -> Result<Vec<String>, ApiError> {
    let mut labels: Vec<String> = Vec::with_capacity(raw.len());
    for label in raw {
        let label = label.trim();
        let chars = label.chars().count();
        if !(1..=MAX_LABEL_CHARS).contains(&chars) || label.contains([',', '\0']) {
            return Err(bad(
                "label",
                format!("each must be 1 to {MAX_LABEL_CHARS} characters without `,` or NUL"),
            ));
        }
        labels.push(label.to_owned());
    }
    labels.sort_unstable();
    labels.dedup();
    if labels.len() > MAX_LABELS {
        return Err(bad(
            "label",
            format!("at most {MAX_LABELS} labels (a task carries no more)"),
        ));
    }
    Ok(labels)
}

/// RFC 3339 with an offset. A `+` sent unencoded in a query string reads
/// as a space: `…T10:00:00 02:00` is taken as `…T10:00:00+02:00`.
fn time(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let parsed = DateTime::parse_from_rfc3339(raw).or_else(|e| match raw.rsplit_once(' ') {
        Some((moment, offset)) if moment.contains('T') || moment.contains('t') => {
            DateTime::parse_from_rfc3339(&format!("{moment}+{offset}"))
        }
        _ => Err(e),
    });
    parsed.map(|t| t.to_utc()).map_err(|_| {
        bad(
            name,
            "must be an RFC 3339 date-time with an offset, such as 2026-12-24T17:00:00+01:00",
        )
    })
}

/// `q`: 1–200 characters; 1–10 words between white space. A word is found
/// by the start of each of its runs of letters and digits, as a task's
/// words are made (`search::words`): `e-mail` finds "e-mail" (and "e mail").
/// Distinct and sorted: the order of words changes nothing.
fn query_words(raw: &str) -> Result<Vec<String>, ApiError> {
    let chars = raw.chars().count();
    if !(1..=MAX_QUERY_CHARS).contains(&chars) {
        return Err(bad(
            "q",
            format!("must be 1 to {MAX_QUERY_CHARS} characters"),
        ));
    }
    let spaced = raw.split_whitespace().count();
    if !(1..=MAX_QUERY_WORDS).contains(&spaced) {
        return Err(bad(
            "q",
            format!("must hold 1 to {MAX_QUERY_WORDS} words between white space"),
        ));
    }
    let mut words = search::words(raw);
    if words.is_empty() {
        return Err(bad("q", "must contain a letter or a digit"));
    }
    words.sort_unstable();
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cursor::SortValue, sort::SortField};
    use lambda_http::Body;
    use uuid::Uuid;

    fn query(q: &str) -> Result<ListQuery, ApiError> {
        let req = lambda_http::http::Request::builder()
            .uri(format!("https://x/api/u/tasks?{q}"))
            .body(Body::Empty)
            .unwrap();
        // lambda_http reads the query from its extension, as on Lambda.
        let params: std::collections::HashMap<String, Vec<String>> =
            url_pairs(q)
                .into_iter()
                .fold(Default::default(), |mut m, (k, v)| {
                    m.entry(k).or_default().push(v);
                    m
                });
        let req = req.with_query_string_parameters(params);
        list_query(&req)
    }

    fn url_pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .unwrap()
                        .into_owned()
                };
                (decode(k), decode(v))
            })
            .collect()
    }

    fn detail(q: &str) -> String {
        match query(q) {
            Err(ApiError::BadRequest(d)) => d,
            other => panic!("{q}: expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_old_list() {
        let q = query("").unwrap();
        assert_eq!(q, ListQuery::default());
        assert_eq!(q.sort, Sort::default());
        assert_eq!(q.limit, 1000);
    }

    #[test]
    fn every_sort_both_ways() {
        for (raw, field, descending) in [
            ("created_at", SortField::CreatedAt, false),
            ("-updated_at", SortField::UpdatedAt, true),
            ("due_by", SortField::DueBy, false),
            ("-priority", SortField::Priority, true),
            ("title", SortField::Title, false),
        ] {
            let sort = query(&format!("sort={raw}")).unwrap().sort;
            assert_eq!((sort.field, sort.descending), (field, descending), "{raw}");
            assert_eq!(Sort::from_code(sort.code()), Some(sort));
        }
        for bad in [
            "",
            "-",
            "--title",
            "Title",
            "+title",
            "id",
            "title,priority",
        ] {
            assert!(detail(&format!("sort={bad}")).starts_with("sort:"), "{bad}");
        }
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (q, name) in [
            ("completed=yes", "completed"),
            ("priority=4", "priority"),
            ("priority=-1", "priority"),
            ("priority=01", "priority"),
            ("priority=1&priority=1", "priority"),
            ("label=", "label"),
            ("label=a,b", "label"),
            ("label=%00", "label"),
            (&format!("label={}", "x".repeat(51)), "label"),
            ("due_before=2026-12-24", "due_before"),
            ("due_before=2026-12-24T17:00:00", "due_before"),
            ("due_after=tomorrow", "due_after"),
            ("overdue=1", "overdue"),
            ("has_due=TRUE", "has_due"),
            ("q=", "q"),
            ("q=%20%20", "q"),
            ("q=--%20!!", "q"),
            (&format!("q={}", "a".repeat(201)), "q"),
            ("q=a%20b%20c%20d%20e%20f%20g%20h%20i%20j%20k", "q"),
            ("limit=0", "limit"),
            ("cursor=abc", "cursor"),
        ] {
            assert!(
                detail(q).starts_with(&format!("{name}:")),
                "{q}: {}",
                detail(q)
            );
        }
        let many: String = (0..21).map(|i| format!("label=l{i}&")).collect();
        assert!(detail(&many).starts_with("label:"));
    }

    #[test]
    fn filters_are_read_by_meaning() {
        let q = query(
            "label=b&label=%20a%20&label=b&priority=3&due_before=2026-12-24T17:00:00%2B01:00\
             &due_after=2026-12-24T16:00:00%2001:00&overdue=false&has_due=true&completed=true\
             &q=Mil%20E-mail%20%C3%89t%C3%A9",
        )
        .unwrap();
        let f = &q.filters;
        assert_eq!(f.labels, ["a", "b"]);
        assert_eq!(f.priority, Some(3));
        assert_eq!(
            f.due_before.unwrap().to_rfc3339(),
            "2026-12-24T16:00:00+00:00"
        );
        assert_eq!(
            f.due_after.unwrap().to_rfc3339(),
            "2026-12-24T15:00:00+00:00"
        );
        assert_eq!(
            (f.overdue, f.has_due, f.completed),
            (Some(false), Some(true), Some(true))
        );
        assert_eq!(f.words, ["e", "mail", "mil", "été"]);
        // Spelling aside, the same filters are the same fingerprint.
        let same = query(
            "q=%C3%A9t%C3%A9%20mail%20e%20MIL&label=a&label=b&priority=3&overdue=false\
             &due_before=2026-12-24T16:00:00Z&due_after=2026-12-24T15:00:00Z&has_due=true\
             &completed=true",
        )
        .unwrap();
        assert_eq!(same.filters.fingerprint(), f.fingerprint());
        let other = query("label=a&label=b&priority=3").unwrap();
        assert_ne!(other.filters.fingerprint(), f.fingerprint());
        // The Link repeats them as sent, in a fixed order.
        let names: Vec<&str> = q.echo.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "q",
                "completed",
                "priority",
                "label",
                "label",
                "label",
                "due_before",
                "due_after",
                "overdue",
                "has_due"
            ]
        );
        assert_eq!(q.echo[0].1, "Mil E-mail Été");
    }

    #[test]
    fn a_q_split_at_its_commas_is_joined_again() {
        // What lambda_http makes of API Gateway's `"q": "milk, bread"`.
        let q = query("q=milk&q=%20bread").unwrap();
        assert_eq!(q.filters.words, ["bread", "milk"]);
        assert_eq!(q.echo, [("q", "milk, bread".to_owned())]);
    }

    #[test]
    fn a_cursor_is_bound_to_its_sort_and_filters() {
        let made = query("sort=title&q=milk&priority=2").unwrap();
        let cursor = Cursor {
            sort: made.sort,
            fingerprint: Some(made.filters.fingerprint()),
            key: SortValue::Text("buy milk".into()),
            id: Uuid::now_v7(),
        }
        .encode();
        assert!(query(&format!("sort=title&priority=2&q=MILK&cursor={cursor}")).is_ok());
        for other in [
            "sort=-title&q=milk&priority=2",
            "sort=title&q=milk",
            "sort=title&q=mil&priority=2",
            "q=milk&priority=2",
        ] {
            assert!(
                detail(&format!("{other}&cursor={cursor}")).starts_with("cursor:"),
                "{other}"
            );
        }
        // The first format: the default order, with or without `completed`.
        let mut old = [0u8; 24];
        old[..8].copy_from_slice(&1_770_000_000_000_000i64.to_be_bytes());
        use base64::Engine;
        let old = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(old);
        assert!(query(&format!("cursor={old}")).is_ok());
        assert!(query(&format!("cursor={old}&completed=true&sort=-created_at")).is_ok());
        assert!(detail(&format!("cursor={old}&sort=created_at")).starts_with("cursor:"));
        assert!(detail(&format!("cursor={old}&q=x")).starts_with("cursor:"));
        assert!(detail(&format!("cursor={old}&has_due=true")).starts_with("cursor:"));
    }

    fn trash(q: &str) -> Result<TrashQuery, ApiError> {
        let req = lambda_http::http::Request::builder()
            .uri(format!("https://x/api/u/trash?{q}"))
            .body(Body::Empty)
            .unwrap();
        let params: std::collections::HashMap<String, Vec<String>> =
            url_pairs(q)
                .into_iter()
                .fold(Default::default(), |mut m, (k, v)| {
                    m.entry(k).or_default().push(v);
                    m
                });
        trash_query(&req.with_query_string_parameters(params))
    }

    #[test]
    fn a_trash_cursor_belongs_to_the_trash_alone() {
        let in_trash = Cursor {
            sort: Sort::default(),
            fingerprint: Some(crate::cursor::TRASH_FINGERPRINT),
            key: SortValue::Time(1_234_567),
            id: Uuid::now_v7(),
        };
        let of_tasks = Cursor {
            fingerprint: Some(Filters::default().fingerprint()),
            ..in_trash.clone()
        };
        let (t, l) = (in_trash.encode(), of_tasks.encode());
        let read = trash(&format!("limit=5&cursor={t}&sort=title")).unwrap();
        assert_eq!((read.limit, read.after), (5, Some(in_trash)));
        assert_eq!(
            trash("").unwrap(),
            TrashQuery {
                limit: MAX_PAGE_SIZE,
                after: None
            }
        );
        assert!(query(&format!("cursor={l}")).is_ok());
        assert!(detail(&format!("cursor={t}")).starts_with("cursor:"));
        for bad in [
            format!("cursor={l}"),
            "cursor=abc".to_owned(),
            "limit=0".to_owned(),
            "limit=1001".to_owned(),
            "limit=1&limit=1".to_owned(),
        ] {
            let name = bad.split('=').next().unwrap();
            match trash(&bad) {
                Err(ApiError::BadRequest(d)) => assert!(d.starts_with(name), "{bad}: {d}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        // A first-format cursor (24 bytes) is a /tasks position only.
        let first =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [7u8; 24]);
        assert!(trash(&format!("cursor={first}")).is_err());
    }
}
