//! `users.task_count` (migrations 0005 and 0008: counted once per
//! statement) against `count(*)` after every path that adds, moves or
//! removes tasks: the API's, and SQL by hand.

use chrono::{DateTime, Utc};
use integration_tests::*;
use serde_json::json;
use shared::repository::trash::sql::{DESTROY, RESTORE};
use tokio_postgres::types::Type;

#[tokio::test]
async fn the_task_count_is_exact_on_every_path() {
    let app = TestApp::spawn().await;
    let client = app.db.client().await;
    // Unnamed (query_typed, batch_execute): this client may sit behind a
    // pooler that carries no named statements.
    let counts = async |user: &str| -> (i64, Option<i32>) {
        let rows = client
            .query_typed(
                "SELECT (SELECT count(*) FROM tasks WHERE user_id = $1), \
                 (SELECT task_count FROM users WHERE id = $1)",
                &[(&user, Type::TEXT)],
            )
            .await
            .expect("counts");
        (rows[0].get(0), rows[0].get(1))
    };

    // A batch's run of creates: one statement, five rows.
    let creates: Vec<_> = (0..5)
        .map(|i| json!({"op": "create", "task": {"title": format!("t{i}")}}))
        .collect();
    let reply = app
        .send(
            Method::POST,
            "/api/u1/tasks/batch",
            Some(&token("u1")),
            Some((
                Some("application/json"),
                json!({ "operations": creates }).to_string().into(),
            )),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json);
    assert_eq!(counts("u1").await, (5, Some(5)));
    let task = app.create("u1", "single").await;
    let id: uuid::Uuid = task["id"].as_str().expect("id").parse().expect("uuid");
    assert_eq!(counts("u1").await, (6, Some(6)));

    // To the trash and back, then gone for good from the trash.
    let app = &app;
    let trash = |id: uuid::Uuid| {
        let path = format!("/api/u1/tasks/{id}");
        async move {
            let reply = app
                .send(Method::DELETE, &path, Some(&token("u1")), None)
                .await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.json);
        }
    };
    trash(id).await;
    assert_eq!(counts("u1").await, (5, Some(5)));
    let none: Option<Vec<DateTime<Utc>>> = None;
    let restored = client
        .query_typed(
            RESTORE,
            &[
                (&"u1", Type::TEXT),
                (&id, Type::UUID),
                (&none, Type::TIMESTAMPTZ_ARRAY),
                (&100_i32, Type::INT4),
            ],
        )
        .await
        .expect("restore");
    assert_eq!(restored.len(), 1);
    assert_eq!(counts("u1").await, (6, Some(6)));
    trash(id).await;
    let destroyed = client
        .query_typed(
            DESTROY,
            &[
                (&"u1", Type::TEXT),
                (&id, Type::UUID),
                (&none, Type::TIMESTAMPTZ_ARRAY),
            ],
        )
        .await
        .expect("delete for good");
    assert_eq!(destroyed.len(), 1);
    assert_eq!(counts("u1").await, (5, Some(5)));

    // By hand: several rows of two users in one statement, each way.
    app.create("u2", "theirs").await;
    client
        .batch_execute(
            "INSERT INTO tasks (id, user_id, title)
             SELECT gen_random_uuid(), u, 'by hand ' || i
             FROM (VALUES ('u1'), ('u2')) v(u), generate_series(1, 4) i",
        )
        .await
        .expect("insert");
    assert_eq!(counts("u1").await, (9, Some(9)));
    assert_eq!(counts("u2").await, (5, Some(5)));
    client
        .batch_execute(
            "DELETE FROM tasks WHERE title IN ('by hand 1', 'by hand 2', 'by hand 3')
                AND user_id IN ('u1', 'u2')",
        )
        .await
        .expect("delete");
    assert_eq!(counts("u1").await, (6, Some(6)));
    assert_eq!(counts("u2").await, (2, Some(2)));
    // A statement that matches nothing changes nothing.
    client
        .batch_execute("DELETE FROM tasks WHERE title = 'no such task'")
        .await
        .expect("delete nothing");
    assert_eq!(counts("u1").await, (6, Some(6)));

    // Tasks given to another owner, and an owner set to itself.
    client
        .batch_execute(
            "UPDATE tasks SET user_id = 'u2' WHERE user_id = 'u1' AND title LIKE 't%';
             UPDATE tasks SET user_id = user_id WHERE user_id = 'u2'",
        )
        .await
        .expect("move");
    assert_eq!(counts("u1").await, (1, Some(1)));
    assert_eq!(counts("u2").await, (7, Some(7)));

    // A user's cascade: their tasks go with them, the others' count stays.
    client
        .batch_execute("DELETE FROM users WHERE id = 'u2'")
        .await
        .expect("cascade");
    assert_eq!(counts("u2").await, (0, None));
    assert_eq!(counts("u1").await, (1, Some(1)));
}
