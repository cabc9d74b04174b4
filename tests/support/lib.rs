//! Test harness: a fresh database per test on the real PostgreSQL that
//! `scripts/test` starts (or `TEST_DATABASE_URL` / `DATABASE_URL`), the real
//! `local-api` router on a random port, and real HS256 JWTs.

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use local_api::{AllowedOrigins, app};
use serde_json::{Value, json};
use shared::{AppState, config::Config};
use tokio::net::TcpListener;

pub use reqwest::{Method, StatusCode};

pub mod cluster;
pub mod keys;
pub mod node;
pub use runtime_api;

/// The secret every test app verifies with.
pub const SECRET: &str = "integration-test-secret-0123456789abcdef";

/// The secret the `events/` fixtures' long-lived dev token is signed with.
pub const DEV_SECRET: &str = "local-dev-secret-do-not-use-in-production";

/// The workspace's root: `events/`, `template.yaml`, `target/debug/`.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The binary of function `name` and the command that runs it (empty for
/// none): the debug build — or, when `LAMBDA_BINARIES` names a directory
/// of `<name>/bootstrap` files, those, under `LAMBDA_RUNNER`
/// (`scripts/sam-check` points them at the arm64 bootstraps `sam build`
/// made and at qemu-user).
pub fn function_binary(name: &str) -> (PathBuf, Vec<String>) {
    match std::env::var_os("LAMBDA_BINARIES") {
        Some(dir) => (
            PathBuf::from(dir).join(name).join("bootstrap"),
            std::env::var("LAMBDA_RUNNER")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        ),
        None => (workspace().join("target/debug").join(name), Vec::new()),
    }
}

/// A time as the API writes it: RFC 3339 in UTC with microseconds,
/// `2026-02-03T12:00:00.123456Z`.
pub fn is_rfc3339_micros_z(s: &str) -> bool {
    s.len() == 27
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// The PostgreSQL server the tests may create databases on.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .expect("no database: run the tests with scripts/test, or set TEST_DATABASE_URL")
}

/// `url` with the scheme, credentials, host and port of PostgreSQL itself
/// when the tests run through a pooler (`TEST_DIRECT_DATABASE_URL`, which
/// `scripts/test` sets), for the tests that change a server session's
/// settings: a pooler hands out sessions that began before the change.
pub fn direct(url: &str) -> String {
    let Ok(direct) = std::env::var("TEST_DIRECT_DATABASE_URL") else {
        return url.to_owned();
    };
    let name = url
        .split_once('?')
        .map_or(url, |(base, _)| base)
        .rsplit('/')
        .next()
        .expect("a database name");
    with_database(&direct, name)
}

/// A database of its own for one test, migrated, dropped afterwards.
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("test_{}", uuid::Uuid::now_v7().simple());
        let admin = admin_url();
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("connect to the test server");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let url = with_database(&admin, &name);
        let db = Self { url, name };
        let mut client = shared::db::connect(&db.config().db)
            .await
            .expect("connect to test db");
        shared::migrations::up(&mut client).await.expect("migrate");
        db
    }

    /// The variables a function would read, pointing at this database.
    pub fn vars(&self) -> HashMap<String, String> {
        HashMap::from([
            ("DATABASE_URL".into(), self.url.clone()),
            ("BETTER_AUTH_SECRET".into(), SECRET.into()),
            ("DB_POOL_MAX_SIZE".into(), "16".into()),
        ])
    }

    pub fn config(&self) -> Config {
        config_from(&self.vars())
    }

    /// A plain client for checking what the API wrote.
    pub async fn client(&self) -> tokio_postgres::Client {
        shared::db::connect(&self.config().db)
            .await
            .expect("connect to test db")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (admin_url(), self.name.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// `admin`'s URL with another database name.
fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub fn config_from(vars: &HashMap<String, String>) -> Config {
    Config::from_source(&|k: &str| vars.get(k).cloned()).expect("test config")
}

/// The API served over real HTTP by the local server's router.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: Arc<AppState>,
    pub db: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// With extra or changed variables (e.g. `JWT_ISSUER`).
    pub async fn spawn_with(adjust: impl FnOnce(&mut HashMap<String, String>)) -> Self {
        let db = TestDb::new().await;
        let mut vars = db.vars();
        adjust(&mut vars);
        let config = config_from(&vars);
        let state = Arc::new(AppState::new(&config).expect("state"));
        let base = serve(state.clone(), origins()).await;
        Self {
            base,
            http: reqwest::Client::new(),
            state,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with a valid token for `user`.
    pub fn request(&self, method: Method, path: &str, user: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token(user))
    }

    /// The one way the tests send a request and read the answer: `token`
    /// as the bearer token, if any; `body` with its content type, if any.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(Option<&str>, reqwest::Body)>,
    ) -> Reply {
        self.send_with(method, path, token, &[], body).await
    }

    /// The same with more request headers.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(Option<&str>, reqwest::Body)>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, body)) = body {
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            request = request.body(body);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        Reply {
            status,
            headers,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// The status of listing `user`'s tasks with exactly `token`.
    pub async fn list_status(&self, user: &str, token: &str) -> StatusCode {
        let path = format!("/api/{user}/tasks");
        self.send(Method::GET, &path, Some(token), None)
            .await
            .status
    }

    /// The JSON body of a GET with `user`'s token.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str, user: &str) -> T {
        let response = self
            .request(Method::GET, path, user)
            .send()
            .await
            .expect("send");
        response.json().await.expect("json body")
    }

    /// Creates a task through the API and returns its JSON.
    pub async fn create(&self, user: &str, title: &str) -> Value {
        let response = self
            .request(Method::POST, &format!("/api/{user}/tasks"), user)
            .json(&json!({ "title": title }))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    /// Number of tasks stored for `user`, read straight from the database.
    pub async fn stored_tasks(&self, user: &str) -> i64 {
        let client = self.db.client().await;
        client
            // Unnamed (query_typed), so it works through PgBouncer too.
            .query_typed(
                "SELECT count(*) FROM tasks WHERE user_id = $1",
                &[(&user, tokio_postgres::types::Type::TEXT)],
            )
            .await
            .expect("count")[0]
            .get(0)
    }
}

/// An answer, read whole: its status, headers, and JSON body (`Null` when
/// there is none).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

impl Reply {
    /// A header's value, if it is there.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a text header").to_owned())
    }
}

/// The origins test apps allow.
pub fn origins() -> AllowedOrigins {
    AllowedOrigins::parse("http://allowed.example").expect("origins")
}

/// Serves the local-api router on a random loopback port; returns its base URL.
pub async fn serve(state: Arc<AppState>, origins: AllowedOrigins) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(state, origins, addr);
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A free loopback port (released before use; fine for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A valid HS256 token for `sub`, an hour long.
pub fn token(sub: &str) -> String {
    sign(json!({ "sub": sub, "iat": now(), "exp": now() + 3600 }))
}

/// Any claims, signed HS256 with the test secret.
pub fn sign(claims: Value) -> String {
    sign_with(Algorithm::HS256, SECRET.as_bytes(), claims)
}

pub fn sign_with(alg: Algorithm, secret: &[u8], claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

/// A config whose database is a port where nothing listens.
pub fn unreachable_config() -> Config {
    let port = free_port(); // nothing listens there
    let vars = HashMap::from([
        (
            "DATABASE_URL".to_owned(),
            format!("postgres://postgres@127.0.0.1:{port}/none?sslmode=disable"),
        ),
        ("BETTER_AUTH_SECRET".to_owned(), SECRET.to_owned()),
        ("DB_CONNECT_TIMEOUT_MS".to_owned(), "500".to_owned()),
    ]);
    config_from(&vars)
}

/// The task id the `events/` fixtures name (substituted with a real one).
pub const FIXTURE_TASK_ID: &str = "0192f1d6-3b7e-7c4a-9d2e-5f6a7b8c9d0e";

/// Every function's `events/` fixture and the status it answers, in an
/// order that works on one database: create first, then the task's life
/// through the trash (deleted, listed there, restored, deleted again),
/// gone for good last.
pub const FIXTURES: [(&str, u16); 14] = [
    ("health", 200),
    ("create-task", 201),
    ("list-tasks", 200),
    ("get-task", 200),
    ("update-task", 200),
    ("complete-task", 200),
    ("batch-tasks", 200),
    ("task-history", 200),
    ("list-changes", 200),
    ("delete-task", 204),
    ("list-trash", 200),
    ("restore-task", 200),
    ("delete-task", 204),
    ("delete-task-for-good", 204),
];

pub const ALL_TASK_ROUTES: [(&str, &str); 7] = [
    ("GET", ""),
    ("POST", ""),
    ("GET", "/{id}"),
    ("PUT", "/{id}"),
    ("DELETE", "/{id}"),
    ("PATCH", "/{id}/complete"),
    ("GET", "/{id}/history"),
];

/// Every task route for `user` and `task_id`, with a body where one is needed.
pub fn task_routes(user: &str, task_id: &str) -> Vec<(Method, String, Option<Value>)> {
    ALL_TASK_ROUTES
        .iter()
        .map(|(method, suffix)| {
            let path = format!("/api/{user}/tasks{}", suffix.replace("{id}", task_id));
            let body = match *method {
                "POST" => Some(json!({ "title": "x" })),
                "PUT" => Some(json!({ "title": "changed" })),
                _ => None,
            };
            (
                Method::from_bytes(method.as_bytes()).expect("method"),
                path,
                body,
            )
        })
        .collect()
}

/// Every trash route for `user` and `task_id` (none takes a body).
pub fn trash_routes(user: &str, task_id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/api/{user}/trash"), None),
        (
            Method::POST,
            format!("/api/{user}/trash/{task_id}/restore"),
            None,
        ),
        (Method::DELETE, format!("/api/{user}/trash/{task_id}"), None),
    ]
}

pub fn wait(ms: u64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(ms))
}

impl TestApp {
    /// Two POSTs of `body` by `user` with one `Idempotency-Key`, the second
    /// sent while the first is still inside its statement: a row lock on
    /// the owner (who must exist) holds the first at its foreign key check
    /// until the second has its answer. Returns (first, second).
    pub async fn post_while_in_progress(
        &self,
        user: &str,
        key: &str,
        body: &Value,
    ) -> (Reply, Reply) {
        let (path, token, headers) = (
            format!("/api/{user}/tasks"),
            token(user),
            [("idempotency-key", key)],
        );
        let send = || {
            let body = Some((Some("application/json"), body.to_string().into()));
            self.send_with(Method::POST, &path, Some(&token), &headers, body)
        };
        let mut blocker = self.db.client().await;
        let hold = blocker.transaction().await.expect("begin");
        hold.query_typed(
            "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
            &[(&user, tokio_postgres::types::Type::TEXT)],
        )
        .await
        .expect("lock the owner");
        let first = send();
        let second = async {
            let watcher = self.db.client().await;
            for _ in 0..300 {
                let waiting: i64 = watcher
                    .query_typed(
                        "SELECT count(*) FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event_type = 'Lock'
                           AND query LIKE '%idempotency_keys%'",
                        &[],
                    )
                    .await
                    .expect("pg_stat_activity")[0]
                    .get(0);
                if waiting > 0 {
                    let second = send().await;
                    hold.rollback().await.expect("release the owner");
                    return second;
                }
                wait(10).await;
            }
            panic!("the first request never waited on the lock");
        };
        tokio::join!(first, second)
    }

    /// Two batches of `body` by `user` with one `Idempotency-Key`, the
    /// second sent while the first is inside its transaction: a row lock
    /// on the task `task_id` (which the batch must name) holds the first
    /// at its pre-lock of the batch's tasks until the second has its
    /// answer. Returns (first, second).
    pub async fn batch_while_in_progress(
        &self,
        user: &str,
        key: &str,
        body: &Value,
        task_id: &str,
    ) -> (Reply, Reply) {
        let (path, token, headers) = (
            format!("/api/{user}/tasks/batch"),
            token(user),
            [("idempotency-key", key)],
        );
        let send = || {
            let body = Some((Some("application/json"), body.to_string().into()));
            self.send_with(Method::POST, &path, Some(&token), &headers, body)
        };
        let mut blocker = self.db.client().await;
        let hold = blocker.transaction().await.expect("begin");
        let id = uuid::Uuid::parse_str(task_id).expect("a task id");
        hold.query_typed(
            "SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE",
            &[(&id, tokio_postgres::types::Type::UUID)],
        )
        .await
        .expect("lock the task");
        let first = send();
        let second = async {
            let watcher = self.db.client().await;
            for _ in 0..300 {
                let waiting: i64 = watcher
                    .query_typed(
                        "SELECT count(*) FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event_type = 'Lock'
                           AND query LIKE '%ORDER BY id FOR UPDATE%'",
                        &[],
                    )
                    .await
                    .expect("pg_stat_activity")[0]
                    .get(0);
                if waiting > 0 {
                    let second = send().await;
                    hold.rollback().await.expect("release the task");
                    return second;
                }
                wait(10).await;
            }
            panic!("the first batch never waited on the lock");
        };
        tokio::join!(first, second)
    }
}
