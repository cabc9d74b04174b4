//! The contract's routes, status codes, headers and task shape, over HTTP.

use integration_tests::*;
use serde_json::{Value, json};

#[tokio::test]
async fn health_needs_no_token_and_reports_ok() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "ok" })
    );
}

#[tokio::test]
async fn create_returns_201_with_location_and_the_task() {
    let app = TestApp::spawn().await;
    let user = "8d3c2b1a-0f9e-4d8c-b7a6-5e4f3d2c1b0a";
    let response = app
        .request(Method::POST, &format!("/api/{user}/tasks"), user)
        .json(&json!({ "title": "  Buy milk \t", "description": "2 litres" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["content-type"], "application/json");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let task: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/{user}/tasks/{}", task["id"].as_str().unwrap())
    );

    let id = uuid::Uuid::parse_str(task["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7, "ids are UUIDv7");
    assert_eq!(task["user_id"], user);
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["description"], "2 litres");
    assert_eq!(task["completed"], false);
    assert!(
        is_rfc3339_micros_z(task["created_at"].as_str().unwrap()),
        "{task}"
    );
    assert_eq!(task["created_at"], task["updated_at"]);
    let keys: Vec<&String> = task.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7, "exactly the contract's fields: {keys:?}");

    // Location names the task: following it returns the same task.
    let fetched: Value = app.get_json(&location, user).await;
    assert_eq!(fetched, task);
}

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
async fn list_is_newest_first_and_empty_for_a_new_user() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::GET, "/api/u1/tasks", "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));

    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create("u1", &format!("task {i}")).await["id"].clone());
    }
    let listed: Vec<Value> = app.get_json("/api/u1/tasks", "u1").await;
    let listed_ids: Vec<Value> = listed.iter().map(|t| t["id"].clone()).collect();
    ids.reverse();
    assert_eq!(listed_ids, ids);
}

#[tokio::test]
async fn get_returns_the_task_or_404_or_400() {
    let app = TestApp::spawn().await;
    let task = app.create("u1", "t").await;
    let id = task["id"].as_str().unwrap();
    let response = app
        .request(Method::GET, &format!("/api/u1/tasks/{id}"), "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), task);

    let missing = uuid::Uuid::now_v7();
    let response = app
        .request(Method::GET, &format!("/api/u1/tasks/{missing}"), "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.json::<Value>().await.unwrap()["detail"].is_string());

    for bad in [
        "not-a-uuid",
        "123",
        "0192f1d63b7e7c4a9d2e5f6a7b8c9d0e",
        "{0192f1d6-3b7e-7c4a-9d2e-5f6a7b8c9d0e}",
    ] {
        let response = app
            .request(Method::GET, &format!("/api/u1/tasks/{bad}"), "u1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let detail = response.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(detail.contains("task_id"), "{detail}");
    }
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
async fn patch_complete_toggles_without_body_and_sets_with_one() {
    let app = TestApp::spawn().await;
    let task = app.create("u1", "t").await;
    let path = format!("/api/u1/tasks/{}/complete", task["id"].as_str().unwrap());
    let patch = |body: Option<Value>| {
        let request = app.request(Method::PATCH, &path, "u1");
        match body {
            Some(b) => request.json(&b),
            None => request,
        }
        .send()
    };
    let toggled: Value = patch(None).await.unwrap().json().await.unwrap();
    assert_eq!(toggled["completed"], true);
    let toggled: Value = patch(None).await.unwrap().json().await.unwrap();
    assert_eq!(toggled["completed"], false);
    for _ in 0..2 {
        let response = patch(Some(json!({ "completed": true }))).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.unwrap()["completed"],
            true,
            "setting is idempotent"
        );
    }
    for bad in [
        json!({}),
        json!({ "completed": "yes" }),
        json!({ "completed": true, "x": 1 }),
        json!([true]),
    ] {
        let response = patch(Some(bad.clone())).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let missing = format!("/api/u1/tasks/{}/complete", uuid::Uuid::now_v7());
    let response = app
        .request(Method::PATCH, &missing, "u1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
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
