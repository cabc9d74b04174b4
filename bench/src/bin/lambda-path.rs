//! One function binary under its real `lambda_runtime`, fed one API Gateway
//! event over and over by a Runtime API on loopback (the tests' own): what a
//! warm invocation costs on the deployed path, in the function's process.
//!
//!   lambda-path BINARY EVENT WARMUP COUNT [CALLGRIND_OUT]
//!
//! `{n}` in EVENT becomes a 12-digit sequence number per invocation, from
//! 1 (each DELETE names a task of its own). The function gets this process's
//! environment (DATABASE_URL, BETTER_AUTH_SECRET, RUST_LOG, ...). After
//! WARMUP invocations, COUNT are measured:
//! - natively: the process's CPU time (its threads' schedstat, in ns) and
//!   each invocation's round trip;
//! - with CALLGRIND_OUT: the function runs under callgrind, its counters
//!   zeroed after the warmup and dumped after the COUNT invocations (to
//!   CALLGRIND_OUT.1): only warm invocations are counted.
//!
//! Prints one JSON object: statuses, response document bytes, CPU time and
//! round trips per invocation.

use std::{
    collections::BTreeMap,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use runtime_api::{Function, RuntimeApi};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, event, warmup, count, rest @ ..] = args.as_slice() else {
        eprintln!("usage: lambda-path BINARY EVENT WARMUP COUNT [CALLGRIND_OUT]");
        std::process::exit(2);
    };
    let (warmup, count): (usize, usize) = (
        warmup.parse().expect("WARMUP: a number"),
        count.parse().expect("COUNT: a number"),
    );
    let template = std::fs::read_to_string(event).expect("EVENT: a readable file");
    let callgrind = rest.first();

    let api = RuntimeApi::start().await;
    let runner: Vec<String> = match callgrind {
        // Each cost keeps the chain of callers it was spent under (up to
        // 64 deep, which async code needs): bench/lambda-phases.py reads
        // the phase from it.
        Some(out) => [
            "valgrind",
            "-q",
            "--tool=callgrind",
            "--separate-callers=64",
        ]
        .map(String::from)
        .into_iter()
        .chain([format!("--callgrind-out-file={out}")])
        .collect(),
        None => Vec::new(),
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let log = std::env::temp_dir().join(format!("lambda-path-{}.log", std::process::id()));
    let function = api.spawn_function(Path::new(binary), &runner, &env, &log);

    let mut n = 0u64;
    let mut next_event = || {
        n += 1;
        template.replace("{n}", &format!("{n:012}")).into_bytes()
    };
    for _ in 0..warmup {
        api.invoke(&next_event()).await;
    }
    if callgrind.is_some() {
        callgrind_control("-z", &function);
    }
    let cpu_before = cpu_ns(&function);
    let mut statuses = BTreeMap::<String, usize>::new();
    let (mut bytes, mut round_trips) = (0usize, Vec::with_capacity(count));
    for _ in 0..count {
        let event = next_event();
        let started = Instant::now();
        let document = api.invoke(&event).await;
        round_trips.push(started.elapsed());
        bytes += document.len();
        let status = serde_json::from_slice::<Value>(&document)
            .ok()
            .and_then(|d| d.get("statusCode").map(Value::to_string))
            .unwrap_or_else(|| "not a response".into());
        *statuses.entry(status).or_default() += 1;
    }
    let cpu = cpu_ns(&function) - cpu_before;
    if callgrind.is_some() {
        callgrind_control("-d", &function);
    }
    drop(function);
    let _ = std::fs::remove_file(&log);

    round_trips.sort();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = round_trips.iter().copied().sum::<Duration>() / count.max(1) as u32;
    let report = json!({
        "invocations": count,
        "statuses": statuses,
        "response_bytes": bytes / count.max(1),
        // Under callgrind the CPU time is valgrind's, not the function's.
        "cpu_us": callgrind.is_none().then(|| cpu as f64 / 1e3 / count.max(1) as f64),
        "round_trip_us_p50": round_trips.get(count / 2).map(|d| micros(*d)),
        "round_trip_us_mean": micros(mean),
    });
    println!("{report}");
}

/// CPU time of the function's threads so far, in ns (`/proc/*/schedstat`:
/// on-CPU time, not tick-sampled like `/proc/*/stat`).
fn cpu_ns(function: &Function) -> u64 {
    let tasks = format!("/proc/{}/task", function.id());
    std::fs::read_dir(tasks)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// `callgrind_control -z` (zero) or `-d` (dump) on the function.
fn callgrind_control(action: &str, function: &Function) {
    let status = Command::new("callgrind_control")
        .args([action, &function.id().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("callgrind_control (Debian: valgrind)");
    assert!(status.success(), "callgrind_control {action} failed");
}
