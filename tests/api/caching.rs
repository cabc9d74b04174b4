//! What caches may keep: `Cache-Control` on every answer, and `/health`'s
//! own answer, held for a second.

use integration_tests::*;
use serde_json::json;

/// What a cache (a CDN put in front, the browser) may keep: an answer for
/// one user is `private, no-cache` (never shared; revalidated by its ETag
/// before reuse), a 304 too; an error, and `/health`, are `no-store`. On
/// every route.
#[tokio::test]
async fn every_answer_says_how_it_may_be_cached() {
    let app = TestApp::spawn().await;
    let task = app.create("u1", "t").await;
    let id = task["id"].as_str().unwrap();
    let cache_control = |response: &reqwest::Response| {
        response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let private = Some("private, no-cache".to_owned());
    let no_store = Some("no-store".to_owned());
    // Successes, then the same route refused: no token (401), another
    // user's path (403), an unknown task (404).
    let unknown = uuid::Uuid::now_v7().to_string();
    for ((method, path, body), (_, unknown_path, _)) in task_routes("u1", id)
        .into_iter()
        .zip(task_routes("u1", &unknown))
    {
        let send = |path: &str, user: Option<&str>| {
            let mut request = app.http.request(method.clone(), app.url(path));
            if let Some(user) = user {
                request = request.bearer_auth(token(user));
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            request.send()
        };
        if method != Method::DELETE {
            let response = send(&path, Some("u1")).await.unwrap();
            assert!(response.status().is_success(), "{method} {path}");
            assert_eq!(cache_control(&response), private, "{method} {path}");
        }
        for (path, user, status) in [(path.as_str(), None, 401), (path.as_str(), Some("u2"), 403)] {
            let response = send(path, user).await.unwrap();
            assert_eq!(response.status(), status, "{method} {path}");
            assert_eq!(cache_control(&response), no_store, "{method} {path}");
        }
        if path.contains(id) {
            let response = send(&unknown_path, Some("u1")).await.unwrap();
            assert_eq!(response.status(), 404, "{method} {unknown_path}");
            assert_eq!(
                cache_control(&response),
                no_store,
                "{method} {unknown_path}"
            );
        }
    }
    // The trash routes alike: a task in the trash first (restored by the
    // POST, then trashed again for the DELETE for good).
    let trashed = app.create("u1", "trashed").await;
    let trashed_id = trashed["id"].as_str().unwrap();
    let one_trashed = format!("/api/u1/tasks/{trashed_id}");
    for (method, path, _) in trash_routes("u1", trashed_id) {
        let send = |path: &str, user: Option<&str>| {
            let mut request = app.http.request(method.clone(), app.url(path));
            if let Some(user) = user {
                request = request.bearer_auth(token(user));
            }
            request.send()
        };
        let moved = app
            .request(Method::DELETE, &one_trashed, "u1")
            .send()
            .await
            .unwrap();
        assert!(moved.status() == 204 || moved.status() == 404);
        let response = send(&path, Some("u1")).await.unwrap();
        assert!(response.status().is_success(), "{method} {path}");
        assert_eq!(cache_control(&response), private, "{method} {path}");
        for (user, status) in [(None, 401), (Some("u2"), 403)] {
            let response = send(&path, user).await.unwrap();
            assert_eq!(response.status(), status, "{method} {path}");
            assert_eq!(cache_control(&response), no_store, "{method} {path}");
        }
        if path.contains(trashed_id) {
            let unknown_path = path.replace(trashed_id, &unknown);
            let response = send(&unknown_path, Some("u1")).await.unwrap();
            assert_eq!(response.status(), 404, "{method} {unknown_path}");
            assert_eq!(
                cache_control(&response),
                no_store,
                "{method} {unknown_path}"
            );
        }
    }
    // A 304 keeps the 200's directive; a 400 and a 412 are errors.
    let one = format!("/api/u1/tasks/{id}");
    let etag = task_etag(&app, &one).await;
    let not_modified = app
        .request(Method::GET, &one, "u1")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert_eq!(cache_control(&not_modified), private);
    let bad = app
        .request(Method::POST, "/api/u1/tasks", "u1")
        .json(&json!({ "title": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(cache_control(&bad), no_store);
    let stale = app
        .request(Method::PUT, &one, "u1")
        .header("if-match", "\"stale\"")
        .json(&json!({ "title": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    assert_eq!(cache_control(&stale), no_store);
    let deleted = app
        .request(Method::DELETE, &one, "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(cache_control(&deleted), private);
    let health = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(cache_control(&health), no_store);
}

async fn task_etag(app: &TestApp, path: &str) -> String {
    let response = app.request(Method::GET, path, "u1").send().await.unwrap();
    response.headers()["etag"].to_str().unwrap().to_owned()
}

/// `/health` needs no token, so it runs at most one statement a second
/// per execution environment: with the database cut off, the answer of
/// the last round trip stands until a second has passed, then the next
/// call finds out, and recovers the same way.
#[tokio::test]
async fn health_checks_the_database_at_most_once_a_second() {
    let app = TestApp::spawn().await;
    let health = async || {
        app.http
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status()
    };
    let name = app
        .db
        .url
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let admin = {
        let (client, connection) =
            tokio_postgres::connect(&direct(&admin_url()), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(connection);
        client
    };
    let allow = async |allowed: bool| {
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS {allowed};
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{name}' AND pid <> pg_backend_pid() AND NOT {allowed};"
            ))
            .await
            .unwrap();
    };
    // The round trip ends after `sent`: a call begun within a second of
    // `sent` gets its answer. (A machine too slow to cut the database off
    // within that second makes the round inconclusive: it is run again.)
    let mut cached = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(shared::db::PING_INTERVAL).await;
        let sent = std::time::Instant::now();
        assert_eq!(health().await, StatusCode::OK);
        // No new session, and the pooled ones ended.
        allow(false).await;
        while sent.elapsed() < shared::db::PING_INTERVAL / 2 {
            let begun = sent.elapsed();
            cached.push((begun, health().await));
        }
        if !cached.is_empty() {
            break;
        }
        allow(true).await;
    }
    assert!(
        !cached.is_empty(),
        "the machine was too slow to tell, 3 times"
    );
    for (begun, status) in &cached {
        assert_eq!(*status, StatusCode::OK, "{begun:?} after the round trip");
    }
    tokio::time::sleep(shared::db::PING_INTERVAL).await;
    assert_eq!(health().await, StatusCode::SERVICE_UNAVAILABLE);
    allow(true).await;
    let reopened = std::time::Instant::now();
    let status = health().await;
    if reopened.elapsed() < shared::db::PING_INTERVAL / 2 {
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "the last answer stands for a second"
        );
    }
    // Then it recovers (a pooler in between may wait before it connects
    // again: PgBouncer's server_login_retry is 15 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while health().await != StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(shared::db::PING_INTERVAL / 4).await;
    }
}
