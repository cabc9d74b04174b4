//! The trash (API.md "Trash"): DELETE moves a task there, in one statement
//! with its `deleted` history entry and a new seq; the trash is listed,
//! restored from, emptied for good, and purged after 30 days. The history
//! and seqs are read from the tables: their routes are another module's.

use chrono::{DateTime, Utc};
use integration_tests::*;
use serde_json::{Value, json};
use tokio_postgres::types::Type;

/// Sends `method path` as `user` with extra headers and an optional body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    user: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let body = body.map(|b| (Some("application/json"), b.to_string().into()));
    app.send_with(method, path, Some(&token(user)), headers, body)
        .await
}

fn task_path(user: &str, id: &str) -> String {
    format!("/api/{user}/tasks/{id}")
}

/// Creates a task with every field set; its JSON and ETag.
async fn create_full(app: &TestApp, user: &str, title: &str) -> (Value, String) {
    let created = send(
        app,
        Method::POST,
        &format!("/api/{user}/tasks"),
        user,
        &[],
        Some(json!({
            "title": title, "description": "two litres", "due": "2026-12-24",
            "time_zone": "Europe/Berlin", "priority": 2, "labels": ["home", "shop"],
        })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let etag = created.header("etag").expect("an ETag");
    (created.json, etag)
}

async fn delete(app: &TestApp, user: &str, id: &str, headers: &[(&str, &str)]) -> StatusCode {
    send(
        app,
        Method::DELETE,
        &task_path(user, id),
        user,
        headers,
        None,
    )
    .await
    .status
}

/// The user's change counter.
async fn change_seq(db: &tokio_postgres::Client, user: &str) -> i64 {
    db.query_typed(
        "SELECT change_seq FROM users WHERE id = $1",
        &[(&user, Type::TEXT)],
    )
    .await
    .expect("change_seq")
    .first()
    .map_or(0, |r| r.get(0))
}

/// The task's history, oldest first: (seq, at, action, changes).
async fn history(
    db: &tokio_postgres::Client,
    user: &str,
    id: &str,
) -> Vec<(i64, DateTime<Utc>, String, Value)> {
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    db.query_typed(
        "SELECT seq, at, action, changes FROM task_history
         WHERE user_id = $1 AND task_id = $2 ORDER BY seq",
        &[(&user, Type::TEXT), (&id, Type::UUID)],
    )
    .await
    .expect("history")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

/// The trashed row of `id`: (seq, deleted_at, purge_after, updated_at).
async fn trashed_row(
    db: &tokio_postgres::Client,
    id: &str,
) -> Option<(i64, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)> {
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    db.query_typed(
        "SELECT seq, deleted_at, purge_after, updated_at FROM trashed_tasks WHERE id = $1",
        &[(&id, Type::UUID)],
    )
    .await
    .expect("trashed row")
    .first()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn delete_moves_the_task_to_the_trash_with_a_deleted_entry_and_a_new_seq() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    let (task, etag) = create_full(&app, "u", "Buy milk").await;
    let id = task["id"].as_str().unwrap();
    let before = change_seq(&db, "u").await;
    let entries_before = history(&db, "u", id).await.len();

    assert_eq!(delete(&app, "u", id, &[]).await, StatusCode::NO_CONTENT);

    let after = change_seq(&db, "u").await;
    assert_eq!(after, before + 1, "the move takes one new seq");
    assert_eq!(app.stored_tasks("u").await, 0, "no longer a task");
    let (seq, deleted_at, purge_after, updated_at) =
        trashed_row(&db, id).await.expect("in trashed_tasks");
    assert_eq!(seq, after, "the trashed row carries the new seq");
    assert_eq!(updated_at, time(&task["updated_at"]), "the version is kept");
    assert!(deleted_at > updated_at, "deleted after its last change");
    assert_eq!(purge_after - deleted_at, chrono::Duration::hours(720));
    let entries = history(&db, "u", id).await;
    assert_eq!(entries.len(), entries_before + 1, "one entry more");
    let (entry_seq, at, action, changes) = entries.last().unwrap().clone();
    assert_eq!(
        (entry_seq, at, action.as_str(), changes),
        (after, deleted_at, "deleted", json!({}))
    );
    // The whole row moved: every field as it was.
    let row: Value = db
        .query_typed(
            "SELECT jsonb_build_object('title', title, 'description', description,
                'completed', completed, 'due_date', due_date, 'time_zone', time_zone,
                'priority', priority, 'labels', labels,
                'words', title_words::text || '|' || description_words::text)
             FROM trashed_tasks WHERE id = $1",
            &[(&uuid::Uuid::parse_str(id).unwrap(), Type::UUID)],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(
        row,
        json!({"title": "Buy milk", "description": "two litres", "completed": false,
               "due_date": "2026-12-24", "time_zone": "Europe/Berlin", "priority": 2,
               "labels": ["home", "shop"], "words": "'buy' 'milk'|'litres' 'two'"})
    );

    // The old contract: 404 on every /tasks route, absent from every list.
    for (method, path, body) in task_routes("u", id) {
        // History is the one /tasks route a trashed task keeps.
        if method == Method::POST || path == "/api/u/tasks" || path.ends_with("/history") {
            continue;
        }
        let reply = send(&app, method.clone(), &path, "u", &[], body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert!(reply.json["detail"].is_string());
    }
    for query in [
        "",
        "?completed=false",
        "?q=milk",
        "?priority=2",
        "?label=home",
        "?has_due=true",
        "?sort=title",
        "?overdue=false",
    ] {
        let list: Vec<Value> = app.get_json(&format!("/api/u/tasks{query}"), "u").await;
        assert!(list.is_empty(), "{query}: {list:?}");
    }
    // If-Match on a trashed task: 404 before 412.
    let stale = r#""AAAAAAAAAAA""#;
    assert_eq!(
        delete(&app, "u", id, &[("if-match", stale)]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, "u", id, &[("if-match", &etag)]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(change_seq(&db, "u").await, after, "404s take no seq");
    assert_eq!(history(&db, "u", id).await.len(), entries_before + 1);
}

#[tokio::test]
async fn a_refused_delete_takes_no_seq_and_writes_no_history() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    let (task, etag) = create_full(&app, "u", "Keep me").await;
    let id = task["id"].as_str().unwrap();
    app.create("bob", "Bob's").await;
    let seq = change_seq(&db, "u").await;
    let bob_seq = change_seq(&db, "bob").await;
    let entries = history(&db, "u", id).await;

    // A stale version: 412, nothing changes.
    let stale = etag_of_other_version(&etag);
    assert_eq!(
        delete(&app, "u", id, &[("if-match", &stale)]).await,
        StatusCode::PRECONDITION_FAILED
    );
    // Another user's delete of it: 404, nothing changes for either.
    assert_eq!(delete(&app, "bob", id, &[]).await, StatusCode::NOT_FOUND);
    // A task that never was: 404.
    let never = uuid::Uuid::now_v7().to_string();
    assert_eq!(delete(&app, "u", &never, &[]).await, StatusCode::NOT_FOUND);
    assert_eq!(change_seq(&db, "u").await, seq);
    assert_eq!(change_seq(&db, "bob").await, bob_seq);
    assert_eq!(history(&db, "u", id).await, entries);
    assert!(trashed_row(&db, id).await.is_none());
    assert_eq!(app.stored_tasks("u").await, 1);

    // The current ETag: the move happens, and the ETag stays the task's.
    assert_eq!(
        delete(&app, "u", id, &[("if-match", &etag)]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(change_seq(&db, "u").await, seq + 1);
}

/// A well-formed ETag of a version the task is not at.
fn etag_of_other_version(etag: &str) -> String {
    // Our tags are 11 base64url characters of a time: change the last.
    let inner = etag.trim_matches('"');
    let last = inner.chars().last().unwrap();
    let other = if last == 'A' { 'E' } else { 'A' };
    format!("\"{}{other}\"", &inner[..inner.len() - 1])
}

fn restore_path(user: &str, id: &str) -> String {
    format!("/api/{user}/trash/{id}/restore")
}

fn for_good_path(user: &str, id: &str) -> String {
    format!("/api/{user}/trash/{id}")
}

/// The task's live row: (seq, updated_at), if it is a task.
async fn live_row(db: &tokio_postgres::Client, id: &str) -> Option<(i64, DateTime<Utc>)> {
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    db.query_typed(
        "SELECT seq, updated_at FROM tasks WHERE id = $1",
        &[(&id, Type::UUID)],
    )
    .await
    .expect("task row")
    .first()
    .map(|r| (r.get(0), r.get(1)))
}

/// The tombstone of `id`: (user_id, seq, deleted_at).
async fn tombstone(db: &tokio_postgres::Client, id: &str) -> Option<(String, i64, DateTime<Utc>)> {
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    db.query_typed(
        "SELECT user_id, seq, deleted_at FROM task_tombstones WHERE id = $1",
        &[(&id, Type::UUID)],
    )
    .await
    .expect("tombstone")
    .first()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
}

/// A task of `user`'s moved to the trash: its JSON and ETag as created.
async fn trashed(app: &TestApp, user: &str, title: &str) -> (Value, String) {
    let (task, etag) = create_full(app, user, title).await;
    let id = task["id"].as_str().unwrap();
    assert_eq!(delete(app, user, id, &[]).await, StatusCode::NO_CONTENT);
    (task, etag)
}

/// Backdates a trashed task past its 30 days, as if deleted 31 days ago.
async fn expire(db: &tokio_postgres::Client, id: &str) {
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    let moved = db
        .execute_typed(
            "UPDATE trashed_tasks SET deleted_at = deleted_at - interval '744 hours',
                purge_after = purge_after - interval '744 hours'
             WHERE id = $1",
            &[(&id, Type::UUID)],
        )
        .await
        .expect("backdate");
    assert_eq!(moved, 1);
}

#[tokio::test]
async fn restore_brings_the_task_back_with_a_new_version_a_restored_entry_and_a_new_seq() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    let (task, etag) = trashed(&app, "u", "Buy milk").await;
    let id = task["id"].as_str().unwrap();
    let (trash_seq, deleted_at, _, _) = trashed_row(&db, id).await.expect("trashed");
    let entries = history(&db, "u", id).await;

    // Refused: a stale If-Match (412), another user (404): nothing changes.
    let stale = etag_of_other_version(&etag);
    let refused = send(
        &app,
        Method::POST,
        &restore_path("u", id),
        "u",
        &[("if-match", &stale)],
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    assert!(
        refused.json["detail"]
            .as_str()
            .unwrap()
            .contains("If-Match")
    );
    let bobs = send(
        &app,
        Method::POST,
        &restore_path("bob", id),
        "bob",
        &[],
        None,
    )
    .await;
    assert_eq!(bobs.status, StatusCode::NOT_FOUND);
    assert_eq!(change_seq(&db, "u").await, trash_seq);
    assert_eq!(history(&db, "u", id).await, entries);
    assert!(trashed_row(&db, id).await.is_some());

    // The ETag at deletion: restored. A body is ignored.
    let restored = send(
        &app,
        Method::POST,
        &restore_path("u", id),
        "u",
        &[("if-match", &etag)],
        Some(json!({"title": "ignored"})),
    )
    .await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.json);
    let back = restored.json.clone();
    let new_etag = restored.header("etag").expect("an ETag");
    assert_ne!(new_etag, etag);
    let updated_at = time(&back["updated_at"]);
    assert!(updated_at > deleted_at, "past the deletion, strictly");
    let mut same = back.clone();
    same["updated_at"] = task["updated_at"].clone();
    assert_eq!(same, task, "same id and fields, due_by included");

    let seq = change_seq(&db, "u").await;
    assert_eq!(seq, trash_seq + 1, "one new seq");
    assert_eq!(live_row(&db, id).await, Some((seq, updated_at)));
    assert!(trashed_row(&db, id).await.is_none(), "out of the trash");
    let now = history(&db, "u", id).await;
    assert_eq!(now.len(), entries.len() + 1);
    assert_eq!(
        now.last().unwrap().clone(),
        (seq, updated_at, "restored".to_owned(), json!({}))
    );
    // Found again everywhere, searchable by its words.
    let found: Vec<Value> = app.get_json("/api/u/tasks?q=milk&label=home", "u").await;
    assert_eq!(found, vec![back.clone()]);
    let fetched = send(&app, Method::GET, &task_path("u", id), "u", &[], None).await;
    assert_eq!(fetched.json, back);
    assert_eq!(fetched.header("etag").as_deref(), Some(new_etag.as_str()));
    // The old ETag no longer names it; the new one does.
    assert_eq!(
        delete(&app, "u", id, &[("if-match", &etag)]).await,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        delete(&app, "u", id, &[("if-match", &new_etag)]).await,
        StatusCode::NO_CONTENT
    );
    // A second restore of it (trashed again) works as the first.
    let again = send(&app, Method::POST, &restore_path("u", id), "u", &[], None).await;
    assert_eq!(again.status, StatusCode::OK);
    let twice = send(&app, Method::POST, &restore_path("u", id), "u", &[], None).await;
    assert_eq!(
        twice.status,
        StatusCode::NOT_FOUND,
        "no longer in the trash"
    );
}

#[tokio::test]
async fn delete_for_good_leaves_a_tombstone_takes_the_history_and_no_seq() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    let (task, etag) = trashed(&app, "u", "Old").await;
    let id = task["id"].as_str().unwrap();
    let (trash_seq, deleted_at, _, _) = trashed_row(&db, id).await.expect("trashed");
    assert!(!history(&db, "u", id).await.is_empty());

    // Refused: not the owner (404), a stale version (412), not trashed (404).
    let bobs = send(
        &app,
        Method::DELETE,
        &for_good_path("bob", id),
        "bob",
        &[],
        None,
    )
    .await;
    assert_eq!(bobs.status, StatusCode::NOT_FOUND);
    let stale = etag_of_other_version(&etag);
    let refused = send(
        &app,
        Method::DELETE,
        &for_good_path("u", id),
        "u",
        &[("if-match", &stale)],
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    let (live, _) = create_full(&app, "u", "Live").await;
    let live_id = live["id"].as_str().unwrap();
    let not_trashed = send(
        &app,
        Method::DELETE,
        &for_good_path("u", live_id),
        "u",
        &[],
        None,
    )
    .await;
    assert_eq!(
        not_trashed.status,
        StatusCode::NOT_FOUND,
        "a live task is not in the trash"
    );
    assert!(live_row(&db, live_id).await.is_some());
    assert!(trashed_row(&db, id).await.is_some());
    assert!(tombstone(&db, id).await.is_none());

    let seq = change_seq(&db, "u").await;
    let live_entries = history(&db, "u", live_id).await;
    let gone = send(
        &app,
        Method::DELETE,
        &for_good_path("u", id),
        "u",
        &[("if-match", &etag)],
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        change_seq(&db, "u").await,
        seq,
        "going for good takes no seq"
    );
    assert!(trashed_row(&db, id).await.is_none());
    assert_eq!(
        tombstone(&db, id).await,
        Some(("u".to_owned(), trash_seq, deleted_at)),
        "the deletion's seq and time"
    );
    assert!(history(&db, "u", id).await.is_empty(), "the history goes");
    assert_eq!(
        history(&db, "u", live_id).await,
        live_entries,
        "another task's stays"
    );
    for (method, path) in [
        (Method::DELETE, for_good_path("u", id)),
        (Method::POST, restore_path("u", id)),
        (Method::GET, task_path("u", id)),
    ] {
        let reply = send(&app, method.clone(), &path, "u", &[], None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}

#[tokio::test]
async fn another_users_trash_is_invisible_and_untouchable() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    let (task, etag) = trashed(&app, "alice", "Alice's").await;
    let id = task["id"].as_str().unwrap();
    trashed(&app, "bob", "Bob's").await;
    let alice_seq = change_seq(&db, "alice").await;
    let bob_seq = change_seq(&db, "bob").await;
    for headers in [vec![], vec![("if-match", etag.as_str())]] {
        for (method, path) in [
            (Method::POST, restore_path("bob", id)),
            (Method::DELETE, for_good_path("bob", id)),
        ] {
            let reply = send(&app, method.clone(), &path, "bob", &headers, None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(reply.json, json!({"detail": "task not found"}));
        }
    }
    let bobs: Vec<Value> = app.get_json("/api/bob/trash", "bob").await;
    assert_eq!(bobs.len(), 1);
    assert_ne!(bobs[0]["id"], task["id"]);
    // Bob's token on alice's trash: 403.
    for (method, path) in [
        (Method::GET, "/api/alice/trash".to_owned()),
        (Method::POST, restore_path("alice", id)),
        (Method::DELETE, for_good_path("alice", id)),
    ] {
        let reply = send(&app, method.clone(), &path, "bob", &[], None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert!(trashed_row(&db, id).await.is_some());
    assert_eq!(change_seq(&db, "alice").await, alice_seq);
    assert_eq!(change_seq(&db, "bob").await, bob_seq);
    assert!(tombstone(&db, id).await.is_none());
}

#[tokio::test]
async fn restore_at_the_task_limit_is_a_409_like_a_create() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("MAX_TASKS_PER_USER".into(), "2".into());
    })
    .await;
    let db = app.db.client().await;
    let (task, etag) = trashed(&app, "u", "Trashed").await;
    let id = task["id"].as_str().unwrap();
    create_full(&app, "u", "One").await;
    let (two, _) = create_full(&app, "u", "Two").await;
    let seq = change_seq(&db, "u").await;
    let entries = history(&db, "u", id).await;

    // The trash does not count: two live tasks are the limit.
    let full = send(&app, Method::POST, &restore_path("u", id), "u", &[], None).await;
    assert_eq!(full.status, StatusCode::CONFLICT);
    assert!(full.json["detail"].as_str().unwrap().contains("limit"));
    assert!(full.header("retry-after").is_none());
    // 412 before 409; 404 before both.
    let stale = etag_of_other_version(&etag);
    let refused = send(
        &app,
        Method::POST,
        &restore_path("u", id),
        "u",
        &[("if-match", &stale)],
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    let never = uuid::Uuid::now_v7().to_string();
    let missing = send(
        &app,
        Method::POST,
        &restore_path("u", &never),
        "u",
        &[],
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(change_seq(&db, "u").await, seq);
    assert_eq!(history(&db, "u", id).await, entries);
    assert!(trashed_row(&db, id).await.is_some());

    assert_eq!(
        delete(&app, "u", two["id"].as_str().unwrap(), &[]).await,
        StatusCode::NO_CONTENT
    );
    let restored = send(
        &app,
        Method::POST,
        &restore_path("u", id),
        "u",
        &[("if-match", &etag)],
        None,
    )
    .await;
    assert_eq!(restored.status, StatusCode::OK);
    assert_eq!(app.stored_tasks("u").await, 2);
}

#[tokio::test]
async fn the_trash_lists_last_deleted_first_in_pages_with_links_and_etags() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let (task, _) = trashed(&app, "u", &format!("Task {n}")).await;
        ids.push(task["id"].as_str().unwrap().to_owned());
    }
    create_full(&app, "u", "Live").await;
    ids.reverse(); // last deleted first
    let all = send(&app, Method::GET, "/api/u/trash", "u", &[], None).await;
    assert_eq!(all.status, StatusCode::OK);
    let listed: Vec<&str> = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
    for item in all.json.as_array().unwrap() {
        let fields: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields.len(),
            13,
            "a task's twelve fields and deleted_at: {fields:?}"
        );
        assert!(is_rfc3339_micros_z(item["deleted_at"].as_str().unwrap()));
    }
    assert!(all.header("link").is_none());
    let etag = all.header("etag").expect("a page ETag");

    // Pages of two, through Link.
    let mut path = "/api/u/trash?limit=2".to_owned();
    let mut walked = Vec::new();
    let mut pages = 0;
    loop {
        let page = send(&app, Method::GET, &path, "u", &[], None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.header("etag").is_some());
        pages += 1;
        for t in page.json.as_array().unwrap() {
            walked.push(t["id"].as_str().unwrap().to_owned());
        }
        let Some(link) = page.header("link") else {
            break;
        };
        let next = link
            .strip_prefix('<')
            .and_then(|l| l.strip_suffix(r#">; rel="next""#))
            .expect("rel=next");
        assert!(next.starts_with("/api/u/trash?limit=2&cursor="), "{next}");
        path = next.to_owned();
    }
    assert_eq!((walked, pages), (ids.clone(), 3));

    // 304 while the page holds; a new ETag once the trash changes.
    let same = send(
        &app,
        Method::GET,
        "/api/u/trash",
        "u",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(same.header("etag").as_deref(), Some(etag.as_str()));
    let star = send(
        &app,
        Method::GET,
        "/api/u/trash",
        "u",
        &[("if-none-match", "*")],
        None,
    )
    .await;
    assert_eq!(star.status, StatusCode::NOT_MODIFIED);
    let restored = send(
        &app,
        Method::POST,
        &restore_path("u", &ids[0]),
        "u",
        &[],
        None,
    )
    .await;
    assert_eq!(restored.status, StatusCode::OK);
    let changed = send(
        &app,
        Method::GET,
        "/api/u/trash",
        "u",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.header("etag").as_deref(), Some(etag.as_str()));
    assert_eq!(changed.json.as_array().unwrap().len(), 4);
    // Deleted again: at the head of the trash, and the page's ETag moves
    // on though the same ids are listed (a new deleted_at).
    assert_eq!(
        delete(&app, "u", &ids[0], &[]).await,
        StatusCode::NO_CONTENT
    );
    let again = send(&app, Method::GET, "/api/u/trash", "u", &[], None).await;
    assert_eq!(again.json[0]["id"], ids[0].as_str());
    assert_ne!(again.header("etag").as_deref(), Some(etag.as_str()));

    // A cursor belongs to its list: a /tasks cursor is a 400 here, and
    // a trash cursor a 400 on /tasks.
    let first = send(&app, Method::GET, "/api/u/trash?limit=1", "u", &[], None).await;
    let trash_cursor = first
        .header("link")
        .unwrap()
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    create_full(&app, "u", "Another live").await;
    let tasks_page = send(&app, Method::GET, "/api/u/tasks?limit=1", "u", &[], None).await;
    let tasks_cursor = tasks_page
        .header("link")
        .unwrap()
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    for (path, cursor) in [
        ("/api/u/trash", &tasks_cursor),
        ("/api/u/tasks", &trash_cursor),
    ] {
        let reply = send(
            &app,
            Method::GET,
            &format!("{path}?cursor={cursor}"),
            "u",
            &[],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            reply.json["detail"]
                .as_str()
                .unwrap()
                .starts_with("cursor:"),
            "{}",
            reply.json
        );
    }
    for query in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=1&limit=2",
        "cursor=%21",
    ] {
        let reply = send(
            &app,
            Method::GET,
            &format!("/api/u/trash?{query}"),
            "u",
            &[],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        let name = query.split('=').next().unwrap();
        assert!(
            reply.json["detail"].as_str().unwrap().starts_with(name),
            "{query}"
        );
    }
    // Unknown parameters are ignored.
    let ignored = send(
        &app,
        Method::GET,
        "/api/u/trash?sort=title&q=x",
        "u",
        &[],
        None,
    )
    .await;
    assert_eq!(ignored.status, StatusCode::OK);
}

#[tokio::test]
async fn after_30_days_the_task_is_gone_for_good_at_once_and_purged_later() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    let (old, _) = trashed(&app, "u", "Old").await;
    let old_id = old["id"].as_str().unwrap();
    let (recent, _) = trashed(&app, "u", "Recent").await;
    let recent_id = recent["id"].as_str().unwrap();
    expire(&db, old_id).await;
    let (seq, deleted_at, _, _) = trashed_row(&db, old_id).await.unwrap();

    // Before any purge ran: gone for every route.
    let listed: Vec<Value> = app.get_json("/api/u/trash", "u").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], recent_id);
    for (method, path) in [
        (Method::POST, restore_path("u", old_id)),
        (Method::DELETE, for_good_path("u", old_id)),
    ] {
        let reply = send(&app, method.clone(), &path, "u", &[], None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    assert!(trashed_row(&db, old_id).await.is_some(), "not purged yet");

    // A purge that finds the row locked skips it, without waiting.
    let mut holder = app.db.client().await;
    let lock = holder.transaction().await.unwrap();
    lock.execute(
        "SELECT 1 FROM trashed_tasks WHERE id = $1::text::uuid FOR UPDATE",
        &[&old_id],
    )
    .await
    .unwrap();
    assert_eq!(app.state.tasks.purge_trash().await.unwrap(), 0);
    lock.rollback().await.unwrap();

    let change = change_seq(&db, "u").await;
    assert_eq!(app.state.tasks.purge_trash().await.unwrap(), 1);
    assert!(trashed_row(&db, old_id).await.is_none());
    assert_eq!(
        tombstone(&db, old_id).await,
        Some(("u".to_owned(), seq, deleted_at))
    );
    assert!(
        history(&db, "u", old_id).await.is_empty(),
        "its history goes"
    );
    assert!(
        !history(&db, "u", recent_id).await.is_empty(),
        "others' stays"
    );
    assert!(trashed_row(&db, recent_id).await.is_some(), "not due yet");
    assert_eq!(change_seq(&db, "u").await, change, "the purge takes no seq");
    assert_eq!(app.state.tasks.purge_trash().await.unwrap(), 0);
}

#[tokio::test]
async fn trash_moves_purge_the_expired_trash_along_the_way() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    // Of another user: the purge is of anyone's expired trash.
    let (old, _) = trashed(&app, "other", "Old").await;
    let old_id = old["id"].as_str().unwrap();
    expire(&db, old_id).await;
    // Every 16th move in an execution environment purges (the first
    // included, made above): within the next 16 moves one does.
    let mut moves = 0;
    while trashed_row(&db, old_id).await.is_some() {
        assert!(moves < 16, "no purge in 16 trash moves");
        trashed(&app, "u", "Churn").await;
        moves += 1;
    }
    assert!(tombstone(&db, old_id).await.is_some());
    assert!(history(&db, "other", old_id).await.is_empty());
}

/// `trashed_tasks` is `LIKE tasks`: a column added to `tasks` later must be
/// added there too, with its type, or a move would lose it.
#[tokio::test]
async fn trashed_tasks_has_every_column_of_tasks() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let columns = |table: &'static str| {
        let client = &client;
        async move {
            client
                .query_typed(
                    "SELECT column_name::text, data_type::text, is_nullable::text
                     FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1
                     ORDER BY ordinal_position",
                    &[(&table, Type::TEXT)],
                )
                .await
                .expect("columns")
                .iter()
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        r.get::<_, String>(1),
                        r.get::<_, String>(2),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let tasks = columns("tasks").await;
    let trashed = columns("trashed_tasks").await;
    assert!(tasks.len() >= 16, "{tasks:?}");
    assert_eq!(
        &trashed[..tasks.len()],
        &tasks[..],
        "the columns of tasks, in order"
    );
    let extra: Vec<&str> = trashed[tasks.len()..]
        .iter()
        .map(|c| c.0.as_str())
        .collect();
    assert_eq!(extra, ["deleted_at", "purge_after"]);
    // The statements that move a row name every column of it (restore
    // all but the generated due_by, which it computes again): a column
    // added to both tables but not to them would be lost on the way.
    let names = |statement: &str, table: &str| -> Vec<String> {
        let open = format!("INSERT INTO {table} (");
        let start = statement.find(&open).expect(table) + open.len();
        let end = start + statement[start..].find(')').unwrap();
        let mut names: Vec<String> = statement[start..end]
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect();
        names.sort();
        names
    };
    let mut all: Vec<String> = trashed.iter().map(|c| c.0.clone()).collect();
    all.sort();
    assert_eq!(
        names(shared::repository::trash::sql::TRASH, "trashed_tasks"),
        all
    );
    let mut back: Vec<String> = tasks
        .iter()
        .map(|c| c.0.clone())
        .filter(|c| c != "due_by")
        .collect();
    back.sort();
    assert_eq!(
        names(shared::repository::trash::sql::RESTORE, "tasks"),
        back
    );
}

#[tokio::test]
async fn a_failing_purge_never_fails_the_delete_that_runs_it() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    let (old, _) = trashed(&app, "other", "Old").await;
    let old_id = old["id"].as_str().unwrap();
    expire(&db, old_id).await;
    // Every tombstone refused: the purge's statement fails as a whole.
    db.batch_execute("ALTER TABLE task_tombstones ADD CONSTRAINT refuse CHECK (false) NOT VALID")
        .await
        .unwrap();
    // The next 16 moves include a purge; each is a 204 all the same.
    for n in 0..16 {
        let (task, _) = create_full(&app, "u", &format!("Task {n}")).await;
        let id = task["id"].as_str().unwrap();
        assert_eq!(delete(&app, "u", id, &[]).await, StatusCode::NO_CONTENT);
        assert!(trashed_row(&db, id).await.is_some());
    }
    assert!(
        trashed_row(&db, old_id).await.is_some(),
        "the purge failed whole"
    );
    assert!(tombstone(&db, old_id).await.is_none());
    db.batch_execute("ALTER TABLE task_tombstones DROP CONSTRAINT refuse")
        .await
        .unwrap();
    assert_eq!(app.state.tasks.purge_trash().await.unwrap(), 1);
}

/// Concurrent moves of one task (DELETE, restore, PUT, delete-for-good)
/// never deadlock or answer 500, and every success is one seq and one
/// history entry: the task is in exactly one place at the end.
#[tokio::test]
async fn concurrent_moves_of_one_task_stay_consistent() {
    let app = TestApp::spawn().await;
    let db = app.db.client().await;
    for round in 0..3 {
        let (task, _) = create_full(&app, "u", &format!("Contended {round}")).await;
        let id = task["id"].as_str().unwrap().to_owned();
        let seq = change_seq(&db, "u").await;
        let entries = history(&db, "u", &id).await.len() as i64;
        let mut requests = Vec::new();
        for n in 0..24 {
            let (method, path, body) = match n % 4 {
                0 => (Method::DELETE, task_path("u", &id), None),
                1 => (Method::POST, restore_path("u", &id), None),
                2 => (
                    Method::PUT,
                    task_path("u", &id),
                    Some(json!({"priority": n % 4})),
                ),
                _ if n == 23 => (Method::DELETE, for_good_path("u", &id), None),
                _ => (Method::DELETE, task_path("u", &id), None),
            };
            let app = &app;
            requests.push(async move {
                let reply = send(app, method.clone(), &path, "u", &[], body).await;
                (method, path, reply.status)
            });
        }
        let answers = futures::future::join_all(requests).await;
        let mut writes = 0;
        let mut gone_for_good = false;
        for (method, path, status) in answers {
            assert!(
                matches!(status.as_u16(), 200 | 204 | 404),
                "{method} {path}: {status}"
            );
            if status.is_success() {
                if path.contains("/trash/") && method == Method::DELETE {
                    gone_for_good = true;
                } else {
                    writes += 1;
                }
            }
        }
        assert!(writes > 0);
        assert_eq!(
            change_seq(&db, "u").await,
            seq + writes,
            "one seq per success"
        );
        let places = [
            live_row(&db, &id).await.is_some(),
            trashed_row(&db, &id).await.is_some(),
            tombstone(&db, &id).await.is_some(),
        ];
        assert_eq!(places.iter().filter(|p| **p).count(), 1, "{places:?}");
        assert_eq!(places[2], gone_for_good);
        let now = history(&db, "u", &id).await.len() as i64;
        if gone_for_good {
            assert_eq!(now, 0, "the history went with it");
        } else {
            assert_eq!(now, entries + writes, "one entry per success");
        }
    }
}
