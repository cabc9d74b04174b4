//! Asymmetric tokens verified against a JWKS endpoint (docs/contract.md, "Who may call"):
//! EdDSA, ES256 and RS256 keys, the key chosen by `kid` and its algorithm
//! enforced, refetch on rotation (rate-limited), 503 while the endpoint is
//! unreachable, and HS256 still accepted beside it.

use futures::StreamExt;
use integration_tests::{
    keys::{JwksServer, TestKey},
    *,
};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const ISSUER: &str = "http://auth.example";

fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "iss": ISSUER, "aud": ISSUER, "iat": now(), "exp": now() + 900 })
}

async fn app_with_jwks(url: &str, min_refresh_seconds: &str) -> TestApp {
    let (url, min) = (url.to_owned(), min_refresh_seconds.to_owned());
    TestApp::spawn_with(move |vars| {
        vars.insert("JWKS_URL".into(), url);
        vars.insert("JWKS_MIN_REFRESH_SECONDS".into(), min);
        vars.insert("JWT_ISSUER".into(), ISSUER.into());
        vars.insert("JWT_AUDIENCE".into(), ISSUER.into());
        // These tests show HS256 beside the key set: it must be asked for.
        vars.insert("ALLOW_HS256".into(), "true".into());
    })
    .await
}

#[tokio::test]
async fn eddsa_es256_and_rs256_tokens_verify_and_hs256_still_does() {
    let ed = TestKey::generate(Algorithm::EdDSA, "ed");
    let ec = TestKey::generate(Algorithm::ES256, "ec");
    let rsa = TestKey::generate(Algorithm::RS256, "rsa");
    let jwks = JwksServer::start(&[&ed, &ec, &rsa]).await;
    let app = app_with_jwks(&jwks.url, "30").await;

    let user = "Vre1c5XZDcmtoS0Tdk1ivnJFUwEOSu9j";
    for key in [&ed, &ec, &rsa] {
        let token = key.sign(&claims(user));
        assert_eq!(
            app.list_status(user, &token).await,
            StatusCode::OK,
            "{:?}",
            key.alg
        );
        // The owner check applies to asymmetric tokens as to any other.
        assert_eq!(
            app.list_status("someone-else", &token).await,
            StatusCode::FORBIDDEN
        );
    }
    let hs = sign(claims(user));
    assert_eq!(app.list_status(user, &hs).await, StatusCode::OK);
    assert_eq!(jwks.fetches(), 1, "the key set is fetched once and kept");
}

#[tokio::test]
async fn a_token_whose_algorithm_differs_from_its_key_is_refused() {
    let ed = TestKey::generate(Algorithm::EdDSA, "ed");
    let ec = TestKey::generate(Algorithm::ES256, "ec");
    let rsa = TestKey::generate(Algorithm::RS256, "rsa");
    let jwks = JwksServer::start(&[&ed, &ec, &rsa]).await;
    let app = app_with_jwks(&jwks.url, "30").await;
    let user = "alice";

    // An ES256 token that names the EdDSA key.
    let mut forged = ec.clone();
    forged.kid = "ed".into();
    // Algorithm confusion: HS256 "signed" with the RSA public key as secret,
    // naming the RSA key.
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some("rsa".into());
    let confused = jsonwebtoken::encode(
        &header,
        &claims(user),
        &jsonwebtoken::EncodingKey::from_secret(&rsa.public_pem),
    )
    .expect("sign");
    // The right algorithm and kid, the wrong private key.
    let mut impostor = TestKey::generate(Algorithm::RS256, "rsa");
    impostor.kid = "rsa".into();
    // A token with no kid while the set holds several keys.
    let anonymous = {
        let header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        jsonwebtoken::encode(&header, &claims(user), &ed.encoding).expect("sign")
    };

    for (what, token) in [
        ("ES256 naming an EdDSA key", forged.sign(&claims(user))),
        ("HS256 with the RSA public key", confused),
        ("RS256 from another key", impostor.sign(&claims(user))),
        ("no kid among several keys", anonymous),
    ] {
        let response = app
            .http
            .get(app.url(&format!("/api/{user}/tasks")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        let body: Value = response.json().await.expect("json");
        assert!(body["detail"].is_string(), "{what}: {body}");
    }
}

#[tokio::test]
async fn issuer_and_audience_are_checked_on_jwks_tokens() {
    let ed = TestKey::generate(Algorithm::EdDSA, "ed");
    let jwks = JwksServer::start(&[&ed]).await;
    let app = app_with_jwks(&jwks.url, "30").await;
    for (claim, value) in [
        ("iss", "http://evil.example"),
        ("aud", "http://other.example"),
    ] {
        let mut c = claims("alice");
        c[claim] = json!(value);
        assert_eq!(
            app.list_status("alice", &ed.sign(&c)).await,
            StatusCode::UNAUTHORIZED,
            "{claim}"
        );
    }
    let mut expired = claims("alice");
    expired["exp"] = json!(now() - 3600);
    assert_eq!(
        app.list_status("alice", &ed.sign(&expired)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_without_a_restart() {
    let old = TestKey::generate(Algorithm::EdDSA, "key-1");
    let new = TestKey::generate(Algorithm::EdDSA, "key-2");
    let jwks = JwksServer::start(&[&old]).await;
    let app = app_with_jwks(&jwks.url, "1").await;

    assert_eq!(
        app.list_status("alice", &old.sign(&claims("alice"))).await,
        StatusCode::OK
    );
    assert_eq!(jwks.fetches(), 1);
    // The auth server rotates: the new key is published, the old one kept
    // for a grace period. Wait out the minimum refresh interval.
    jwks.publish(&[&new, &old]);
    wait(1100).await;
    assert_eq!(
        app.list_status("alice", &new.sign(&claims("alice"))).await,
        StatusCode::OK
    );
    assert_eq!(jwks.fetches(), 2, "one refetch for the unknown kid");
    assert_eq!(
        app.list_status("alice", &old.sign(&claims("alice"))).await,
        StatusCode::OK
    );
    assert_eq!(jwks.fetches(), 2);
}

#[tokio::test]
async fn unknown_kids_cannot_make_the_api_hammer_the_auth_server() {
    let real = TestKey::generate(Algorithm::EdDSA, "real");
    let jwks = JwksServer::start(&[&real]).await;
    let app = app_with_jwks(&jwks.url, "60").await;
    assert_eq!(
        app.list_status("alice", &real.sign(&claims("alice"))).await,
        StatusCode::OK
    );

    let tokens: Vec<String> = (0..20)
        .map(|i| {
            let mut k = real.clone();
            k.kid = format!("made-up-{i}");
            k.sign(&claims("alice"))
        })
        .collect();
    let statuses =
        futures::future::join_all(tokens.iter().map(|t| app.list_status("alice", t))).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(jwks.fetches(), 1, "no refetch within the minimum interval");
}

/// An app whose JWKS endpoint is a port with nothing listening yet, and
/// that port.
async fn app_with_unreachable_jwks() -> (TestApp, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let app = app_with_jwks(&format!("http://{addr}/api/auth/jwks"), "30").await;
    (app, addr)
}

#[tokio::test]
async fn an_unreachable_jwks_answers_503_then_recovers() {
    // The endpoint comes up later on that port.
    let (app, addr) = app_with_unreachable_jwks().await;
    let ed = TestKey::generate(Algorithm::EdDSA, "ed");
    let token = ed.sign(&claims("alice"));

    let response = app
        .http
        .get(app.url("/api/alice/tasks"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.expect("json");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("keys")),
        "{body}"
    );
    // HS256 tokens do not depend on the endpoint.
    assert_eq!(
        app.list_status("alice", &sign(claims("alice"))).await,
        StatusCode::OK
    );
    // Garbage is still a 401, not a 503: it never reaches the key lookup.
    assert_eq!(
        app.list_status("alice", "not.a.token").await,
        StatusCode::UNAUTHORIZED
    );

    let listener = TcpListener::bind(addr).await.expect("rebind");
    let jwks = JwksServer::start_on(listener, &[&ed]).await;
    wait(1100).await; // failed fetches are retried after a second
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
    assert_eq!(jwks.fetches(), 1);

    // Once keys are held, an endpoint failure does not lock out their tokens.
    jwks.fail();
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
}

/// A token that cannot be judged has no owner to compare with the path,
/// and no caller whose input is worth reading: while its key set is
/// unreachable, another user's path and a bad body are a 503 too, never a
/// 403 or a 400 (docs/contract.md, "Status codes").
#[tokio::test]
async fn an_unreachable_jwks_is_503_before_403_and_400() {
    let (app, _) = app_with_unreachable_jwks().await;
    let unjudged = TestKey::generate(Algorithm::EdDSA, "ed").sign(&claims("alice"));
    let judged = sign(claims("alice"));
    let json = |request: reqwest::RequestBuilder, body: &'static str| {
        request
            .header("content-type", "application/json")
            .body(body)
    };
    // Each request, and what it is with a token that can be judged.
    let requests = [
        (
            "another user's path",
            app.http.get(app.url("/api/bob/tasks")),
            StatusCode::FORBIDDEN,
        ),
        (
            "a bad body",
            json(
                app.http.post(app.url("/api/alice/tasks")),
                r#"{"title": 42}"#,
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a bad task id",
            app.http.get(app.url("/api/alice/tasks/not-a-uuid")),
            StatusCode::BAD_REQUEST,
        ),
        (
            "another user's path and a bad body",
            json(app.http.put(app.url("/api/bob/tasks/not-a-uuid")), "{"),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (what, request, judged_status) in requests {
        let again = request.try_clone().expect("a body in memory");
        let response = request.bearer_auth(&unjudged).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
        assert_eq!(response.headers()["retry-after"], "1", "{what}");
        let response = again.bearer_auth(&judged).send().await.expect("send");
        assert_eq!(response.status(), judged_status, "{what}, judged");
    }
}

#[tokio::test]
async fn a_single_key_set_accepts_tokens_without_kid() {
    let ed = TestKey::generate(Algorithm::EdDSA, "only");
    let jwks = JwksServer::start(&[&ed]).await;
    let app = app_with_jwks(&jwks.url, "30").await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::EdDSA),
        &claims("alice"),
        &ed.encoding,
    )
    .expect("sign");
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
}

/// An app whose key sets live between 1 s and `max` seconds.
async fn app_with_lifetimes(url: &str, max: &str) -> TestApp {
    let (url, max) = (url.to_owned(), max.to_owned());
    TestApp::spawn_with(move |vars| {
        vars.insert("JWKS_URL".into(), url);
        vars.insert("JWKS_MIN_REFRESH_SECONDS".into(), "30".into());
        vars.insert("JWKS_CACHE_MIN_SECONDS".into(), "1".into());
        vars.insert("JWKS_CACHE_MAX_SECONDS".into(), max);
        vars.insert("JWT_ISSUER".into(), ISSUER.into());
        vars.insert("JWT_AUDIENCE".into(), ISSUER.into());
        vars.remove("BETTER_AUTH_SECRET");
    })
    .await
}

#[tokio::test]
async fn a_removed_key_stops_verifying_once_the_set_expires() {
    let old = TestKey::generate(Algorithm::EdDSA, "old");
    let new = TestKey::generate(Algorithm::EdDSA, "new");
    let jwks = JwksServer::start(&[&old, &new]).await;
    jwks.cache_control(Some("public, max-age=1"));
    let app = app_with_lifetimes(&jwks.url, "900").await;
    let token = old.sign(&claims("alice"));
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);

    jwks.publish(&[&new]);
    assert_eq!(
        app.list_status("alice", &token).await,
        StatusCode::OK,
        "trusted for the set's lifetime"
    );
    wait(1100).await;
    // The expired set is fetched again, once, however many ask at once.
    let statuses =
        futures::future::join_all((0..10).map(|_| app.list_status("alice", &token))).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(jwks.fetches(), 2);
    assert_eq!(
        app.list_status("alice", &new.sign(&claims("alice"))).await,
        StatusCode::OK
    );
    assert_eq!(jwks.fetches(), 2);
}

#[tokio::test]
async fn max_age_is_held_between_its_floor_and_cap() {
    let key = TestKey::generate(Algorithm::EdDSA, "k");
    let token = key.sign(&claims("alice"));
    // Without Cache-Control: 5 minutes (more than the test waits).
    let plain = JwksServer::start(&[&key]).await;
    // A year, capped at 1 s.
    let long = JwksServer::start(&[&key]).await;
    long.cache_control(Some("max-age=31536000"));
    let plain_app = app_with_lifetimes(&plain.url, "900").await;
    let long_app = app_with_lifetimes(&long.url, "1").await;
    for app in [&plain_app, &long_app] {
        assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
    }
    wait(1100).await;
    for app in [&plain_app, &long_app] {
        assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
    }
    assert_eq!(plain.fetches(), 1, "the default lifetime has not passed");
    assert_eq!(long.fetches(), 2, "the cap has");
}

#[tokio::test]
async fn a_failed_or_empty_fetch_keeps_the_keys_held() {
    let key = TestKey::generate(Algorithm::EdDSA, "k");
    let jwks = JwksServer::start(&[&key]).await;
    jwks.cache_control(Some("max-age=1"));
    let app = app_with_lifetimes(&jwks.url, "900").await;
    let token = key.sign(&claims("alice"));
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);

    jwks.publish(&[]);
    wait(1100).await;
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
    assert_eq!(jwks.fetches(), 2, "an empty set was fetched, and not taken");

    jwks.fail();
    wait(1100).await;
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
    assert_eq!(jwks.fetches(), 3, "a failed fetch, the keys kept");
    // Failures are retried at most once a second.
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
    assert_eq!(jwks.fetches(), 3);
}

/// Keys that cannot be refreshed are not trusted for ever: past the set's
/// lifetime they still verify for `JWKS_MAX_STALE_SECONDS`, then tokens
/// get 503 (the key may have been withdrawn), never a pass.
#[tokio::test]
async fn stale_keys_stop_verifying_after_the_grace() {
    let key = TestKey::generate(Algorithm::EdDSA, "k");
    let jwks = JwksServer::start(&[&key]).await;
    jwks.cache_control(Some("max-age=1"));
    let url = jwks.url.clone();
    let app = TestApp::spawn_with(move |vars| {
        vars.insert("JWKS_URL".into(), url);
        vars.insert("JWKS_CACHE_MIN_SECONDS".into(), "1".into());
        vars.insert("JWKS_MAX_STALE_SECONDS".into(), "1".into());
        vars.insert("JWT_ISSUER".into(), ISSUER.into());
        vars.insert("JWT_AUDIENCE".into(), ISSUER.into());
        vars.remove("BETTER_AUTH_SECRET");
    })
    .await;
    let token = key.sign(&claims("alice"));
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
    jwks.fail();
    wait(1100).await;
    assert_eq!(
        app.list_status("alice", &token).await,
        StatusCode::OK,
        "within the grace"
    );
    wait(1100).await;
    assert_eq!(
        app.list_status("alice", &token).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "past the grace"
    );
    // And back as soon as the endpoint answers again.
    jwks.publish(&[&key]);
    wait(1100).await;
    assert_eq!(app.list_status("alice", &token).await, StatusCode::OK);
}

/// Serves `router` on a loopback port; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A redirect is not followed: it could lead to keys served by anyone.
#[tokio::test]
async fn a_redirecting_jwks_endpoint_is_not_followed() {
    let key = TestKey::generate(Algorithm::EdDSA, "k");
    let jwks = JwksServer::start(&[&key]).await;
    let target = jwks.url.clone();
    let redirector = serve(axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || async move { axum::response::Redirect::temporary(&target) }),
    ))
    .await;
    let app = app_with_jwks(&format!("{redirector}/jwks"), "30").await;
    assert_eq!(
        app.list_status("alice", &key.sign(&claims("alice"))).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(jwks.fetches(), 0, "the redirect's target was never asked");
}

/// A key set sent without `Content-Length` (chunked) is cut off at the
/// size cap while it streams, not read whole first: the client hangs up
/// long before the endpoint has sent its 64 MiB.
#[tokio::test]
async fn an_endless_chunked_key_set_is_cut_off_at_the_cap() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 1024;
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let endpoint = serve(axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                let chunks = futures::stream::iter(0..CHUNKS).map(move |_| {
                    counter.fetch_add(CHUNK, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(vec![b' '; CHUNK])
                });
                axum::body::Body::from_stream(chunks)
            }
        }),
    ))
    .await;
    let url = format!("{endpoint}/jwks");
    let app = TestApp::spawn_with(move |vars| {
        vars.insert("JWKS_URL".into(), url);
        vars.insert("JWKS_FETCH_TIMEOUT_MS".into(), "30000".into());
        vars.insert("JWT_ISSUER".into(), ISSUER.into());
        vars.insert("JWT_AUDIENCE".into(), ISSUER.into());
        vars.remove("BETTER_AUTH_SECRET");
    })
    .await;
    let key = TestKey::generate(Algorithm::EdDSA, "k");
    assert_eq!(
        app.list_status("alice", &key.sign(&claims("alice"))).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let sent = produced.load(Ordering::SeqCst);
    assert!(
        sent < CHUNK * CHUNKS / 4,
        "{sent} bytes were produced before the client gave up"
    );
}

/// One deadline, `JWKS_FETCH_TIMEOUT_MS`, bounds the whole fetch: an
/// endpoint that takes the connection and never answers, or sends its
/// head and then stalls in the body, makes a 503, never a hung request.
#[tokio::test]
async fn a_stalled_jwks_endpoint_is_given_up_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let key = TestKey::generate(Algorithm::EdDSA, "k");
    for head in [
        "",
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"keys\":[",
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Every connection is kept open, and answered with `head` at most.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(head.as_bytes()).await;
                held.push(socket);
            }
        });
        let url = format!("http://{addr}/jwks");
        let app = TestApp::spawn_with(move |vars| {
            vars.insert("JWKS_URL".into(), url);
            vars.insert("JWKS_FETCH_TIMEOUT_MS".into(), "300".into());
            vars.insert("JWT_ISSUER".into(), ISSUER.into());
            vars.insert("JWT_AUDIENCE".into(), ISSUER.into());
            vars.remove("BETTER_AUTH_SECRET");
        })
        .await;
        wait(1100).await; // past the retry interval of the start's failed fetch
        assert_eq!(
            app.list_status("alice", &key.sign(&claims("alice"))).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "{head:?}"
        );
    }
}
