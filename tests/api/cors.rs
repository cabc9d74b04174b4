//! The local server's CORS policy follows ALLOWED_ORIGINS.

use integration_tests::*;

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url("/api/u1/tasks"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn allowed_origin_gets_preflight_and_response_headers() {
    let app = TestApp::spawn().await;
    let response = preflight(&app, "http://allowed.example").await;
    assert!(response.status().is_success());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://allowed.example"
    );
    let methods = headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    // Conditional requests and safe retries from a browser.
    for name in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "idempotency-key",
    ] {
        assert!(allowed.contains(name), "{name}: {allowed}");
    }

    let response = app
        .request(Method::POST, "/api/u1/tasks", "u1")
        .header("origin", "http://allowed.example")
        .json(&serde_json::json!({ "title": "t" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://allowed.example"
    );
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in ["location", "link", "etag", "idempotent-replayed"] {
        assert!(exposed.contains(name), "{name}: {exposed}");
    }
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let app = TestApp::spawn().await;
    let response = preflight(&app, "http://evil.example").await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let response = app
        .request(Method::GET, "/api/u1/tasks", "u1")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[test]
fn allowed_origins_are_validated() {
    assert!(
        local_api::AllowedOrigins::parse("https://app.example.com, http://localhost:5173").is_ok()
    );
    assert!(local_api::AllowedOrigins::parse("*").is_ok());
    for bad in ["app.example.com", "https://app.example.com/", "ftp://x"] {
        let err = local_api::AllowedOrigins::parse(bad).unwrap_err();
        assert!(err.contains("ALLOWED_ORIGINS"), "{err}");
    }
}
