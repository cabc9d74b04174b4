//! `openapi.json` is the contract the server really keeps: its routes are the
//! server's routes, and every documented response (but the 500 nothing can
//! provoke) is produced by a real request, whose status is documented for
//! that operation, whose body validates against the documented schema and
//! whose required headers are present.

use std::collections::{BTreeSet, HashMap};

use integration_tests::*;
use jsonschema::{Draft, Validator};
use serde_json::{Value, json};
use shared::AppState;
use std::sync::Arc;

fn document() -> Value {
    serde_json::from_str(local_api::docs::OPENAPI_JSON).expect("openapi.json is JSON")
}

/// (METHOD, path template) of every documented operation.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[test]
fn the_document_names_exactly_the_server_routes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let served: BTreeSet<(String, String)> = shared::routes::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented_operations(&doc), served);
}

/// A documented response resolved through `$ref`s.
fn response_doc<'a>(
    doc: &'a Value,
    method: &str,
    template: &str,
    status: u16,
) -> Option<&'a Value> {
    let op = &doc["paths"][template][method.to_lowercase()];
    let response = op["responses"].get(status.to_string())?;
    Some(match response["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().expect("ref name");
            &doc["components"]["responses"][name]
        }
        None => response,
    })
}

fn validator(doc: &Value, schema: &Value) -> Validator {
    // The schema inside a document that carries the components its `$ref`s
    // point at (`#/components/schemas/...`).
    let wrapped = json!({ "components": doc["components"], "allOf": [schema] });
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&wrapped)
        .expect("valid schema")
}

struct Checker {
    doc: Value,
    covered: BTreeSet<(String, String, u16)>,
}

impl Checker {
    async fn check(&mut self, method: &str, template: &str, response: reqwest::Response) {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let json = (!bytes.is_empty()).then(|| {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{method} {template} → {status}: body is not JSON: {e}"))
        });
        self.verify(method, template, status, &headers, json);
    }

    /// The same for an answer the harness already read (an empty body is
    /// `Null` there).
    fn check_reply(&mut self, method: &str, template: &str, reply: Reply) {
        let json = (!reply.json.is_null()).then_some(reply.json);
        self.verify(method, template, reply.status, &reply.headers, json);
    }

    fn verify(
        &mut self,
        method: &str,
        template: &str,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: Option<Value>,
    ) {
        let status = status.as_u16();
        let what = format!("{method} {template} → {status}");
        let documented = response_doc(&self.doc, method, template, status)
            .unwrap_or_else(|| panic!("{what} is not documented"))
            .clone();
        if let Some(required) = documented["headers"].as_object() {
            for (name, spec) in required {
                if spec["required"] == true {
                    assert!(
                        headers.contains_key(name.as_str()),
                        "{what}: no {name} header"
                    );
                }
            }
        }
        match documented["content"]["application/json"]["schema"].as_object() {
            Some(_) => {
                assert_eq!(headers["content-type"], "application/json", "{what}");
                let value = body.unwrap_or_else(|| panic!("{what}: no body"));
                let schema = &documented["content"]["application/json"]["schema"];
                let validator = validator(&self.doc, schema);
                let errors: Vec<String> = validator
                    .iter_errors(&value)
                    .map(|e| e.to_string())
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{what}: {value} does not match: {errors:?}"
                );
            }
            None => assert!(body.is_none(), "{what}: documented without a body"),
        }
        self.covered
            .insert((method.to_owned(), template.to_owned(), status));
    }
}

const LIST: &str = "/api/{user_id}/tasks";
const ONE: &str = "/api/{user_id}/tasks/{task_id}";
const COMPLETE: &str = "/api/{user_id}/tasks/{task_id}/complete";

#[tokio::test]
async fn every_documented_response_is_what_the_server_answers() {
    let app = TestApp::spawn().await;
    let down = serve(
        Arc::new(AppState::new(&unreachable_config()).expect("state")),
        origins(),
    )
    .await;
    let mut checker = Checker {
        doc: document(),
        covered: BTreeSet::new(),
    };
    let http = &app.http;
    let alice = "alice";
    let token = token(alice);
    let task = app.create(alice, "first").await;
    app.create(alice, "second").await;
    let id = task["id"].as_str().expect("id").to_owned();
    let missing = uuid::Uuid::now_v7().to_string();
    let concrete = |template: &str, user: &str, task_id: &str| {
        template
            .replace("{user_id}", user)
            .replace("{task_id}", task_id)
    };
    let big = json!({ "title": "x".repeat(70 * 1024) });

    // (method, template, body) for each task route, with its success case.
    let routes: [(&str, &str, Option<Value>); 6] = [
        ("GET", LIST, None),
        (
            "POST",
            LIST,
            Some(json!({ "title": "new", "description": null })),
        ),
        ("GET", ONE, None),
        (
            "PUT",
            ONE,
            Some(json!({ "title": "renamed", "completed": true })),
        ),
        ("PATCH", COMPLETE, None),
        ("DELETE", ONE, None),
    ];
    for (method, template, body) in &routes {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let path = concrete(template, alice, &id);
        let send = |base: &str, path: &str, token: Option<&str>, body: Option<&Value>| {
            let mut request = http.request(m.clone(), format!("{base}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            request.send()
        };
        // 401, 403, 503 everywhere.
        let r = send(&app.base, &path, None, body.as_ref())
            .await
            .expect("send");
        checker.check(method, template, r).await;
        let r = send(
            &app.base,
            &concrete(template, "bob", &id),
            Some(&token),
            body.as_ref(),
        )
        .await
        .expect("send");
        checker.check(method, template, r).await;
        let r = send(&down, &path, Some(&token), body.as_ref())
            .await
            .expect("send");
        checker.check(method, template, r).await;
        // 400: a bad id, or a bad query / body where there is no id.
        let bad = if template.contains("{task_id}") {
            send(
                &app.base,
                &concrete(template, alice, "not-a-uuid"),
                Some(&token),
                body.as_ref(),
            )
        } else if *method == "GET" {
            send(&app.base, &format!("{path}?limit=0"), Some(&token), None)
        } else {
            send(&app.base, &path, Some(&token), Some(&json!({})))
        };
        checker
            .check(method, template, bad.await.expect("send"))
            .await;
        // 404 for id routes.
        if template.contains("{task_id}") {
            let r = send(
                &app.base,
                &concrete(template, alice, &missing),
                Some(&token),
                body.as_ref(),
            )
            .await
            .expect("send");
            checker.check(method, template, r).await;
        }
        // 413 and 415 where a body is read.
        if *method != "GET" && *method != "DELETE" {
            let r = send(&app.base, &path, Some(&token), Some(&big))
                .await
                .expect("send");
            checker.check(method, template, r).await;
            let r = http
                .request(m.clone(), app.url(&path))
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body("title=x")
                .send()
                .await
                .expect("send");
            checker.check(method, template, r).await;
        }
        // 304 and 412: the conditional requests.
        let conditional = match *method {
            "GET" => Some(("if-none-match", "*")),
            "PUT" | "PATCH" | "DELETE" => Some(("if-match", "\"stale\"")),
            _ => None,
        };
        if let Some((name, value)) = conditional {
            let mut request = http
                .request(m.clone(), app.url(&path))
                .bearer_auth(&token)
                .header(name, value);
            if let Some(body) = body {
                request = request.json(body);
            }
            let r = request.send().await.expect("send");
            checker.check(method, template, r).await;
        }
        // 409 and 422: `Idempotency-Key` conflicts (and the keyed 201s).
        if *method == "POST" {
            let (first, in_progress) = app
                .post_while_in_progress(alice, "openapi", &json!({ "title": "keyed" }))
                .await;
            checker.check_reply(method, template, first);
            checker.check_reply(method, template, in_progress);
            let reused = app
                .send_with(
                    m.clone(),
                    &path,
                    Some(&token),
                    &[("idempotency-key", "openapi")],
                    Some((
                        Some("application/json"),
                        json!({ "title": "other" }).to_string().into(),
                    )),
                )
                .await;
            checker.check_reply(method, template, reused);
            // 409: the task limit, on an API that allows one task.
            let limited = TestApp::spawn_with(|vars| {
                vars.insert("MAX_TASKS_PER_USER".into(), "1".into());
            })
            .await;
            for expected in [201, 409] {
                let reply = limited
                    .send(
                        m.clone(),
                        &path,
                        Some(&token),
                        Some((
                            Some("application/json"),
                            json!({ "title": "one" }).to_string().into(),
                        )),
                    )
                    .await;
                assert_eq!(reply.status, expected, "{:?}", reply.json);
                checker.check_reply(method, template, reply);
            }
        }
        // Success last (DELETE removes the task).
        let url_path = if *method == "GET" && *template == LIST {
            format!("{path}?limit=1") // also carries a `Link` header
        } else {
            path.clone()
        };
        let r = send(&app.base, &url_path, Some(&token), body.as_ref())
            .await
            .expect("send");
        checker.check(method, template, r).await;
    }
    // The batch route: every documented status.
    {
        let (method, template) = ("POST", "/api/{user_id}/tasks/batch");
        let path = concrete(template, alice, &id);
        let second = app.create(alice, "batched").await;
        let second_id = second["id"].as_str().expect("id");
        let body = json!({ "operations": [
            { "op": "create", "task": { "title": "made" } },
            { "op": "update", "id": second_id, "task": { "priority": 1 } },
            { "op": "delete", "id": &missing },
        ], "atomic": false });
        let post = |base: String,
                    path: String,
                    token: Option<String>,
                    key: Option<&'static str>,
                    body: Value| {
            let http = http.clone();
            async move {
                let mut request = http.post(format!("{base}{path}")).json(&body);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if let Some(key) = key {
                    request = request.header("idempotency-key", key);
                }
                request.send().await.expect("send")
            }
        };
        let base = app.base.clone();
        for (base, path, token, key, body) in [
            (
                base.clone(),
                path.clone(),
                Some(token.clone()),
                Some("batch-key"),
                body.clone(),
            ),
            (
                base.clone(),
                path.clone(),
                Some(token.clone()),
                Some("batch-key"),
                body.clone(),
            ),
            (
                base.clone(),
                path.clone(),
                Some(token.clone()),
                Some("batch-key"),
                json!({ "operations": [{ "op": "delete", "id": &missing }] }),
            ),
            (base.clone(), path.clone(), None, None, body.clone()),
            (
                base.clone(),
                concrete(template, "bob", &id),
                Some(token.clone()),
                None,
                body.clone(),
            ),
            (
                down.clone(),
                path.clone(),
                Some(token.clone()),
                None,
                body.clone(),
            ),
            (
                base.clone(),
                path.clone(),
                Some(token.clone()),
                None,
                json!({ "operations": [] }),
            ),
            (
                base.clone(),
                path.clone(),
                Some(token.clone()),
                None,
                json!({ "operations": [], "pad": "x".repeat(1024 * 1024) }),
            ),
        ] {
            checker
                .check(method, template, post(base, path, token, key, body).await)
                .await;
        }
        let r = http
            .post(app.url(&path))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .expect("send");
        checker.check(method, template, r).await;
        let in_progress = json!({ "operations": [{ "op": "complete", "id": second_id }] });
        let (first, second) = app
            .batch_while_in_progress(alice, "batch-in-progress", &in_progress, second_id)
            .await;
        checker.check_reply(method, template, first);
        checker.check_reply(method, template, second);
    }
    check_trash_routes(&mut checker, &app, &down).await;
    check_feed_routes(&mut checker, &app, &down).await;
    for base in [&app.base, &down] {
        let r = http
            .get(format!("{base}/health"))
            .send()
            .await
            .expect("send");
        checker.check("GET", "/health", r).await;
    }

    // Every documented (operation, status) was produced, but 500.
    let doc = checker.doc.clone();
    let mut uncovered = Vec::new();
    for (method, template) in documented_operations(&doc) {
        let op = &doc["paths"][&template][method.to_lowercase()];
        let statuses: HashMap<String, Value> =
            serde_json::from_value(op["responses"].clone()).expect("responses");
        for status in statuses.keys() {
            let status: u16 = status.parse().expect("numeric status");
            if status != 500
                && !checker
                    .covered
                    .contains(&(method.clone(), template.clone(), status))
            {
                uncovered.push(format!("{method} {template} {status}"));
            }
        }
    }
    assert!(
        uncovered.is_empty(),
        "documented but never produced: {uncovered:?}"
    );
}

const TRASH: &str = "/api/{user_id}/trash";
const TRASHED: &str = "/api/{user_id}/trash/{task_id}";
const RESTORE: &str = "/api/{user_id}/trash/{task_id}/restore";

/// A new task of `user`'s, moved to the trash; its id.
async fn trashed(app: &TestApp, user: &str) -> String {
    let id = app.create(user, "to the trash").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/{user}/tasks/{id}");
    let reply = app
        .send(Method::DELETE, &path, Some(&token(user)), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    id
}

/// Every documented answer of the trash routes, each from a real request.
async fn check_trash_routes(checker: &mut Checker, app: &TestApp, down: &str) {
    let user = "trasher";
    let token = token(user);
    let id = trashed(app, user).await;
    trashed(app, user).await;
    let missing = uuid::Uuid::now_v7().to_string();
    let concrete = |template: &str, user: &str, id: &str| {
        template.replace("{user_id}", user).replace("{task_id}", id)
    };
    for (method, template) in [("GET", TRASH), ("POST", RESTORE), ("DELETE", TRASHED)] {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let path = concrete(template, user, &id);
        let send = |base: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]| {
            let mut request = app.http.request(m.clone(), format!("{base}{path}"));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        let r = send(&app.base, &path, None, &[]).await.expect("send");
        checker.check(method, template, r).await;
        let other = concrete(template, "bob", &id);
        let r = send(&app.base, &other, Some(&token), &[])
            .await
            .expect("send");
        checker.check(method, template, r).await;
        let r = send(down, &path, Some(&token), &[]).await.expect("send");
        checker.check(method, template, r).await;
        let bad = if template == TRASH {
            format!("{path}?limit=0")
        } else {
            concrete(template, user, "not-a-uuid")
        };
        let r = send(&app.base, &bad, Some(&token), &[])
            .await
            .expect("send");
        checker.check(method, template, r).await;
        let conditional = if method == "GET" {
            ("if-none-match", "*")
        } else {
            let r = send(
                &app.base,
                &concrete(template, user, &missing),
                Some(&token),
                &[],
            )
            .await
            .expect("send");
            checker.check(method, template, r).await;
            ("if-match", "\"stale\"")
        };
        let r = send(&app.base, &path, Some(&token), &[conditional])
            .await
            .expect("send");
        checker.check(method, template, r).await;
        // Success last (restore takes the task out of the trash; a page of
        // one carries a `Link`).
        let url_path = if method == "GET" {
            format!("{path}?limit=1")
        } else {
            path.clone()
        };
        let r = send(&app.base, &url_path, Some(&token), &[])
            .await
            .expect("send");
        checker.check(method, template, r).await;
        if method == "POST" {
            // Back to the trash for the DELETE's turn.
            let path = format!("/api/{user}/tasks/{id}");
            let reply = app.send(Method::DELETE, &path, Some(&token), None).await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT);
        }
    }
    // 409: a restore on an API that allows one task, already stored.
    let limited = TestApp::spawn_with(|vars| {
        vars.insert("MAX_TASKS_PER_USER".into(), "1".into());
    })
    .await;
    let id = trashed(&limited, user).await;
    limited.create(user, "the one").await;
    let reply = limited
        .send(
            Method::POST,
            &concrete(RESTORE, user, &id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.json);
    checker.check_reply("POST", RESTORE, reply);
}

const HISTORY: &str = "/api/{user_id}/tasks/{task_id}/history";
const CHANGES: &str = "/api/{user_id}/changes";

/// Every documented answer of the history and the change feed, each from
/// a real request.
async fn check_feed_routes(checker: &mut Checker, app: &TestApp, down: &str) {
    let user = "syncer";
    let token = token(user);
    let id = app.create(user, "with a past").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.create(user, "another").await;
    let missing = uuid::Uuid::now_v7().to_string();
    let concrete = |template: &str, user: &str, id: &str| {
        template.replace("{user_id}", user).replace("{task_id}", id)
    };
    let get = |base: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]| {
        let mut request = app.http.get(format!("{base}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for template in [HISTORY, CHANGES] {
        let path = concrete(template, user, &id);
        let answers = [
            get(&app.base, &path, None, &[]),
            get(
                &app.base,
                &concrete(template, "bob", &id),
                Some(&token),
                &[],
            ),
            get(down, &path, Some(&token), &[]),
            get(&app.base, &format!("{path}?limit=0"), Some(&token), &[]),
            // Success; a page of one carries a `Link` (history).
            get(&app.base, &format!("{path}?limit=1"), Some(&token), &[]),
        ];
        for answer in answers {
            checker
                .check("GET", template, answer.await.expect("send"))
                .await;
        }
    }
    for answer in [
        get(
            &app.base,
            &concrete(HISTORY, user, &missing),
            Some(&token),
            &[],
        ),
        get(
            &app.base,
            &concrete(HISTORY, user, &id),
            Some(&token),
            &[("if-none-match", "*")],
        ),
    ] {
        checker
            .check("GET", HISTORY, answer.await.expect("send"))
            .await;
    }
    // A token ahead of the user's changes: 410.
    let ahead = shared::sync_token::Token {
        user_tag: shared::sync_token::user_tag(user),
        epoch: 0,
        issued_at: now() as i64,
        position: shared::sync_token::Position::Since(1_000_000),
    }
    .encode();
    let path = format!("{}?since={ahead}", concrete(CHANGES, user, &id));
    let r = get(&app.base, &path, Some(&token), &[])
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::GONE);
    checker.check("GET", CHANGES, r).await;
}

/// The time zone names the document lists are exactly those the database
/// accepts (its `time_zones` table, filled by migration 0003).
#[tokio::test]
async fn the_documented_time_zones_are_the_databases() {
    let doc = document();
    let documented: BTreeSet<String> = doc["components"]["schemas"]["TimeZone"]["enum"]
        .as_array()
        .expect("an enum")
        .iter()
        .map(|name| name.as_str().expect("a name").to_owned())
        .collect();
    let db = TestDb::new().await;
    let client = db.client().await;
    let known: BTreeSet<String> = client
        .query_typed("SELECT name FROM time_zones", &[])
        .await
        .expect("time zones")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(known.contains("Europe/Berlin") && known.contains("UTC"));
    assert_eq!(documented, known);
}
