//! What conditional requests and idempotency keys cost, against the plain
//! request, on one server in one run:
//!
//!   conditional <base URL> <token> <user> <seconds per variant>
//!
//! Each variant runs at concurrency 1 and 32 for the given seconds; every
//! answer must have the variant's status (else it exits non-zero). The
//! variants whose header changes per request (`If-Match` with the ETag the
//! previous PUT returned, a new `Idempotency-Key` per POST) need a client
//! that reads each answer, which `oha` is not: so all of them run here,
//! plain ones included, with one HTTP client. Prints a Markdown table.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::{Client, Method, StatusCode, header::HeaderValue};
use serde_json::json;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    GetPlain,
    GetNotModified,
    PutPlain,
    PutIfMatch,
    PutStale,
    PostPlain,
    PostNewKey,
    PostReplay,
}

impl Variant {
    const ALL: [Variant; 8] = [
        Self::GetPlain,
        Self::GetNotModified,
        Self::PutPlain,
        Self::PutIfMatch,
        Self::PutStale,
        Self::PostPlain,
        Self::PostNewKey,
        Self::PostReplay,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::GetPlain => "GET one",
            Self::GetNotModified => "GET one, If-None-Match current (304)",
            Self::PutPlain => "PUT",
            Self::PutIfMatch => "PUT, If-Match current",
            Self::PutStale => "PUT, If-Match stale (412)",
            Self::PostPlain => "POST",
            Self::PostNewKey => "POST, new Idempotency-Key",
            Self::PostReplay => "POST, replayed Idempotency-Key",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::GetPlain | Self::PutPlain | Self::PutIfMatch => StatusCode::OK,
            Self::GetNotModified => StatusCode::NOT_MODIFIED,
            Self::PutStale => StatusCode::PRECONDITION_FAILED,
            Self::PostPlain | Self::PostNewKey | Self::PostReplay => StatusCode::CREATED,
        }
    }
}

struct Target {
    http: Client,
    base: String,
    token: String,
    user: String,
}

impl Target {
    async fn send(
        &self,
        method: Method,
        path: &str,
        header: Option<(&str, &str)>,
        body: Option<&serde_json::Value>,
    ) -> (StatusCode, Option<String>, Option<String>) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("a body");
        (status, etag, Some(text))
    }

    fn tasks(&self) -> String {
        format!("/api/{}/tasks", self.user)
    }

    /// A task of this worker's own, and its ETag.
    async fn own_task(&self, worker: usize) -> (String, String) {
        let body = json!({ "title": format!("conditional {worker}") });
        let (status, etag, text) = self
            .send(Method::POST, &self.tasks(), None, Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let task: serde_json::Value = serde_json::from_str(&text.unwrap()).unwrap();
        (
            format!("{}/{}", self.tasks(), task["id"].as_str().unwrap()),
            etag.unwrap(),
        )
    }
}

/// Latencies (µs) of one worker's requests for `seconds`.
async fn worker(target: Arc<Target>, variant: Variant, id: usize, seconds: f64) -> Vec<u32> {
    let (one, mut etag) = target.own_task(id).await;
    let title = json!({ "title": "Renamed" });
    let task = json!({ "title": "Benchmark task" });
    let replay_key = format!("replay-{id}-{}", std::process::id());
    if variant == Variant::PostReplay {
        let header = Some(("idempotency-key", replay_key.as_str()));
        let (status, ..) = target
            .send(Method::POST, &target.tasks(), header, Some(&task))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let stale = etag.clone();
    if variant == Variant::PutStale {
        // Move the task past the ETag held.
        let (status, next, _) = target.send(Method::PUT, &one, None, Some(&title)).await;
        assert_eq!(status, StatusCode::OK);
        etag = next.unwrap();
    }
    let mut latencies = Vec::new();
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut n = 0u64;
    while Instant::now() < end {
        n += 1;
        let key = format!("new-{id}-{}-{n}", std::process::id());
        let tasks = target.tasks();
        let (method, path, header, body) = match variant {
            Variant::GetPlain => (Method::GET, &one, None, None),
            Variant::GetNotModified => (
                Method::GET,
                &one,
                Some(("if-none-match", etag.as_str())),
                None,
            ),
            Variant::PutPlain => (Method::PUT, &one, None, Some(&title)),
            Variant::PutIfMatch => (
                Method::PUT,
                &one,
                Some(("if-match", etag.as_str())),
                Some(&title),
            ),
            Variant::PutStale => (
                Method::PUT,
                &one,
                Some(("if-match", stale.as_str())),
                Some(&title),
            ),
            Variant::PostPlain => (Method::POST, &tasks, None, Some(&task)),
            Variant::PostNewKey => (
                Method::POST,
                &tasks,
                Some(("idempotency-key", key.as_str())),
                Some(&task),
            ),
            Variant::PostReplay => (
                Method::POST,
                &tasks,
                Some(("idempotency-key", replay_key.as_str())),
                Some(&task),
            ),
        };
        let started = Instant::now();
        let (status, next, _) = target.send(method, path, header, body).await;
        latencies.push(started.elapsed().as_micros() as u32);
        if status != variant.status() {
            eprintln!(
                "{}: {status}, expected {}",
                variant.name(),
                variant.status()
            );
            std::process::exit(1);
        }
        if variant == Variant::PutIfMatch {
            etag = next.expect("an ETag");
        }
    }
    latencies
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, user, seconds] = &args[..] else {
        eprintln!("usage: conditional <base URL> <token> <user> <seconds per variant>");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().expect("seconds");
    let target = Arc::new(Target {
        http: Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client"),
        base: base.clone(),
        token: token.clone(),
        user: user.clone(),
    });
    println!("| request | c | requests/s | p50 µs | p99 µs |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for c in [1usize, 32] {
        for variant in Variant::ALL {
            // All started before any is awaited.
            let workers: Vec<_> = (0..c)
                .map(|id| tokio::spawn(worker(target.clone(), variant, id, seconds)))
                .collect();
            let mut all: Vec<u32> = Vec::new();
            for w in workers {
                all.extend(w.await.expect("worker"));
            }
            all.sort_unstable();
            let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
            println!(
                "| {} | {c} | {:.0} | {} | {} |",
                variant.name(),
                all.len() as f64 / seconds,
                at(0.5),
                at(0.99)
            );
        }
    }
}
