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
        if method == Method::POST || path == "/api/u/tasks" {
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
