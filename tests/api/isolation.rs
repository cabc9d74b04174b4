//! One user can never read, change or delete another's task, nor learn
//! whether an id exists.

use integration_tests::*;
use serde_json::{Value, json};
use shared::repository::Creation;

#[tokio::test]
async fn another_users_task_through_own_path_is_404_and_untouched() {
    let app = TestApp::spawn().await;
    let alice_task = app.create("alice", "alice's secret").await;
    let bob_task = app.create("bob", "bob's").await;
    let id = alice_task["id"].as_str().unwrap();
    let never_existed = uuid::Uuid::now_v7().to_string();

    for target in [id, never_existed.as_str()] {
        for (method, path, body) in task_routes("bob", target)
            .into_iter()
            .filter(|(_, p, _)| p.contains(target))
        {
            let mut request = app.request(method.clone(), &path, "bob");
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
            // Same answer whether the id exists for someone else or not at all.
            assert_eq!(
                response.json::<Value>().await.unwrap(),
                json!({ "detail": "task not found" })
            );
        }
    }

    let stored: Value = app
        .get_json(&format!("/api/alice/tasks/{id}"), "alice")
        .await;
    assert_eq!(stored, alice_task);
    let bobs: Vec<Value> = app.get_json("/api/bob/tasks", "bob").await;
    assert_eq!(bobs, vec![bob_task]);
}

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
    assert!(
        repo.toggle_completed(&bob, id, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        repo.set_completed(&bob, id, true, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!repo.delete(&bob, id, None).await.unwrap());
    // Naming alice's version changes nothing either, and says nothing (not
    // a 412: bob learns no more than from an id that never existed).
    let etag = task["updated_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    let versions = Some(&[etag][..]);
    assert!(
        repo.toggle_completed(&bob, id, versions)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!repo.delete(&bob, id, versions).await.unwrap());
    // Alice's idempotency key, with her very task, is another key for bob:
    // it creates bob's own task and replays nothing of hers.
    let key = shared::idempotency::IdempotencyKey::parse("alice-key").unwrap();
    let new_task = shared::input::NewTask {
        title: "alice's".into(),
        description: None,
    };
    let alice = app.state.auth.authenticate(&bearer("alice")).await.unwrap();
    assert!(matches!(
        repo.create_once(&alice, &new_task, &key).await.unwrap(),
        Creation::Created(_)
    ));
    match repo.create_once(&bob, &new_task, &key).await.unwrap() {
        Creation::Created(created) => assert_ne!(created.id().unwrap(), id),
        Creation::Replayed(_) => panic!("bob got a replay of alice's key"),
    }
    assert_eq!(app.stored_tasks("bob").await, 1);
    assert_eq!(app.stored_tasks("alice").await, 2);
    let query = shared::input::ListQuery {
        completed: None,
        limit: 1000,
        after: None,
    };
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
