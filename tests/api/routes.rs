//! The task routes' finer rules, over HTTP, beside what the black-box
//! contract (`tests/contract`) already asserts: defaults, partial updates,
//! `updated_at`, what a DELETE leaves stored, and unrouted requests.

use integration_tests::*;
use serde_json::{Value, json};

#[tokio::test]
async fn description_defaults_to_null_and_empty_string_is_kept() {
    let app = TestApp::spawn().await;
    let task = app.create("u1", "no description").await;
    assert_eq!(task["description"], Value::Null);
    let response = app
        .request(Method::POST, "/api/u1/tasks", "u1")
        .json(&json!({ "title": "t", "description": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().await.unwrap()["description"], "");
    let response = app
        .request(Method::POST, "/api/u1/tasks", "u1")
        .json(&json!({ "title": "t", "description": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["description"],
        Value::Null
    );
}

#[tokio::test]
async fn put_changes_only_the_fields_sent_and_moves_updated_at() {
    let app = TestApp::spawn().await;
    let created = app.create("u1", "first").await;
    let path = format!("/api/u1/tasks/{}", created["id"].as_str().unwrap());

    let put = |body: Value| app.request(Method::PUT, &path, "u1").json(&body).send();
    let response = put(json!({ "description": "details" })).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let after_description: Value = response.json().await.unwrap();
    assert_eq!(after_description["title"], "first");
    assert_eq!(after_description["description"], "details");
    assert_eq!(after_description["created_at"], created["created_at"]);
    assert!(after_description["updated_at"].as_str() > created["updated_at"].as_str());

    let renamed: Value = put(json!({ "title": " second ", "completed": true }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["title"], "second");
    assert_eq!(
        renamed["description"], "details",
        "absent fields keep their value"
    );
    assert_eq!(renamed["completed"], true);
    assert!(renamed["updated_at"].as_str() > after_description["updated_at"].as_str());

    let cleared: Value = put(json!({ "description": null }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["title"], "second");

    let response = put(json!({})).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let stored: Value = app.get_json(&path, "u1").await;
    assert_eq!(stored, cleared, "the 400 changed nothing");

    let missing = format!("/api/u1/tasks/{}", uuid::Uuid::now_v7());
    let response = app
        .request(Method::PUT, &missing, "u1")
        .json(&json!({ "title": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn updated_at_strictly_increases_on_every_change() {
    let app = TestApp::spawn().await;
    let task = app.create("u1", "t").await;
    let path = format!("/api/u1/tasks/{}", task["id"].as_str().unwrap());
    let mut last = task["updated_at"].as_str().unwrap().to_owned();
    for i in 0..20 {
        let response = if i % 2 == 0 {
            app.request(Method::PATCH, &format!("{path}/complete"), "u1")
                .send()
                .await
                .unwrap()
        } else {
            app.request(Method::PUT, &path, "u1")
                .json(&json!({ "completed": true }))
                .send()
                .await
                .unwrap()
        };
        let body: Value = response.json().await.unwrap();
        let updated = body["updated_at"].as_str().unwrap().to_owned();
        assert!(updated > last, "{updated} after {last}");
        assert_eq!(body["created_at"], task["created_at"]);
        last = updated;
    }
}

#[tokio::test]
async fn delete_returns_204_then_404() {
    let app = TestApp::spawn().await;
    let task = app.create("u1", "t").await;
    let path = format!("/api/u1/tasks/{}", task["id"].as_str().unwrap());
    let response = app
        .request(Method::DELETE, &path, "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(
        app.request(Method::GET, &path, "u1")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.request(Method::DELETE, &path, "u1")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.stored_tasks("u1").await, 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.json::<Value>().await.unwrap()["detail"].is_string());
    let response = app
        .request(Method::DELETE, "/api/u1/tasks", "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, POST");
    assert!(response.json::<Value>().await.unwrap()["detail"].is_string());
}
