//! A minimal Lambda Runtime API on a loopback port: a real function binary
//! (its real `lambda_runtime`) polls it for events, and the bytes it POSTs
//! back are kept exactly as sent — the document Lambda itself would get.
//! The tests run functions against it, and so does `bench/lambda-path`
//! (instructions and CPU time of a warm invocation, in the function's own
//! process).
//!
//!   GET  /2018-06-01/runtime/invocation/next            → the next event
//!   POST /2018-06-01/runtime/invocation/{id}/response   ← the answer
//!   POST /2018-06-01/runtime/invocation/{id}/error      ← a failed invocation
//!   POST /2018-06-01/runtime/init/error                 ← a failed init

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path as UrlPath, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    routing::{get, post},
};
use tokio::sync::{mpsc, oneshot};

/// What the function sent back for one event.
#[derive(Debug)]
enum Outcome {
    /// The response document, byte for byte.
    Response(Vec<u8>),
    /// An invocation or init error (the document Lambda would log).
    Error(Vec<u8>),
}

type Pending = (Vec<u8>, oneshot::Sender<Outcome>);

#[derive(Clone)]
struct Shared {
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    events: mpsc::Sender<Pending>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (events, queue) = mpsc::channel(16);
        let shared = Shared {
            queue: Arc::new(tokio::sync::Mutex::new(queue)),
            waiting: Arc::default(),
        };
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(|s, id, body| finish(s, id, body, Outcome::Response)),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(|s, id, body| finish(s, id, body, Outcome::Error)),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // Whatever the function sends is kept, even past Lambda's limit
            // (the test judges the size).
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { addr, events }
    }

    /// Hands `event` to the function and returns the response document it
    /// sends back, byte for byte (an invocation error fails the test).
    pub async fn invoke(&self, event: &[u8]) -> Vec<u8> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send((event.to_vec(), tx))
            .await
            .expect("runtime API is running");
        let outcome = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .expect("the function answered within 60 s")
            .expect("the function answered");
        match outcome {
            Outcome::Response(bytes) => bytes,
            Outcome::Error(e) => panic!("invocation error: {}", String::from_utf8_lossy(&e)),
        }
    }

    /// Runs `binary` (with `runner` in front, e.g. qemu) against this API,
    /// with the Lambda variables and `env`; its output goes to `log`.
    pub fn spawn_function(
        &self,
        binary: &Path,
        runner: &[String],
        env: &[(&str, &str)],
        log: &Path,
    ) -> Function {
        let mut command = match runner.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let log = std::fs::File::create(log).expect("log file");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "function")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("run {} (scripts/test builds it): {e}", binary.display()));
        Function(child)
    }
}

/// A running function process, killed when dropped.
pub struct Function(Child);

impl Function {
    /// The function's process id (under valgrind too: valgrind runs the
    /// program in its own process).
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn next(State(shared): State<Shared>) -> (HeaderMap, Vec<u8>) {
    let (event, reply) = shared
        .queue
        .lock()
        .await
        .recv()
        .await
        .expect("events are still sent");
    let id = uuid::Uuid::now_v7().to_string();
    shared
        .waiting
        .lock()
        .expect("lock")
        .insert(id.clone(), reply);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        + 10_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).expect("header"));
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:123456789012:function:function".into(),
    );
    (headers, event)
}

async fn finish(
    State(shared): State<Shared>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
    outcome: fn(Vec<u8>) -> Outcome,
) -> StatusCode {
    match shared.waiting.lock().expect("lock").remove(&id) {
        Some(reply) => {
            let _ = reply.send(outcome(body.to_vec()));
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    eprintln!("init error: {}", String::from_utf8_lossy(&body));
    shared.waiting.lock().expect("lock").clear();
    StatusCode::ACCEPTED
}
