//! Migrations apply, revert and re-apply cleanly, through the real binary.

use std::process::Command;

use integration_tests::*;
use tokio_postgres::types::Type;

fn migrate(url: &str, args: &str) -> (bool, String) {
    let binary = format!("{}/../target/debug/migrate", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(&binary)
        .args(args.split_whitespace())
        .env("DATABASE_URL", url)
        .output()
        .unwrap_or_else(|e| panic!("run {binary} (scripts/test builds it): {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

async fn tables(db: &TestDb) -> Vec<String> {
    let client = db.client().await;
    client
        // query_typed: unnamed statements, as the product uses, so the test
        // also runs through a transaction-mode pooler.
        .query_typed(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

const ALL_TABLES: [&str; 9] = [
    "idempotency_keys",
    "idempotent_batches",
    "schema_migrations",
    "task_history",
    "task_tombstones",
    "tasks",
    "time_zones",
    "trashed_tasks",
    "users",
];

/// The tables before 0006 (trash, history and the change feed).
const TABLES_0005: [&str; 5] = [
    "idempotency_keys",
    "schema_migrations",
    "tasks",
    "time_zones",
    "users",
];

#[tokio::test]
async fn up_down_up() {
    let db = TestDb::new().await; // already migrated up
    assert_eq!(tables(&db).await, ALL_TABLES);
    let (ok, out) = migrate(&db.url, "up");
    assert!(ok && out.contains("up to date"), "{out}");
    let (ok, out) = migrate(&db.url, "status");
    assert!(
        ok && out.contains("0001")
            && out.contains("0002")
            && out.contains("0003")
            && !out.contains("pending"),
        "{out}"
    );

    // Down drops data: only when asked twice.
    let (ok, out) = migrate(&db.url, "down");
    assert!(!ok && out.contains("migrate down --yes"), "{out}");
    let (ok, out) = migrate(&db.url, "down --force");
    assert!(!ok && out.contains("--force"), "{out}");
    let (ok, out) = migrate(&db.url, "status");
    assert!(
        ok && !out.contains("pending"),
        "nothing was reverted: {out}"
    );

    // Down reverts one migration at a time, newest first.
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("reverted 0008"), "{out}");
    assert_eq!(tables(&db).await, ALL_TABLES);
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("reverted 0007"), "{out}");
    assert!(!tables(&db).await.contains(&"idempotent_batches".to_owned()));
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("reverted 0006"), "{out}");
    assert_eq!(tables(&db).await, TABLES_0005);
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("reverted 0005"), "{out}");
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("reverted 0004"), "{out}");
    assert_eq!(tables(&db).await, TABLES_0005);
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("reverted 0003"), "{out}");
    assert_eq!(
        tables(&db).await,
        ["idempotency_keys", "schema_migrations", "tasks", "users"]
    );
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("reverted 0002"), "{out}");
    assert_eq!(tables(&db).await, ["schema_migrations", "tasks", "users"]);
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("reverted 0001"), "{out}");
    assert_eq!(tables(&db).await, ["schema_migrations"]);
    let (ok, out) = migrate(&db.url, "status");
    assert!(ok && out.contains("pending"), "{out}");
    let (ok, out) = migrate(&db.url, "down --yes");
    assert!(ok && out.contains("nothing to revert"), "{out}");

    let (ok, out) = migrate(&db.url, "up");
    assert!(
        ok && [
            "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008",
        ]
        .iter()
        .all(|v| out.contains(&format!("applied {v}"))),
        "{out}"
    );
    assert_eq!(tables(&db).await, ALL_TABLES);
}

/// Tasks written before 0003 get their search words when it is applied,
/// the words the API makes, and keep their version.
#[tokio::test]
async fn tasks_from_before_0003_get_their_search_words() {
    let db = TestDb::new().await;
    for version in ["0008", "0007", "0006", "0005", "0004", "0003"] {
        let (ok, out) = migrate(&db.url, "down --yes");
        assert!(ok && out.contains(&format!("reverted {version}")), "{out}");
    }
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO users (id) VALUES ('u1');
             INSERT INTO tasks (id, user_id, title, description)
             SELECT gen_random_uuid(), 'u1', 'Task ' || i || ' ÉTÉ',
                 CASE WHEN i % 2 = 0 THEN 'foo@bar.com' END
             FROM generate_series(1, 2500) i;
             INSERT INTO tasks (id, user_id, title) VALUES (gen_random_uuid(), 'u1', '--')",
        )
        .await
        .unwrap();
    let versions = "SELECT string_agg(updated_at::text, ',' ORDER BY id) FROM tasks";
    let before: String = client.query_typed(versions, &[]).await.unwrap()[0].get(0);
    let (ok, out) = migrate(&db.url, "up");
    assert!(ok && out.contains("applied 0003"), "{out}");
    for (sql, expected) in [
        (
            "SELECT count(*) FROM tasks WHERE title_words
                = array_to_tsvector(ARRAY[
                    'task', COALESCE(NULLIF(split_part(title, ' ', 2), ''), '-'), 'été'
                ])",
            2500,
        ),
        (
            "SELECT count(*) FROM tasks
             WHERE description_words = array_to_tsvector('{foo,bar,com}')",
            1250,
        ),
        (
            "SELECT count(*) FROM tasks WHERE description IS NULL AND description_words = ''",
            1251,
        ),
        (
            "SELECT count(*) FROM tasks WHERE title = '--' AND title_words = ''",
            1,
        ),
    ] {
        let n: i64 = client.query_typed(sql, &[]).await.unwrap()[0].get(0);
        assert_eq!(n, expected, "{sql}");
    }
    let after: String = client.query_typed(versions, &[]).await.unwrap()[0].get(0);
    assert_eq!(before, after, "no task changed version");
}

#[tokio::test]
async fn schema_checks_mirror_the_validation_rules() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute("INSERT INTO users (id) VALUES ('u1')")
        .await
        .unwrap();
    for (title, description) in [
        ("", None),
        ("   ", None),
        (&*"x".repeat(256), None),
        ("ok", Some("x".repeat(1001))),
    ] {
        let result = client
            .query_typed(
                "INSERT INTO tasks (id, user_id, title, description) VALUES (gen_random_uuid(), 'u1', $1, $2)",
                &[(&title, Type::TEXT), (&description, Type::TEXT)],
            )
            .await;
        let err = result.expect_err("the CHECK refuses it");
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION)
        );
    }
    // Deleting a user deletes their tasks.
    client
        .batch_execute("INSERT INTO tasks (id, user_id, title) VALUES (gen_random_uuid(), 'u1', 't'); DELETE FROM users WHERE id = 'u1'")
        .await
        .unwrap();
    let left: i64 = client
        .query_typed("SELECT count(*) FROM tasks", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn migrate_without_database_url_names_it() {
    let binary = format!("{}/../target/debug/migrate", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(binary)
        .arg("up")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL"));
}

/// `url` as the role the functions connect as (no password: the test
/// cluster trusts loopback). Direct to PostgreSQL: the test pooler logs in
/// upstream as one user whatever the client's.
fn as_app_role(url: &str) -> String {
    let mut url = reqwest::Url::parse(&direct(url)).expect("a URL");
    url.set_username(shared::migrations::APP_ROLE).unwrap();
    url.set_password(None).unwrap();
    url.to_string()
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect as {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// The functions' role reads and writes the API's rows and nothing else:
/// no DDL, no other table; its statements end server-side too.
#[tokio::test]
async fn the_app_role_reads_and_writes_rows_only() {
    let db = TestDb::new().await;
    let app = connect(&as_app_role(&db.url)).await;
    let who: String = app
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, shared::migrations::APP_ROLE);
    app.batch_execute(
        "INSERT INTO users (id) VALUES ('u1');
         INSERT INTO tasks (id, user_id, title) VALUES (gen_random_uuid(), 'u1', 't');
         UPDATE tasks SET completed = true;
         SELECT * FROM idempotency_keys;
         DELETE FROM tasks;",
    )
    .await
    .expect("rows of the API's tables");
    for refused in [
        "CREATE TABLE stolen (a int)",
        "CREATE INDEX ON tasks (title)",
        "ALTER TABLE tasks ADD COLUMN x int",
        "DROP TABLE tasks",
        "TRUNCATE tasks",
        "SELECT * FROM schema_migrations",
        "DELETE FROM schema_migrations",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ] {
        let err = app.batch_execute(refused).await.expect_err(refused);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{refused}: {err:?}"
        );
    }
    let timeout: String = app
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, "5s");
    let err = app
        .batch_execute("SELECT pg_sleep(6)")
        .await
        .expect_err("ended by the role's statement_timeout");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
}

/// The whole API works connected as the functions' role.
#[tokio::test]
async fn the_api_works_as_the_app_role() {
    let app = TestApp::spawn_with(|vars| {
        let url = as_app_role(&vars["DATABASE_URL"]);
        vars.insert("DATABASE_URL".into(), url);
    })
    .await;
    let who: String = app
        .state
        .tasks
        .database()
        .query_opt("SELECT current_user::text", &[])
        .await
        .unwrap()
        .unwrap()
        .get(0);
    assert_eq!(who, shared::migrations::APP_ROLE);
    let user = "role-user";
    let tasks = format!("/api/{user}/tasks");
    let created = app
        .request(Method::POST, &tasks, user)
        .header("idempotency-key", "k1")
        .json(&serde_json::json!({ "title": "as the app role" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = format!("{tasks}/{id}");
    for (method, path, body, status) in [
        (Method::GET, tasks.as_str(), None, StatusCode::OK),
        (Method::GET, one.as_str(), None, StatusCode::OK),
        (
            Method::PUT,
            one.as_str(),
            Some(serde_json::json!({ "title": "renamed" })),
            StatusCode::OK,
        ),
        (
            Method::PATCH,
            &format!("{one}/complete"),
            None,
            StatusCode::OK,
        ),
        (Method::DELETE, one.as_str(), None, StatusCode::NO_CONTENT),
    ] {
        let mut request = app.request(method.clone(), path, user);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
    }
}

/// A migration waiting for a lock fails fast, with a message that says
/// why, instead of queueing every request behind it.
#[tokio::test]
async fn a_migration_behind_a_long_transaction_fails_fast() {
    let db = TestDb::new().await;
    for version in ["0008", "0007", "0006", "0005"] {
        let (ok, out) = migrate(&db.url, "down --yes");
        assert!(ok && out.contains(&format!("reverted {version}")), "{out}");
    }
    // A long transaction that wrote to tasks: 0005 puts a trigger on it.
    let reader = connect(&direct(&db.url)).await;
    reader
        .batch_execute("BEGIN; DELETE FROM tasks")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (ok, out) = migrate(&direct(&db.url), "up");
    let waited = started.elapsed();
    assert!(!ok, "{out}");
    assert!(
        out.contains("lock timeout") && out.contains("nothing was changed"),
        "{out}"
    );
    // A hang guard, not a speed goal: lock_timeout is 5 s.
    assert!(waited < std::time::Duration::from_secs(30), "{waited:?}");
    let (ok, out) = migrate(&db.url, "status");
    assert!(ok && out.contains("pending"), "{out}");
    reader.batch_execute("COMMIT").await.unwrap();
    let (ok, out) = migrate(&db.url, "up");
    assert!(ok && out.contains("applied 0005"), "{out}");
}
