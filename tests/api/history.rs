//! Reading a task's history (API.md "History"): newest first, also in the
//! trash, paged like a list (limit, a cursor bound to its task, `Link`,
//! the byte budget, a page ETag and 304), 404 for a task that is not the
//! caller's; and the 365-day bound on entries, purged without a scheduler.
//! What each write records is `history_writes`'.

use integration_tests::*;
use serde_json::{Value, json};

async fn send(app: &TestApp, method: Method, path: &str, user: &str, body: Option<Value>) -> Reply {
    let body = body.map(|b| (Some("application/json"), b.to_string().into()));
    app.send_with(method, path, Some(&token(user)), &[], body)
        .await
}

async fn get(app: &TestApp, path: &str, user: &str, headers: &[(&str, &str)]) -> Reply {
    app.send_with(Method::GET, path, Some(&token(user)), headers, None)
        .await
}

fn history_path(user: &str, id: &str) -> String {
    format!("/api/{user}/tasks/{id}/history")
}

/// The path a `Link: <...>; rel="next"` names.
fn next_link(reply: &Reply) -> Option<String> {
    let link = reply.header("link")?;
    let path = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .expect("a next link");
    Some(path.to_owned())
}

#[tokio::test]
async fn history_is_newest_first_and_stays_while_the_task_is_in_the_trash() {
    let app = TestApp::spawn().await;
    let created = app.create("u", "Buy milk").await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/u/tasks/{id}");
    let put = send(
        &app,
        Method::PUT,
        &path,
        "u",
        Some(json!({"title": "Buy oat milk"})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK);
    let done = send(&app, Method::PATCH, &format!("{path}/complete"), "u", None).await;
    assert_eq!(done.status, StatusCode::OK);

    let live = get(&app, &history_path("u", id), "u", &[]).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(
        live.header("cache-control").as_deref(),
        Some("private, no-cache")
    );
    let entries = live.json.as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["completed", "updated", "created"]);
    for entry in entries {
        let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "{entry}");
        assert!(
            is_rfc3339_micros_z(entry["at"].as_str().unwrap()),
            "{entry}"
        );
    }
    assert_eq!(entries[2]["at"], created["updated_at"]);
    assert_eq!(entries[1]["at"], put.json["updated_at"]);
    assert_eq!(entries[0]["at"], done.json["updated_at"]);
    assert_eq!(
        entries[1]["changes"],
        json!({"title": {"from": "Buy milk", "to": "Buy oat milk"}})
    );
    assert_eq!(
        entries[0]["changes"],
        json!({"completed": {"from": false, "to": true}})
    );

    // In the trash: a 404 on /tasks, but its history is there, deletion first.
    assert_eq!(
        send(&app, Method::DELETE, &path, "u", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&app, &path, "u", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let trashed = get(&app, &history_path("u", id), "u", &[]).await;
    assert_eq!(trashed.status, StatusCode::OK);
    assert_eq!(trashed.json[0]["action"], "deleted");
    assert_eq!(trashed.json[0]["changes"], json!({}));
    assert_eq!(&trashed.json.as_array().unwrap()[1..], entries.as_slice());
}

#[tokio::test]
async fn history_is_a_404_unless_the_task_is_the_callers_live_or_in_the_trash() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", "Mine").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another user's task: a 404 though its entries exist, the same as an
    // id that was never used.
    for path in [
        history_path("bob", &id),
        history_path("bob", &uuid::Uuid::now_v7().to_string()),
    ] {
        let reply = get(&app, &path, "bob", &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.json["detail"].is_string());
    }
    let reply = get(&app, &history_path("alice", "not-a-uuid"), "alice", &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json["detail"].as_str().unwrap().contains("task_id"));

    // In the trash past its 30 days (purged or not): gone for every route.
    let path = format!("/api/alice/tasks/{id}");
    assert_eq!(
        send(&app, Method::DELETE, &path, "alice", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&app, &history_path("alice", &id), "alice", &[])
            .await
            .status,
        StatusCode::OK
    );
    app.db
        .client()
        .await
        .batch_execute(&format!(
            "UPDATE trashed_tasks SET purge_after = now() - interval '1 second' WHERE id = '{id}'"
        ))
        .await
        .unwrap();
    let reply = get(&app, &history_path("alice", &id), "alice", &[]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn history_pages_like_a_list() {
    let app = TestApp::spawn().await;
    let id = app.create("u", "v0").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.create("u", "other").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let task = format!("/api/u/tasks/{id}");
    for n in 1..=4 {
        let reply = send(
            &app,
            Method::PUT,
            &task,
            "u",
            Some(json!({"title": format!("v{n}")})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let whole = get(&app, &history_path("u", &id), "u", &[]).await;
    assert_eq!(whole.json.as_array().unwrap().len(), 5);
    assert!(whole.header("link").is_none());

    let mut pages = Vec::new();
    let mut path = format!("{}?limit=2", history_path("u", &id));
    loop {
        let page = get(&app, &path, "u", &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.json);
        pages.extend(page.json.as_array().unwrap().iter().cloned());
        match next_link(&page) {
            Some(next) => {
                assert!(next.contains("limit=2&cursor="), "{next}");
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(Value::Array(pages), whole.json);

    // The page's ETag: 304 while it holds, changed by a new entry.
    let first = get(
        &app,
        &format!("{}?limit=2", history_path("u", &id)),
        "u",
        &[],
    )
    .await;
    let etag = first.header("etag").expect("an ETag");
    let again = get(
        &app,
        &format!("{}?limit=2", history_path("u", &id)),
        "u",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.header("etag").as_deref(), Some(etag.as_str()));
    send(&app, Method::PATCH, &format!("{task}/complete"), "u", None).await;
    let changed = get(
        &app,
        &format!("{}?limit=2", history_path("u", &id)),
        "u",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.header("etag"), Some(etag));

    // A cursor is bound to its task; a bad one, a bad limit: 400s naming them.
    let cursor = next_link(&first).unwrap();
    let cursor = cursor.split("cursor=").nth(1).unwrap();
    for (query, field) in [
        (
            format!("{}?cursor={cursor}", history_path("u", &other)),
            "cursor",
        ),
        (
            format!("{}?cursor=nonsense", history_path("u", &id)),
            "cursor",
        ),
        (format!("{}?limit=0", history_path("u", &id)), "limit"),
        (format!("{}?limit=1001", history_path("u", &id)), "limit"),
        (
            format!("{}?limit=2&limit=3", history_path("u", &id)),
            "limit",
        ),
    ] {
        let reply = get(&app, &query, "u", &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            reply.json["detail"].as_str().unwrap().starts_with(field),
            "{query}: {}",
            reply.json
        );
    }
}

#[tokio::test]
async fn a_history_page_ends_before_2_mib() {
    let app = TestApp::spawn().await;
    let id = app.create("u", "long story").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // 1,000 entries of about 4 KB each (written by SQL: the API's own
    // would need 1,000 writes): about 4 MB, more than one page holds.
    app.db
        .client()
        .await
        .batch_execute(&format!(
            "INSERT INTO task_history (user_id, task_id, seq, at, action, changes)
             SELECT 'u', '{id}', 100 + g, now(), 'updated',
                    jsonb_build_object('description', jsonb_build_object(
                        'from', repeat('a', 2000), 'to', repeat('b', 2000)))
             FROM generate_series(1, 1000) g"
        ))
        .await
        .unwrap();
    let first = get(&app, &history_path("u", &id), "u", &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    let body = first.json.to_string();
    assert!(body.len() <= 2 * 1024 * 1024, "{}", body.len());
    let count = first.json.as_array().unwrap().len();
    assert!((400..1000).contains(&count), "{count}");
    let mut seen = count;
    let mut next = next_link(&first);
    while let Some(path) = next {
        let page = get(&app, &path, "u", &[]).await;
        seen += page.json.as_array().unwrap().len();
        next = next_link(&page);
    }
    assert_eq!(seen, 1001, "every entry, once");
}

/// Entries older than 365 days are purged, 100 at a time, every 16th read
/// of a history or of the change feed (per execution environment: nextest
/// runs each test in a process of its own); the rest stay.
#[tokio::test]
async fn history_older_than_365_days_is_purged_without_a_scheduler() {
    let app = TestApp::spawn().await;
    let id = app.create("u", "old").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = app.db.client().await;
    client
        .batch_execute(&format!(
            "INSERT INTO task_history (user_id, task_id, seq, at, action, changes)
             SELECT 'u', '{id}', 100 + g, now() - interval '366 days', 'updated', '{{}}'
             FROM generate_series(1, 150) g;
             INSERT INTO task_history (user_id, task_id, seq, at, action, changes)
             VALUES ('u', '{id}', 500, now() - interval '364 days', 'updated', '{{}}')"
        ))
        .await
        .unwrap();
    let count = |old: bool| {
        let client = &client;
        async move {
            let sql = if old {
                "SELECT count(*) FROM task_history WHERE at < now() - interval '365 days'"
            } else {
                "SELECT count(*) FROM task_history"
            };
            client.query_typed(sql, &[]).await.unwrap()[0].get::<_, i64>(0)
        }
    };
    // The 16th read of this environment purges, and every 16th after it.
    for _ in 0..15 {
        let reply = get(&app, &history_path("u", &id), "u", &[]).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert_eq!(count(true).await, 150);
    get(&app, &history_path("u", &id), "u", &[]).await;
    assert_eq!(count(true).await, 50, "100 at a time");
    for _ in 0..16 {
        get(&app, &history_path("u", &id), "u", &[]).await;
    }
    assert_eq!(count(true).await, 0);
    // The recent ones stay: the 364-day-old entry and the task's `created`.
    assert_eq!(count(false).await, 2);
}
