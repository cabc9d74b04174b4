//! The handlers are plain async functions of (request, state): called here
//! directly with the API Gateway events in events/, as Lambda would.

use std::{collections::HashMap, fs};

use integration_tests::*;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use shared::AppState;

fn fixture(function: &str, task_id: Option<&str>) -> Request {
    let mut text = fs::read_to_string(format!(
        "{}/../events/{function}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    if let Some(id) = task_id {
        text = text.replace("0192f1d6-3b7e-7c4a-9d2e-5f6a7b8c9d0e", id);
    }
    lambda_http::request::from_str(&text).unwrap()
}

fn json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn every_event_fixture_runs_through_its_handler() {
    let db = TestDb::new().await;
    let mut vars = db.vars();
    vars.insert("BETTER_AUTH_SECRET".into(), DEV_SECRET.into());
    let config = config_from(&vars);
    let state = AppState::new(&config).unwrap();

    let created = create_task::handler(fixture("create-task", None), &state).await;
    assert_eq!(created.status(), 201);
    let task = json(&created);
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["user_id"], "demo-user");
    assert_eq!(task["due"], "2026-12-24");
    assert_eq!(task["time_zone"], "Europe/Berlin");
    assert_eq!(task["due_by"], "2026-12-24T23:00:00.000000Z");
    assert_eq!(task["priority"], 2);
    assert_eq!(task["labels"], serde_json::json!(["groceries", "errands"]));
    let id = task["id"].as_str().unwrap().to_owned();

    let response = get_task::handler(fixture("get-task", Some(&id)), &state).await;
    assert_eq!(
        (response.status().as_u16(), json(&response)),
        (200, task.clone())
    );

    let response = list_tasks::handler(fixture("list-tasks", None), &state).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(&response), Value::Array(vec![task]));

    let response = update_task::handler(fixture("update-task", Some(&id)), &state).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(&response)["title"], "Buy oat milk");
    assert_eq!(json(&response)["completed"], true);
    assert_eq!(json(&response)["due"], "2026-12-24T16:00:00.000000Z");
    assert_eq!(json(&response)["due_by"], "2026-12-24T16:00:00.000000Z");
    assert_eq!(json(&response)["priority"], 3);
    assert_eq!(json(&response)["labels"], serde_json::json!(["groceries"]));

    let response = complete_task::handler(fixture("complete-task", Some(&id)), &state).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(&response)["completed"], false, "toggled back");

    let response = batch_tasks::handler(fixture("batch-tasks", Some(&id)), &state).await;
    assert_eq!(response.status(), 200);
    let results = &json(&response)["results"];
    assert_eq!(results[0]["status"], 201, "{results}");
    assert_eq!(results[0]["task"]["title"], "Buy bread");
    assert_eq!(results[1]["status"], 200, "{results}");
    assert_eq!(results[1]["task"]["completed"], true);
    let response = task_history::handler(fixture("task-history", Some(&id)), &state).await;
    assert_eq!(response.status(), 200);
    let entries = json(&response);
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.last().unwrap()["action"], "created");
    let at: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] > w[1]), "newest first: {at:?}");
    let response = list_changes::handler(fixture("list-changes", None), &state).await;
    assert_eq!(response.status(), 200);
    let page = json(&response);
    let changes = page["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["id"] == id.as_str()), "{page}");
    assert_eq!(page["more"], false);

    let response = delete_task::handler(fixture("delete-task", Some(&id)), &state).await;
    assert_eq!(response.status(), 204);
    let response = get_task::handler(fixture("get-task", Some(&id)), &state).await;
    assert_eq!(response.status(), 404);

    let response = list_trash::handler(fixture("list-trash", None), &state).await;
    assert_eq!(response.status(), 200);
    let trash = json(&response);
    assert_eq!(trash[0]["id"], id.as_str());
    assert!(trash[0]["deleted_at"].is_string());
    let response = restore_task::handler(fixture("restore-task", Some(&id)), &state).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(&response)["title"], "Buy oat milk");
    let response = get_task::handler(fixture("get-task", Some(&id)), &state).await;
    assert_eq!(response.status(), 200, "restored");
    let response = delete_task::handler(fixture("delete-task", Some(&id)), &state).await;
    assert_eq!(response.status(), 204);
    let fixture_for_good = || fixture("delete-task-for-good", Some(&id));
    let response = delete_task_for_good::handler(fixture_for_good(), &state).await;
    assert_eq!(response.status(), 204);
    let response = delete_task_for_good::handler(fixture_for_good(), &state).await;
    assert_eq!(response.status(), 404, "gone for good");
    let response = restore_task::handler(fixture("restore-task", Some(&id)), &state).await;
    assert_eq!(response.status(), 404, "gone for good");

    let response = health::handler(fixture("health", None), state.tasks.database()).await;
    assert_eq!(
        (response.status().as_u16(), json(&response)),
        (200, serde_json::json!({ "status": "ok" }))
    );
}

#[tokio::test]
async fn a_handler_called_with_a_bare_request_checks_auth_first() {
    // As cargo-lambda's template tests do: Request::default() plus path parameters.
    let db = TestDb::new().await;
    let state = AppState::new(&db.config()).unwrap();
    let request = Request::default()
        .with_path_parameters(HashMap::from([("user_id".to_owned(), "u1".to_owned())]));
    let response = list_tasks::handler(request, &state).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");

    let mut request = Request::default().with_path_parameters(HashMap::from([
        ("user_id".to_owned(), "u1".to_owned()),
        ("task_id".to_owned(), "nope".to_owned()),
    ]));
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", token("u1")).parse().unwrap(),
    );
    let response = get_task::handler(request, &state).await;
    assert_eq!(response.status(), 400);
}
