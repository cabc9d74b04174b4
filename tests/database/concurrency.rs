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

/// The per-user task limit is exact when creates race, keyed or not: of
/// 30 concurrent creates against a limit of 7, exactly 7 are created and
/// the others are 409 with a detail saying why (no Retry-After: waiting
/// does not help, deleting does). The counter matches the rows, and a
/// delete makes room for one more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_task_limit_holds_exactly_under_concurrent_creates() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("DB_POOL_TIMEOUT_MS".into(), "20000".into());
        vars.insert("MAX_TASKS_PER_USER".into(), "7".into());
    })
    .await;
    let create = |i: usize| {
        let request = app
            .request(Method::POST, "/api/u1/tasks", "u1")
            .json(&serde_json::json!({ "title": format!("t{i}") }));
        let request = if i.is_multiple_of(2) {
            request.header("idempotency-key", format!("key-{i}"))
        } else {
            request
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let retry_after = response.headers().get("retry-after").cloned();
            (status, retry_after, response.json::<Value>().await.unwrap())
        }
    };
    let answers = join_all((0..30).map(create)).await;
    let created = answers
        .iter()
        .filter(|(status, ..)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 7, "{answers:?}");
    for (status, retry_after, body) in &answers {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert!(retry_after.is_none(), "{body}");
            let detail = body["detail"].as_str().unwrap();
            assert!(
                detail.contains("task limit") && detail.contains('7'),
                "{detail}"
            );
        }
    }
    let client = app.db.client().await;
    let counts = async || -> (i64, i32) {
        // Unnamed (query_typed): this client may sit behind a pooler
        // that carries no named statements.
        let rows = client
            .query_typed(
                "SELECT (SELECT count(*) FROM tasks WHERE user_id = 'u1'), \
                 (SELECT task_count FROM users WHERE id = 'u1')",
                &[],
            )
            .await
            .unwrap();
        (rows[0].get(0), rows[0].get(1))
    };
    assert_eq!(counts().await, (7, 7));

    // Another user is not affected.
    app.create("u2", "mine").await;
    // A delete makes room for exactly one more.
    let page: Value = app.get_json("/api/u1/tasks", "u1").await;
    let id = page[0]["id"].as_str().unwrap();
    let deleted = app
        .request(Method::DELETE, &format!("/api/u1/tasks/{id}"), "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(counts().await, (6, 6));
    let again = join_all((100..103).map(create)).await;
    let statuses: Vec<_> = again.iter().map(|(status, ..)| status.as_u16()).collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [201, 409, 409], "{again:?}");
    assert_eq!(counts().await, (7, 7));
}

/// Batches that create (taking the user row) and then change tasks in
/// the reverse of id order, racing single PUTs on the same tasks (which
/// take the task row, then the user row): a batch locks its tasks in id
/// order before anything takes the user row, so none deadlocks (a
/// deadlock would abort one with a 503) and every write lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_and_single_writes_on_the_same_tasks_never_deadlock() {
    let app = patient_app().await;
    let mut ids: Vec<String> = Vec::new();
    for title in ["a", "b", "c"] {
        ids.push(
            app.create("u1", title).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids.sort();
    let reversed: Vec<&String> = ids.iter().rev().collect();
    let batches = (0..12).map(|i| {
        let operations: Vec<Value> = std::iter::once(serde_json::json!(
            {"op": "create", "task": {"title": format!("new {i}")}}
        ))
        .chain(
            reversed
                .iter()
                .map(|id| serde_json::json!({"op": "update", "id": id, "task": {"priority": 1}})),
        )
        .collect();
        app.request(Method::POST, "/api/u1/tasks/batch", "u1")
            .json(&serde_json::json!({ "operations": operations }))
            .send()
    });
    let singles = (0..24).map(|i| {
        let id = &ids[i % ids.len()];
        app.request(Method::PUT, &format!("/api/u1/tasks/{id}"), "u1")
            .json(&serde_json::json!({ "priority": 2 }))
            .send()
    });
    let (batches, singles) = tokio::join!(join_all(batches), join_all(singles));
    for response in singles {
        let response = response.unwrap();
        let status = response.status();
        assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
    }
    for response in batches {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let statuses: Vec<u64> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_u64().unwrap())
            .collect();
        assert_eq!(statuses, [201, 200, 200, 200], "{body}");
    }
    assert_eq!(app.stored_tasks("u1").await, 3 + 12);
}
