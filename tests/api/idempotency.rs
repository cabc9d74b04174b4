//! Safe retries: `Idempotency-Key` on POST. A retry of the same task
//! replays the first 201; another task under the key is a 422; a request
//! while the first is in progress is a 409; a 4xx leaves the key unused;
//! keys belong to their user and are forgotten after 24 hours.

use integration_tests::*;
use serde_json::{Value, json};
use tokio_postgres::types::Type;

/// POSTs `body` to `user`'s tasks with `key` (if any) as `Idempotency-Key`.
async fn post(app: &TestApp, user: &str, key: Option<&str>, body: Value) -> Reply {
    let path = format!("/api/{user}/tasks");
    post_to(app, &path, Some(&token(user)), key, body).await
}

/// The same to any path, with any token (or none).
async fn post_to(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Value,
) -> Reply {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    let body = Some((Some("application/json"), body.to_string().into()));
    app.send_with(Method::POST, path, token, &headers, body)
        .await
}

fn replayed(reply: &Reply) -> bool {
    match reply.header("idempotent-replayed").as_deref() {
        None => false,
        Some("true") => true,
        Some(other) => panic!("Idempotent-Replayed: {other}"),
    }
}

/// The parts of a 201 a replay must repeat.
fn answer(reply: &Reply) -> (StatusCode, Value, Option<String>, Option<String>) {
    (
        reply.status,
        reply.json.clone(),
        reply.header("location"),
        reply.header("etag"),
    )
}

#[tokio::test]
async fn a_retry_replays_the_first_201_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let task = json!({"title": "Buy milk", "description": "2 l"});
    let first = post(&app, "u", Some("k-1"), task.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    assert!(!replayed(&first), "the first answer is not a replay");

    // The same key, bare or as an RFC 8941 string; the same task after
    // validation (the title is trimmed).
    for (key, body) in [
        ("k-1", task.clone()),
        ("\"k-1\"", task.clone()),
        (
            "k-1",
            json!({"title": "  Buy milk\n", "description": "2 l"}),
        ),
    ] {
        let retry = post(&app, "u", Some(key), body).await;
        assert!(replayed(&retry), "{key}: a replay says so");
        assert_eq!(answer(&retry), answer(&first), "{key}: the same answer");
    }
    assert_eq!(app.stored_tasks("u").await, 1);

    // Still the first answer after the task changed, or went: what was
    // remembered is the 201, not the task.
    let one = first.header("location").unwrap();
    let r = app
        .send(Method::DELETE, &one, Some(&token("u")), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let retry = post(&app, "u", Some("k-1"), task).await;
    assert!(replayed(&retry));
    assert_eq!(answer(&retry), answer(&first));
    assert_eq!(app.stored_tasks("u").await, 0, "and nothing was created");
}

#[tokio::test]
async fn the_key_with_another_task_is_a_422_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let first = post(&app, "u", Some("k"), json!({"title": "a"})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    for other in [
        json!({"title": "b"}),
        json!({"title": "a", "description": ""}),
        json!({"title": "a", "description": "x"}),
    ] {
        let r = post(&app, "u", Some("k"), other.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{other}");
        let detail = r.json["detail"].as_str().expect("a detail");
        assert!(detail.contains("Idempotency-Key"), "{detail}");
        assert!(!replayed(&r));
    }
    // `"description": null` is the same task as no description.
    let same = post(
        &app,
        "u",
        Some("k"),
        json!({"title": "a", "description": null}),
    )
    .await;
    assert!(replayed(&same));
    assert_eq!(app.stored_tasks("u").await, 1);
}

#[tokio::test]
async fn a_refused_request_leaves_the_key_unused() {
    let app = TestApp::spawn().await;
    // 400 (body, then header), 403, 401: none of them claims "k".
    let bad = post(&app, "u", Some("k"), json!({"title": "  "})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let token = token("u");
    let forbidden = post_to(
        &app,
        "/api/someone-else/tasks",
        Some(&token),
        Some("k"),
        json!({"title": "x"}),
    )
    .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let unauthorized = post_to(&app, "/api/u/tasks", None, Some("k"), json!({"title": "x"})).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);

    let first = post(&app, "u", Some("k"), json!({"title": "valid"})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!replayed(&first), "the key was still unused");
    assert_eq!(first.json["title"], "valid");
}

#[tokio::test]
async fn a_malformed_key_is_a_400_naming_the_header() {
    let app = TestApp::spawn().await;
    let long = "k".repeat(256);
    for key in ["", "a b", "\"unterminated", "\"a\\nb\"", long.as_str()] {
        let r = post(&app, "u", Some(key), json!({"title": "t"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{key:?}");
        let detail = r.json["detail"].as_str().expect("a detail");
        assert!(detail.contains("Idempotency-Key"), "{key:?}: {detail}");
    }
    // A non-ASCII value.
    let path = "/api/u/tasks";
    let r = app
        .request(Method::POST, path, "u")
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .json(&json!({"title": "t"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.stored_tasks("u").await, 0);
    // A quote inside a bare key is part of it.
    let r = post(&app, "u", Some("a\"b"), json!({"title": "t"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    // 255 characters is a key.
    let r = post(&app, "u", Some(&"k".repeat(255)), json!({"title": "t"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn keys_belong_to_their_user() {
    let app = TestApp::spawn().await;
    let alice = post(
        &app,
        "alice",
        Some("shared-key"),
        json!({"title": "alice's"}),
    )
    .await;
    assert_eq!(alice.status, StatusCode::CREATED);

    // Bob's "shared-key" is another key: his own task, with any payload,
    // and nothing of alice's in his answers.
    for (title, replay) in [("alice's", false), ("alice's", true)] {
        let bob = post(&app, "bob", Some("shared-key"), json!({"title": title})).await;
        assert_eq!(bob.status, StatusCode::CREATED);
        assert_eq!(replayed(&bob), replay);
        assert_eq!(bob.json["user_id"], "bob");
        assert_ne!(bob.json["id"], alice.json["id"]);
    }
    let carol = post(&app, "carol", Some("shared-key"), json!({"title": "other"})).await;
    assert_eq!(carol.status, StatusCode::CREATED, "not alice's 422");
    assert!(!replayed(&carol));

    // Alice's key still replays her own task.
    let again = post(
        &app,
        "alice",
        Some("shared-key"),
        json!({"title": "alice's"}),
    )
    .await;
    assert!(replayed(&again));
    assert_eq!(again.json, alice.json);
    for user in ["alice", "bob", "carol"] {
        assert_eq!(app.stored_tasks(user).await, 1, "{user}");
    }
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_exactly_one_task() {
    let app = TestApp::spawn().await;
    app.create("u", "the owner exists").await;
    let requests = (0..16).map(|_| post(&app, "u", Some("race"), json!({"title": "once"})));
    let replies = futures::future::join_all(requests).await;

    let mut ids = std::collections::BTreeSet::new();
    let mut first_answers = 0;
    for r in &replies {
        match r.status {
            StatusCode::CREATED => {
                ids.insert(r.json["id"].as_str().unwrap().to_owned());
                first_answers += usize::from(!replayed(r));
            }
            StatusCode::CONFLICT => assert_eq!(r.header("retry-after").as_deref(), Some("1")),
            other => panic!("{other}: {}", r.json),
        }
    }
    assert_eq!(ids.len(), 1, "every 201 names one task");
    assert_eq!(first_answers, 1, "one request created it");
    assert_eq!(app.stored_tasks("u").await, 2);
    let retry = post(&app, "u", Some("race"), json!({"title": "once"})).await;
    assert!(replayed(&retry));
}

#[tokio::test]
async fn a_request_while_the_first_is_in_progress_is_a_409() {
    let app = TestApp::spawn().await;
    app.create("u", "the owner exists").await;
    let body = json!({"title": "slow"});
    let (first, second) = app.post_while_in_progress("u", "k", &body).await;

    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.json);
    let detail = second.json["detail"].as_str().expect("a detail");
    assert!(detail.contains("Idempotency-Key"), "{detail}");
    assert_eq!(second.header("retry-after").as_deref(), Some("1"));
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!replayed(&first));
    let third = post(&app, "u", Some("k"), body).await;
    assert!(replayed(&third), "the retry after it finished replays");
    assert_eq!(answer(&third), answer(&first));
    assert_eq!(app.stored_tasks("u").await, 2);
}

async fn age_keys(app: &TestApp, hours: i32) {
    app.db
        .client()
        .await
        .query_typed(
            "UPDATE idempotency_keys SET created_at = created_at - make_interval(hours => $1)",
            &[(&hours, Type::INT4)],
        )
        .await
        .expect("age the keys");
}

async fn stored_keys(app: &TestApp, user: &str) -> i64 {
    app.db
        .client()
        .await
        .query_typed(
            "SELECT count(*) FROM idempotency_keys WHERE user_id = $1",
            &[(&user, Type::TEXT)],
        )
        .await
        .expect("count")[0]
        .get(0)
}

#[tokio::test]
async fn keys_are_remembered_for_24_hours_then_forgotten() {
    let app = TestApp::spawn().await;
    let first = post(&app, "u", Some("k"), json!({"title": "t"})).await;
    age_keys(&app, 23).await;
    let retry = post(&app, "u", Some("k"), json!({"title": "t"})).await;
    assert!(replayed(&retry), "23 hours on: still remembered");
    assert_eq!(retry.json["id"], first.json["id"]);

    age_keys(&app, 2).await;
    // 25 hours on: the key is free again, for this task or another.
    let fresh = post(&app, "u", Some("k"), json!({"title": "another"})).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.json);
    assert!(!replayed(&fresh));
    assert_ne!(fresh.json["id"], first.json["id"]);
    let retry = post(&app, "u", Some("k"), json!({"title": "another"})).await;
    assert!(replayed(&retry));
    assert_eq!(retry.json["id"], fresh.json["id"]);
    assert_eq!(app.stored_tasks("u").await, 2);
}

/// Every 16th key claimed in an execution environment purges up to 100
/// expired keys (docs/design.md, "Idempotency keys").
#[tokio::test]
async fn keyed_writes_purge_expired_keys_without_a_scheduler() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let key = format!("old-{i}");
        post(&app, "idle", Some(&key), json!({"title": key})).await;
    }
    post(&app, "busy", Some("recent"), json!({"title": "t"})).await;
    age_keys(&app, 25).await;
    for i in 0..16 {
        let key = format!("fresh-{i}");
        let r = post(&app, "busy", Some(&key), json!({"title": key})).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    assert_eq!(
        stored_keys(&app, "idle").await,
        0,
        "expired keys are purged"
    );
    assert_eq!(
        stored_keys(&app, "busy").await,
        16,
        "only the unexpired keys are left"
    );
    assert_eq!(app.stored_tasks("idle").await, 5, "tasks stay");
}
