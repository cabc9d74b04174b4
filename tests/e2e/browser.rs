//! A real browser (headless Chromium driven by playwright-core) uses the API
//! from a page on another origin: list, create, update, toggle, delete. A
//! page from an origin not in ALLOWED_ORIGINS is refused by the browser.

use std::sync::Arc;

use integration_tests::{node::js_dir, *};
use local_api::AllowedOrigins;
use serde_json::Value;
use shared::AppState;

#[tokio::test]
async fn a_browser_page_uses_the_api_and_a_foreign_origin_is_refused() {
    let db = TestDb::new().await;
    let (allowed_port, denied_port) = (free_port(), free_port());
    let origins = AllowedOrigins::parse(&format!("http://127.0.0.1:{allowed_port}")).unwrap();
    let state = Arc::new(AppState::new(&db.config()).unwrap());
    let api = serve(state, origins).await;

    let user = "browser-user";
    let output = tokio::process::Command::new("node")
        .arg("browser.mjs")
        .current_dir(js_dir())
        .env("API_URL", &api)
        .env("TOKEN", token(user))
        .env("USER_ID", user)
        .env("ALLOWED_PORT", allowed_port.to_string())
        .env("DENIED_PORT", denied_port.to_string())
        .output()
        .await
        .expect("node must be installed (scripts/install-tools)");
    assert!(
        output.status.success(),
        "browser script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON from the script");
    let steps = &result["allowed"];
    let status = |step: &str| steps[step]["status"].as_u64().unwrap();

    assert_eq!(status("emptyList"), 200);
    assert_eq!(steps["emptyList"]["body"], serde_json::json!([]));
    assert_eq!(status("create"), 201);
    let id = steps["create"]["body"]["id"].as_str().unwrap();
    // `Location` is readable from JavaScript only because it is exposed.
    assert_eq!(
        steps["create"]["location"],
        format!("/api/{user}/tasks/{id}")
    );
    assert_eq!(status("update"), 200);
    assert_eq!(steps["update"]["body"]["title"], "Renamed in the browser");
    assert_eq!(status("toggle"), 200);
    assert_eq!(steps["toggle"]["body"]["completed"], true);
    assert_eq!(status("list"), 200);
    assert_eq!(result["rendered"], "Renamed in the browser");
    assert_eq!(status("delete"), 204);
    assert_eq!(status("afterDelete"), 404);

    // Two tabs: the second save, with the version it loaded, is refused
    // (412), and the first tab's edit stands. `ETag` is readable (CORS).
    let conflict = &result["conflict"];
    assert!(
        conflict["etag"]
            .as_str()
            .is_some_and(|e| e.starts_with('"')),
        "{conflict}"
    );
    assert_eq!(conflict["saveA"]["status"], 200, "{conflict}");
    assert_eq!(conflict["saveB"]["status"], 412, "{conflict}");
    assert_eq!(conflict["after"]["body"]["title"], "Edited in A");
    assert_eq!(conflict["after"]["body"]["description"], Value::Null);

    // Swagger UI at /docs shows every operation of openapi.json: one per
    // route of the route table.
    assert_eq!(
        result["docsOperations"],
        shared::routes::ROUTES.len(),
        "{result}"
    );

    // The browser blocks the foreign page from reading the answer.
    let denied = &result["denied"];
    assert!(
        denied["error"]
            .as_str()
            .is_some_and(|e| e.contains("Failed to fetch")),
        "{denied}"
    );
}
