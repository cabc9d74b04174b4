//! The write side of history and the change feed: every successful
//! create, PUT and PATCH takes the owner's next seq (stored on the task)
//! and adds exactly one history entry with the right action and
//! field-level `changes`, in the same statement; a refused write takes no
//! seq and adds no entry; an idempotent replay adds none. The history is
//! read straight from the table here (its route is another test's).

use integration_tests::*;
use serde_json::{Value, json};
use tokio_postgres::types::Type;

/// One history entry as stored.
#[derive(Debug)]
struct Entry {
    seq: i64,
    /// As the API writes timestamps.
    at: String,
    action: String,
    changes: Value,
}

async fn entries(app: &TestApp, user: &str, task: &str) -> Vec<Entry> {
    let client = app.db.client().await;
    client
        .query_typed(
            "SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                    action, changes
             FROM task_history WHERE user_id = $1 AND task_id = $2::uuid ORDER BY seq",
            &[(&user, Type::TEXT), (&task, Type::TEXT)],
        )
        .await
        .expect("history")
        .iter()
        .map(|row| Entry {
            seq: row.get(0),
            at: row.get(1),
            action: row.get(2),
            changes: row.get(3),
        })
        .collect()
}

/// The user's change counter (0 before their first write), and how many
/// history entries they have in all.
async fn counter_and_entries(app: &TestApp, user: &str) -> (i64, i64) {
    let client = app.db.client().await;
    let row = client
        .query_typed(
            "SELECT COALESCE((SELECT change_seq FROM users WHERE id = $1), 0),
                    (SELECT count(*) FROM task_history WHERE user_id = $1)",
            &[(&user, Type::TEXT)],
        )
        .await
        .expect("counter")
        .remove(0);
    (row.get(0), row.get(1))
}

async fn task_seq(app: &TestApp, task: &str) -> i64 {
    let client = app.db.client().await;
    client
        .query_typed(
            "SELECT seq FROM tasks WHERE id = $1::uuid",
            &[(&task, Type::TEXT)],
        )
        .await
        .expect("seq")[0]
        .get(0)
}

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

fn id(task: &Value) -> &str {
    task["id"].as_str().expect("id")
}

/// Runs a write that must succeed, and checks what it recorded: exactly
/// one new entry for the task, with `action` and `changes`, at the task's
/// new `updated_at`, under the owner's next seq, which the task now
/// carries. Returns the answer.
async fn recorded(
    app: &TestApp,
    user: &str,
    task: &str,
    write: Reply,
    action: &str,
    changes: Value,
) -> Value {
    assert!(
        write.status.is_success(),
        "{}: {}",
        write.status,
        write.json
    );
    let history = entries(app, user, task).await;
    let last = history.last().expect("an entry");
    let (counter, _) = counter_and_entries(app, user).await;
    assert_eq!(last.seq, counter, "the entry has the write's seq");
    assert_eq!(task_seq(app, task).await, counter, "the task has it too");
    assert_eq!(last.action, action, "{}", write.json);
    assert_eq!(last.changes, changes, "{action}");
    assert_eq!(last.at, write.json["updated_at"].as_str().unwrap(), "at");
    write.json
}

/// Sends a write to `user`'s task and checks it recorded one entry more
/// than before, one seq more than before.
async fn write_records(
    app: &TestApp,
    (method, path, body): (Method, &str, Option<Value>),
    task: &str,
    action: &str,
    changes: Value,
) -> Value {
    let (seq_before, entries_before) = counter_and_entries(app, "u").await;
    let reply = send(app, method, path, "u", &[], body).await;
    let answer = recorded(app, "u", task, reply, action, changes).await;
    let (seq_after, entries_after) = counter_and_entries(app, "u").await;
    assert_eq!(seq_after, seq_before + 1, "one seq per write");
    assert_eq!(entries_after, entries_before + 1, "one entry per write");
    answer
}

#[tokio::test]
async fn a_create_records_each_field_that_is_not_null() {
    let app = TestApp::spawn().await;
    let plain = send(
        &app,
        Method::POST,
        "/api/u/tasks",
        "u",
        &[],
        Some(json!({"title": "Buy milk"})),
    )
    .await;
    let plain_id = plain.json["id"].as_str().unwrap().to_owned();
    recorded(
        &app,
        "u",
        &plain_id,
        plain,
        "created",
        json!({
            "title": {"from": null, "to": "Buy milk"},
            "completed": {"from": null, "to": false},
            "time_zone": {"from": null, "to": "UTC"},
            "priority": {"from": null, "to": 0},
            "labels": {"from": null, "to": []},
        }),
    )
    .await;
    assert_eq!(task_seq(&app, &plain_id).await, 1, "the user's first seq");

    let full = send(
        &app,
        Method::POST,
        "/api/u/tasks",
        "u",
        &[],
        Some(json!({
            "title": "Call", "description": "about the trip", "due": "2026-12-24",
            "time_zone": "Europe/Berlin", "priority": 2, "labels": ["home", "phone"],
        })),
    )
    .await;
    let full_id = full.json["id"].as_str().unwrap().to_owned();
    recorded(
        &app,
        "u",
        &full_id,
        full,
        "created",
        json!({
            "title": {"from": null, "to": "Call"},
            "description": {"from": null, "to": "about the trip"},
            "completed": {"from": null, "to": false},
            "due": {"from": null, "to": "2026-12-24"},
            "time_zone": {"from": null, "to": "Europe/Berlin"},
            "priority": {"from": null, "to": 2},
            "labels": {"from": null, "to": ["home", "phone"]},
        }),
    )
    .await;
    assert_eq!(task_seq(&app, &full_id).await, 2);

    // A moment: in UTC, six fraction digits, `Z`, as the API answers it.
    let moment = send(
        &app,
        Method::POST,
        "/api/u/tasks",
        "u",
        &[],
        Some(json!({"title": "Flight", "due": "2027-01-02T02:04:05.1234+01:00"})),
    )
    .await;
    assert_eq!(moment.json["due"], "2027-01-02T01:04:05.123400Z");
    let moment_id = moment.json["id"].as_str().unwrap().to_owned();
    let answer = recorded(
        &app,
        "u",
        &moment_id,
        moment,
        "created",
        json!({
            "title": {"from": null, "to": "Flight"},
            "completed": {"from": null, "to": false},
            "due": {"from": null, "to": "2027-01-02T01:04:05.123400Z"},
            "time_zone": {"from": null, "to": "UTC"},
            "priority": {"from": null, "to": 0},
            "labels": {"from": null, "to": []},
        }),
    )
    .await;
    assert_eq!(answer["updated_at"], answer["created_at"]);
}

#[tokio::test]
async fn a_keyed_create_records_once_and_its_replay_adds_nothing() {
    let app = TestApp::spawn().await;
    let key = [("idempotency-key", "k-1")];
    let body = json!({"title": "once"});
    let first = send(
        &app,
        Method::POST,
        "/api/u/tasks",
        "u",
        &key,
        Some(body.clone()),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let task = first.json["id"].as_str().unwrap().to_owned();
    recorded(
        &app,
        "u",
        &task,
        first,
        "created",
        json!({
            "title": {"from": null, "to": "once"},
            "completed": {"from": null, "to": false},
            "time_zone": {"from": null, "to": "UTC"},
            "priority": {"from": null, "to": 0},
            "labels": {"from": null, "to": []},
        }),
    )
    .await;
    assert_eq!(counter_and_entries(&app, "u").await, (1, 1));
    for _ in 0..2 {
        let replay = send(
            &app,
            Method::POST,
            "/api/u/tasks",
            "u",
            &key,
            Some(body.clone()),
        )
        .await;
        assert_eq!(replay.status, StatusCode::CREATED);
        assert_eq!(
            replay.header("idempotent-replayed").as_deref(),
            Some("true")
        );
        assert_eq!(
            counter_and_entries(&app, "u").await,
            (1, 1),
            "a replay records nothing"
        );
    }
    // Another task under the key (422) records nothing either.
    let reused = send(
        &app,
        Method::POST,
        "/api/u/tasks",
        "u",
        &key,
        Some(json!({"title": "other"})),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(counter_and_entries(&app, "u").await, (1, 1));
}

#[tokio::test]
async fn a_put_records_the_fields_whose_value_changed() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "Buy milk").await;
    let one = format!("/api/u/tasks/{}", id(&task));
    let task = id(&task).to_owned();
    let put = |body: Value| (Method::PUT, one.as_str(), Some(body));

    write_records(
        &app,
        put(json!({"title": "Buy oat milk"})),
        &task,
        "updated",
        json!({"title": {"from": "Buy milk", "to": "Buy oat milk"}}),
    )
    .await;
    write_records(
        &app,
        put(json!({
            "description": "two litres", "priority": 3, "labels": ["shop"],
            "time_zone": "Europe/Paris", "due": "2026-12-24",
        })),
        &task,
        "updated",
        json!({
            "description": {"from": null, "to": "two litres"},
            "priority": {"from": 0, "to": 3},
            "labels": {"from": [], "to": ["shop"]},
            "time_zone": {"from": "UTC", "to": "Europe/Paris"},
            "due": {"from": null, "to": "2026-12-24"},
        }),
    )
    .await;
    // The same values: a change of nothing (the ETag still moves).
    write_records(
        &app,
        put(json!({"title": "Buy oat milk", "priority": 3, "labels": ["shop"]})),
        &task,
        "updated",
        json!({}),
    )
    .await;
    // A date to a moment and back; both as the API answers them.
    write_records(
        &app,
        put(json!({"due": "2027-01-02T01:04:05.123456Z"})),
        &task,
        "updated",
        json!({"due": {"from": "2026-12-24", "to": "2027-01-02T01:04:05.123456Z"}}),
    )
    .await;
    write_records(
        &app,
        put(json!({"due": "2027-01-03"})),
        &task,
        "updated",
        json!({"due": {"from": "2027-01-02T01:04:05.123456Z", "to": "2027-01-03"}}),
    )
    .await;
    write_records(
        &app,
        put(json!({"due": null, "description": null})),
        &task,
        "updated",
        json!({
            "due": {"from": "2027-01-03", "to": null},
            "description": {"from": "two litres", "to": null},
        }),
    )
    .await;
    assert_eq!(entries(&app, "u", &task).await.len(), 7);
}

#[tokio::test]
async fn a_put_of_completed_alone_is_completed_or_reopened() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "t").await;
    let one = format!("/api/u/tasks/{}", id(&task));
    let task = id(&task).to_owned();
    let put = |body: Value| (Method::PUT, one.as_str(), Some(body));
    let done = json!({"completed": {"from": false, "to": true}});
    let undone = json!({"completed": {"from": true, "to": false}});

    write_records(
        &app,
        put(json!({"completed": true})),
        &task,
        "completed",
        done.clone(),
    )
    .await;
    // The resulting value decides, even when it did not change.
    write_records(
        &app,
        put(json!({"completed": true})),
        &task,
        "completed",
        json!({}),
    )
    .await;
    write_records(
        &app,
        put(json!({"completed": false})),
        &task,
        "reopened",
        undone,
    )
    .await;
    write_records(
        &app,
        put(json!({"completed": false})),
        &task,
        "reopened",
        json!({}),
    )
    .await;
    // Another field set to its own value: still only `completed` changed.
    write_records(
        &app,
        put(json!({"title": "t", "completed": true})),
        &task,
        "completed",
        done.clone(),
    )
    .await;
    // Another field that changes: an update.
    write_records(
        &app,
        put(json!({"title": "u", "completed": false})),
        &task,
        "updated",
        json!({
            "title": {"from": "t", "to": "u"},
            "completed": {"from": true, "to": false},
        }),
    )
    .await;
    // No `completed` in the body, nothing changed: an update.
    write_records(
        &app,
        put(json!({"title": "u"})),
        &task,
        "updated",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn a_patch_is_completed_or_reopened() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "t").await;
    let complete = format!("/api/u/tasks/{}/complete", id(&task));
    let task = id(&task).to_owned();
    let done = json!({"completed": {"from": false, "to": true}});
    let undone = json!({"completed": {"from": true, "to": false}});

    // The toggle (no body).
    let toggle = || (Method::PATCH, complete.as_str(), None);
    write_records(&app, toggle(), &task, "completed", done.clone()).await;
    write_records(&app, toggle(), &task, "reopened", undone.clone()).await;
    // Explicit: the resulting value decides, `{}` when it did not change.
    let set = |completed: bool| {
        (
            Method::PATCH,
            complete.as_str(),
            Some(json!({ "completed": completed })),
        )
    };
    write_records(&app, set(true), &task, "completed", done).await;
    write_records(&app, set(true), &task, "completed", json!({})).await;
    write_records(&app, set(false), &task, "reopened", undone).await;
    write_records(&app, set(false), &task, "reopened", json!({})).await;
    let history = entries(&app, "u", &task).await;
    let seqs: Vec<i64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    // `at` strictly increases with the task's `updated_at`.
    assert!(history.windows(2).all(|w| w[0].at < w[1].at), "{history:?}");
}

/// A write the API refuses: method, path, headers, body, its status.
type Refusal<'a> = (
    Method,
    String,
    &'a [(&'a str, &'a str)],
    Option<Value>,
    StatusCode,
);

#[tokio::test]
async fn a_refused_write_takes_no_seq_and_adds_no_entry() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("MAX_TASKS_PER_USER".into(), "2".into());
    })
    .await;
    let task = app.create("u", "t").await;
    let one = format!("/api/u/tasks/{}", id(&task));
    let complete = format!("{one}/complete");
    let stale = send(&app, Method::GET, &one, "u", &[], None)
        .await
        .header("etag")
        .unwrap();
    let changed = send(
        &app,
        Method::PUT,
        &one,
        "u",
        &[],
        Some(json!({"title": "u"})),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    // Another user's, for the 404 of a task that is someone else's.
    let theirs = app.create("v", "theirs").await;
    let before = counter_and_entries(&app, "u").await;
    assert_eq!(before, (2, 2));
    let missing = format!("/api/u/tasks/{}", uuid::Uuid::now_v7());
    let not_mine = format!("/api/u/tasks/{}", id(&theirs));
    let if_match = [("if-match", stale.as_str())];
    let refusals: Vec<Refusal> = vec![
        (
            Method::PUT,
            missing.clone(),
            &[],
            Some(json!({"title": "x"})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            format!("{missing}/complete"),
            &[],
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            not_mine.clone(),
            &[],
            Some(json!({"title": "x"})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            format!("{not_mine}/complete"),
            &[],
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            format!("{not_mine}/complete"),
            &[],
            Some(json!({"completed": true})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            one.clone(),
            &if_match,
            Some(json!({"title": "x"})),
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            Method::PATCH,
            complete.clone(),
            &if_match,
            None,
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            Method::PATCH,
            complete.clone(),
            &if_match,
            Some(json!({"completed": true})),
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            Method::PUT,
            one.clone(),
            &[],
            Some(json!({"title": "x", "time_zone": "Mars/Base"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/u/tasks".into(),
            &[],
            Some(json!({"title": "x", "time_zone": "Mars/Base"})),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, headers, body, status) in refusals {
        let what = format!("{method} {path} {body:?}");
        let reply = send(&app, method, &path, "u", headers, body).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.json);
        assert_eq!(counter_and_entries(&app, "u").await, before, "{what}");
    }
    // The task limit (2): one more fits, then 409s, keyed or not.
    let second = send(
        &app,
        Method::POST,
        "/api/u/tasks",
        "u",
        &[],
        Some(json!({"title": "2"})),
    )
    .await;
    assert_eq!(second.status, StatusCode::CREATED);
    let at_limit = counter_and_entries(&app, "u").await;
    assert_eq!(at_limit, (3, 3));
    for key in [None, Some("k-full")] {
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        let full = send(
            &app,
            Method::POST,
            "/api/u/tasks",
            "u",
            &headers,
            Some(json!({"title": "3"})),
        )
        .await;
        assert_eq!(full.status, StatusCode::CONFLICT, "{key:?}: {}", full.json);
        assert_eq!(counter_and_entries(&app, "u").await, at_limit, "{key:?}");
    }
    // The other user's writes are theirs alone.
    assert_eq!(counter_and_entries(&app, "v").await, (1, 1));
}

/// Concurrent writes of one user: each takes its own seq, the seqs are
/// 1..=n without a gap, each entry's seq is its write's, and each task
/// carries the seq of its last write.
#[tokio::test]
async fn concurrent_writes_of_one_user_take_distinct_gap_free_seqs() {
    let app = TestApp::spawn().await;
    let tasks: Vec<String> = futures::future::join_all((0..4).map(|i| {
        let app = &app;
        async move { id(&app.create("u", &format!("t{i}")).await).to_owned() }
    }))
    .await;
    let writes = (0..24).map(|n| {
        let task = &tasks[n % tasks.len()];
        let (method, path, body, headers): (Method, String, Option<Value>, Vec<(&str, String)>) =
            match n % 4 {
                0 => (
                    Method::PUT,
                    format!("/api/u/tasks/{task}"),
                    Some(json!({ "title": format!("w{n}") })),
                    vec![],
                ),
                1 => (
                    Method::PATCH,
                    format!("/api/u/tasks/{task}/complete"),
                    None,
                    vec![],
                ),
                2 => (
                    Method::POST,
                    "/api/u/tasks".into(),
                    Some(json!({ "title": format!("new {n}") })),
                    vec![("idempotency-key", format!("k{n}"))],
                ),
                _ => (
                    Method::POST,
                    "/api/u/tasks".into(),
                    Some(json!({ "title": format!("new {n}") })),
                    vec![],
                ),
            };
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = send(app, method, &path, "u", &headers, body).await;
            assert!(
                reply.status.is_success(),
                "{}: {}",
                reply.status,
                reply.json
            );
        }
    });
    futures::future::join_all(writes).await;
    let client = app.db.client().await;
    let seqs: Vec<i64> = client
        .query_typed(
            "SELECT seq FROM task_history WHERE user_id = 'u' ORDER BY seq",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, (1..=28).collect::<Vec<_>>());
    assert_eq!(counter_and_entries(&app, "u").await, (28, 28));
    // Every task's seq is its newest entry's.
    let disagreeing: i64 = client
        .query_typed(
            "SELECT count(*) FROM tasks t
             WHERE user_id = 'u' AND seq <> (SELECT max(seq) FROM task_history h
                                             WHERE h.user_id = 'u' AND h.task_id = t.id)",
            &[],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(disagreeing, 0);
    let tasks_of_u: i64 = client
        .query_typed("SELECT count(*) FROM tasks WHERE user_id = 'u'", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(tasks_of_u, 4 + 12);
}

/// Writers racing with the same `If-Match`: the task row is locked first
/// and the version checked again on the winner's, so exactly one wins and
/// the losers (412) took no seq and wrote no entry.
#[tokio::test]
async fn of_writers_racing_on_one_version_only_the_winner_takes_a_seq() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "t").await;
    let one = format!("/api/u/tasks/{}", id(&task));
    let etag = send(&app, Method::GET, &one, "u", &[], None)
        .await
        .header("etag")
        .unwrap();
    let races = (0..8).map(|n| {
        let (app, one, etag) = (&app, &one, &etag);
        async move {
            let headers = [("if-match", etag.as_str())];
            if n % 2 == 0 {
                let body = Some(json!({ "title": format!("w{n}") }));
                send(app, Method::PUT, one, "u", &headers, body)
                    .await
                    .status
            } else {
                let complete = format!("{one}/complete");
                send(app, Method::PATCH, &complete, "u", &headers, None)
                    .await
                    .status
            }
        }
    });
    let statuses = futures::future::join_all(races).await;
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((won, refused), (1, 7), "{statuses:?}");
    assert_eq!(counter_and_entries(&app, "u").await, (2, 2));
    assert_eq!(task_seq(&app, id(&task)).await, 2);
}
