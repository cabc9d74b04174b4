//! Named, cached statements: prepared once per connection (the hot ones at
//! warm-up), prepared again once when the server no longer knows them or a
//! migration made their plan stale, and never sent with
//! `DB_PREPARED_STATEMENTS=false`, which a pooler without prepared-statement
//! support needs.

use integration_tests::{cluster::Pooler, *};
use serde_json::json;
use shared::{
    db::Database,
    repository::{HOT_STATEMENTS, sql},
};
use tokio_postgres::types::Type;

/// One connection, so that a statement run through the pool sees the
/// session the app's statements ran in. Straight to PostgreSQL with
/// `direct_session` (the pooler pass would hand out any server session).
fn one_connection(vars: &mut std::collections::HashMap<String, String>, direct_session: bool) {
    vars.insert("DB_POOL_MAX_SIZE".into(), "1".into());
    if direct_session {
        let url = direct(&vars["DATABASE_URL"]);
        vars.insert("DATABASE_URL".into(), url);
    }
}

/// Named statements the pool's one session has prepared.
async fn prepared_in_session(database: &Database) -> i64 {
    database
        .query_opt("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .expect("pg_prepared_statements")
        .expect("a row")
        .get(0)
}

#[tokio::test]
async fn warm_up_prepares_every_hot_statement_with_the_types_its_route_uses() {
    let app = TestApp::spawn_with(|vars| one_connection(vars, true)).await;
    app.state.warm_up().await;
    let database = app.state.tasks.database();
    let at_start = prepared_in_session(database).await;
    // The hot statements and the count's own.
    assert_eq!(at_start, HOT_STATEMENTS.len() as i64 + 1);
    let task = app.create("u1", "first").await;
    let id = task["id"].as_str().expect("id");
    for (method, path, body) in task_routes("u1", id) {
        let mut request = app.request(method.clone(), &path, "u1");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let status = request.send().await.expect("send").status();
        assert!(status.as_u16() < 500, "{method} {path}: {status}");
    }
    // Every route ran on the warmed session; none needed a new statement.
    assert_eq!(prepared_in_session(database).await, at_start);
}

#[tokio::test]
async fn the_batch_warm_up_prepares_every_statement_a_batch_runs() {
    let app = TestApp::spawn_with(|vars| one_connection(vars, true)).await;
    app.state.warm_up_with(&shared::batch::HOT_STATEMENTS).await;
    let database = app.state.tasks.database();
    let at_start = prepared_in_session(database).await;
    assert_eq!(
        at_start,
        (HOT_STATEMENTS.len() + shared::batch::HOT_STATEMENTS.len()) as i64 + 1
    );
    for atomic in [true, false] {
        let task = app.create("u1", "first").await;
        let id = task["id"].as_str().expect("id");
        let body = json!({"atomic": atomic, "operations": [
            {"op": "create", "task": {"title": "new"}},
            {"op": "update", "id": id, "task": {"title": "renamed"}},
            {"op": "complete", "id": id},
            {"op": "complete", "id": id, "completed": false},
            {"op": "delete", "id": id},
        ]});
        let reply = app
            .send_with(
                Method::POST,
                "/api/u1/tasks/batch",
                Some(&token("u1")),
                &[("idempotency-key", if atomic { "k1" } else { "k2" })],
                Some((Some("application/json"), body.to_string().into())),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json);
        let statuses: Vec<_> = reply.json["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["status"].as_u64().expect("status"))
            .collect();
        assert_eq!(statuses, [201, 200, 200, 200, 204], "{:?}", reply.json);
    }
    // Every batch ran on the warmed session; none needed a new statement.
    assert_eq!(prepared_in_session(database).await, at_start);
}

#[tokio::test]
async fn a_statement_the_server_no_longer_knows_is_prepared_again() {
    // Straight to PostgreSQL: through PgBouncer, `DISCARD ALL` also makes
    // the pooler forget the client's statements, and it closes a client that
    // then names one (the test below restarts a pooler instead).
    let app = TestApp::spawn_with(|vars| one_connection(vars, true)).await;
    let database = app.state.tasks.database();
    let created = app.create("u1", "kept").await;
    let id: uuid::Uuid = created["id"].as_str().expect("id").parse().expect("uuid");
    // The repository's own statement, as GET one runs it.
    let user = "u1";
    let params = [(&user as _, Type::TEXT), (&id as _, Type::UUID)];
    let get = || database.query_opt(sql::GET, &params);
    assert!(get().await.expect("first read").is_some());
    // Forgets every prepared statement of the session (26000 next), as a
    // server reset or a pooler restart would.
    database
        .query("DISCARD ALL", &[])
        .await
        .expect("DISCARD ALL");
    for round in 0..2 {
        let again = get().await;
        assert!(
            matches!(again, Ok(Some(_))),
            "read {round} after DISCARD ALL: {again:?}"
        );
    }
    // And through the API: never a 500.
    let path = format!("/api/u1/tasks/{id}");
    database
        .query("DISCARD ALL", &[])
        .await
        .expect("DISCARD ALL");
    let reply = app.send(Method::GET, &path, Some(&token("u1")), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json);
}

#[tokio::test]
async fn a_plan_made_stale_by_a_migration_is_prepared_again_never_a_500() {
    let app = TestApp::spawn_with(|vars| one_connection(vars, false)).await;
    let created = app.create("u1", "before the migration").await;
    let path = format!("/api/u1/tasks/{}", created["id"].as_str().expect("id"));
    let before: serde_json::Value = app.get_json(&path, "u1").await;
    // A column type change alters what the cached plan returns: 0A000
    // "cached plan must not change result type" on its next run.
    app.db
        .client()
        .await
        .batch_execute("ALTER TABLE tasks ALTER COLUMN title TYPE varchar(255)")
        .await
        .expect("migration");
    for round in 0..2 {
        let reply = app.send(Method::GET, &path, Some(&token("u1")), None).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "read {round}: {:?}",
            reply.json
        );
        assert_eq!(reply.json, before);
    }
    let list = app
        .send(Method::GET, "/api/u1/tasks", Some(&token("u1")), None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.json);
}

/// The keyed POST's statements (prepared when first run, not at warm-up)
/// recover from a stale plan too: a new key creates, the first key still
/// replays its answer, never a 500.
#[tokio::test]
async fn a_keyed_post_after_a_migration_is_prepared_again_never_a_500() {
    let app = TestApp::spawn_with(|vars| one_connection(vars, false)).await;
    let post = |key: &'static str, title: &'static str| {
        let app = &app;
        async move {
            let body = serde_json::json!({ "title": title }).to_string();
            app.send_with(
                Method::POST,
                "/api/u1/tasks",
                Some(&token("u1")),
                &[("idempotency-key", key)],
                Some((Some("application/json"), body.into())),
            )
            .await
        }
    };
    let first = post("k1", "before the migration").await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.json);
    app.db
        .client()
        .await
        .batch_execute("ALTER TABLE tasks ALTER COLUMN title TYPE varchar(255)")
        .await
        .expect("migration");
    let second = post("k2", "after the migration").await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.json);
    let replay = post("k1", "before the migration").await;
    assert_eq!(replay.status, StatusCode::CREATED, "{:?}", replay.json);
    assert_eq!(replay.json["id"], first.json["id"]);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
}

/// After a pooler restart, the connections it cut are replaced, and their
/// statements prepared again: the first request after it succeeds.
#[tokio::test]
async fn after_a_pooler_restart_statements_are_prepared_again() {
    let db = TestDb::new().await;
    let pooler = Pooler::start(&direct(&db.url), 1000).await;
    let mut vars = db.vars();
    vars.insert("DATABASE_URL".into(), pooler.url.clone());
    vars.insert("DB_POOL_MAX_SIZE".into(), "1".into());
    let state = std::sync::Arc::new(shared::AppState::new(&config_from(&vars)).expect("state"));
    state.warm_up().await;
    let base = serve(state, origins()).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http.get(format!("{base}{path}")).bearer_auth(token("u1"));
        async move {
            let response = request.send().await.expect("send");
            (response.status(), response.text().await.expect("body"))
        }
    };
    let created = http
        .post(format!("{base}/api/u1/tasks"))
        .bearer_auth(token("u1"))
        .json(&json!({ "title": "t" }))
        .send()
        .await
        .expect("send");
    assert_eq!(created.status(), StatusCode::CREATED);
    let task: serde_json::Value = created.json().await.expect("json");
    let path = format!("/api/u1/tasks/{}", task["id"].as_str().expect("id"));
    let before = get(path.clone()).await;
    assert_eq!(before.0, StatusCode::OK, "{}", before.1);
    pooler.restart().await;
    // The cut is seen before the next request takes the connection.
    wait(100).await;
    assert_eq!(get(path).await, before);
}

#[tokio::test]
async fn with_prepared_statements_off_no_statement_is_named() {
    for (setting, named) in [("false", false), ("true", true)] {
        let app = TestApp::spawn_with(|vars| {
            one_connection(vars, true);
            vars.insert("DB_PREPARED_STATEMENTS".into(), setting.into());
        })
        .await;
        app.state.warm_up().await;
        app.create("u1", "t").await;
        let listed = app.list_status("u1", &token("u1")).await;
        assert_eq!(listed, StatusCode::OK);
        let prepared = prepared_in_session(app.state.tasks.database()).await;
        assert_eq!(
            prepared > 0,
            named,
            "DB_PREPARED_STATEMENTS={setting}: {prepared}"
        );
    }
}

/// The fallback: through a transaction-mode PgBouncer that does not carry
/// prepared statements (`max_prepared_statements = 0`, as in 1.18), with the
/// setting off, interleaved requests from several connections all succeed.
#[tokio::test]
async fn the_off_switch_works_through_a_pooler_without_prepared_statements() {
    let db = TestDb::new().await;
    let pooler = Pooler::start(&direct(&db.url), 0).await;
    let mut vars = db.vars();
    vars.insert("DATABASE_URL".into(), pooler.url.clone());
    vars.insert("DB_PREPARED_STATEMENTS".into(), "false".into());
    let config = config_from(&vars);
    let state = std::sync::Arc::new(shared::AppState::new(&config).expect("state"));
    state.warm_up().await;
    let base = serve(state.clone(), origins()).await;
    let http = reqwest::Client::new();
    let user = "u1";
    let create = |title: String| {
        http.post(format!("{base}/api/{user}/tasks"))
            .bearer_auth(token(user))
            .json(&json!({ "title": title }))
            .send()
    };
    let first: serde_json::Value = create("first".into())
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let id = first["id"].as_str().expect("id").to_owned();
    // Many at once: the pool's connections interleave on the pooler's
    // server connections.
    let requests = (0..40).map(|i| {
        let (http, base, id) = (&http, &base, &id);
        async move {
            let response = match i % 4 {
                0 => create(format!("task {i}")).await,
                1 => {
                    http.get(format!("{base}/api/{user}/tasks/{id}"))
                        .bearer_auth(token(user))
                        .send()
                        .await
                }
                2 => {
                    http.get(format!("{base}/api/{user}/tasks"))
                        .bearer_auth(token(user))
                        .send()
                        .await
                }
                _ => {
                    http.patch(format!("{base}/api/{user}/tasks/{id}/complete"))
                        .bearer_auth(token(user))
                        .send()
                        .await
                }
            };
            response.expect("send").status()
        }
    });
    for status in futures::future::join_all(requests).await {
        assert!(status.is_success(), "{status}");
    }
    let direct_client = db.client().await;
    let stored: i64 = direct_client
        .query_typed(
            "SELECT count(*) FROM tasks WHERE user_id = $1",
            &[(&user, Type::TEXT)],
        )
        .await
        .expect("count")[0]
        .get(0);
    assert_eq!(stored, 11);
    drop(pooler);
}

/// Inside a batch's transaction a stale statement aborts it, and nothing
/// of it was committed: the whole batch runs once more on a fresh
/// transaction with fresh prepares, and succeeds; its key remembers the
/// answer once.
async fn a_stale_batch_runs_again_and_succeeds(
    app: &TestApp,
    make_stale: impl AsyncFnOnce(&TestApp),
) {
    let path = "/api/u1/tasks/batch";
    let token = token("u1");
    let token = &token;
    let send = |key: &'static str, body: serde_json::Value| async move {
        app.send_with(
            Method::POST,
            path,
            Some(token),
            &[("idempotency-key", key)],
            Some((Some("application/json"), body.to_string().into())),
        )
        .await
    };
    let first = send(
        "k1",
        json!({"operations": [{"op": "create", "task": {"title": "first"}}]}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.json);
    let task = &first.json["results"][0];
    let (id, etag) = (task["task"]["id"].as_str().expect("id"), &task["etag"]);
    make_stale(app).await;
    // Every statement of a batch: the key's, the lock, an update, a run of
    // creates, a delete.
    let body = json!({"operations": [
        {"op": "update", "id": id, "if_match": etag, "task": {"title": "renamed"}},
        {"op": "create", "task": {"title": "second"}},
        {"op": "create", "task": {"title": "third"}},
        {"op": "complete", "id": id},
    ]});
    let reply = send("k2", body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json);
    let statuses: Vec<_> = reply.json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(statuses, [200, 201, 201, 200], "{:?}", reply.json);
    assert_eq!(reply.json["results"][0]["task"]["title"], "renamed");
    assert_eq!(reply.json["results"][3]["task"]["completed"], true);
    assert_eq!(app.stored_tasks("u1").await, 3, "each create once");
    // Remembered once, with the answer that was sent.
    let again = send("k2", body).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.json);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.json, reply.json);
    assert_eq!(app.stored_tasks("u1").await, 3);
}

#[tokio::test]
async fn a_batch_on_a_statement_the_server_forgot_runs_again_and_succeeds() {
    // Straight to PostgreSQL (see above: `DISCARD ALL` through PgBouncer).
    let app = TestApp::spawn_with(|vars| one_connection(vars, true)).await;
    a_stale_batch_runs_again_and_succeeds(&app, async |app: &TestApp| {
        app.state
            .tasks
            .database()
            .query("DISCARD ALL", &[])
            .await
            .expect("DISCARD ALL");
    })
    .await;
}

#[tokio::test]
async fn a_batch_on_a_plan_made_stale_by_a_migration_runs_again_and_succeeds() {
    let app = TestApp::spawn_with(|vars| one_connection(vars, false)).await;
    a_stale_batch_runs_again_and_succeeds(&app, async |app: &TestApp| {
        // What the batch's statements return changes: 0A000.
        app.db
            .client()
            .await
            .batch_execute("ALTER TABLE tasks ALTER COLUMN title TYPE varchar(255)")
            .await
            .expect("migration");
    })
    .await;
}
