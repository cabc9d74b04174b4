//! The real function binaries, under the Lambda runtime against a Runtime
//! API of our own, write CloudWatch Embedded Metric Format lines that
//! follow the specification, count what docs/operations.md says they count, and
//! carry no user data.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::collections::BTreeMap;

use integration_tests::{runtime_api::RuntimeApi, *};
use serde_json::Value;

/// The `events/` fixture of `name`, its `authorization` header replaced
/// (or removed, with `None`).
fn event(name: &str, authorization: Option<&str>) -> Vec<u8> {
    let text = std::fs::read_to_string(workspace().join(format!("events/{name}.json"))).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let headers = event["headers"].as_object_mut().unwrap();
    match authorization {
        Some(value) => headers.insert("authorization".into(), value.into()),
        None => headers.remove("authorization"),
    };
    serde_json::to_vec(&event).unwrap()
}

fn status(document: &[u8]) -> u64 {
    let response: Value = serde_json::from_slice(document).unwrap();
    response["statusCode"].as_u64().unwrap()
}

/// Runs `function` against `database_url`, sends `events`, and returns
/// its output (logs and metrics) and the statuses.
async fn run(function: &str, database_url: &str, events: &[Vec<u8>]) -> (String, Vec<u64>) {
    let api = RuntimeApi::start().await;
    let log = std::env::temp_dir().join(format!("{function}-{}.log", uuid::Uuid::now_v7()));
    let process = api.spawn_function(
        &workspace().join("target/debug").join(function),
        &[],
        &[
            ("DATABASE_URL", database_url),
            ("DB_CONNECT_TIMEOUT_MS", "300"),
            ("BETTER_AUTH_SECRET", DEV_SECRET),
            ("METRICS_NAMESPACE", "TaskApiTest"),
        ],
        &log,
    );
    let mut statuses = Vec::new();
    for event in events {
        statuses.push(status(&api.invoke(event).await));
    }
    drop(process);
    let output = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    (output, statuses)
}

/// Every EMF document in `output`, each checked against the specification.
fn documents(output: &str) -> Vec<Value> {
    let docs: Vec<Value> = output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    for doc in &docs {
        check_emf(doc);
    }
    docs
}

fn check_emf(doc: &Value) {
    let aws = &doc["_aws"];
    assert!(
        aws["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "{doc}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty(), "{doc}");
    for directive in directives {
        assert_eq!(directive["Namespace"], "TaskApiTest", "{doc}");
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set");
            assert!(!set.is_empty() && set.len() <= 30, "{doc}");
            for key in set {
                let key = key.as_str().expect("a dimension name");
                assert!(doc[key].is_string(), "dimension {key} has no value: {doc}");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{doc}");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a metric name");
            assert!(
                ["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap()),
                "{doc}"
            );
            let values: Vec<&Value> = match &doc[name] {
                Value::Array(values) => values.iter().collect(),
                value => vec![value],
            };
            assert!(!values.is_empty() && values.len() <= 100, "{name}: {doc}");
            assert!(values.iter().all(|v| v.is_number()), "{name}: {doc}");
        }
    }
}

/// (metric, dimensions besides `function`) → how many values were written.
fn tally(docs: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut tally = BTreeMap::new();
    for doc in docs {
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        let dimensions: Vec<String> = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .filter(|k| *k != "function")
            .map(|k| format!("{k}={}", doc[k].as_str().unwrap()))
            .collect();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let count = doc[name].as_array().map_or(1, Vec::len);
            *tally
                .entry((name.to_owned(), dimensions.join(",")))
                .or_default() += count;
        }
    }
    tally
}

fn key(metric: &str, dimensions: &str) -> (String, String) {
    (metric.to_owned(), dimensions.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_emit_emf_metrics_that_carry_no_user_data() {
    let db = TestDb::new().await;
    let valid = {
        let text = std::fs::read_to_string(workspace().join("events/list-tasks.json")).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        event["headers"]["authorization"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let expired = format!(
        "Bearer {}",
        sign_with(
            jsonwebtoken::Algorithm::HS256,
            DEV_SECRET.as_bytes(),
            serde_json::json!({ "sub": "demo-user", "exp": now() - 3600 }),
        )
    );
    let forged = format!(
        "Bearer {}",
        sign_with(
            jsonwebtoken::Algorithm::HS256,
            b"another-secret-0123456789abcdef",
            serde_json::json!({ "sub": "demo-user", "exp": now() + 3600 }),
        )
    );
    let (output, statuses) = run(
        "list-tasks",
        &db.url,
        &[
            event("list-tasks", Some(&valid)),
            event("list-tasks", None),
            event("list-tasks", Some(&expired)),
            event("list-tasks", Some(&forged)),
            event("list-tasks", Some(&valid)),
        ],
    )
    .await;
    assert_eq!(statuses, [200, 401, 401, 401, 200], "{output}");
    let docs = documents(&output);
    let tally = tally(&docs);
    assert_eq!(tally.get(&key("cold_start", "")), Some(&1), "{tally:?}");
    for reason in ["missing", "expired", "bad_signature"] {
        let dimension = format!("reason={reason}");
        assert_eq!(
            tally.get(&key("unauthorized", &dimension)),
            Some(&1),
            "{tally:?}"
        );
    }
    assert_eq!(tally.get(&key("tasks_listed", "")), Some(&2), "{tally:?}");
    assert!(
        tally.get(&key("db_statement", "")).is_some_and(|n| *n >= 2),
        "{tally:?}"
    );
    assert!(
        tally.get(&key("db_wait", "")).is_some_and(|n| *n >= 2),
        "{tally:?}"
    );
    // The metrics of every invocation are written with it: a cold start's
    // line comes before the second request's log line.
    let cold = output.find("cold_start").unwrap();
    let second = output
        .match_indices(r#""message":"request""#)
        .nth(1)
        .unwrap()
        .0;
    assert!(cold < second, "{output}");
    for doc in &docs {
        assert_eq!(doc["function"], "list-tasks", "{doc}");
        let text = doc.to_string();
        for secret in [
            "demo-user",
            DEV_SECRET,
            valid.trim_start_matches("Bearer "),
            expired.trim_start_matches("Bearer "),
            forged.trim_start_matches("Bearer "),
        ] {
            assert!(!text.contains(secret), "{text} carries {secret}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_database_is_counted_by_cause() {
    let port = free_port(); // nothing listens there
    let url = format!("postgres://postgres@127.0.0.1:{port}/none?sslmode=disable");
    let (output, statuses) = run(
        "get-task",
        &url,
        &[event("get-task", None), {
            let text = std::fs::read_to_string(workspace().join("events/get-task.json")).unwrap();
            text.into_bytes()
        }],
    )
    .await;
    assert_eq!(statuses, [401, 503], "{output}");
    let tally = tally(&documents(&output));
    assert_eq!(
        tally.get(&key("unavailable", "cause=database")),
        Some(&1),
        "{tally:?}"
    );
    assert_eq!(
        tally.get(&key("unauthorized", "reason=missing")),
        Some(&1),
        "{tally:?}"
    );
    assert!(tally.contains_key(&key("db_wait", "")), "{tally:?}");
}

/// Off Lambda nothing is written: local-api's logs stay readable lines.
#[tokio::test(flavor = "multi_thread")]
async fn local_api_keeps_readable_logs_without_metrics() {
    let db = TestDb::new().await;
    let port = free_port();
    let log = std::env::temp_dir().join(format!("local-api-{}.log", uuid::Uuid::now_v7()));
    let file = std::fs::File::create(&log).unwrap();
    let mut child = std::process::Command::new(workspace().join("target/debug/local-api"))
        .env("DATABASE_URL", &db.url)
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "info")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("local-api (scripts/test builds it)");
    let url = format!("http://127.0.0.1:{port}/api/u/tasks");
    let mut status = None;
    for _ in 0..100 {
        if let Ok(r) = reqwest::Client::new()
            .get(&url)
            .bearer_auth(token("u"))
            .send()
            .await
        {
            status = Some(r.status());
            break;
        }
        wait(50).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let output = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert_eq!(status, Some(StatusCode::OK), "{output}");
    let request = output
        .lines()
        .find(|l| l.contains("request") && l.contains("status=200"))
        .unwrap_or_else(|| panic!("no readable request line: {output}"));
    assert!(!request.trim_start().starts_with('{'), "{request}");
    assert!(!output.contains("_aws"), "{output}");
}
