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
    state
        .tasks
        .database()
        .warm_up(&shared::repository::HOT_STATEMENTS)
        .await;
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
    for (method, path, body) in task_routes("u1", &id)
        .into_iter()
        .chain(trash_routes("u1", &id))
    {
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

/// What the load saw: every answer's status and, for a 201, the task id.
#[derive(Default)]
struct Seen {
    statuses: Vec<u16>,
    created: Vec<String>,
    slowest: std::time::Duration,
    other: Vec<String>,
}

/// With creates in flight, PostgreSQL dies (immediate stop) and comes back
/// on the same port. Every answer meanwhile is a 201 or a 503 with
/// `Retry-After`, none slower than the configured timeouts; the same process
/// answers 200 soon after the database returns; every 201 is stored. A
/// function that starts while the database is down recovers too.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_lost_mid_flight_answers_503_then_recovers() {
    use integration_tests::cluster::Cluster;
    use std::{
        collections::HashMap,
        sync::{
            Mutex,
            atomic::{AtomicBool, Ordering},
        },
        time::Duration,
    };

    let cluster = Cluster::start(None).await;
    let vars = HashMap::from([
        (
            "DATABASE_URL".to_owned(),
            format!("{}?sslmode=disable", cluster.url),
        ),
        ("BETTER_AUTH_SECRET".to_owned(), SECRET.to_owned()),
        ("DB_POOL_MAX_SIZE".to_owned(), "8".to_owned()),
        ("DB_CONNECT_TIMEOUT_MS".to_owned(), "1000".to_owned()),
        ("DB_POOL_TIMEOUT_MS".to_owned(), "1000".to_owned()),
        ("DB_STATEMENT_TIMEOUT_MS".to_owned(), "2000".to_owned()),
    ]);
    let config = config_from(&vars);
    let mut client = shared::db::connect(&config.db).await.expect("connect");
    shared::migrations::up(&mut client).await.expect("migrate");
    drop(client);
    // The whole bound a request may take: connect or wait, then a statement.
    let bound = Duration::from_millis(1000 + 1000 + 2000 + 1000);

    let state = Arc::new(AppState::new(&config).expect("state"));
    state.warm_up().await;
    let base = serve(state, origins()).await;
    let http = reqwest::Client::new();

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (http, base, stop, seen) = (http.clone(), base.clone(), stop.clone(), seen.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let started = Instant::now();
                    let response = http
                        .post(format!("{base}/api/alice/tasks"))
                        .bearer_auth(token("alice"))
                        .json(&json!({ "title": format!("worker {w} task {n}") }))
                        .send()
                        .await
                        .expect("the server always answers");
                    let elapsed = started.elapsed();
                    let status = response.status().as_u16();
                    let retry_after = response.headers().contains_key("retry-after");
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    {
                        let mut seen = seen.lock().unwrap();
                        seen.statuses.push(status);
                        seen.slowest = seen.slowest.max(elapsed);
                        match status {
                            201 => seen.created.push(body["id"].as_str().unwrap().to_owned()),
                            503 if retry_after => {}
                            _ => seen.other.push(format!("{status} {body}")),
                        }
                    }
                    if status == 503 {
                        wait(50).await; // a client backing off
                    }
                }
            })
        })
        .collect();

    wait(500).await;
    cluster.kill().await;
    // A function that starts while the database is down: it starts, and
    // answers 503.
    let late = Arc::new(AppState::new(&config).expect("state"));
    late.warm_up().await;
    let late_base = serve(late, origins()).await;
    let list = |base: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}/api/alice/tasks?limit=1"))
                .bearer_auth(token("alice"))
                .send()
                .await
                .expect("send")
                .status()
        }
    };
    assert_eq!(
        list(late_base.clone()).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    wait(1500).await;
    let down_count = seen
        .lock()
        .unwrap()
        .statuses
        .iter()
        .filter(|s| **s == 503)
        .count();

    cluster.start_again().await;
    let back = Instant::now();
    let mut recovered = None;
    while back.elapsed() < Duration::from_secs(10) {
        if list(base.clone()).await == StatusCode::OK {
            recovered = Some(back.elapsed());
            break;
        }
        wait(20).await;
    }
    let recovered = recovered.expect("the same process answers 200 again, without a restart");
    eprintln!("503 → 200 recovery after the database returned: {recovered:?}");
    assert!(
        recovered < Duration::from_secs(3),
        "recovery took {recovered:?}"
    );
    assert_eq!(
        list(late_base).await,
        StatusCode::OK,
        "the late starter recovers"
    );

    wait(300).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.other.is_empty(),
        "answers other than 201/503+Retry-After: {:?}",
        seen.other
    );
    assert!(down_count > 0, "no request met the lost database");
    assert!(seen.slowest <= bound, "a request took {:?}", seen.slowest);
    assert_eq!(seen.statuses.last(), Some(&201), "creates succeed again");

    // Every 201 is durable.
    let client = shared::db::connect(&config.db).await.expect("connect");
    let stored: Vec<String> = client
        .query("SELECT id::text FROM tasks WHERE user_id = 'alice'", &[])
        .await
        .expect("query")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<&String> = seen
        .created
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "answered 201 but not stored: {missing:?}"
    );
    eprintln!(
        "{} requests: {} created, {} answered 503; slowest {:?}",
        seen.statuses.len(),
        seen.created.len(),
        seen.statuses.iter().filter(|s| **s == 503).count(),
        seen.slowest
    );
}
