//! 401 and 403: tokens, the path owner, and the order of checks.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use integration_tests::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

async fn status_with_token(app: &TestApp, token: &str) -> (StatusCode, Value, String) {
    let reply = app
        .send(Method::GET, "/api/u1/tasks", Some(token), None)
        .await;
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    (reply.status, reply.json, challenge)
}

fn unsigned(header: Value, claims: Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", part(&header), part(&claims))
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401_with_challenge() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/api/u1/tasks")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert!(response.json::<Value>().await.unwrap()["detail"].is_string());

    for header in [
        "Basic dTpw",
        "Bearer",
        "Bearer ",
        "token abc",
        "Bearer not.a.jwt",
    ] {
        let response = app
            .http
            .get(app.url("/api/u1/tasks"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // The scheme is case-insensitive (RFC 7235).
    let response = app
        .http
        .get(app.url("/api/u1/tasks"))
        .header("authorization", format!("bearer {}", token("u1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_tokens_are_401() {
    let app = TestApp::spawn().await;
    let exp = now() + 3600;
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong secret",
            sign_with(
                Algorithm::HS256,
                b"another-secret-another-secret-00",
                json!({ "sub": "u1", "exp": exp }),
            ),
        ),
        (
            "HS512 header",
            sign_with(
                Algorithm::HS512,
                SECRET.as_bytes(),
                json!({ "sub": "u1", "exp": exp }),
            ),
        ),
        (
            "HS384 header",
            sign_with(
                Algorithm::HS384,
                SECRET.as_bytes(),
                json!({ "sub": "u1", "exp": exp }),
            ),
        ),
        (
            "alg none",
            unsigned(
                json!({ "alg": "none", "typ": "JWT" }),
                json!({ "sub": "u1", "exp": exp }),
            ),
        ),
        ("RS256 header, HMAC body", {
            let good = sign(json!({ "sub": "u1", "exp": exp }));
            let (_, rest) = good.split_once('.').unwrap();
            format!(
                "{}.{rest}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#)
            )
        }),
        ("expired", sign(json!({ "sub": "u1", "exp": now() - 120 }))),
        (
            "not yet valid",
            sign(json!({ "sub": "u1", "exp": exp, "nbf": now() + 600 })),
        ),
        ("missing exp", sign(json!({ "sub": "u1" }))),
        ("missing sub", sign(json!({ "exp": exp }))),
        ("empty sub", sign(json!({ "sub": "", "exp": exp }))),
        ("numeric sub", sign(json!({ "sub": 42, "exp": exp }))),
        (
            "sub over 255 characters",
            sign(json!({ "sub": "é".repeat(256), "exp": exp })),
        ),
        (
            "sub with NUL",
            sign(json!({ "sub": "u1\u{0}", "exp": exp })),
        ),
        ("tampered payload", {
            let good = sign(json!({ "sub": "u2", "exp": exp }));
            let parts: Vec<&str> = good.split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(json!({ "sub": "u1", "exp": exp }).to_string()),
                parts[2]
            )
        }),
        (
            "100 KB token",
            sign(json!({ "sub": "u1", "exp": exp, "pad": "x".repeat(100_000) })),
        ),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (name, token) in cases {
        let (status, body, challenge) = status_with_token(&app, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(body["detail"].is_string(), "{name}: {body}");
        assert_eq!(challenge, r#"Bearer error="invalid_token""#, "{name}");
    }
}

#[tokio::test]
async fn expiry_tolerates_the_configured_leeway_only() {
    let app = TestApp::spawn_with(|v| {
        v.insert("JWT_LEEWAY_SECONDS".into(), "30".into());
    })
    .await;
    let within = sign(json!({ "sub": "u1", "exp": now() - 10 }));
    assert_eq!(status_with_token(&app, &within).await.0, StatusCode::OK);
    let beyond = sign(json!({ "sub": "u1", "exp": now() - 60 }));
    assert_eq!(
        status_with_token(&app, &beyond).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let app = TestApp::spawn_with(|v| {
        v.insert("JWT_ISSUER".into(), "https://auth.example".into());
        v.insert("JWT_AUDIENCE".into(), "https://auth.example".into());
    })
    .await;
    let exp = now() + 600;
    let good = sign(
        json!({ "sub": "u1", "exp": exp, "iss": "https://auth.example", "aud": "https://auth.example" }),
    );
    assert_eq!(status_with_token(&app, &good).await.0, StatusCode::OK);
    for claims in [
        json!({ "sub": "u1", "exp": exp, "iss": "https://evil.example", "aud": "https://auth.example" }),
        json!({ "sub": "u1", "exp": exp, "iss": "https://auth.example", "aud": "https://other.example" }),
        json!({ "sub": "u1", "exp": exp, "aud": "https://auth.example" }),
        json!({ "sub": "u1", "exp": exp, "iss": "https://auth.example" }),
    ] {
        assert_eq!(
            status_with_token(&app, &sign(claims.clone())).await.0,
            StatusCode::UNAUTHORIZED,
            "{claims}"
        );
    }
}

#[tokio::test]
async fn without_configured_audience_a_token_with_aud_is_accepted() {
    // Better Auth always sets `aud`; jsonwebtoken would reject it by default.
    let app = TestApp::spawn().await;
    let token =
        sign(json!({ "sub": "u1", "exp": now() + 600, "aud": "https://auth.example", "iss": "x" }));
    assert_eq!(status_with_token(&app, &token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn user_ids_are_opaque_strings_up_to_255_characters() {
    let app = TestApp::spawn().await;
    let long = "é".repeat(255);
    for user in [
        "Vre1c5XZDcmtoS0Tdk1ivnJFUwEOSu9j",
        "8d3c2b1a-0f9e-4d8c-b7a6-5e4f3d2c1b0a",
        "a",
        long.as_str(),
        "user with space/slash",
    ] {
        let encoded: String = url_segment(user);
        let response = app
            .http
            .post(app.url(&format!("/api/{encoded}/tasks")))
            .bearer_auth(token(user))
            .json(&json!({ "title": "t" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{user}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("/api/{encoded}/tasks/")),
            "{location}"
        );
        let task: Value = response.json().await.unwrap();
        assert_eq!(task["user_id"], user);
        let listed: Value = app.get_json(&location, user).await;
        assert_eq!(listed["id"], task["id"]);
    }
}

fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn status_codes_come_in_the_contracts_order() {
    let app = TestApp::spawn().await;
    // 401 before 403 before 400 before 404.
    let bad_id = "/api/alice/tasks/not-a-uuid";
    let response = app
        .http
        .put(app.url(bad_id))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .request(Method::PUT, bad_id, "bob")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .request(Method::PUT, bad_id, "alice")
        .json(&json!({ "title": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let missing = format!("/api/alice/tasks/{}", uuid::Uuid::now_v7());
    let response = app
        .request(Method::PUT, &missing, "alice")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "a bad body is 400 even for a missing task"
    );
    let response = app
        .request(Method::PUT, &missing, "alice")
        .json(&json!({ "title": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// A rotation of the HS256 secret logs nobody out: with the old secret
/// as `BETTER_AUTH_SECRET_PREVIOUS`, tokens signed with either verify;
/// any other secret's do not, nor the old one's once it is dropped.
#[tokio::test]
async fn a_rotated_secret_and_its_predecessor_both_verify() {
    const NEW: &str = "the-rotated-secret-of-at-least-32-bytes";
    let claims = json!({ "sub": "u1", "exp": now() + 3600 });
    let old_token = sign(claims.clone());
    let new_token = sign_with(Algorithm::HS256, NEW.as_bytes(), claims.clone());
    let other = sign_with(
        Algorithm::HS256,
        b"yet-another-secret-of-32-bytes-or-more",
        claims,
    );
    let rotating = TestApp::spawn_with(|vars| {
        vars.insert("BETTER_AUTH_SECRET".into(), NEW.into());
        vars.insert("BETTER_AUTH_SECRET_PREVIOUS".into(), SECRET.into());
    })
    .await;
    assert_eq!(rotating.list_status("u1", &new_token).await, StatusCode::OK);
    assert_eq!(rotating.list_status("u1", &old_token).await, StatusCode::OK);
    let (status, body, _) = status_with_token(&rotating, &other).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["detail"], "token signature is invalid");

    let rotated = TestApp::spawn_with(|vars| {
        vars.insert("BETTER_AUTH_SECRET".into(), NEW.into());
    })
    .await;
    assert_eq!(rotated.list_status("u1", &new_token).await, StatusCode::OK);
    assert_eq!(
        rotated.list_status("u1", &old_token).await,
        StatusCode::UNAUTHORIZED
    );
}
