//! A database that cannot be reached: 503 with Retry-After, never 500,
//! and the function starts anyway.

use std::{sync::Arc, time::Instant};

use integration_tests::*;
use serde_json::{Value, json};
use shared::AppState;

#[tokio::test]
async fn unreachable_database_is_503_on_every_route_and_health() {
    let config = unreachable_config();
    // Starting while the database is down works: the pool connects lazily.
    let state = Arc::new(AppState::new(&config).unwrap());
    state.tasks.database().warm_up().await;
    let base = serve(state, origins()).await;
    let http = reqwest::Client::new();

    let response = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "unavailable" })
    );

    let id = uuid::Uuid::now_v7().to_string();
    for (method, path, body) in task_routes("u1", &id) {
        let started = Instant::now();
        let mut request = http
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(token("u1"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}"
        );
        assert_eq!(response.headers()["retry-after"], "1");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains("unavailable"),
            "{body}"
        );
        assert!(
            started.elapsed().as_secs() < 5,
            "answered within the configured timeouts"
        );
    }

    // Auth and validation still answer first: no database needed for them.
    let response = http
        .get(format!("{base}/api/u1/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = http
        .get(format!("{base}/api/u1/tasks/x"))
        .bearer_auth(token("u1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
