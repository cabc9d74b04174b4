//! Versions: a strong `ETag` on every task and list page, `If-None-Match`
//! on GETs (304), `If-Match` on PUT, PATCH `/complete` and DELETE (412),
//! each checked and applied in one atomic statement.

use integration_tests::*;
use serde_json::{Value, json};

/// Sends `method path` as `user` with extra headers and an optional body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    user: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let body = body.map(|b| (Some("application/json"), b.to_string().into()));
    app.send_with(method, path, Some(&token(user)), headers, body)
        .await
}

fn etag_of(reply: &Reply) -> String {
    let etag = reply.header("etag").expect("an ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong ETag: {etag}"
    );
    etag
}

#[tokio::test]
async fn every_task_response_has_an_etag_that_changes_with_the_task() {
    let app = TestApp::spawn().await;
    let created = send(
        &app,
        Method::POST,
        "/api/u/tasks",
        "u",
        &[],
        Some(json!({"title": "t"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let first = etag_of(&created);
    let one = format!("/api/u/tasks/{}", created.json["id"].as_str().unwrap());
    let fetched = send(&app, Method::GET, &one, "u", &[], None).await;
    assert_eq!(etag_of(&fetched), first, "reading changes nothing");
    let put = send(
        &app,
        Method::PUT,
        &one,
        "u",
        &[],
        Some(json!({"title": "t"})),
    )
    .await;
    let second = etag_of(&put);
    assert_ne!(second, first, "a PUT is a change, even to the same values");
    let patched = send(
        &app,
        Method::PATCH,
        &format!("{one}/complete"),
        "u",
        &[],
        None,
    )
    .await;
    let third = etag_of(&patched);
    assert_ne!(third, second);
    let fetched = send(&app, Method::GET, &one, "u", &[], None).await;
    assert_eq!(etag_of(&fetched), third);
}

#[tokio::test]
async fn if_none_match_answers_304_for_the_current_version() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "t").await;
    let one = format!("/api/u/tasks/{}", task["id"].as_str().unwrap());
    let etag = etag_of(&send(&app, Method::GET, &one, "u", &[], None).await);
    for value in [
        etag.clone(),
        format!("W/{etag}"),
        "*".into(),
        format!("\"other\", {etag}"),
    ] {
        let reply = send(
            &app,
            Method::GET,
            &one,
            "u",
            &[("if-none-match", &value)],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{value}");
        assert_eq!(reply.header("etag"), Some(etag.clone()));
        assert_eq!(reply.json, Value::Null, "no body");
    }
    let stale = send(
        &app,
        Method::GET,
        &one,
        "u",
        &[("if-none-match", "\"old\"")],
        None,
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.json, task);
}

#[tokio::test]
async fn a_list_page_has_an_etag_and_answers_304_until_it_changes() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "a").await;
    let list = send(&app, Method::GET, "/api/u/tasks", "u", &[], None).await;
    let etag = etag_of(&list);
    let again = send(
        &app,
        Method::GET,
        "/api/u/tasks",
        "u",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.header("etag"), Some(etag.clone()));
    // Another page (another URL) has its own.
    let filtered = send(
        &app,
        Method::GET,
        "/api/u/tasks?completed=true",
        "u",
        &[],
        None,
    )
    .await;
    assert_ne!(etag_of(&filtered), etag);

    // A change to a task on the page changes the page.
    let one = format!("/api/u/tasks/{}", task["id"].as_str().unwrap());
    send(
        &app,
        Method::PUT,
        &one,
        "u",
        &[],
        Some(json!({"description": "d"})),
    )
    .await;
    let changed = send(
        &app,
        Method::GET,
        "/api/u/tasks",
        "u",
        &[("if-none-match", &etag)],
        None,
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    let second = etag_of(&changed);
    assert_ne!(second, etag);
    // So does a new task.
    app.create("u", "b").await;
    let grown = send(
        &app,
        Method::GET,
        "/api/u/tasks",
        "u",
        &[("if-none-match", &second)],
        None,
    )
    .await;
    assert_eq!(grown.status, StatusCode::OK);
    assert_eq!(grown.json.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn if_match_lets_only_the_named_version_change() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "t").await;
    let one = format!("/api/u/tasks/{}", task["id"].as_str().unwrap());
    let complete = format!("{one}/complete");
    let current = etag_of(&send(&app, Method::GET, &one, "u", &[], None).await);
    let stale = "\"AAAAAAAAAAA\"".to_owned();
    let weak = format!("W/{current}");
    for (method, path, body) in [
        (Method::PUT, &one, Some(json!({"title": "lost"}))),
        (Method::PATCH, &complete, None),
        (Method::PATCH, &complete, Some(json!({"completed": true}))),
        (Method::DELETE, &one, None),
    ] {
        for condition in [&stale, &weak] {
            let reply = send(
                &app,
                method.clone(),
                path,
                "u",
                &[("if-match", condition)],
                body.clone(),
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::PRECONDITION_FAILED,
                "{method} {condition}"
            );
            assert!(
                reply.json["detail"].as_str().unwrap().contains("If-Match"),
                "{}",
                reply.json
            );
        }
    }
    // Nothing changed.
    let unchanged = send(&app, Method::GET, &one, "u", &[], None).await;
    assert_eq!(unchanged.json, task);

    let list = format!("\"x\", {current}");
    let put = send(
        &app,
        Method::PUT,
        &one,
        "u",
        &[("if-match", &list)],
        Some(json!({"title": "new"})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK);
    let after_put = etag_of(&put);
    let reused = send(
        &app,
        Method::PATCH,
        &complete,
        "u",
        &[("if-match", &current)],
        None,
    )
    .await;
    assert_eq!(
        reused.status,
        StatusCode::PRECONDITION_FAILED,
        "the old version is gone"
    );
    let patched = send(
        &app,
        Method::PATCH,
        &complete,
        "u",
        &[("if-match", &after_put)],
        None,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK);
    let any = send(
        &app,
        Method::PUT,
        &one,
        "u",
        &[("if-match", "*")],
        Some(json!({"title": "any"})),
    )
    .await;
    assert_eq!(any.status, StatusCode::OK);
    let latest = etag_of(&any);
    let deleted = send(
        &app,
        Method::DELETE,
        &one,
        "u",
        &[("if-match", &latest)],
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn malformed_preconditions_are_400_naming_the_header() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "t").await;
    let one = format!("/api/u/tasks/{}", task["id"].as_str().unwrap());
    for bad in ["abc", "\"open", "\"a\" \"b\"", "W/x", "*, \"a\""] {
        let reply = send(
            &app,
            Method::PUT,
            &one,
            "u",
            &[("if-match", bad)],
            Some(json!({"title": "x"})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            reply.json["detail"]
                .as_str()
                .unwrap()
                .starts_with("If-Match:"),
            "{}",
            reply.json
        );
        for path in [one.as_str(), "/api/u/tasks"] {
            let reply = send(
                &app,
                Method::GET,
                path,
                "u",
                &[("if-none-match", bad)],
                None,
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(
                reply.json["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("If-None-Match:")
            );
        }
    }
    let still: Value = app.get_json(&one, "u").await;
    assert_eq!(still, task);
}

/// 404 before 412: a task that is not the caller's — or not there — is a
/// 404 whatever version is named, so a version says nothing of another
/// user's tasks.
#[tokio::test]
async fn another_users_task_is_404_whatever_the_version() {
    let app = TestApp::spawn().await;
    let alice = app.create("alice", "mine").await;
    let id = alice["id"].as_str().unwrap();
    let etag = etag_of(
        &send(
            &app,
            Method::GET,
            &format!("/api/alice/tasks/{id}"),
            "alice",
            &[],
            None,
        )
        .await,
    );
    let missing = uuid::Uuid::now_v7().to_string();
    for target in [id, missing.as_str()] {
        let one = format!("/api/bob/tasks/{target}");
        for condition in [etag.as_str(), "\"stale\"", "*"] {
            for (method, path) in [
                (Method::PUT, one.clone()),
                (Method::PATCH, format!("{one}/complete")),
                (Method::DELETE, one.clone()),
            ] {
                let body = (method == Method::PUT).then(|| json!({"title": "x"}));
                let reply = send(
                    &app,
                    method.clone(),
                    &path,
                    "bob",
                    &[("if-match", condition)],
                    body,
                )
                .await;
                assert_eq!(
                    reply.status,
                    StatusCode::NOT_FOUND,
                    "{method} {path} {condition}"
                );
            }
            let reply = send(
                &app,
                Method::GET,
                &one,
                "bob",
                &[("if-none-match", condition)],
                None,
            )
            .await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND);
        }
    }
    let still: Value = app
        .get_json(&format!("/api/alice/tasks/{id}"), "alice")
        .await;
    assert_eq!(still, alice);
}

/// Of writers holding the same version, exactly one succeeds.
#[tokio::test]
async fn of_concurrent_writers_with_one_version_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    let task = app.create("u", "t").await;
    let one = format!("/api/u/tasks/{}", task["id"].as_str().unwrap());
    let etag = etag_of(&send(&app, Method::GET, &one, "u", &[], None).await);
    let writers = (0..8).map(|i| {
        let (app, one, etag) = (&app, one.clone(), etag.clone());
        async move {
            let body = Some(json!({ "title": format!("writer {i}") }));
            send(app, Method::PUT, &one, "u", &[("if-match", &etag)], body)
                .await
                .status
        }
    });
    let statuses = futures::future::join_all(writers).await;
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((won, lost), (1, 7), "{statuses:?}");
}

/// A well-formed tag that decodes to an instant PostgreSQL cannot hold
/// (found by schemathesis; it was a 500) names no version: 412, or for
/// If-None-Match, the full answer.
#[tokio::test]
async fn a_forged_tag_beyond_any_stored_time_is_no_version() {
    let app = TestApp::spawn().await;
    let created = send(
        &app,
        Method::POST,
        "/api/u/tasks",
        "u",
        &[],
        Some(json!({"title": "t"})),
    )
    .await;
    let one = format!("/api/u/tasks/{}", created.json["id"].as_str().unwrap());
    let forged = "\"25EZApTByAA\"";
    for method in [Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"title": "x"}));
        let r = send(
            &app,
            method.clone(),
            &one,
            "u",
            &[("if-match", forged)],
            body,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::PRECONDITION_FAILED,
            "{method}: {}",
            r.json
        );
    }
    let r = send(
        &app,
        Method::GET,
        &one,
        "u",
        &[("if-none-match", forged)],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["title"], "t", "nothing changed");
}
