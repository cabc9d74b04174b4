//! Atomicity under concurrent requests.

use futures::future::join_all;
use integration_tests::*;
use serde_json::Value;

/// The API with a pool wait far past any burst here: these tests are about
/// what concurrent requests write, and on a loaded 2-core CI machine the
/// default 500 ms wait for one of 16 connections can end in a 503 (the
/// pool's own limit, tested in `resilience.rs`) before the race is run.
async fn patient_app() -> TestApp {
    TestApp::spawn_with(|vars| {
        vars.insert("DB_POOL_TIMEOUT_MS".into(), "20000".into());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_toggles_keep_parity() {
    let app = patient_app().await;
    let task = app.create("u1", "t").await;
    let path = format!("/api/u1/tasks/{}/complete", task["id"].as_str().unwrap());
    let responses = join_all((0..50).map(|_| app.request(Method::PATCH, &path, "u1").send())).await;
    let mut updated_at = Vec::new();
    for response in responses {
        let response = response.unwrap();
        let status = response.status();
        assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
        updated_at.push(
            response.json::<Value>().await.unwrap()["updated_at"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let stored: Value = app
        .get_json(
            &format!("/api/u1/tasks/{}", task["id"].as_str().unwrap()),
            "u1",
        )
        .await;
    assert_eq!(
        stored["completed"], false,
        "an even number of toggles ends where it started"
    );
    updated_at.sort();
    updated_at.dedup();
    assert_eq!(
        updated_at.len(),
        50,
        "every toggle got its own, strictly later updated_at"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_creates_make_a_hundred_tasks() {
    let app = patient_app().await;
    // A brand-new user: every request races to create the user row too.
    let responses = join_all((0..100).map(|i| {
        app.request(Method::POST, "/api/newcomer/tasks", "newcomer")
            .json(&serde_json::json!({ "title": format!("t{i}") }))
            .send()
    }))
    .await;
    for response in responses {
        let response = response.unwrap();
        let status = response.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
    }
    assert_eq!(app.stored_tasks("newcomer").await, 100);
    let listed: Vec<Value> = app.get_json("/api/newcomer/tasks", "newcomer").await;
    assert_eq!(listed.len(), 100);
}

/// After a burst has opened several connections, requests one at a time
/// keep to the most recently used one (LIFO): its backend is awake and
/// warm, where FIFO would wake each idle backend in turn (~0.1 ms more per
/// request at c=1 in `bench/ab`). Through PgBouncer the pid is the server
/// connection's, which PgBouncer itself reuses last-in first-out too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_one_at_a_time_reuse_the_last_connection() {
    let db = TestDb::new().await;
    let state = shared::AppState::new(&db.config()).expect("state");
    let database = state.tasks.database();
    let pid = |sql: &'static str| async move {
        let rows = database.query(sql, &[]).await.expect("query");
        rows[0].get::<_, i32>(0)
    };
    let burst = join_all((0..4).map(|_| pid("SELECT pg_backend_pid() FROM pg_sleep(0.3)"))).await;
    let mut distinct = burst.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        4,
        "the burst should hold four connections: {burst:?}"
    );

    let mut one_at_a_time = Vec::new();
    for _ in 0..8 {
        one_at_a_time.push(pid("SELECT pg_backend_pid()").await);
    }
    assert!(
        one_at_a_time.iter().all(|p| *p == one_at_a_time[0]),
        "one connection should serve them all: {one_at_a_time:?}"
    );
}
