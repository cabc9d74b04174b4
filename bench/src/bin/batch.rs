//! What a batch saves, against the same operations as single requests, in
//! one run on one database: the handlers called in-process, as the Lambda
//! runtime calls them (function time: the handler's own wall time), and
//! PostgreSQL's CPU (database time: the cluster's user + system ticks).
//!
//!   DATABASE_URL=... BETTER_AUTH_SECRET=... batch <postmaster pid> <rounds>
//!
//! Each round runs, alternating: 100 creates as 100 POSTs and as one batch;
//! 100 mixed operations (25 creates, 25 PUTs, 25 PATCH /complete, 25
//! DELETEs, on tasks made for them outside the timing) as 100 single
//! requests and as one batch. Every answer must be the expected status
//! (else it exits non-zero). Prints a Markdown table: per operation,
//! function ms and database ms, and how many times less the batch takes.

use std::{collections::HashMap, time::Duration, time::Instant};

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use shared::{AppState, config::Config};

const OPS: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Variant {
    SingleCreates,
    BatchCreates,
    SingleMixed,
    BatchMixed,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Self::SingleCreates => "100 creates, 100 single requests",
            Self::BatchCreates => "100 creates, 1 batch",
            Self::SingleMixed => "100 mixed, 100 single requests",
            Self::BatchMixed => "100 mixed, 1 batch",
        }
    }
}

/// Time spent: the handlers' wall time, and PostgreSQL's CPU ticks.
#[derive(Default, Clone, Copy)]
struct Spent {
    function: Duration,
    ticks: u64,
}

struct Bench {
    state: AppState,
    token: String,
    user: &'static str,
    postmaster: u32,
}

fn request(
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    task_id: Option<&str>,
) -> Request {
    let builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://bench{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    let body = body.map_or(Body::Empty, |b| Body::from(b.to_string()));
    let mut params = HashMap::from([("user_id".to_owned(), "bench-batch".to_owned())]);
    if let Some(id) = task_id {
        params.insert("task_id".to_owned(), id.to_owned());
    }
    builder
        .body(body)
        .expect("request")
        .with_path_parameters(params)
}

fn json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
}

fn expect(response: &Response<Body>, status: u16) {
    assert_eq!(response.status().as_u16(), status, "{}", json(response));
}

/// The cluster's user + system CPU ticks so far: the postmaster (with
/// the children it reaped) and its live children.
fn pg_ticks(postmaster: u32) -> u64 {
    let fields = |pid: u32| -> Option<Vec<u64>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = stat.rsplit_once(") ")?.1;
        Some(rest.split(' ').map(|f| f.parse().unwrap_or(0)).collect())
    };
    let mut ticks = fields(postmaster).map_or(0, |f| f[11] + f[12] + f[13] + f[14]);
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(f) = fields(pid)
            && f[1] == u64::from(postmaster)
        {
            ticks += f[11] + f[12];
        }
    }
    ticks
}

impl Bench {
    fn path(&self) -> String {
        format!("/api/{}/tasks", self.user)
    }

    /// Tasks made for a round's updates, completes and deletes (untimed).
    async fn make(&self, n: usize) -> Vec<String> {
        let ops: Vec<Value> = (0..n)
            .map(|i| json!({"op": "create", "task": {"title": format!("target {i}")}}))
            .collect();
        let req = request(
            "POST",
            &format!("{}/batch", self.path()),
            &self.token,
            Some(json!({"operations": ops})),
            None,
        );
        let response = batch_tasks::handler(req, &self.state).await;
        expect(&response, 200);
        json(&response)["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["task"]["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// The single request of mixed operation `i` on `targets`.
    async fn single(&self, i: usize, targets: &[String]) -> Response<Body> {
        let path = self.path();
        let id = &targets[i / 4];
        let one = format!("{path}/{id}");
        let (response, status) = match i % 4 {
            0 => (
                create_task::handler(
                    request(
                        "POST",
                        &path,
                        &self.token,
                        Some(json!({"title": format!("mixed {i}")})),
                        None,
                    ),
                    &self.state,
                )
                .await,
                201,
            ),
            1 => (
                update_task::handler(
                    request(
                        "PUT",
                        &one,
                        &self.token,
                        Some(json!({"title": "renamed", "priority": 2})),
                        Some(id),
                    ),
                    &self.state,
                )
                .await,
                200,
            ),
            2 => (
                complete_task::handler(
                    request(
                        "PATCH",
                        &format!("{one}/complete"),
                        &self.token,
                        None,
                        Some(id),
                    ),
                    &self.state,
                )
                .await,
                200,
            ),
            _ => (
                delete_task::handler(
                    request("DELETE", &one, &self.token, None, Some(id)),
                    &self.state,
                )
                .await,
                204,
            ),
        };
        expect(&response, status);
        response
    }

    fn mixed_ops(targets: &[String]) -> Vec<Value> {
        (0..OPS)
            .map(|i| {
                let id = &targets[i / 4];
                match i % 4 {
                    0 => json!({"op": "create", "task": {"title": format!("mixed {i}")}}),
                    1 => json!({"op": "update", "id": id, "task": {"title": "renamed", "priority": 2}}),
                    2 => json!({"op": "complete", "id": id}),
                    _ => json!({"op": "delete", "id": id}),
                }
            })
            .collect()
    }

    async fn run(&self, variant: Variant) -> Spent {
        // Untimed: the tasks the mixed operations change.
        let targets = match variant {
            Variant::SingleMixed | Variant::BatchMixed => self.make(OPS / 4).await,
            _ => Vec::new(),
        };
        let batch_path = format!("{}/batch", self.path());
        let mut function = Duration::ZERO;
        let ticks_before = pg_ticks(self.postmaster);
        match variant {
            Variant::SingleCreates => {
                for i in 0..OPS {
                    let req = request(
                        "POST",
                        &self.path(),
                        &self.token,
                        Some(json!({"title": format!("single {i}")})),
                        None,
                    );
                    let started = Instant::now();
                    let response = create_task::handler(req, &self.state).await;
                    function += started.elapsed();
                    expect(&response, 201);
                }
            }
            Variant::SingleMixed => {
                for i in 0..OPS {
                    let started = Instant::now();
                    // Request building is inside here: as cheap as for a batch.
                    let _ = self.single(i, &targets).await;
                    function += started.elapsed();
                }
            }
            Variant::BatchCreates | Variant::BatchMixed => {
                let ops: Vec<Value> = if variant == Variant::BatchCreates {
                    (0..OPS)
                        .map(|i| json!({"op": "create", "task": {"title": format!("batched {i}")}}))
                        .collect()
                } else {
                    Self::mixed_ops(&targets)
                };
                let req = request(
                    "POST",
                    &batch_path,
                    &self.token,
                    Some(json!({"operations": ops})),
                    None,
                );
                let started = Instant::now();
                let response = batch_tasks::handler(req, &self.state).await;
                function += started.elapsed();
                expect(&response, 200);
                let body = json(&response);
                let bad: Vec<&Value> = body["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .filter(|r| r["status"].as_u64().is_none_or(|s| s >= 300))
                    .collect();
                assert!(bad.is_empty(), "{bad:?}");
            }
        }
        Spent {
            function,
            ticks: pg_ticks(self.postmaster) - ticks_before,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let postmaster: u32 = args.next().ok_or("postmaster pid")?.parse()?;
    let rounds: usize = args.next().ok_or("rounds")?.parse()?;
    let config = Config::from_env()?;
    let token = local_api::token::mint(&config.auth, "bench-batch", Duration::from_secs(7200))?;
    let state = AppState::new(&config)?;
    state.warm_up_with(&shared::batch::HOT_STATEMENTS).await;
    let bench = Bench {
        state,
        token,
        user: "bench-batch",
        postmaster,
    };
    let order = [
        Variant::SingleCreates,
        Variant::BatchCreates,
        Variant::SingleMixed,
        Variant::BatchMixed,
    ];
    // One untimed round: every statement prepared, the pool warm.
    for variant in order {
        bench.run(variant).await;
    }
    let mut total: HashMap<Variant, Spent> = HashMap::new();
    for round in 0..rounds {
        // Alternating which goes first.
        let mut this = order;
        if round % 2 == 1 {
            this.reverse();
        }
        for variant in this {
            let spent = bench.run(variant).await;
            let sum = total.entry(variant).or_default();
            sum.function += spent.function;
            sum.ticks += spent.ticks;
        }
    }
    let tck = 100.0; // USER_HZ on Linux
    let per_op = |v: Variant| {
        let s = total[&v];
        let ops = (rounds * OPS) as f64;
        (
            s.function.as_secs_f64() * 1000.0 / ops,
            s.ticks as f64 / tck * 1000.0 / ops,
        )
    };
    println!("| {rounds} rounds, per operation | function ms | database CPU ms |");
    println!("| --- | ---: | ---: |");
    for variant in order {
        let (f, d) = per_op(variant);
        println!("| {} | {f:.3} | {d:.3} |", variant.name());
    }
    for (single, batch, what) in [
        (Variant::SingleCreates, Variant::BatchCreates, "creates"),
        (Variant::SingleMixed, Variant::BatchMixed, "mixed"),
    ] {
        let (sf, sd) = per_op(single);
        let (bf, bd) = per_op(batch);
        println!(
            "| {what}: single / batch | {:.1}x | {:.1}x |",
            sf / bf,
            if bd > 0.0 { sd / bd } else { f64::INFINITY }
        );
    }
    Ok(())
}
