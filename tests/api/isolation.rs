//! One user can never read, change or delete another's task, nor learn
//! whether an id exists.

use integration_tests::*;
use serde_json::Value;
use shared::{idempotency::Creation, repository::Written};

#[tokio::test]
async fn listing_shows_only_the_callers_tasks() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        app.create("alice", &format!("a{i}")).await;
        app.create("bob", &format!("b{i}")).await;
    }
    let alices: Vec<Value> = app.get_json("/api/alice/tasks", "alice").await;
    assert_eq!(alices.len(), 3);
    assert!(
        alices
            .iter()
            .all(|t| t["user_id"] == "alice" && t["title"].as_str().unwrap().starts_with('a'))
    );
}

#[tokio::test]
async fn repository_queries_are_scoped_by_user_id_even_without_the_path_check() {
    // The second wall: call the repository directly, as a handler would
    // after a (hypothetically) broken path check.
    let app = TestApp::spawn().await;
    let task = app.create("alice", "alice's").await;
    let id = uuid::Uuid::parse_str(task["id"].as_str().unwrap()).unwrap();
    let bob = app.state.auth.authenticate(&bearer("bob")).await.unwrap();
    let repo = &app.state.tasks;
    assert!(repo.get(&bob, id).await.unwrap().is_none());
    assert!(matches!(
        repo.toggle_completed(&bob, id, None).await.unwrap(),
        Written::Missing
    ));
    assert!(matches!(
        repo.set_completed(&bob, id, true, None).await.unwrap(),
        Written::Missing
    ));
    assert!(matches!(
        repo.delete(&bob, id, None).await.unwrap(),
        Written::Missing
    ));
    // Naming alice's version changes nothing either, and says nothing (not
    // a 412: bob learns no more than from an id that never existed).
    let etag = task["updated_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    let versions = Some(&[etag][..]);
    assert!(matches!(
        repo.toggle_completed(&bob, id, versions).await.unwrap(),
        Written::Missing
    ));
    assert!(matches!(
        repo.delete(&bob, id, versions).await.unwrap(),
        Written::Missing
    ));
    // Alice's idempotency key, with her very task, is another key for bob:
    // it creates bob's own task and replays nothing of hers.
    let key = shared::idempotency::IdempotencyKey::parse("alice-key").unwrap();
    let new_task = shared::input::NewTask::new("alice's", None);
    let alice = app.state.auth.authenticate(&bearer("alice")).await.unwrap();
    let keys = &app.state.idempotency;
    assert!(matches!(
        keys.create_once(&alice, &new_task, &key).await.unwrap(),
        Creation::Created(_)
    ));
    match keys.create_once(&bob, &new_task, &key).await.unwrap() {
        Creation::Created(created) => assert_ne!(created.id().unwrap(), id),
        other => panic!("bob got {other:?} with alice's key"),
    }
    assert_eq!(app.stored_tasks("bob").await, 1);
    assert_eq!(app.stored_tasks("alice").await, 2);
    let query = shared::input::ListQuery::default();
    let listed = repo.list(&bob, &query).await.unwrap().tasks;
    assert_eq!(listed.len(), 1, "only bob's own task");
    assert_eq!(app.stored_tasks("alice").await, 2);
}

fn bearer(user: &str) -> lambda_http::http::HeaderMap {
    let mut headers = lambda_http::http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {}", token(user)).parse().unwrap(),
    );
    headers
}
