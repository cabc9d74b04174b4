//! Atomicity under concurrent requests.

use futures::future::join_all;
use integration_tests::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_toggles_keep_parity() {
    let app = TestApp::spawn().await;
    let task = app.create("u1", "t").await;
    let path = format!("/api/u1/tasks/{}/complete", task["id"].as_str().unwrap());
    let responses = join_all((0..50).map(|_| app.request(Method::PATCH, &path, "u1").send())).await;
    let mut updated_at = Vec::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
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
    let app = TestApp::spawn().await;
    // A brand-new user: every request races to create the user row too.
    let responses = join_all((0..100).map(|i| {
        app.request(Method::POST, "/api/newcomer/tasks", "newcomer")
            .json(&serde_json::json!({ "title": format!("t{i}") }))
            .send()
    }))
    .await;
    for response in responses {
        assert_eq!(response.unwrap().status(), StatusCode::CREATED);
    }
    assert_eq!(app.stored_tasks("newcomer").await, 100);
    let listed: Vec<Value> = app.get_json("/api/newcomer/tasks", "newcomer").await;
    assert_eq!(listed.len(), 100);
}
