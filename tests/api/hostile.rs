//! Hostile paths, sent byte for byte (an HTTP client would normalise them):
//! percent-encoded slashes and dots, NULs, overlong and non-UUID ids. Each
//! is a 4xx with a JSON `detail`, never a 5xx, never internals, and nothing
//! is written.

use integration_tests::*;
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// One request written raw on a socket; returns (status, body).
async fn raw(base: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let head = format!("Host: {addr}\r\nContent-Type: application/json");
    raw_with(base, method, path, token, &head, body).await
}

/// The same with header lines of the caller's (`head`, without the token
/// and the length).
async fn raw_with(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    head: &str,
    body: &str,
) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\n{head}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn hostile_paths_are_4xx_with_a_detail_and_write_nothing() {
    let app = TestApp::spawn().await;
    let bob_task = app.create("bob", "bob's").await;
    let bob_id = bob_task["id"].as_str().unwrap();
    let token = token("alice");
    let long = "a".repeat(10_000);

    let ids = [
        "%2E%2E".to_owned(),
        "%2e%2e%2f%2e%2e%2fbob%2ftasks".to_owned(),
        "..%2F..%2Fbob%2Ftasks".to_owned(),
        format!("{bob_id}%2F..%2F{bob_id}"),
        format!("{bob_id}%00"),
        format!("%7B{bob_id}%7D"),
        format!("{bob_id}%20"),
        "%C0%AE%C0%AE".to_owned(), // overlong UTF-8 for '.'
        "%FF%FE".to_owned(),
        "00000000-0000-0000-0000-00000000000g".to_owned(),
        long.clone(),
        "'%20OR%201=1--".to_owned(),
    ];
    let mut cases = Vec::new();
    for id in &ids {
        for (method, suffix, body) in [
            ("GET", "", ""),
            ("PUT", "", r#"{"title":"pwned"}"#),
            ("DELETE", "", ""),
            ("PATCH", "/complete", ""),
        ] {
            cases.push((method, format!("/api/alice/tasks/{id}{suffix}"), body));
        }
    }
    // User ids that try to climb into bob's tasks: alice's token never
    // matches them, so 403 (or 404 where no route matches).
    for user in [
        "alice%2F..%2Fbob",
        "..%2Fbob",
        "bob%00",
        "alice%2Fbob",
        &long,
    ] {
        cases.push(("GET", format!("/api/{user}/tasks"), ""));
        cases.push(("POST", format!("/api/{user}/tasks"), r#"{"title":"pwned"}"#));
        cases.push(("GET", format!("/api/{user}/tasks/{bob_id}"), ""));
    }

    for (method, path, body) in &cases {
        let (status, text) = raw(&app.base, method, path, &token, body).await;
        let shown: String = path.chars().take(80).collect();
        assert!(
            (400..500).contains(&status),
            "{method} {shown} → {status} {text}"
        );
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {shown}: not JSON: {text}"));
        assert!(
            json["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{method} {shown}: {json}"
        );
        let lower = text.to_lowercase();
        for leak in [
            "sql",
            "postgres",
            "panicked",
            "tokio",
            "syntax error",
            "relation",
        ] {
            assert!(
                !lower.contains(leak),
                "{method} {shown} leaks `{leak}`: {text}"
            );
        }
    }
    assert_eq!(app.stored_tasks("alice").await, 0);

    // A path is decoded exactly once: `%2541` is the user id `a%41`, not `aA`.
    let (status, text) = raw(
        &app.base,
        "GET",
        "/api/a%2541/tasks",
        &integration_tests::token("a%41"),
        "",
    )
    .await;
    assert_eq!((status, text.as_str()), (200, "[]"));
    assert_eq!(app.stored_tasks("bob").await, 1);
    let bob_now: Value = app
        .get_json(&format!("/api/bob/tasks/{bob_id}"), "bob")
        .await;
    assert_eq!(bob_now, bob_task, "bob's task is untouched");
}

/// Headers API Gateway sets itself (`Host`, `X-Forwarded-Proto`) are the
/// listener's in local-api, whatever the client sends: lambda_http builds
/// the request URI from them with an `unwrap`, and a release build aborts
/// on a panic. Also: an HTTP API has no HEAD route.
#[tokio::test]
async fn hostile_headers_do_not_panic_the_server() {
    let app = TestApp::spawn().await;
    let token = token("alice");
    let addr = app.base.trim_start_matches("http://").to_owned();
    for head in [
        "Host: a b".to_owned(),
        "Host: [::1".into(),
        "Host: a/b?c#d".into(),
        format!("Host: {addr}\r\nX-Forwarded-Proto: 1"),
        format!("Host: {addr}\r\nX-Forwarded-Proto: ht tp"),
        format!("Host: {addr}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Proto: http"),
        format!("Host: {addr}\r\nCookie: a=1\r\nCookie: b=2"),
    ] {
        let (status, text) =
            raw_with(&app.base, "GET", "/api/alice/tasks", &token, &head, "").await;
        assert_eq!((status, text.as_str()), (200, "[]"), "{head}");
    }
    let (status, text) = raw(&app.base, "HEAD", "/api/alice/tasks", &token, "").await;
    assert_eq!(status, 405, "{text}");
    // Still serving.
    let (status, _) = raw(&app.base, "GET", "/health", &token, "").await;
    assert_eq!(status, 200);
}
