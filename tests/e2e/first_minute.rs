//! What a new user sees first: `local-api` prints its URL, the docs URL, a
//! dev token and curl lines — and those lines work exactly as printed. The
//! docs page and the OpenAPI document it loads are served from the binary.

use std::{process::Stdio, time::Duration};

use integration_tests::*;
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

/// local-api's banner, printed with `secret` as `BETTER_AUTH_SECRET`: up
/// to its second curl line, or its "no dev token" line. The server and its
/// output stay open while the first two are held.
async fn banner(db: &TestDb, port: u16, secret: &str) -> (Running, Vec<String>) {
    let binary = format!("{}/../target/debug/local-api", env!("CARGO_MANIFEST_DIR"));
    let mut server = Command::new(&binary)
        .env("DATABASE_URL", &db.url)
        .env("BETTER_AUTH_SECRET", secret)
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("run {binary} (scripts/test builds it): {e}"));
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.contains("no dev token")
                || line.trim_start().starts_with("curl")
                    && banner
                        .iter()
                        .any(|l: &String| l.trim_start().starts_with("curl"));
            banner.push(line);
            if done {
                break;
            }
        }
    })
    .await
    .expect("local-api printed its banner");
    ((server, lines), banner)
}

type Running = (
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
);

/// A dev token is printed for the published dev secret only: a token
/// printed for a real secret would land in terminals and CI logs.
#[tokio::test]
async fn no_dev_token_is_printed_for_a_secret_of_ones_own() {
    let db = TestDb::new().await;
    let (_server, banner) = banner(&db, free_port(), SECRET).await;
    let text = banner.join("\n");
    assert!(text.contains("no dev token"), "{text}");
    assert!(!text.contains("Bearer ey"), "{text}");
}

#[tokio::test]
async fn the_printed_urls_token_and_curl_lines_work_as_printed() {
    let db = TestDb::new().await;
    let port = free_port();
    let (_server, banner) = banner(&db, port, shared::config::DEV_SECRET).await;
    let text = banner.join("\n");
    let base = format!("http://127.0.0.1:{port}");
    assert!(text.contains(&format!("listening on {base}")), "{text}");
    assert!(text.contains(&format!("{base}/docs")), "{text}");

    // The curl lines, run by a shell exactly as printed: create, then list.
    let curls: Vec<&str> = banner
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("curl"))
        .collect();
    assert_eq!(curls.len(), 2, "{text}");
    let run = |line: &str| {
        let line = line.to_owned();
        async move {
            let out = Command::new("sh")
                .arg("-c")
                .arg(&line)
                .output()
                .await
                .expect("sh");
            assert!(out.status.success(), "{line}");
            serde_json::from_slice::<Value>(&out.stdout).expect("JSON answer")
        }
    };
    let created = run(curls[0]).await;
    assert_eq!(created["title"], "Buy milk");
    assert_eq!(created["user_id"], "demo-user");
    let listed = run(curls[1]).await;
    assert_eq!(listed[0]["id"], created["id"]);

    // The docs: the page, every asset it names, and the document it loads.
    let http = reqwest::Client::new();
    let page = http.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/docs/") || *s == "/openapi.json")
        .collect();
    assert!(assets.len() >= 4, "{assets:?}");
    for asset in assets {
        let response = http.get(format!("{base}{asset}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(!response.bytes().await.unwrap().is_empty(), "{asset}");
    }
    let served: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let on_disk: Value = serde_json::from_str(local_api::docs::OPENAPI_JSON).unwrap();
    assert_eq!(served, on_disk);
}
