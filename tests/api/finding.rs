//! GET /tasks with `sort`, `q` and the filters: every order both ways,
//! search by word starts, each filter and their combinations, cursor walks
//! that visit every match once, cursors bound to their query, `Link`.
//!
//! Tasks are seeded with SQL that fills every column as the API writes it
//! (the words by `shared::search::words`), so that each case controls its
//! times, dues, priorities and labels exactly.

use std::collections::HashSet;

use integration_tests::*;
use serde_json::Value;
use uuid::Uuid;

/// A task to seed: created `created` seconds before a fixed moment,
/// updated `updated` seconds after its creation.
#[derive(Clone)]
struct Seed {
    title: &'static str,
    description: Option<&'static str>,
    created: i64,
    updated: i64,
    /// SQL for `due_date`, `due_at` and `time_zone`.
    due: Due,
    priority: i16,
    labels: &'static [&'static str],
    completed: bool,
}

#[derive(Clone, Copy)]
enum Due {
    None,
    /// A moment, seconds from now (negative: passed).
    At(i64),
    /// A date with its zone.
    Date(&'static str, &'static str),
}

fn seed(title: &'static str) -> Seed {
    Seed {
        title,
        description: None,
        created: 0,
        updated: 0,
        due: Due::None,
        priority: 0,
        labels: &[],
        completed: false,
    }
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Inserts `seeds` for `user` (ids random: ties are broken by them) and
/// returns their ids, in `seeds`' order.
async fn insert(app: &TestApp, user: &str, seeds: &[Seed]) -> Vec<Uuid> {
    let client = app.db.client().await;
    client
        .execute(
            "INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&user],
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for s in seeds {
        // Ids in no order of insertion: ties must be broken by them.
        let n = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id =
            Uuid::from_u128(u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
        let (due_date, due_at, zone): (Option<&str>, Option<i64>, &str) = match s.due {
            Due::None => (None, None, "UTC"),
            Due::At(secs) => (None, Some(secs), "UTC"),
            Due::Date(date, zone) => (Some(date), None, zone),
        };
        let title_words = shared::search::words(s.title);
        let description_words = shared::search::words(s.description.unwrap_or_default());
        client
            .execute(
                "INSERT INTO tasks (id, user_id, title, description, completed,
                    created_at, updated_at, due_date, due_at, time_zone, priority, labels,
                    title_words, description_words)
                 VALUES ($1, $2, $3, $4, $5,
                    '2026-01-01T00:00:00Z'::timestamptz - $6 * interval '1 second',
                    '2026-01-01T00:00:00Z'::timestamptz - ($6 - $7) * interval '1 second',
                    $8::text::date, now() + $9 * interval '1 second', $10, $11, $12,
                    array_to_tsvector($13::text[]), array_to_tsvector($14::text[]))",
                &[
                    &id,
                    &user,
                    &s.title,
                    &s.description,
                    &s.completed,
                    &(s.created as f64),
                    &(s.updated as f64),
                    &due_date,
                    &due_at.map(|d| d as f64),
                    &zone,
                    &s.priority,
                    &s.labels,
                    &title_words,
                    &description_words,
                ],
            )
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

struct Listed {
    status: StatusCode,
    ids: Vec<Uuid>,
    body: Value,
    link: Option<String>,
    etag: Option<String>,
}

async fn list(app: &TestApp, user: &str, query: &str) -> Listed {
    let path = format!("/api/{user}/tasks{query}");
    let reply = app.send(Method::GET, &path, Some(&token(user)), None).await;
    let ids = reply
        .json
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .map(|t| t["id"].as_str().unwrap().parse().unwrap())
                .collect()
        })
        .unwrap_or_default();
    Listed {
        status: reply.status,
        ids,
        link: reply.header("link"),
        etag: reply.header("etag"),
        body: reply.json,
    }
}

/// The path inside `<...>; rel="next"`.
fn next_path(link: &str) -> &str {
    assert!(link.ends_with(r#">; rel="next""#), "{link}");
    link.trim_start_matches('<').split('>').next().unwrap()
}

/// Every page of `query` by `Link`, `limit` at a time: the ids in order.
async fn walk(app: &TestApp, user: &str, query: &str, limit: usize) -> Vec<Uuid> {
    let sep = if query.is_empty() { "?" } else { "&" };
    let mut page = list(app, user, &format!("{query}{sep}limit={limit}")).await;
    let mut seen = Vec::new();
    loop {
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
        assert!(page.ids.len() <= limit);
        seen.extend(page.ids.iter().copied());
        let Some(link) = page.link.clone() else {
            break;
        };
        let path = next_path(&link);
        let prefix = format!("/api/{user}/tasks");
        page = list(app, user, path.strip_prefix(&prefix).unwrap()).await;
    }
    seen
}

/// The ids of all of `query`'s matches in one page.
async fn all(app: &TestApp, user: &str, query: &str) -> Vec<Uuid> {
    let listed = list(app, user, query).await;
    assert_eq!(listed.status, StatusCode::OK, "{query}: {}", listed.body);
    assert_eq!(listed.link, None);
    listed.ids
}

/// `expected` (indexes into `ids`) as ids.
fn pick(ids: &[Uuid], expected: &[usize]) -> Vec<Uuid> {
    expected.iter().map(|&i| ids[i]).collect()
}

fn as_set(ids: &[Uuid]) -> HashSet<Uuid> {
    ids.iter().copied().collect()
}

#[tokio::test]
async fn every_sort_both_ways_breaks_ties_by_id_and_pages_through_every_task_once() {
    let app = TestApp::spawn().await;
    let mut seeds = Vec::new();
    // Ties on every key, dues of both kinds and none, titles whose
    // lower-cased code points order differently from their bytes.
    for (i, title) in ["b", "B", "a", "Zebra", "été", "Ézra", "ε", "Ab", "b", "zz"]
        .into_iter()
        .enumerate()
    {
        let i = i as i64;
        seeds.push(Seed {
            created: i % 4,
            updated: (i * 7) % 3,
            priority: (i % 3) as i16,
            due: match i % 4 {
                0 => Due::None,
                1 => Due::At(3600 * (i % 3)),
                2 => Due::Date("2030-06-01", "Europe/Berlin"),
                _ => Due::Date("2030-06-01", "Europe/Berlin"),
            },
            ..seed(title)
        });
    }
    let ids = insert(&app, "u1", &seeds).await;
    let client = app.db.client().await;
    // The keys as stored, read back: due_by as PostgreSQL computed it.
    let mut rows = Vec::new();
    for id in &ids {
        let row = client
            .query_one(
                "SELECT created_at, updated_at, due_by, priority, title FROM tasks WHERE id = $1",
                &[id],
            )
            .await
            .unwrap();
        rows.push(row);
    }
    type Key = (Option<chrono::DateTime<chrono::Utc>>, i16, String);
    let key_of = |i: usize, field: &str| -> Key {
        let r = &rows[i];
        match field {
            "created_at" => (Some(r.get(0)), 0, String::new()),
            "updated_at" => (Some(r.get(1)), 0, String::new()),
            "due_by" => (r.get(2), 0, String::new()),
            "priority" => (None, r.get(3), String::new()),
            _ => (None, 0, r.get::<_, String>(4).to_lowercase()),
        }
    };
    for field in ["created_at", "updated_at", "due_by", "priority", "title"] {
        for descending in [false, true] {
            let mut expected: Vec<usize> = (0..ids.len()).collect();
            expected.sort_by(|&a, &b| {
                let (ka, kb) = (key_of(a, field), key_of(b, field));
                let by_key = if field == "due_by" {
                    // No due: last in either direction.
                    match (ka.0, kb.0) {
                        (None, None) => std::cmp::Ordering::Equal,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (Some(x), Some(y)) if descending => y.cmp(&x),
                        (Some(x), Some(y)) => x.cmp(&y),
                    }
                } else if descending {
                    // Strings compare by code point, as `C` does bytes of UTF-8.
                    kb.cmp(&ka)
                } else {
                    ka.cmp(&kb)
                };
                let by_id = if descending {
                    ids[b].cmp(&ids[a])
                } else {
                    ids[a].cmp(&ids[b])
                };
                by_key.then(by_id)
            });
            let sort = format!("{}{field}", if descending { "-" } else { "" });
            let query = format!("?sort={sort}");
            assert_eq!(
                all(&app, "u1", &query).await,
                pick(&ids, &expected),
                "{sort}"
            );
            for limit in [1, 3] {
                assert_eq!(
                    walk(&app, "u1", &query, limit).await,
                    pick(&ids, &expected),
                    "{sort} by {limit}"
                );
            }
        }
    }
    // The default is -created_at, as before.
    assert_eq!(
        all(&app, "u1", "").await,
        all(&app, "u1", "?sort=-created_at").await
    );
}

#[tokio::test]
async fn search_finds_word_starts_ignoring_case_but_not_accents() {
    let app = TestApp::spawn().await;
    let ids = insert(
        &app,
        "u1",
        &[
            seed("Buy milk"),
            Seed {
                description: Some("Send the e-mail to Zoë, ÉTÉ edition"),
                ..seed("Newsletter")
            },
            seed("été à Paris"),
            seed("MILKSHAKE for Eve"),
            seed("Résumé v2"),
        ],
    )
    .await;
    let found = |q: &'static str| {
        let app = &app;
        async move { as_set(&all(app, "u1", &format!("?q={q}")).await) }
    };
    let set = |expected: &[usize]| as_set(&pick(&ids, expected));
    assert_eq!(found("mil").await, set(&[0, 3]));
    assert_eq!(found("MIL").await, set(&[0, 3]));
    assert_eq!(found("milk").await, set(&[0, 3]));
    assert_eq!(found("ilk").await, set(&[]), "inside a word is no start");
    assert_eq!(found("e").await, set(&[1, 3]), "`e` is not `é`");
    assert_eq!(found("%C3%A9t").await, set(&[1, 2]), "`ét` finds été");
    assert_eq!(found("%C3%89T%C3%89").await, set(&[1, 2]), "case ignored");
    assert_eq!(found("buy%20mil").await, set(&[0]), "every word");
    assert_eq!(found("mil%20%20eve").await, set(&[3]));
    assert_eq!(
        found("zo%C3%AB%20send").await,
        set(&[1]),
        "the description too"
    );
    assert_eq!(found("e-mail").await, set(&[1]), "punctuation splits words");
    assert_eq!(found("v2").await, set(&[4]));
    assert_eq!(found("2").await, set(&[]));
    assert_eq!(found("buy%20milk%20xyz").await, set(&[]));
    // Results follow the sort.
    let by_title = all(&app, "u1", "?q=mil&sort=title").await;
    assert_eq!(by_title, pick(&ids, &[0, 3]));
    let by_title = all(&app, "u1", "?q=mil&sort=-title").await;
    assert_eq!(by_title, pick(&ids, &[3, 0]));
}

#[tokio::test]
async fn each_filter_and_their_combinations() {
    let app = TestApp::spawn().await;
    let ids = insert(
        &app,
        "u1",
        &[
            // 0: overdue
            Seed {
                due: Due::At(-3600),
                priority: 3,
                labels: &["work", "Urgent"],
                ..seed("Pay rent")
            },
            // 1: due passed but completed: not overdue
            Seed {
                due: Due::At(-7200),
                completed: true,
                labels: &["work"],
                ..seed("Call bank")
            },
            // 2: due in a day
            Seed {
                due: Due::At(86_400),
                priority: 3,
                labels: &["urgent"],
                ..seed("Buy milk")
            },
            // 3: no due
            Seed {
                priority: 1,
                labels: &["work", "urgent"],
                ..seed("Write report")
            },
            // 4: a date due, far ahead
            Seed {
                due: Due::Date("2099-01-01", "Asia/Tokyo"),
                completed: true,
                ..seed("Renew passport")
            },
        ],
    )
    .await;
    let found = |q: String| {
        let app = &app;
        async move { as_set(&all(app, "u1", &format!("?{q}")).await) }
    };
    let set = |expected: &[usize]| as_set(&pick(&ids, expected));
    assert_eq!(found("priority=3".into()).await, set(&[0, 2]));
    assert_eq!(found("priority=0".into()).await, set(&[1, 4]));
    assert_eq!(found("label=work".into()).await, set(&[0, 1, 3]));
    assert_eq!(
        found("label=work&label=urgent".into()).await,
        set(&[3]),
        "every label"
    );
    assert_eq!(found("label=Urgent".into()).await, set(&[0]), "exact case");
    assert_eq!(
        found("label=urg".into()).await,
        set(&[]),
        "exact, not a prefix"
    );
    assert_eq!(found("overdue=true".into()).await, set(&[0]));
    assert_eq!(found("overdue=false".into()).await, set(&[1, 2, 3, 4]));
    assert_eq!(found("has_due=true".into()).await, set(&[0, 1, 2, 4]));
    assert_eq!(found("has_due=false".into()).await, set(&[3]));
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let enc = |t: &str| t.replace('+', "%2B");
    assert_eq!(
        found(format!("due_before={}", enc(&in_an_hour))).await,
        set(&[0, 1])
    );
    assert_eq!(
        found(format!("due_after={}", enc(&in_an_hour))).await,
        set(&[2, 4])
    );
    // `due_after` is ≥: a task due at exactly that moment is in it.
    assert_eq!(
        found("due_after=2099-01-01T15:00:00%2B00:00".into()).await,
        set(&[4]),
        "the end of 2099-01-01 in Tokyo"
    );
    assert_eq!(
        found("due_before=2099-01-02T00:00:00%2B09:00".into()).await,
        set(&[0, 1, 2])
    );
    for sort in ["", "&sort=due_by", "&sort=-due_by", "&sort=title"] {
        assert_eq!(
            found(format!("completed=false&has_due=true{sort}")).await,
            set(&[0, 2]),
            "{sort}"
        );
        assert_eq!(
            found(format!("label=urgent&priority=3&q=buy{sort}")).await,
            set(&[2]),
            "{sort}"
        );
        assert_eq!(
            found(format!(
                "overdue=false&due_before={}{sort}",
                enc(&in_an_hour)
            ))
            .await,
            set(&[1]),
            "{sort}"
        );
        assert_eq!(
            found(format!("has_due=false&overdue=false&q=rep{sort}")).await,
            set(&[3]),
            "{sort}"
        );
        assert_eq!(
            found(format!(
                "completed=true&due_after={}{sort}",
                enc(&in_an_hour)
            ))
            .await,
            set(&[4]),
            "{sort}"
        );
    }
}

#[tokio::test]
async fn filtered_walks_visit_every_match_once_and_link_repeats_the_query() {
    let app = TestApp::spawn().await;
    let mut seeds = Vec::new();
    for i in 0..23i64 {
        seeds.push(Seed {
            created: i / 3,
            updated: i % 2,
            priority: (i % 4) as i16,
            due: if i % 3 == 0 {
                Due::None
            } else {
                Due::At(i * 60 - 600)
            },
            labels: if i % 2 == 0 {
                &["even", "x y"]
            } else {
                &["odd"]
            },
            description: Some(if i % 5 == 0 { "with milk" } else { "plain" }),
            ..seed(["Milk run", "milk", "MILKY way", "Oat milk"][i as usize % 4])
        });
    }
    insert(&app, "u1", &seeds).await;
    insert(&app, "u2", &seeds).await;
    for filter in [
        "q=milk",
        "label=even&label=x%20y",
        "has_due=true&overdue=false",
        "q=mil%20wi",
        "priority=2",
        "completed=false&due_after=2000-01-01T00:00:00Z",
    ] {
        for sort in [
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
            "due_by",
            "-due_by",
            "priority",
            "-priority",
            "title",
            "-title",
        ] {
            let query = format!("?sort={sort}&{filter}");
            let expected = all(&app, "u1", &query).await;
            assert!(!expected.is_empty(), "{query}");
            let walked = walk(&app, "u1", &query, 2).await;
            assert_eq!(walked, expected, "{query}");
        }
    }
    // The next page's Link carries the query as sent (and no other).
    let listed = list(
        &app,
        "u1",
        "?label=x%20y&q=Milk%20run&sort=-title&limit=1&completed=false&foo=bar&label=even",
    )
    .await;
    let link = listed.link.expect("more follow");
    let path = next_path(&link);
    assert!(path.starts_with("/api/u1/tasks?limit=1&cursor="), "{path}");
    assert!(
        path.ends_with("&sort=-title&q=Milk%20run&completed=false&label=x%20y&label=even"),
        "{path}"
    );
}

#[tokio::test]
async fn a_cursor_is_bound_to_its_sort_search_and_filters() {
    let app = TestApp::spawn().await;
    insert(
        &app,
        "u1",
        &[seed("milk a"), seed("milk b"), seed("milk c")],
    )
    .await;
    let first = list(&app, "u1", "?sort=title&q=milk&label=x&limit=1").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.ids.is_empty());
    let first = list(&app, "u1", "?sort=title&q=milk&limit=1").await;
    let link = first.link.expect("more follow");
    let cursor = link
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    // The same query in another spelling keeps working.
    let same = list(&app, "u1", &format!("?q=MILK&sort=title&cursor={cursor}")).await;
    assert_eq!((same.status, same.ids.len()), (StatusCode::OK, 2));
    for other in [
        "sort=-title&q=milk",
        "sort=title",
        "sort=title&q=mil",
        "q=milk",
        "sort=title&q=milk&completed=false",
        "sort=title&q=milk&has_due=false",
    ] {
        let reply = list(&app, "u1", &format!("?{other}&cursor={cursor}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{other}");
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.starts_with("cursor:"), "{other}: {detail}");
    }
}

#[tokio::test]
async fn bad_values_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    insert(&app, "u1", &[seed("t")]).await;
    for (query, name) in [
        ("sort=name", "sort"),
        ("sort=-", "sort"),
        ("sort=title&sort=-title", "sort"),
        ("q=", "q"),
        ("q=%20", "q"),
        ("q=...", "q"),
        ("q=1%202%203%204%205%206%207%208%209%2010%2011", "q"),
        ("priority=high", "priority"),
        ("priority=4", "priority"),
        ("label=", "label"),
        ("label=a%2Cb", "label"),
        ("label=%00", "label"),
        ("due_before=2026-12-24", "due_before"),
        ("due_before=2026-12-24T17:00:00", "due_before"),
        ("due_after=yesterday", "due_after"),
        ("overdue=yes", "overdue"),
        ("has_due=1", "has_due"),
    ] {
        let reply = list(&app, "u1", &format!("?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("{name}:")), "{query}: {detail}");
    }
    // A `+` sent unencoded arrives as a space: read as the `+` it was.
    let reply = list(&app, "u1", "?due_before=2026-12-24T17:00:00+01:00").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_searched_page_has_an_etag_that_follows_its_tasks() {
    let app = TestApp::spawn().await;
    let ids = insert(&app, "u1", &[seed("milk"), seed("bread"), seed("milk two")]).await;
    let page = list(&app, "u1", "?q=milk&sort=title").await;
    let etag = page.etag.expect("an ETag");
    let path = "/api/u1/tasks?q=milk&sort=title";
    let again = app
        .send_with(
            Method::GET,
            path,
            Some(&token("u1")),
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    // Another list has another ETag; a change to a task on the page too.
    let other = list(&app, "u1", "?q=milk&sort=-title").await;
    assert_ne!(other.etag.as_deref(), Some(etag.as_str()));
    let client = app.db.client().await;
    client
        .execute("UPDATE tasks SET completed = true, updated_at = updated_at + interval '1 second' WHERE id = $1", &[&ids[2]])
        .await
        .unwrap();
    let changed = app
        .send_with(
            Method::GET,
            path,
            Some(&token("u1")),
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.header("etag").as_deref(), Some(etag.as_str()));
}
