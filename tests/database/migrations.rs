//! Migrations apply, revert and re-apply cleanly, through the real binary.

use std::process::Command;

use integration_tests::*;
use tokio_postgres::types::Type;

fn migrate(url: &str, command: &str) -> (bool, String) {
    let binary = format!("{}/../target/debug/migrate", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(&binary)
        .arg(command)
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

const ALL_TABLES: [&str; 5] = [
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

    // Down reverts one migration at a time, newest first.
    let (ok, out) = migrate(&db.url, "down");
    assert!(ok && out.contains("reverted 0003"), "{out}");
    assert_eq!(
        tables(&db).await,
        ["idempotency_keys", "schema_migrations", "tasks", "users"]
    );
    let (ok, out) = migrate(&db.url, "down");
    assert!(ok && out.contains("reverted 0002"), "{out}");
    assert_eq!(tables(&db).await, ["schema_migrations", "tasks", "users"]);
    let (ok, out) = migrate(&db.url, "down");
    assert!(ok && out.contains("reverted 0001"), "{out}");
    assert_eq!(tables(&db).await, ["schema_migrations"]);
    let (ok, out) = migrate(&db.url, "status");
    assert!(ok && out.contains("pending"), "{out}");
    let (ok, out) = migrate(&db.url, "down");
    assert!(ok && out.contains("nothing to revert"), "{out}");

    let (ok, out) = migrate(&db.url, "up");
    assert!(
        ok && out.contains("applied 0001")
            && out.contains("applied 0002")
            && out.contains("applied 0003"),
        "{out}"
    );
    assert_eq!(tables(&db).await, ALL_TABLES);
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
