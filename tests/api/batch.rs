//! `POST /tasks/batch`: up to 100 operations in order, each answered as
//! its single route would; atomic (all or nothing, 424 naming the failed
//! operation) or not (each alone); a malformed batch is one 400; 1 MiB;
//! `Idempotency-Key` replays the first answer. The database is read
//! directly for what must (not) have been written.

use integration_tests::*;
use serde_json::{Value, json};
use tokio_postgres::types::Type;

fn path(user: &str) -> String {
    format!("/api/{user}/tasks/batch")
}

/// POSTs `body` to `user`'s batch route, with `key` as `Idempotency-Key`.
async fn batch(app: &TestApp, user: &str, key: Option<&str>, body: &Value) -> Reply {
    send_text(app, user, key, body.to_string()).await
}

async fn send_text(app: &TestApp, user: &str, key: Option<&str>, text: String) -> Reply {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    let body = Some((Some("application/json"), text.into()));
    app.send_with(
        Method::POST,
        &path(user),
        Some(&token(user)),
        &headers,
        body,
    )
    .await
}

fn statuses(reply: &Reply) -> Vec<u64> {
    reply.json["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {} {}", reply.status, reply.json))
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect()
}

fn create(title: &str) -> Value {
    json!({"op": "create", "task": {"title": title}})
}

/// What a batch may have written for `user`: tasks, history entries,
/// the change counter, remembered batches.
async fn written(app: &TestApp, user: &str) -> (i64, i64, i64, i64) {
    let client = app.db.client().await;
    let one = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query_typed(sql, &[(&user, Type::TEXT)])
                .await
                .expect(sql)
                .first()
                .map_or(0, |row| row.get::<_, i64>(0))
        }
    };
    (
        one("SELECT count(*) FROM tasks WHERE user_id = $1").await,
        one("SELECT count(*) FROM task_history WHERE user_id = $1").await,
        one("SELECT change_seq FROM users WHERE id = $1").await,
        one("SELECT count(*) FROM idempotent_batches WHERE user_id = $1").await,
    )
}

async fn get(app: &TestApp, user: &str, id: &str) -> Reply {
    let path = format!("/api/{user}/tasks/{id}");
    app.send(Method::GET, &path, Some(&token(user)), None).await
}

#[tokio::test]
async fn each_operation_is_answered_as_its_single_route_would() {
    let app = TestApp::spawn().await;
    let existing = app.create("u", "existing").await;
    let id = existing["id"].as_str().unwrap();
    let reply = batch(
        &app,
        "u",
        None,
        &json!({"operations": [
            {"op": "create", "task": {"title": " Buy milk ", "labels": ["a"], "priority": 2}},
            {"op": "update", "id": id, "task": {"title": "renamed", "description": null}},
            {"op": "complete", "id": id},
            {"op": "complete", "id": id, "completed": true},
            {"op": "delete", "id": id},
        ]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        reply.header("cache-control").as_deref(),
        Some("private, no-cache")
    );
    assert_eq!(statuses(&reply), [201, 200, 200, 200, 204]);
    let results = &reply.json["results"];
    let created = &results[0]["task"];
    assert_eq!(created["title"], "Buy milk");
    assert_eq!(created["labels"], json!(["a"]));
    assert_eq!(created["user_id"], "u");
    // The task and ETag a GET answers now.
    let now = get(&app, "u", created["id"].as_str().unwrap()).await;
    assert_eq!(&now.json, created);
    assert_eq!(now.header("etag").as_deref(), results[0]["etag"].as_str());
    assert_eq!(results[1]["task"]["title"], "renamed");
    assert_eq!(results[2]["task"]["completed"], true, "toggled");
    assert_eq!(results[3]["task"]["completed"], true, "set");
    // 204: no task, no ETag, no detail.
    assert_eq!(results[4], json!({"status": 204}));
    assert_eq!(get(&app, "u", id).await.status, StatusCode::NOT_FOUND);
    // Two operations on one task: versions strictly increase.
    let stamps: Vec<&str> = (1..4)
        .map(|i| results[i]["task"]["updated_at"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    let tags: Vec<&str> = (1..4)
        .map(|i| results[i]["etag"].as_str().unwrap())
        .collect();
    assert!(tags.windows(2).all(|w| w[0] != w[1]), "{tags:?}");
}

#[tokio::test]
async fn an_atomic_batch_failing_at_its_last_operation_writes_nothing() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "kept as it was").await;
    let id = task["id"].as_str().unwrap();
    let before = written(&app, "u").await;
    let mut ops: Vec<Value> = (0..98).map(|i| create(&format!("t{i}"))).collect();
    ops.push(json!({"op": "update", "id": id, "task": {"title": "changed"}}));
    let unknown = uuid::Uuid::now_v7().to_string();
    ops.push(json!({"op": "delete", "id": unknown}));
    let reply = batch(&app, "u", Some("k"), &json!({"operations": ops})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let results = reply.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    assert_eq!(
        results[99],
        json!({"status": 404, "detail": "task not found"})
    );
    for result in &results[..99] {
        assert_eq!(result["status"], 424, "{result}");
        assert!(
            result["detail"].as_str().unwrap().contains("operation 99"),
            "{result}"
        );
        assert!(result.get("task").is_none(), "{result}");
    }
    // Nothing: no task, no history, no seq, no key.
    assert_eq!(written(&app, "u").await, before);
    assert_eq!(get(&app, "u", id).await.json, task);
    // The key was not used: the same key runs a corrected batch.
    let fixed = json!({"operations": [create("after")]});
    let reply = batch(&app, "u", Some("k"), &fixed).await;
    assert_eq!(statuses(&reply), [201]);
    assert!(reply.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn a_batch_that_is_not_atomic_writes_what_succeeds() {
    let app = TestApp::spawn().await;
    let theirs = app.create("other", "not yours").await;
    let their_id = theirs["id"].as_str().unwrap();
    let mine = app.create("u", "mine").await;
    let my_id = mine["id"].as_str().unwrap();
    let stale = "\"AAAAAAAAAAA\"";
    let reply = batch(
        &app,
        "u",
        None,
        &json!({"atomic": false, "operations": [
            create("one"),
            {"op": "update", "id": their_id, "task": {"title": "stolen"}},
            {"op": "delete", "id": their_id},
            {"op": "update", "id": my_id, "task": {"title": "x"}, "if_match": stale},
            {"op": "create", "task": {"title": ""}},
            {"op": "update", "id": my_id, "task": {"priority": 3}, "if_match": mine_etag(&app, my_id).await},
            create("two"),
        ]}),
    )
    .await;
    assert_eq!(
        statuses(&reply),
        [201, 404, 404, 412, 400, 200, 201],
        "{}",
        reply.json
    );
    let results = &reply.json["results"];
    assert_eq!(results[1]["detail"], "task not found");
    assert!(
        results[3]["detail"]
            .as_str()
            .unwrap()
            .starts_with("If-Match"),
        "{}",
        results[3]
    );
    assert_eq!(results[4]["detail"], "title must not be empty");
    assert_eq!(results[5]["task"]["priority"], 3);
    assert_eq!(app.stored_tasks("u").await, 3);
    // Another user's task: untouched, and never told apart from none.
    assert_eq!(get(&app, "other", their_id).await.json, theirs);
}

async fn mine_etag(app: &TestApp, id: &str) -> String {
    get(app, "u", id).await.header("etag").expect("etag")
}

#[tokio::test]
async fn an_atomic_batch_names_the_failed_operation_with_its_own_status() {
    let app = TestApp::spawn().await;
    let theirs = app.create("other", "not yours").await;
    let their_id = theirs["id"].as_str().unwrap();
    let mine = app.create("u", "mine").await;
    let my_id = mine["id"].as_str().unwrap();
    for (failing, status, detail) in [
        (
            json!({"op": "complete", "id": their_id}),
            404,
            "task not found",
        ),
        (
            json!({"op": "update", "id": my_id, "task": {"title": "x"}, "if_match": "\"AAAAAAAAAAA\""}),
            412,
            "If-Match",
        ),
        (
            json!({"op": "update", "id": my_id, "task": {}}),
            400,
            "at least one",
        ),
        (
            json!({"op": "create", "task": {"title": "a", "time_zone": "Mars/Olympus"}}),
            400,
            "time_zone",
        ),
        (json!({"op": "delete", "id": "not-a-uuid"}), 400, "id:"),
    ] {
        let before = written(&app, "u").await;
        let reply = batch(
            &app,
            "u",
            None,
            &json!({"operations": [create("first"), failing, create("last")]}),
        )
        .await;
        assert_eq!(statuses(&reply), [424, status, 424], "{}", reply.json);
        let results = &reply.json["results"];
        assert!(
            results[1]["detail"].as_str().unwrap().contains(detail),
            "{results}"
        );
        assert!(
            results[0]["detail"]
                .as_str()
                .unwrap()
                .contains("operation 1")
        );
        assert_eq!(
            written(&app, "u").await,
            before,
            "nothing written: {results}"
        );
    }
    assert_eq!(get(&app, "other", their_id).await.json, theirs);
    assert_eq!(get(&app, "u", my_id).await.json, mine);
}

#[tokio::test]
async fn a_malformed_batch_is_one_400_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let hundred: Vec<Value> = (0..100).map(|i| create(&format!("t{i}"))).collect();
    let mut too_many = hundred.clone();
    too_many.push(create("one too many"));
    for (body, named) in [
        (json!([create("a")]), "JSON object"),
        (json!({}), "operations"),
        (json!({"operations": []}), "operations"),
        (json!({"operations": too_many}), "at most 100"),
        (
            json!({"operations": [create("a"), {"op": "move", "id": "x"}]}),
            "operations[1].op",
        ),
        (
            json!({"operations": [create("a"), {"id": "x"}]}),
            "operations[1]",
        ),
        (json!({"operations": [create("a"), 5]}), "operations[1]"),
        (
            json!({"operations": [create("a")], "atomic": "yes"}),
            "atomic",
        ),
        (json!({"operations": [create("a")], "extra": 1}), "extra"),
    ] {
        let reply = batch(&app, "u", None, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.json
        );
        let detail = reply.json["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{named}: {detail}");
        assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    }
    assert_eq!(written(&app, "u").await, (0, 0, 0, 0));
    // 100 is the most: all made, in order.
    let reply = batch(&app, "u", None, &json!({"operations": hundred})).await;
    assert_eq!(statuses(&reply), vec![201; 100]);
    assert_eq!(reply.json["results"][99]["task"]["title"], "t99");
}

#[tokio::test]
async fn a_body_over_1_mib_is_a_413_and_one_over_64_kib_is_taken() {
    let app = TestApp::spawn().await;
    // 100 creates with 1000-character descriptions: about 100 KiB.
    let ops: Vec<Value> = (0..100)
        .map(|i| json!({"op": "create", "task": {"title": format!("t{i}"), "description": "d".repeat(1000)}}))
        .collect();
    let body = json!({"operations": ops}).to_string();
    assert!(body.len() > 64 * 1024);
    let reply = send_text(&app, "u", None, body).await;
    assert_eq!(statuses(&reply), vec![201; 100]);

    let head = r#"{"operations":[{"op":"create","task":{"title":"a"}}],"atomic":true}"#;
    let padded = |size: usize| format!("{head}{}", " ".repeat(size - head.len()));
    let reply = send_text(&app, "v", None, padded(1024 * 1024)).await;
    assert_eq!(statuses(&reply), [201], "exactly 1 MiB is taken");
    let reply = send_text(&app, "v", None, padded(1024 * 1024 + 1)).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.json
    );
    assert!(reply.json["detail"].as_str().unwrap().contains("1048576"));
    assert_eq!(app.stored_tasks("v").await, 1);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_of_the_whole_batch() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "existing").await;
    let id = task["id"].as_str().unwrap();
    let body = json!({"operations": [
        create("new"),
        {"op": "complete", "id": id},
    ]});
    let first = batch(&app, "u", Some("k-1"), &body).await;
    assert_eq!(statuses(&first), [201, 200]);
    assert!(first.header("idempotent-replayed").is_none());
    let after_first = written(&app, "u").await;
    assert_eq!(after_first.3, 1, "remembered");

    // The same batch, spelled otherwise (key order, white space).
    let respelled = format!(
        r#"{{ "operations" : [ {{"task":{{"title":"new"}},"op":"create"}}, {{"id":"{id}","op":"complete"}} ] }}"#
    );
    let again = send_text(&app, "u", Some("\"k-1\""), respelled).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(
        again.json, first.json,
        "the first answer, not a second toggle"
    );
    assert_eq!(
        written(&app, "u").await,
        after_first,
        "nothing more written"
    );

    // Another batch under the key: 422 naming the header.
    let other = json!({"operations": [create("other")]});
    let reply = batch(&app, "u", Some("k-1"), &other).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("Idempotency-Key")
    );
    // Keys belong to their user.
    let reply = batch(&app, "w", Some("k-1"), &other).await;
    assert_eq!(statuses(&reply), [201]);
    assert_eq!(written(&app, "u").await, after_first);

    // A batch that wrote nothing (not atomic, all refused) is not
    // remembered.
    let unknown = uuid::Uuid::now_v7().to_string();
    let nothing = json!({"atomic": false, "operations": [{"op": "delete", "id": unknown}]});
    let reply = batch(&app, "u", Some("k-2"), &nothing).await;
    assert_eq!(statuses(&reply), [404]);
    assert_eq!(written(&app, "u").await.3, 1);
}

#[tokio::test]
async fn creates_take_one_seq_and_one_created_entry_each_in_order() {
    let app = TestApp::spawn().await;
    app.create("u", "before").await;
    let (_, _, seq_before, _) = written(&app, "u").await;
    let reply = batch(
        &app,
        "u",
        None,
        &json!({"operations": [
            {"op": "create", "task": {"title": "a", "description": "d", "due": "2026-12-24", "labels": ["x", "y"]}},
            create("b"),
            create("c"),
        ]}),
    )
    .await;
    assert_eq!(statuses(&reply), [201, 201, 201]);
    let client = app.db.client().await;
    let rows = client
        .query_typed(
            "SELECT t.title, t.seq, h.seq, h.action, h.changes, h.at = t.updated_at
             FROM tasks t JOIN task_history h ON h.task_id = t.id AND h.user_id = t.user_id
             WHERE t.user_id = $1 AND t.title IN ('a', 'b', 'c') ORDER BY t.seq",
            &[(&"u", Type::TEXT)],
        )
        .await
        .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(seqs, [seq_before + 1, seq_before + 2, seq_before + 3]);
    for row in &rows {
        assert_eq!(row.get::<_, i64>(1), row.get::<_, i64>(2));
        assert_eq!(row.get::<_, &str>(3), "created");
        assert!(row.get::<_, bool>(5), "at is the task's updated_at");
    }
    let changes: Value = rows[0].get(4);
    assert_eq!(
        changes,
        json!({
            "title": {"from": null, "to": "a"},
            "description": {"from": null, "to": "d"},
            "completed": {"from": null, "to": false},
            "due": {"from": null, "to": "2026-12-24"},
            "time_zone": {"from": null, "to": "UTC"},
            "priority": {"from": null, "to": 0},
            "labels": {"from": null, "to": ["x", "y"]},
        })
    );
    let (_, _, seq_after, _) = written(&app, "u").await;
    assert_eq!(seq_after, seq_before + 3);
}

#[tokio::test]
async fn creates_past_the_task_limit_are_409s() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("MAX_TASKS_PER_USER".into(), "3".into());
    })
    .await;
    app.create("u", "one").await;
    let ops = json!([create("a"), create("b"), create("c")]);
    let reply = batch(
        &app,
        "u",
        None,
        &json!({"atomic": false, "operations": ops}),
    )
    .await;
    assert_eq!(statuses(&reply), [201, 201, 409], "{}", reply.json);
    assert!(
        reply.json["results"][2]["detail"]
            .as_str()
            .unwrap()
            .contains("limit")
    );
    assert_eq!(app.stored_tasks("u").await, 3);
    let reply = batch(&app, "u", None, &json!({"operations": [create("d")]})).await;
    assert_eq!(statuses(&reply), [409]);
}

#[tokio::test]
async fn the_route_needs_the_owners_token() {
    let app = TestApp::spawn().await;
    let body = Some((
        Some("application/json"),
        json!({"operations": [create("a")]}).to_string().into(),
    ));
    let reply = app.send(Method::POST, &path("u"), None, body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let body = Some((
        Some("application/json"),
        json!({"operations": [create("a")]}).to_string().into(),
    ));
    let reply = app
        .send(Method::POST, &path("u"), Some(&token("v")), body)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let body = Some((Some("text/plain"), "x".into()));
    let reply = app
        .send(Method::POST, &path("u"), Some(&token("u")), body)
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.stored_tasks("u").await, 0);
}

#[tokio::test]
async fn a_keyed_batch_in_progress_is_a_409_then_its_answer_replays() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "held").await;
    let id = task["id"].as_str().unwrap();
    let body = json!({"operations": [create("made once"), {"op": "complete", "id": id}]});
    let (first, second) = app.batch_while_in_progress("u", "k", &body, id).await;
    assert_eq!(statuses(&first), [201, 200]);
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.json);
    assert_eq!(second.header("retry-after").as_deref(), Some("1"));
    assert!(
        second.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("Idempotency-Key")
    );
    let retry = batch(&app, "u", Some("k"), &body).await;
    assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(retry.json, first.json);
    assert_eq!(app.stored_tasks("u").await, 2, "made once");
}

#[tokio::test]
async fn a_lost_database_is_a_503_to_retry() {
    let down = serve(
        std::sync::Arc::new(shared::AppState::new(&unreachable_config()).expect("state")),
        origins(),
    )
    .await;
    let response = reqwest::Client::new()
        .post(format!("{down}{}", path("u")))
        .bearer_auth(token("u"))
        .json(&json!({"operations": [create("a")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
}

/// A batch is one transaction and nothing of it outlives it (through a
/// transaction-mode pooler too): no open transaction, no advisory lock of
/// its key, whether it committed or rolled back.
#[tokio::test]
async fn nothing_of_a_batch_outlives_its_transaction() {
    let app = TestApp::spawn().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let ok = batch(
        &app,
        "u",
        Some("k-ok"),
        &json!({"operations": [create("a")]}),
    )
    .await;
    assert_eq!(statuses(&ok), [201]);
    let failed = json!({"operations": [create("b"), {"op": "delete", "id": unknown}]});
    assert_eq!(
        statuses(&batch(&app, "u", Some("k-failed"), &failed).await),
        [424, 404]
    );
    let client = app.db.client().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_typed(sql, &[]).await.expect(sql)[0].get::<_, i64>(0) }
    };
    assert_eq!(
        count(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
        )
        .await,
        0
    );
    // The pool's connection serves the next request as usual.
    assert_eq!(
        statuses(&batch(&app, "u", None, &json!({"operations": [create("c")]})).await),
        [201]
    );
    assert_eq!(app.stored_tasks("u").await, 2);
}

/// API Gateway routes the other methods on `/tasks/batch` to the single
/// task's routes, with `batch` as the task id: a 400 naming it.
#[tokio::test]
async fn other_methods_on_the_batch_path_are_the_task_routes() {
    let app = TestApp::spawn().await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = Some((
            Some("application/json"),
            json!({"title": "x"}).to_string().into(),
        ));
        let reply = app
            .send(method.clone(), &path("u"), Some(&token("u")), body)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method}");
        assert_eq!(reply.json["detail"], "task_id: must be a UUID", "{method}");
    }
    let reply = app
        .send(Method::PATCH, &path("u"), Some(&token("u")), None)
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// Every operation leaves what its single route leaves: one history entry
/// and one seq each, in order; two on one task, two entries; a delete
/// moves the task to the trash.
#[tokio::test]
async fn each_operation_takes_its_own_seq_and_history_entry() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "first").await;
    let id = task["id"].as_str().unwrap();
    let (_, history_before, seq_before, _) = written(&app, "u").await;
    let reply = batch(
        &app,
        "u",
        None,
        &json!({"operations": [
            {"op": "update", "id": id, "task": {"title": "second", "priority": 2}},
            {"op": "complete", "id": id, "completed": true},
            {"op": "complete", "id": id},
            {"op": "update", "id": id, "task": {"completed": true}},
            {"op": "delete", "id": id},
        ]}),
    )
    .await;
    assert_eq!(
        statuses(&reply),
        [200, 200, 200, 200, 204],
        "{}",
        reply.json
    );
    let (_, history_after, seq_after, _) = written(&app, "u").await;
    assert_eq!(seq_after, seq_before + 5);
    assert_eq!(history_after, history_before + 5);
    let client = app.db.client().await;
    let uuid = uuid::Uuid::parse_str(id).unwrap();
    let rows = client
        .query_typed(
            "SELECT seq, action, changes FROM task_history
             WHERE user_id = $1 AND task_id = $2 AND seq > $3 ORDER BY seq",
            &[
                (&"u", Type::TEXT),
                (&uuid, Type::UUID),
                (&seq_before, Type::INT8),
            ],
        )
        .await
        .unwrap();
    let entries: Vec<(i64, String, Value)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let seqs: Vec<i64> = entries.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (seq_before + 1..=seq_before + 5).collect::<Vec<_>>());
    let actions: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        actions,
        ["updated", "completed", "reopened", "completed", "deleted"]
    );
    assert_eq!(
        entries[0].2,
        json!({"title": {"from": "first", "to": "second"}, "priority": {"from": 0, "to": 2}})
    );
    assert_eq!(
        entries[3].2,
        json!({"completed": {"from": false, "to": true}})
    );
    let trashed: i64 = client
        .query_typed(
            "SELECT count(*) FROM trashed_tasks WHERE user_id = $1 AND id = $2",
            &[(&"u", Type::TEXT), (&uuid, Type::UUID)],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(trashed, 1, "in the trash");
}

/// An atomic batch names its first failure in order, even when a later
/// operation is invalid: an earlier delete of a task that does not exist
/// is its 404, and the invalid one is a 424 like the rest, never run.
#[tokio::test]
async fn an_atomic_batch_names_its_first_failure_in_order() {
    let app = TestApp::spawn().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let before = written(&app, "u").await;
    let reply = batch(
        &app,
        "u",
        None,
        &json!({"operations": [
            create("made, then rolled back"),
            {"op": "delete", "id": unknown},
            {"op": "create", "task": {"title": ""}},
        ]}),
    )
    .await;
    assert_eq!(statuses(&reply), [424, 404, 424], "{}", reply.json);
    let results = &reply.json["results"];
    assert!(
        results[2]["detail"]
            .as_str()
            .unwrap()
            .contains("operation 1"),
        "{results}"
    );
    assert_eq!(written(&app, "u").await, before, "nothing written");
}
