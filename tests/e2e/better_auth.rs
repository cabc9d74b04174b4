//! Against the real Better Auth (npm `better-auth` with its JWT plugin):
//! two users sign up, take EdDSA tokens from `/api/auth/token`, and use the
//! API configured only with that server's JWKS URL, issuer and audience.

use integration_tests::{node::BetterAuth, *};
use serde_json::{Value, json};

/// The `kid` in a token's header.
fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map(|b| (Some("application/json"), b.to_string().into()));
    let reply = app.send(method, path, Some(token), body).await;
    (reply.status, reply.json)
}

#[tokio::test]
async fn better_auth_users_use_the_api_and_only_their_own_tasks() {
    let auth = BetterAuth::start(4).await;
    let (jwks_url, issuer) = (auth.jwks_url(), auth.base.clone());
    let app = TestApp::spawn_with(|vars| {
        // Only what a frontend team configures: no shared secret.
        vars.remove("BETTER_AUTH_SECRET");
        vars.insert("JWKS_URL".into(), jwks_url);
        vars.insert("JWT_ISSUER".into(), issuer.clone());
        vars.insert("JWT_AUDIENCE".into(), issuer);
        vars.insert("JWKS_MIN_REFRESH_SECONDS".into(), "1".into());
    })
    .await;

    let (alice, alice_session) = auth.sign_up("alice@example.com").await;
    let (bob, bob_session) = auth.sign_up("bob@example.com").await;
    assert_eq!(
        alice.len(),
        32,
        "Better Auth's ids are 32 characters: {alice}"
    );
    let alice_token = auth.token(&alice_session).await;
    let bob_token = auth.token(&bob_session).await;
    let header = jsonwebtoken::decode_header(&alice_token).expect("header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);

    // The owner, through every route.
    let tasks = format!("/api/{alice}/tasks");
    let (status, created) = send(
        &app,
        Method::POST,
        &tasks,
        &alice_token,
        Some(json!({ "title": "Ship it" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let one = format!("{tasks}/{}", created["id"].as_str().expect("id"));
    let (status, list) = send(&app, Method::GET, &tasks, &alice_token, None).await;
    assert_eq!(
        (status, list.as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    let (status, got) = send(&app, Method::GET, &one, &alice_token, None).await;
    assert_eq!((status, &got), (StatusCode::OK, &created));
    let (status, updated) = send(
        &app,
        Method::PUT,
        &one,
        &alice_token,
        Some(json!({ "title": "Shipped" })),
    )
    .await;
    assert_eq!(
        (status, &updated["title"]),
        (StatusCode::OK, &json!("Shipped"))
    );
    let (status, toggled) = send(
        &app,
        Method::PATCH,
        &format!("{one}/complete"),
        &alice_token,
        None,
    )
    .await;
    assert_eq!(
        (status, &toggled["completed"]),
        (StatusCode::OK, &json!(true))
    );

    // The other user: 403 on alice's paths, 404 for her task via his own.
    let task_id = created["id"].as_str().expect("id");
    for (method, path, body) in task_routes(&alice, task_id) {
        let (status, body) = send(&app, method.clone(), &path, &bob_token, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
    for (method, path, body) in task_routes(&bob, task_id).into_iter().skip(2) {
        let (status, body) = send(&app, method.clone(), &path, &bob_token, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let (status, list) = send(
        &app,
        Method::GET,
        &format!("/api/{bob}/tasks"),
        &bob_token,
        None,
    )
    .await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));

    // Better Auth rotates its key; tokens from the new key verify at once,
    // and the old key's tokens keep working through its grace period.
    let first_kid = kid(&alice_token);
    let mut rotated = auth.token(&alice_session).await;
    for _ in 0..60 {
        if kid(&rotated) != first_kid {
            break;
        }
        wait(100).await;
        rotated = auth.token(&alice_session).await;
    }
    assert_ne!(
        kid(&rotated),
        first_kid,
        "Better Auth did not rotate its key"
    );
    let (status, body) = send(&app, Method::GET, &one, &rotated, None).await;
    assert_eq!(status, StatusCode::OK, "token from the rotated key: {body}");
    let (status, body) = send(&app, Method::GET, &one, &alice_token, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "token from the previous key: {body}"
    );

    let (status, _) = send(&app, Method::DELETE, &one, &rotated, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.stored_tasks(&alice).await, 0);
}
