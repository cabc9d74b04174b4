//! Cold start and memory, measured from outside the process:
//!
//!   cold-start function <binary> <emulator port> <event file> <runs> <warm invocations>
//!       exec of a function binary under `cargo lambda watch --only-lambda-apis`
//!       to its first answered invocation (which must be a 200), including the
//!       first database connection; then <warm invocations> more, and the
//!       process's peak and current resident memory.
//!   cold-start server <local-api binary> <runs>
//!       exec of local-api to its first authenticated 200 (`BENCH_TOKEN`,
//!       `BENCH_PATH`).
//!
//! Prints one JSON object: every run in milliseconds, the median, memory.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// One HTTP/1.1 request on a fresh connection: (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    // A function that died never answers: fail instead of waiting forever.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// VmHWM and VmRSS of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn function(args: &[String]) -> Value {
    let [binary, port, event, runs, warm] = args else {
        panic!("function <binary> <emulator port> <event file> <runs> <warm invocations>");
    };
    let port: u16 = port.parse().expect("port");
    let event = std::fs::read_to_string(event).expect("event file");
    let (runs, warm): (usize, usize) = (runs.parse().expect("runs"), warm.parse().expect("warm"));
    let invoke = || {
        let (status, body) = http(
            port,
            "POST",
            "/2015-03-31/functions/_/invocations",
            "",
            &event,
        )
        .expect("invoke");
        assert_eq!(status, 200, "emulator: {body}");
        let answer: Value = serde_json::from_str(&body).expect("JSON answer");
        assert_eq!(answer["statusCode"], 200, "function: {answer}");
    };
    let mut cold = Vec::new();
    let mut memory_kib = (0, 0);
    let mut warm_us = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        let child = Command::new(binary)
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn function");
        let child = Killed(child);
        invoke();
        cold.push(started.elapsed().as_secs_f64() * 1000.0);
        if run == 0 {
            for _ in 0..warm {
                let t = Instant::now();
                invoke();
                warm_us.push(t.elapsed().as_secs_f64() * 1e6);
            }
            memory_kib = memory(child.0.id());
        }
        drop(child);
        std::thread::sleep(Duration::from_millis(200));
    }
    json!({
        "cold_start_ms": cold.clone(),
        "cold_start_median_ms": median(&mut cold),
        "warm_invocations": warm,
        "warm_invocation_median_us": if warm_us.is_empty() { 0.0 } else { median(&mut warm_us) },
        "peak_rss_kib": memory_kib.0,
        "rss_kib": memory_kib.1,
    })
}

fn server(args: &[String]) -> Value {
    let [binary, runs] = args else {
        panic!("server <local-api binary> <runs>")
    };
    let runs: usize = runs.parse().expect("runs");
    let token = std::env::var("BENCH_TOKEN").expect("BENCH_TOKEN");
    let path = std::env::var("BENCH_PATH").expect("BENCH_PATH");
    let auth = format!("Authorization: Bearer {token}\r\n");
    let mut cold = Vec::new();
    for _ in 0..runs {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = Instant::now();
        let child = Command::new(binary)
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn local-api");
        let _child = Killed(child);
        loop {
            match http(port, "GET", &path, &auth, "") {
                Ok((200, _)) => break,
                Ok((status, body)) => panic!("local-api answered {status}: {body}"),
                Err(_) if started.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_micros(200))
                }
                Err(e) => panic!("local-api did not answer: {e}"),
            }
        }
        cold.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    json!({ "cold_start_ms": cold.clone(), "cold_start_median_ms": median(&mut cold) })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let report = match args.first().map(String::as_str) {
        Some("function") => function(&args[1..]),
        Some("server") => server(&args[1..]),
        _ => panic!("usage: cold-start function ... | cold-start server ..."),
    };
    println!("{report}");
}
