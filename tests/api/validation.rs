//! Input rules and hostile bodies: a clear 400/413/415 with a `detail`
//! naming the field, and nothing written.

use integration_tests::*;
use serde_json::{Value, json};

async fn post_raw(
    app: &TestApp,
    body: impl Into<reqwest::Body>,
    content_type: Option<&str>,
) -> (StatusCode, Value) {
    let body = Some((content_type, body.into()));
    let reply = app
        .send(Method::POST, "/api/u1/tasks", Some(&token("u1")), body)
        .await;
    let status = reply.status;
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/json"),
        "{status}"
    );
    (status, reply.json)
}

async fn post(app: &TestApp, body: Value) -> (StatusCode, Value) {
    post_raw(app, body.to_string(), Some("application/json")).await
}

fn detail(body: &Value) -> &str {
    body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail in {body}"))
}

#[tokio::test]
async fn title_limits_count_characters_not_bytes() {
    let app = TestApp::spawn().await;
    for title in ["é".repeat(255), "😀".repeat(255), "字".repeat(255)] {
        let (status, task) = post(&app, json!({ "title": title })).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(task["title"], title.as_str());
    }
    let padded = format!("\u{3000}\u{2003} {} \t\n\u{85}", "😀".repeat(255));
    let (status, task) = post(&app, json!({ "title": padded })).await;
    assert_eq!(status, StatusCode::CREATED, "trimmed before counting");
    assert_eq!(task["title"].as_str().unwrap().chars().count(), 255);

    for title in ["😀".repeat(256), String::new(), " \t\u{3000}\u{a0}".into()] {
        let (status, body) = post(&app, json!({ "title": title })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(detail(&body).contains("title"), "{body}");
    }
    assert_eq!(app.stored_tasks("u1").await, 4);
}

#[tokio::test]
async fn description_limits_count_characters_and_keep_white_space() {
    let app = TestApp::spawn().await;
    let (status, task) = post(
        &app,
        json!({ "title": "t", "description": "字".repeat(1000) }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(task["description"].as_str().unwrap().chars().count(), 1000);
    let (_, task) = post(&app, json!({ "title": "t", "description": "  spaced  " })).await;
    assert_eq!(task["description"], "  spaced  ");
    let (status, body) = post(
        &app,
        json!({ "title": "t", "description": "字".repeat(1001) }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("description"));
    assert_eq!(app.stored_tasks("u1").await, 2);
}

#[tokio::test]
async fn nul_characters_are_400_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    for body in [
        json!({ "title": "a\u{0}b" }),
        json!({ "title": "ok", "description": "x\u{0}" }),
    ] {
        let (status, response) = post(&app, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(detail(&response).contains("NUL"), "{response}");
    }
    let task = app.create("u1", "t").await;
    let path = format!("/api/u1/tasks/{}", task["id"].as_str().unwrap());
    let response = app
        .request(Method::PUT, &path, "u1")
        .json(&json!({ "title": "\u{0}" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.stored_tasks("u1").await, 1);
    let stored: Value = app.get_json(&path, "u1").await;
    assert_eq!(stored, task);
}

#[tokio::test]
async fn wrong_types_unknown_and_duplicate_fields_name_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (r#"{"title": 5}"#, "title"),
        (r#"{"title": null}"#, "title"),
        (r#"{"title": ["a"]}"#, "title"),
        (r#"{"title": "a", "description": 7}"#, "description"),
        (r#"{"title": "a", "owner": "bob"}"#, "owner"),
        (r#"{"title": "a", "user_id": "bob"}"#, "user_id"),
        (r#"{"title": "a", "completed": true}"#, "completed"),
        (r#"{"title": "a", "title": "b"}"#, "title"),
        (r#"{"description": "no title"}"#, "title"),
    ];
    for (body, field) in cases {
        let (status, response) = post_raw(&app, body, Some("application/json")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(detail(&response).contains(field), "{body}: {response}");
    }
    assert_eq!(app.stored_tasks("u1").await, 0);
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = TestApp::spawn().await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"not json".to_vec(),
        b"[]".to_vec(),
        b"\"title\"".to_vec(),
        b"null".to_vec(),
        b"{\"title\": \"a\"} trailing".to_vec(),
        b"{\"title\": \"\xff\xfe\"}".to_vec(),
        b"{\"title\": \"\\ud800\"}".to_vec(),
        deep.into_bytes(),
        b"{\"title\":"
            .iter()
            .chain(b"{\"a\":".repeat(5000).iter())
            .copied()
            .collect(),
        b"   ".to_vec(),
    ];
    for body in bodies {
        let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        let (status, response) = post_raw(&app, body, Some("application/json")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}");
        assert!(!detail(&response).is_empty());
    }
    assert_eq!(app.stored_tasks("u1").await, 0);
}

#[tokio::test]
async fn a_missing_body_is_400() {
    let app = TestApp::spawn().await;
    let (status, body) = post_raw(&app, "", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("body"));
}

#[tokio::test]
async fn content_type_other_than_json_is_415_and_none_means_json() {
    let app = TestApp::spawn().await;
    let body = r#"{"title": "t"}"#;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let (status, response) = post_raw(&app, body, Some(ct)).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert!(detail(&response).contains("application/json"));
    }
    let (status, _) = post_raw(&app, body, None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = post_raw(&app, body, Some("Application/JSON; charset=utf-8")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.stored_tasks("u1").await, 2);
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = TestApp::spawn().await;
    let at_limit = format!(
        r#"{{"title": "t", "description": "{}"}}"#,
        " ".repeat(64 * 1024 - 33)
    );
    assert_eq!(at_limit.len(), 64 * 1024);
    let (status, _) = post_raw(&app, at_limit, None).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "64 KiB exactly is read (then the description is too long)"
    );
    let over = format!(
        r#"{{"title": "t", "description": "{}"}}"#,
        " ".repeat(64 * 1024)
    );
    let (status, body) = post_raw(&app, over.clone(), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(detail(&body).contains("65536"));
    // Authentication still comes first.
    let response = app
        .http
        .post(app.url("/api/u1/tasks"))
        .body(over)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.stored_tasks("u1").await, 0);
}

#[tokio::test]
async fn errors_never_leak_internals() {
    let app = TestApp::spawn().await;
    let (_, body) = post_raw(&app, r#"{"title": "a\u0000"}"#, None).await;
    let text = body.to_string().to_lowercase();
    for leak in ["sql", "postgres", "panic", "tokio", "serde", "src/"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}
