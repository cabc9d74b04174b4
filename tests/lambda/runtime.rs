//! Every real function binary, under `cargo lambda watch`'s Lambda runtime
//! emulator, invoked with its events/ fixture through `cargo lambda invoke`.

use std::{
    path::PathBuf,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use integration_tests::*;
use serde_json::Value;

/// Kills the child when dropped, so a failed assertion leaves nothing behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn emulator(port: u16) -> Running {
    let child = Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
        ])
        .args(["--invoke-port", &port.to_string()])
        .current_dir(workspace())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cargo lambda is installed by scripts/install-tools");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the emulator did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Running(child)
}

/// The command that runs function `name` (`function_binary`), and its binary.
fn command(name: &str) -> (Command, PathBuf) {
    let (binary, runner) = function_binary(name);
    let command = match runner.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(&binary);
            command
        }
        None => Command::new(&binary),
    };
    (command, binary)
}

/// The function binary, attached to the emulator as its (only) function,
/// its stdout and stderr (the function's logs) written to `log`, with
/// `RUST_LOG` set to `rust_log`.
fn function(
    name: &str,
    port: u16,
    database_url: &str,
    log: &std::path::Path,
    rust_log: &str,
) -> Running {
    let (mut command, binary) = command(name);
    let log = std::fs::File::create(log).unwrap();
    let child = command
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("DATABASE_URL", database_url)
        .env("BETTER_AUTH_SECRET", DEV_SECRET)
        .env("RUST_LOG", rust_log)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("run {} (scripts/test builds it): {e}", binary.display()));
    Running(child)
}

fn invoke(port: u16, fixture: &str, task_id: &str) -> Value {
    let text = std::fs::read_to_string(workspace().join("events").join(format!("{fixture}.json")))
        .unwrap()
        .replace(FIXTURE_TASK_ID, task_id);
    let file = std::env::temp_dir().join(format!("{fixture}-{}.json", uuid::Uuid::now_v7()));
    std::fs::write(&file, text).unwrap();
    let output: Output = Command::new("cargo")
        .args([
            "lambda",
            "invoke",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .arg("--data-file")
        .arg(&file)
        .arg("_")
        .current_dir(workspace())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "invoke {fixture}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_function_binary_answers_its_fixture_under_the_emulator() {
    let db = TestDb::new().await;
    let url = db.url.clone();
    // Blocking work (processes) off the async runtime.
    tokio::task::spawn_blocking(move || {
        let mut task_id = FIXTURE_TASK_ID.to_owned();
        for (name, expected) in FIXTURES {
            // A fresh emulator per function: each binary registers as `_`.
            let port = free_port();
            let _emulator = emulator(port);
            let log = std::env::temp_dir().join(format!("{name}-{}.log", uuid::Uuid::now_v7()));
            let function = function(name, port, &url, &log, "info");
            let response = invoke(port, name, &task_id);
            drop(function);
            check_log(name, &std::fs::read_to_string(&log).unwrap(), expected);
            let _ = std::fs::remove_file(&log);
            assert_eq!(response["statusCode"], expected, "{name}: {response}");
            // A CDN in front never shares one user's answer; health is
            // never kept.
            let cache_control = if name == "health" {
                "no-store"
            } else {
                "private, no-cache"
            };
            assert_eq!(
                response["headers"]["cache-control"], cache_control,
                "{name}: {response}"
            );
            if name == "create-task" {
                let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                task_id = body["id"].as_str().unwrap().to_owned();
                assert!(
                    response["headers"]["location"]
                        .as_str()
                        .unwrap()
                        .ends_with(&task_id)
                );
            }
            if name == "list-tasks" || name == "list-trash" {
                let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                assert_eq!(body[0]["id"], task_id.as_str());
            }
        }
    })
    .await
    .unwrap();
}

/// One invocation of `name`'s fixture with `RUST_LOG=rust_log`, in a
/// fresh emulator: the response and everything the function logged.
async fn invoke_logged(name: &'static str, rust_log: &'static str) -> (Value, String) {
    let db = TestDb::new().await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let port = free_port();
        let _emulator = emulator(port);
        let log = std::env::temp_dir().join(format!("{name}-{}.log", uuid::Uuid::now_v7()));
        let function = function(name, port, &url, &log, rust_log);
        let response = invoke(port, name, FIXTURE_TASK_ID);
        drop(function);
        let text = std::fs::read_to_string(&log).unwrap();
        let _ = std::fs::remove_file(&log);
        (response, text)
    })
    .await
    .unwrap()
}

/// `RUST_LOG` is honoured: at `warn`, a request served leaves no line
/// (at `info`, the test above finds one per request).
#[tokio::test(flavor = "multi_thread")]
async fn rust_log_filters_what_a_function_logs() {
    let (response, text) = invoke_logged("health", "warn").await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert!(!text.contains(r#""message":"request""#), "{text}");
}

/// `RUST_LOG` turns on debug lines, and no more: at `trace` lambda_runtime
/// would log the raw event, bearer token and task text with it.
#[tokio::test(flavor = "multi_thread")]
async fn rust_log_reaches_debug_but_never_the_raw_event() {
    let (response, text) = invoke_logged("create-task", "trace").await;
    assert_eq!(response["statusCode"], 201, "{response}");
    assert!(text.contains(r#""level":"DEBUG""#), "no debug line: {text}");
    assert!(!text.contains(r#""level":"TRACE""#), "{text}");
    check_log("create-task", &text, 201);
}

/// In Lambda, every log line is JSON; the request line carries the request
/// id, route, status and latency; nothing carries the token, the secret or
/// the task's text.
fn check_log(name: &str, log: &str, status: u16) {
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{name}: not JSON: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["message"] == "request")
        .unwrap_or_else(|| panic!("{name}: no request line in {log}"));
    assert_eq!(request["status"], status, "{name}: {request}");
    assert!(
        request["route"].as_str().is_some_and(|r| r.contains(" /")),
        "{request}"
    );
    assert!(
        request["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{request}"
    );
    assert!(request["latency_us"].is_u64(), "{request}");
    let fixture = std::fs::read_to_string(workspace().join(format!("events/{name}.json"))).unwrap();
    let event: Value = serde_json::from_str(&fixture).unwrap();
    let token = event["headers"]["authorization"]
        .as_str()
        .map(|h| h.trim_start_matches("Bearer ").to_owned());
    let mut secrets = vec![
        DEV_SECRET.to_owned(),
        "Buy milk".into(),
        "2 litres".into(),
        "oat".into(),
        "groceries".into(),
    ];
    secrets.extend(token);
    for secret in secrets {
        assert!(!log.contains(&secret), "{name} logged `{secret}`: {log}");
    }
}

#[test]
fn a_function_without_its_configuration_stops_at_init_naming_the_variable() {
    for (missing, present) in [
        ("DATABASE_URL", "BETTER_AUTH_SECRET"),
        ("BETTER_AUTH_SECRET", "DATABASE_URL"),
    ] {
        let output = Command::new(workspace().join("target/debug/get-task"))
            .env_remove(missing)
            .env(present, "postgres://127.0.0.1:1/x")
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            text.contains(missing) && text.contains("required"),
            "{text}"
        );
    }
}

/// Every log line of a request names its request id and route, warnings
/// from deep inside (here the pool's) too: the request's span carries both.
#[tokio::test(flavor = "multi_thread")]
async fn every_log_line_of_a_request_names_its_request_id_and_route() {
    use integration_tests::runtime_api::RuntimeApi;
    let api = RuntimeApi::start().await;
    let log = std::env::temp_dir().join(format!("health-{}.log", uuid::Uuid::now_v7()));
    let port = free_port(); // nothing listens there: the pool warns
    let url = format!("postgres://postgres@127.0.0.1:{port}/none?sslmode=disable");
    let _function = api.spawn_function(
        &workspace().join("target/debug/health"),
        &[],
        &[
            ("DATABASE_URL", url.as_str()),
            ("DB_CONNECT_TIMEOUT_MS", "300"),
        ],
        &log,
    );
    let event = std::fs::read(workspace().join("events/health.json")).unwrap();
    let document = api.invoke(&event).await;
    let response: Value = serde_json::from_slice(&document).unwrap();
    assert_eq!(response["statusCode"], 503);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &Value| l["span"]["name"] == "request")
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "WARN"),
        "no warning inside the request: {text}"
    );
    for line in &lines {
        let span = &line["span"];
        assert_eq!(span["request_id"], "health-example-request-id", "{line}");
        assert_eq!(span["route"], "GET /health", "{line}");
    }
}

/// Whatever API Gateway can deliver gets the API's own JSON answer: an
/// event lambda_http cannot deserialize (a header HTTP forbids), or whose
/// conversion into a request would panic, is a 400 naming the part at
/// fault — never an invocation error — and the function goes on serving.
/// JSON strings are Unicode, so a header value that is not UTF-8 arrives
/// only as an array of bytes, which the event format also takes: it
/// reaches the handler, which refuses it as any malformed key.
#[tokio::test(flavor = "multi_thread")]
async fn events_lambda_http_cannot_read_get_the_apis_own_400() {
    use integration_tests::runtime_api::RuntimeApi;
    let db = TestDb::new().await;
    let api = RuntimeApi::start().await;
    let log = std::env::temp_dir().join(format!("create-task-{}.log", uuid::Uuid::now_v7()));
    let _function = api.spawn_function(
        &workspace().join("target/debug/create-task"),
        &[],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("BETTER_AUTH_SECRET", DEV_SECRET),
        ],
        &log,
    );
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("events/create-task.json")).unwrap(),
    )
    .unwrap();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut event = fixture.clone();
        change(&mut event);
        serde_json::to_vec(&event).unwrap()
    };
    let header =
        |name: &'static str, value: Value| move |e: &mut Value| e["headers"][name] = value.clone();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a control character in a header value",
            with(&header("idempotency-key", "abc\u{1}def".into())),
            "idempotency-key",
        ),
        (
            "DEL in a header value",
            with(&header("idempotency-key", "abc\u{7f}".into())),
            "idempotency-key",
        ),
        (
            "a control character in another header's value",
            with(&header("x-note", "a\u{0}b".into())),
            "x-note",
        ),
        (
            "a control character in a header name",
            with(&header("x-bad\u{1}name", "v".into())),
            "header name x-bad\\u{1}name",
        ),
        (
            "a space in a header name",
            with(&header("bad name", "v".into())),
            "header name bad name",
        ),
        (
            "a header value that is not UTF-8",
            with(&header(
                "idempotency-key",
                serde_json::json!([[0xff, 0x41]]),
            )),
            "Idempotency-Key",
        ),
        (
            "no requestContext",
            with(&|e| drop(e.as_object_mut().unwrap().remove("requestContext"))),
            "request: the event is not an HTTP API request",
        ),
        (
            "no HTTP method",
            with(&|e| {
                drop(
                    e["requestContext"]["http"]
                        .as_object_mut()
                        .unwrap()
                        .remove("method"),
                )
            }),
            "request: the event is not an HTTP API request",
        ),
        (
            "not an object",
            b"[1, 2, 3]".to_vec(),
            "request: the event is not an HTTP API request",
        ),
        (
            "a Host that makes no URL",
            with(&header("host", "bad host".into())),
            "Host",
        ),
        (
            "a query string a URI cannot carry",
            with(&|e| e["rawQueryString"] = "a=b c\u{e9}".into()),
            "query string",
        ),
        (
            "a body marked base64 that is not",
            with(&|e| e["isBase64Encoded"] = true.into()),
            "body",
        ),
    ];
    for (case, event, named) in cases {
        let document = api.invoke(&event).await;
        let response: Value = serde_json::from_slice(&document)
            .unwrap_or_else(|e| panic!("{case}: not a document ({e})"));
        assert_eq!(response["statusCode"], 400, "{case}: {response}");
        assert_eq!(
            response["headers"]["content-type"], "application/json",
            "{case}"
        );
        assert_eq!(response["headers"]["cache-control"], "no-store", "{case}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(named), "{case}: {detail}");
    }
    // Still serving, and nothing was written.
    let document = api.invoke(&serde_json::to_vec(&fixture).unwrap()).await;
    let response: Value = serde_json::from_slice(&document).unwrap();
    assert_eq!(response["statusCode"], 201, "{response}");
    let client = db.client().await;
    let tasks: i64 = client
        .query_one("SELECT count(*) FROM tasks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tasks, 1);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(
        !text.contains("abc\\u0001def") && !text.contains("abc\u{1}def"),
        "{text}"
    );
}

/// A stand-in for the AWS Parameters and Secrets Lambda Extension on a
/// loopback port: `GET /secretsmanager/get?secretId=…` answers
/// GetSecretValue's JSON to a caller presenting the session token, or 500
/// while it is `down`; every request is counted.
struct SecretsExtension {
    port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

const SESSION_TOKEN: &str = "session-token-of-this-environment";

impl SecretsExtension {
    async fn start(secrets: &[(&str, &str)]) -> Self {
        use axum::{
            extract::{Query, State},
            http::{HeaderMap, StatusCode},
        };
        use std::{
            collections::HashMap,
            sync::{
                Arc,
                atomic::{AtomicBool, AtomicUsize, Ordering},
            },
        };
        type Shared = (
            Arc<HashMap<String, String>>,
            Arc<AtomicUsize>,
            Arc<AtomicBool>,
        );
        async fn get(
            State((secrets, requests, down)): State<Shared>,
            Query(query): Query<HashMap<String, String>>,
            headers: HeaderMap,
        ) -> (StatusCode, String) {
            requests.fetch_add(1, Ordering::SeqCst);
            if down.load(Ordering::SeqCst) {
                return (StatusCode::INTERNAL_SERVER_ERROR, "down".into());
            }
            if headers
                .get("x-aws-parameters-secrets-token")
                .is_none_or(|t| t != SESSION_TOKEN)
            {
                return (StatusCode::UNAUTHORIZED, "no token".into());
            }
            let id = query.get("secretId").cloned().unwrap_or_default();
            match secrets.get(&id) {
                Some(value) => (
                    StatusCode::OK,
                    serde_json::json!({
                        "ARN": id, "Name": "n", "SecretString": value,
                        "VersionId": "v1", "VersionStages": ["AWSCURRENT"],
                    })
                    .to_string(),
                ),
                None => (StatusCode::BAD_REQUEST, "unknown secret".into()),
            }
        }
        let requests = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let secrets: HashMap<String, String> = secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let router = axum::Router::new()
            .route("/secretsmanager/get", axum::routing::get(get))
            .with_state((Arc::new(secrets), requests.clone(), down.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            port,
            requests,
            down,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

const DB_SECRET_ARN: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:task-api/db-AbCdEf";
const AUTH_SECRET_ARN: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:task-api/auth-AbCdEf";

/// What a deployed function's environment holds: the secrets' ARNs and
/// the extension's coordinates, never a secret's value.
fn deployed_env(extension: &SecretsExtension) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL_SECRET_ARN", DB_SECRET_ARN.into()),
        ("BETTER_AUTH_SECRET_SECRET_ARN", AUTH_SECRET_ARN.into()),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN.into()),
        (
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            extension.port.to_string(),
        ),
        ("RUST_LOG", "info".into()),
    ]
}

async fn status_of(api: &integration_tests::runtime_api::RuntimeApi, event: &[u8]) -> Value {
    let document = api.invoke(event).await;
    serde_json::from_slice(&document).unwrap()
}

/// Deployed, the secrets come from the extension, once per execution
/// environment: three invocations, one fetch of each secret; the token
/// the fixture carries verifies with the fetched secret (a 404 for a task
/// that does not exist, not a 401), and neither value is logged.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_fetched_once_from_the_extension() {
    use integration_tests::runtime_api::RuntimeApi;
    let db = TestDb::new().await;
    let extension =
        SecretsExtension::start(&[(DB_SECRET_ARN, &db.url), (AUTH_SECRET_ARN, DEV_SECRET)]).await;
    let api = RuntimeApi::start().await;
    let log = std::env::temp_dir().join(format!("get-task-{}.log", uuid::Uuid::now_v7()));
    let env = deployed_env(&extension);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _function = api.spawn_function(&workspace().join("target/debug/get-task"), &[], &env, &log);
    let event = std::fs::read(workspace().join("events/get-task.json")).unwrap();
    for _ in 0..3 {
        let response = status_of(&api, &event).await;
        assert_eq!(response["statusCode"], 404, "{response}");
    }
    assert_eq!(extension.requests(), 2, "one fetch per secret, at init");
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(
        !text.contains(DEV_SECRET) && !text.contains(&db.url),
        "{text}"
    );
}

/// A fetch that fails does not start the function with a secret missing:
/// it answers 503 with `Retry-After`, each request tries again, and once
/// the extension answers the function serves, fetching no more.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_secret_fetch_answers_503_and_recovers() {
    use integration_tests::runtime_api::RuntimeApi;
    let db = TestDb::new().await;
    let extension = SecretsExtension::start(&[(DB_SECRET_ARN, &db.url)]).await;
    extension.set_down(true);
    let api = RuntimeApi::start().await;
    let log = std::env::temp_dir().join(format!("health-{}.log", uuid::Uuid::now_v7()));
    let mut env = deployed_env(&extension);
    env.retain(|(k, _)| *k != "BETTER_AUTH_SECRET_SECRET_ARN");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _function = api.spawn_function(&workspace().join("target/debug/health"), &[], &env, &log);
    let event = std::fs::read(workspace().join("events/health.json")).unwrap();
    for _ in 0..2 {
        let response = status_of(&api, &event).await;
        assert_eq!(response["statusCode"], 503, "{response}");
        assert_eq!(response["headers"]["retry-after"], "1", "{response}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert!(body["detail"].is_string(), "{body}");
    }
    let failed = extension.requests();
    assert_eq!(failed, 3, "one try at init, one per request");
    extension.set_down(false);
    for _ in 0..2 {
        let response = status_of(&api, &event).await;
        assert_eq!(response["statusCode"], 200, "{response}");
    }
    assert_eq!(extension.requests(), failed + 1, "fetched once it worked");
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(text.contains("DATABASE_URL_SECRET_ARN"), "{text}");
    assert!(!text.contains(&db.url), "{text}");
}
