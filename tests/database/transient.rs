//! Transient states of a real PostgreSQL are a 503 with `Retry-After`,
//! never a 500, and a statement that times out is cancelled on the server
//! (not left running, holding a backend).

use std::time::Duration;

use integration_tests::*;
use shared::{
    db::{Database, DbError},
    tls::Tls,
};
use tokio_postgres::types::Type;

async fn database(db: &TestDb, statement_timeout_ms: &str) -> Database {
    let mut vars = db.vars();
    vars.insert(
        "DB_STATEMENT_TIMEOUT_MS".into(),
        statement_timeout_ms.into(),
    );
    Database::new(&config_from(&vars).db, &Tls::default()).expect("database")
}

/// The same, straight to PostgreSQL even in the pooler pass: for settings
/// only a new server session takes (`direct`).
async fn direct_database(db: &TestDb, statement_timeout_ms: &str) -> Database {
    let mut vars = db.vars();
    vars.insert(
        "DB_STATEMENT_TIMEOUT_MS".into(),
        statement_timeout_ms.into(),
    );
    vars.insert("DATABASE_URL".into(), direct(&db.url));
    Database::new(&config_from(&vars).db, &Tls::default()).expect("database")
}

/// Runs `sql` (simple protocol: it also passes a pooler) on the test's
/// database from a connection of the test's own.
async fn admin(db: &TestDb, sql: &str) {
    db.client().await.batch_execute(sql).await.expect(sql);
}

/// Sets a server parameter for every new session of the test's database.
async fn set_for_database(db: &TestDb, setting: &str) {
    admin(
        db,
        &format!(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET {setting}', current_database()); END $$"
        ),
    )
    .await;
}

/// Backends other than the caller's running a statement containing `marker`.
async fn running(db: &TestDb, marker: &str) -> i64 {
    db.client()
        .await
        .query_typed(
            "SELECT count(*) FROM pg_stat_activity
             WHERE query LIKE $1 AND state = 'active' AND pid <> pg_backend_pid()",
            &[(&format!("%{marker}%"), Type::TEXT)],
        )
        .await
        .expect("pg_stat_activity")[0]
        .get(0)
}

fn assert_unavailable(result: Result<impl std::fmt::Debug, DbError>, what: &str) {
    match result {
        Err(DbError::Unavailable) => {}
        other => panic!("{what}: expected 503, got {other:?}"),
    }
}

#[tokio::test]
async fn a_statement_that_times_out_is_cancelled_on_the_server() {
    let db = TestDb::new().await;
    // Straight to PostgreSQL even in the pooler pass: CI's PgBouncer (1.18,
    // Debian bookworm's) crashes when a cancel request's connection closes
    // before it has forwarded it, which is how tokio-postgres sends one
    // ("bad client state" in disconnect_client). Neon's pooler is newer.
    let database = direct_database(&db, "300").await;
    let marker = format!("slow_{}", uuid::Uuid::now_v7().simple());
    let result = database
        .query(&format!("SELECT pg_sleep(30) AS {marker}"), &[])
        .await;
    assert_unavailable(result, "a statement past its timeout");
    // The cancel was sent before the answer: the backend stops at once.
    for _ in 0..20 {
        if running(&db, &marker).await == 0 {
            return;
        }
        wait(100).await;
    }
    panic!("the timed-out statement is still running on the server");
}

#[tokio::test]
async fn a_read_only_database_is_503_for_writes_and_reads_still_work() {
    let app = TestApp::spawn_with(|vars| {
        let url = direct(&vars["DATABASE_URL"]);
        vars.insert("DATABASE_URL".into(), url);
    })
    .await;
    // As during a failover: every new session is read-only.
    set_for_database(&app.db, "default_transaction_read_only = on").await;
    let response = app
        .request(Method::POST, "/api/u1/tasks", "u1")
        .json(&serde_json::json!({ "title": "t" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["detail"].is_string(), "{body}");
    let response = app
        .request(Method::GET, "/api/u1/tasks", "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_server_side_statement_timeout_is_503() {
    let db = TestDb::new().await;
    set_for_database(&db, "statement_timeout = 100").await;
    let database = direct_database(&db, "5000").await;
    let result = database.query("SELECT pg_sleep(2)", &[]).await;
    assert_unavailable(result, "57014 query_canceled");
}

#[tokio::test]
async fn a_deadlock_is_503() {
    let db = TestDb::new().await;
    let database = database(&db, "5000").await;
    // Two single statements taking two locks in opposite orders: the
    // server detects the deadlock (after deadlock_timeout, 1 s) and fails
    // one of them.
    let (a, b) = tokio::join!(
        database.query(
            "SELECT pg_advisory_xact_lock(1), pg_sleep(0.3), pg_advisory_xact_lock(2)",
            &[]
        ),
        database.query(
            "SELECT pg_advisory_xact_lock(2), pg_sleep(0.3), pg_advisory_xact_lock(1)",
            &[]
        ),
    );
    let failed: Vec<_> = [a, b].into_iter().filter_map(Result::err).collect();
    assert_eq!(failed.len(), 1, "one of the two is the deadlock's victim");
    assert_eq!(failed[0], DbError::Unavailable);
}

#[tokio::test]
async fn a_serialization_failure_is_503() {
    let db = TestDb::new().await;
    let database = database(&db, "5000").await;
    // Producing a real one needs a multi-statement serializable
    // transaction; the server raises the same error here.
    let result = database
        .query(
            "DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; END $$",
            &[],
        )
        .await;
    assert_unavailable(result, "40001 serialization_failure");
}

#[tokio::test]
async fn a_terminated_backend_is_503_and_the_next_request_recovers() {
    let db = TestDb::new().await;
    let database = database(&db, "5000").await;
    let marker = format!("victim_{}", uuid::Uuid::now_v7().simple());
    let sql = format!("SELECT pg_sleep(5) AS {marker}");
    let slow = database.query(&sql, &[]);
    let terminate = async {
        while running(&db, &marker).await == 0 {
            wait(20).await;
        }
        // What Neon does when it suspends an idle compute.
        admin(
            &db,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND pid <> pg_backend_pid()"
            ),
        )
        .await;
    };
    let (result, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(4), slow),
        terminate
    );
    assert_unavailable(result.expect("answered at once"), "57P01 admin_shutdown");
    database.ping().await.expect("a fresh connection answers");
}
