//! The contract, black box: only HTTP against a base URL — routes,
//! statuses, isolation, validation, listing and auth. Nothing here reads
//! the database or calls a handler.
//!
//! By default the target is local-api, spawned on its own database. With
//! `CONTRACT_BASE_URL` (and `CONTRACT_SECRET`, the HS256 secret the target
//! verifies tokens with) it is any running deployment of the API:
//! `scripts/sam-local --test` points it at `sam local start-api` serving
//! the arm64 `sam build` output, and sets `CONTRACT_TARGET=sam`.
//!
//! Where SAM's own HTTP layer (Flask, in front of the functions) answers
//! before any function runs, API Gateway would not: those cases are listed
//! once, in `SAM_DEVIATIONS`, and still sent. Under SAM their answer must be
//! the one listed (if SAM changes, this fails and the table is updated);
//! everywhere else, the contract's.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use integration_tests::{
    FIXTURE_TASK_ID, FIXTURES, Method, TestApp, is_rfc3339_micros_z, now, sign_with,
};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

/// A request SAM's HTTP layer answers itself, and why.
struct Deviation {
    case: &'static str,
    sam_status: u16,
    why: &'static str,
}

const NON_UTF8_BODY: Deviation = Deviation {
    case: "a body that is not UTF-8",
    sam_status: 502,
    why: "SAM decodes the body as UTF-8 to build the event and fails before invoking",
};
const DOUBLE_SLASH: Deviation = Deviation {
    case: "`//` in a path",
    sam_status: 308,
    why: "Flask (Werkzeug) redirects to the path with merged slashes",
};
const UNKNOWN_ROUTE: Deviation = Deviation {
    case: "a path no route matches",
    sam_status: 403,
    why: "SAM answers as a REST API does (403 `Missing Authentication Token`); an HTTP API answers 404",
};
const ENCODED_SLASH: Deviation = Deviation {
    case: "`%2F` in a path segment",
    sam_status: 403,
    why: "Flask decodes `%2F` to `/` before matching routes: one segment more, no route (then as above)",
};

/// Every case in which `sam local start-api` answers differently from API
/// Gateway; each is exercised by the test named beside it.
const SAM_DEVIATIONS: [(&Deviation, &str); 4] = [
    (&NON_UTF8_BODY, "bodies_break_no_rule_unnoticed"),
    (&DOUBLE_SLASH, "unknown_paths_are_not_routed"),
    (&UNKNOWN_ROUTE, "unknown_paths_are_not_routed"),
    (&ENCODED_SLASH, "a_slash_in_a_user_id_is_one_segment"),
];

/// The API under test.
struct Target {
    base: String,
    secret: String,
    sam: bool,
    http: reqwest::Client,
    /// A user of this test alone: targets may be shared between tests.
    run: String,
    _local: Option<TestApp>,
}

/// A response, read whole.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "{}: not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A 4xx/5xx of the API: JSON with a non-empty `detail`.
    fn detail(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.status
        );
        let body = self.json();
        body["detail"]
            .as_str()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| panic!("{}: no detail in {body}", self.status))
            .to_owned()
    }
}

impl Target {
    async fn new() -> Self {
        let run = uuid::Uuid::now_v7().simple().to_string();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        match std::env::var("CONTRACT_BASE_URL") {
            Ok(base) => Self {
                base: base.trim_end_matches('/').to_owned(),
                secret: std::env::var("CONTRACT_SECRET")
                    .expect("CONTRACT_SECRET: the secret the target verifies tokens with"),
                sam: std::env::var("CONTRACT_TARGET").as_deref() == Ok("sam"),
                http,
                run,
                _local: None,
            },
            Err(_) => {
                let app = TestApp::spawn().await;
                Self {
                    base: app.base.clone(),
                    secret: integration_tests::SECRET.into(),
                    sam: false,
                    http,
                    run,
                    _local: Some(app),
                }
            }
        }
    }

    /// A user id of this test's own.
    fn user(&self, name: &str) -> String {
        format!("{name}-{}", self.run)
    }

    fn token(&self, sub: &str) -> String {
        self.sign(json!({ "sub": sub, "iat": now(), "exp": now() + 3600 }))
    }

    fn sign(&self, claims: Value) -> String {
        sign_with(Algorithm::HS256, self.secret.as_bytes(), claims)
    }

    /// Sends a request; `token` is the bearer token, if any.
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.expect("send");
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.expect("body").to_vec(),
        }
    }

    /// As `user`, with no body and extra headers.
    async fn send_with(
        &self,
        method: &str,
        path: &str,
        user: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token(user));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("send");
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.expect("body").to_vec(),
        }
    }

    /// As `user`, with a JSON body when one is given.
    async fn call(&self, method: &str, path: &str, user: &str, body: Option<Value>) -> Answer {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.send(method, path, Some(&self.token(user)), body).await
    }

    async fn create(&self, user: &str, title: &str) -> Value {
        let answer = self
            .call("POST", &tasks(user), user, Some(json!({ "title": title })))
            .await;
        assert_eq!(
            answer.status,
            201,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.json()
    }

    /// The raw Lambda response document of `function` for `event`:
    /// in-process through lambda_http's own conversions (local), or from
    /// `sam local invoke` in SAM's container (`SAM_LOCAL_INVOKE` is that
    /// command, set by `scripts/sam-local --test`).
    async fn lambda_response(&self, function: &str, event: &Value) -> Value {
        let Some(local) = &self._local else {
            let invoke = std::env::var("SAM_LOCAL_INVOKE").expect("SAM_LOCAL_INVOKE");
            let file = std::env::temp_dir().join(format!("{function}-{}.json", self.run));
            std::fs::write(&file, event.to_string()).expect("event file");
            let logical_id: String = function
                .split('-')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .chain(["Function".to_owned()])
                .collect();
            let mut words = invoke.split_whitespace();
            let output = tokio::process::Command::new(words.next().expect("a command"))
                .args(words)
                .arg("-e")
                .arg(&file)
                .arg(&logical_id)
                .output()
                .await
                .expect("sam local invoke");
            let _ = std::fs::remove_file(&file);
            assert!(
                output.status.success(),
                "{logical_id}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
                panic!("{logical_id}: {}", String::from_utf8_lossy(&output.stdout))
            });
        };
        let state = &local.state;
        let document = shared::lambda::invoke_raw(&event.to_string(), |req| {
            local_api::call_function(state, function, req)
        })
        .await;
        serde_json::from_slice(&document).expect("a JSON document")
    }

    /// What API Gateway answers, or what SAM answers instead.
    fn expected(&self, contract: u16, deviation: &Deviation) -> u16 {
        if self.sam {
            eprintln!(
                "SAM deviation, {}: {} instead of {contract} ({})",
                deviation.case, deviation.sam_status, deviation.why
            );
            deviation.sam_status
        } else {
            contract
        }
    }
}

fn tasks(user: &str) -> String {
    format!("/api/{user}/tasks")
}

#[tokio::test]
async fn health_needs_no_token() {
    let t = Target::new().await;
    let answer = t.send("GET", "/health", None, None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({ "status": "ok" }));
}

#[tokio::test]
async fn a_task_lives_through_every_route() {
    let t = Target::new().await;
    let user = t.user("owner");
    let created = t
        .call(
            "POST",
            &tasks(&user),
            &user,
            Some(json!({ "title": "  Buy milk \t", "description": "2 litres" })),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("content-type"), Some("application/json"));
    let task = created.json();
    let id = task["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("{}/{id}", tasks(&user)).as_str())
    );
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    assert_eq!(task["user_id"], user.as_str());
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["description"], "2 litres");
    assert_eq!(task["completed"], false);
    assert!(is_rfc3339_micros_z(task["created_at"].as_str().unwrap()));
    assert_eq!(task["created_at"], task["updated_at"]);
    // The fields of issue 27, at their defaults.
    assert_eq!(task["due"], Value::Null);
    assert_eq!(task["time_zone"], "UTC");
    assert_eq!(task["due_by"], Value::Null);
    assert_eq!(task["priority"], 0);
    assert_eq!(task["labels"], json!([]));
    assert_eq!(task.as_object().unwrap().len(), 12, "{task}");

    let one = format!("{}/{id}", tasks(&user));
    let fetched = t.call("GET", &one, &user, None).await;
    assert_eq!((fetched.status, fetched.json()), (200, task.clone()));

    let listed = t.call("GET", &tasks(&user), &user, None).await;
    assert_eq!((listed.status, listed.json()), (200, json!([task.clone()])));

    let updated = t
        .call("PUT", &one, &user, Some(json!({ "description": null })))
        .await;
    assert_eq!(updated.status, 200);
    let updated = updated.json();
    assert_eq!(updated["title"], "Buy milk");
    assert_eq!(updated["description"], Value::Null);
    assert!(updated["updated_at"].as_str() > task["updated_at"].as_str());
    assert_eq!(updated["created_at"], task["created_at"]);

    let complete = format!("{one}/complete");
    let toggled = t.call("PATCH", &complete, &user, None).await;
    assert_eq!(
        (toggled.status, &toggled.json()["completed"]),
        (200, &json!(true))
    );
    let toggled = t.call("PATCH", &complete, &user, None).await;
    assert_eq!(toggled.json()["completed"], false);
    let set = t
        .call(
            "PATCH",
            &complete,
            &user,
            Some(json!({ "completed": true })),
        )
        .await;
    assert_eq!((set.status, &set.json()["completed"]), (200, &json!(true)));
    let set = t
        .call(
            "PATCH",
            &complete,
            &user,
            Some(json!({ "completed": true })),
        )
        .await;
    assert_eq!(
        (set.status, &set.json()["completed"]),
        (200, &json!(true)),
        "setting is safe to retry"
    );

    let deleted = t.call("DELETE", &one, &user, None).await;
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    for (method, path) in [("GET", &one), ("DELETE", &one), ("PATCH", &complete)] {
        let gone = t.call(method, path, &user, None).await;
        assert_eq!(gone.status, 404, "{method} {path}");
        assert_eq!(gone.header("content-type"), Some("application/json"));
        assert_eq!(gone.json(), json!({ "detail": "task not found" }));
    }
}

#[tokio::test]
async fn tokens_are_checked_before_anything_else() {
    let t = Target::new().await;
    let user = t.user("u");
    let path = tasks(&user);
    let missing = t.send("GET", &path, None, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    missing.detail();

    let header = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = now() + 3600;
    let bad = [
        sign_with(
            Algorithm::HS256,
            b"another-secret-another-secret-00",
            json!({ "sub": user, "exp": exp }),
        ),
        t.sign(json!({ "sub": user, "exp": now() - 3600 })),
        t.sign(json!({ "sub": user })),
        t.sign(json!({ "exp": exp })),
        t.sign(json!({ "sub": "", "exp": exp })),
        sign_with(
            Algorithm::HS512,
            t.secret.as_bytes(),
            json!({ "sub": user, "exp": exp }),
        ),
        format!(
            "{}.{}.",
            header(json!({ "alg": "none", "typ": "JWT" })),
            header(json!({ "sub": user, "exp": exp }))
        ),
        "not.a.jwt".into(),
        "x".repeat(9000),
    ];
    for token in &bad {
        // Even on another user's path with a bad body: 401 comes first.
        for target in [path.clone(), tasks(&t.user("other"))] {
            let answer = t
                .send(
                    "POST",
                    &target,
                    Some(token),
                    Some(("text/plain", b"{".to_vec())),
                )
                .await;
            assert_eq!(answer.status, 401, "{token:.40}");
            assert_eq!(
                answer.header("www-authenticate"),
                Some(r#"Bearer error="invalid_token""#)
            );
            answer.detail();
        }
    }
}

#[tokio::test]
async fn another_users_path_is_403_on_every_route() {
    let t = Target::new().await;
    let (alice, bob) = (t.user("alice"), t.user("bob"));
    let task = t.create(&alice, "alice's").await;
    let id = task["id"].as_str().unwrap();
    let one = format!("{}/{id}", tasks(&alice));
    for (method, path, body) in [
        ("GET", tasks(&alice), None),
        ("POST", tasks(&alice), Some(json!({ "title": "x" }))),
        ("GET", one.clone(), None),
        ("PUT", one.clone(), Some(json!({ "title": "x" }))),
        ("DELETE", one.clone(), None),
        ("PATCH", format!("{one}/complete"), None),
        // 403 comes before 400.
        ("GET", format!("{}/not-a-uuid", tasks(&alice)), None),
        ("POST", tasks(&alice), Some(json!({ "bad": 1 }))),
    ] {
        let answer = t.call(method, &path, &bob, body).await;
        assert_eq!(answer.status, 403, "{method} {path}");
        answer.detail();
    }
    let still = t.call("GET", &one, &alice, None).await;
    assert_eq!(still.json(), task);
    // Nothing was written: alice still has her one task, bob none.
    let alices = t.call("GET", &tasks(&alice), &alice, None).await;
    assert_eq!(alices.json(), json!([task]));
    let bobs = t.call("GET", &tasks(&bob), &bob, None).await;
    assert_eq!(bobs.json(), json!([]));
}

#[tokio::test]
async fn another_users_task_is_404_like_one_that_never_existed() {
    let t = Target::new().await;
    let (alice, bob) = (t.user("alice"), t.user("bob"));
    let task = t.create(&alice, "alice's secret").await;
    let bobs = t.create(&bob, "bob's").await;
    let never = uuid::Uuid::now_v7().to_string();
    for id in [task["id"].as_str().unwrap(), never.as_str()] {
        let one = format!("{}/{id}", tasks(&bob));
        for (method, path, body) in [
            ("GET", one.clone(), None),
            ("PUT", one.clone(), Some(json!({ "title": "pwned" }))),
            ("PATCH", format!("{one}/complete"), None),
            ("DELETE", one.clone(), None),
        ] {
            let answer = t.call(method, &path, &bob, body).await;
            assert_eq!(answer.status, 404, "{method} {path}");
            assert_eq!(answer.json(), json!({ "detail": "task not found" }));
        }
    }
    let alices = t.call("GET", &tasks(&alice), &alice, None).await;
    assert_eq!(alices.json(), json!([task]));
    let listed = t.call("GET", &tasks(&bob), &bob, None).await;
    assert_eq!(listed.json(), json!([bobs]));
}

fn trash(user: &str) -> String {
    format!("/api/{user}/trash")
}

/// API.md "Trash", black box: DELETE moves a task to the trash (404 on
/// `/tasks` after, its ETag kept), the trash lists it last deleted first
/// with `deleted_at`, restore brings it back with the same fields and a
/// new ETag (If-Match against the ETag at deletion), and delete-for-good
/// ends it.
#[tokio::test]
async fn a_deleted_task_waits_in_the_trash_until_restored_or_gone_for_good() {
    let t = Target::new().await;
    let user = t.user("trash");
    let created = t
        .call(
            "POST",
            &tasks(&user),
            &user,
            Some(json!({ "title": "Buy milk", "priority": 2, "labels": ["home"], "due": "2026-12-24" })),
        )
        .await;
    let task = created.json();
    let etag = created.header("etag").expect("etag").to_owned();
    let id = task["id"].as_str().unwrap().to_owned();
    let one = format!("{}/{id}", tasks(&user));
    let second = t.create(&user, "Second").await;
    let second_id = second["id"].as_str().unwrap().to_owned();

    let empty = t.call("GET", &trash(&user), &user, None).await;
    assert_eq!((empty.status, empty.json()), (200, json!([])));
    let deleted = t.call("DELETE", &one, &user, None).await;
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    let other_one = format!("{}/{second_id}", tasks(&user));
    assert_eq!(t.call("DELETE", &other_one, &user, None).await.status, 204);
    for (method, path) in [("GET", &one), ("DELETE", &one), ("PUT", &one)] {
        let body = (method == "PUT").then(|| json!({ "title": "x" }));
        let gone = t.call(method, path, &user, body).await;
        assert_eq!(gone.status, 404, "{method} {path}");
        assert_eq!(gone.json(), json!({ "detail": "task not found" }));
    }
    let listed = t.call("GET", &tasks(&user), &user, None).await;
    assert_eq!(listed.json(), json!([]));

    // Last deleted first, each the task as it was plus `deleted_at`.
    let listed = t.call("GET", &trash(&user), &user, None).await;
    assert_eq!(listed.status, 200);
    let page_etag = listed.header("etag").expect("a page ETag").to_owned();
    let items = listed.json();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second_id.as_str());
    assert_eq!(items[1]["id"], id.as_str());
    let mut kept = items[1].clone();
    let deleted_at = kept
        .as_object_mut()
        .unwrap()
        .remove("deleted_at")
        .expect("deleted_at");
    assert_eq!(kept, task, "the task as it was");
    assert!(is_rfc3339_micros_z(deleted_at.as_str().unwrap()));
    assert!(deleted_at.as_str() > task["updated_at"].as_str());
    assert!(items[0]["deleted_at"].as_str() > deleted_at.as_str());
    // The page's ETag, 304 while it holds; a page of one leads on.
    let not_modified = t
        .send_with(
            "GET",
            &trash(&user),
            &user,
            &[("if-none-match", &page_etag)],
        )
        .await;
    assert_eq!((not_modified.status, not_modified.body.len()), (304, 0));
    let first = t
        .call("GET", &format!("{}?limit=1", trash(&user)), &user, None)
        .await;
    assert_eq!(first.json()[0]["id"], second_id.as_str());
    let link = first.header("link").expect("a Link").to_owned();
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .expect("rel=next");
    assert!(next.starts_with(&format!("{}?limit=1&cursor=", trash(&user))));
    let rest = t.call("GET", next, &user, None).await;
    assert_eq!(rest.json(), json!([items[1]]));
    assert!(rest.header("link").is_none());

    // Restore: If-Match against the ETag at deletion.
    let restore = format!("{}/{id}/restore", trash(&user));
    let stale = t
        .send_with("POST", &restore, &user, &[("if-match", "\"AAAAAAAAAAA\"")])
        .await;
    assert_eq!(stale.status, 412);
    stale.detail();
    let restored = t
        .send_with("POST", &restore, &user, &[("if-match", &etag)])
        .await;
    assert_eq!(restored.status, 200);
    let back = restored.json();
    let new_etag = restored.header("etag").expect("an ETag");
    assert_ne!(new_etag, etag, "a restore changes the ETag");
    assert!(back["updated_at"].as_str() > deleted_at.as_str());
    let mut same = back.clone();
    same["updated_at"] = task["updated_at"].clone();
    assert_eq!(same, task, "the same id and fields");
    let fetched = t.call("GET", &one, &user, None).await;
    assert_eq!((fetched.status, fetched.json()), (200, back.clone()));
    assert_eq!(fetched.header("etag"), Some(new_etag));
    let again = t.call("POST", &restore, &user, None).await;
    assert_eq!(again.status, 404, "no longer in the trash");

    // Gone for good.
    let for_good = format!("{}/{second_id}", trash(&user));
    let gone = t.call("DELETE", &for_good, &user, None).await;
    assert_eq!((gone.status, gone.body.len()), (204, 0));
    for (method, path) in [
        ("DELETE", for_good.clone()),
        ("POST", format!("{for_good}/restore")),
        ("GET", other_one.clone()),
    ] {
        let answer = t.call(method, &path, &user, None).await;
        assert_eq!(answer.status, 404, "{method} {path}");
        answer.detail();
    }
    let listed = t.call("GET", &trash(&user), &user, None).await;
    assert_eq!(listed.json(), json!([]));
}

/// The trash is its owner's: another user's path is a 403, another
/// user's trashed task a 404 on restore and delete-for-good, as one that
/// never was; a bad id or `limit` a 400; no token a 401.
#[tokio::test]
async fn the_trash_is_its_owners_alone() {
    let t = Target::new().await;
    let (alice, bob) = (t.user("alice"), t.user("bob"));
    let task = t.create(&alice, "alice's").await;
    let id = task["id"].as_str().unwrap();
    let deleted = t
        .call("DELETE", &format!("{}/{id}", tasks(&alice)), &alice, None)
        .await;
    assert_eq!(deleted.status, 204);
    let routes = |user: &str, id: &str| {
        [
            ("GET", trash(user)),
            ("POST", format!("{}/{id}/restore", trash(user))),
            ("DELETE", format!("{}/{id}", trash(user))),
        ]
    };
    for (method, path) in routes(&alice, id) {
        assert_eq!(t.send(method, &path, None, None).await.status, 401);
        let answer = t.call(method, &path, &bob, None).await;
        assert_eq!(answer.status, 403, "{method} {path}");
        answer.detail();
    }
    let never = uuid::Uuid::now_v7().to_string();
    for id in [id, never.as_str()] {
        for (method, path) in routes(&bob, id).into_iter().skip(1) {
            let answer = t.call(method, &path, &bob, None).await;
            assert_eq!(answer.status, 404, "{method} {path}");
            assert_eq!(answer.json(), json!({ "detail": "task not found" }));
        }
    }
    let bobs = t.call("GET", &trash(&bob), &bob, None).await;
    assert_eq!(bobs.json(), json!([]));
    for (method, path) in routes(&alice, "not-a-uuid").into_iter().skip(1) {
        let answer = t.call(method, &path, &alice, None).await;
        assert_eq!(answer.status, 400, "{method} {path}");
        assert!(answer.detail().starts_with("task_id"));
    }
    for query in ["limit=0", "limit=1001", "limit=x", "cursor=abc"] {
        let answer = t
            .call("GET", &format!("{}?{query}", trash(&alice)), &alice, None)
            .await;
        assert_eq!(answer.status, 400, "{query}");
        let name = query.split('=').next().unwrap();
        assert!(answer.detail().starts_with(name), "{query}");
    }
    // Still alice's, in her trash.
    let listed = t.call("GET", &trash(&alice), &alice, None).await;
    assert_eq!(listed.json()[0]["id"], id);
}

#[tokio::test]
async fn versions_guard_edits_and_spare_reads() {
    let t = Target::new().await;
    let user = t.user("v");
    let task = t.create(&user, "t").await;
    let token = t.token(&user);
    let url = format!(
        "{}{}/{}",
        t.base,
        tasks(&user),
        task["id"].as_str().unwrap()
    );
    // A GET: its ETag, and the status of the same GET naming it.
    let fetch_and_revalidate = async |url: &str| {
        let got = t.http.get(url).bearer_auth(&token).send().await.unwrap();
        let etag = got.headers()["etag"].to_str().unwrap().to_owned();
        let again = t.http.get(url).bearer_auth(&token);
        let again = again.header("if-none-match", &etag).send().await.unwrap();
        (etag, again)
    };
    let (etag, cached) = fetch_and_revalidate(&url).await;
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    let put = |title: &'static str| {
        t.http
            .put(&url)
            .bearer_auth(&token)
            .header("if-match", &etag)
            .json(&json!({ "title": title }))
            .send()
    };
    assert_eq!(put("first").await.unwrap().status(), 200);
    let stale = put("second").await.unwrap();
    assert_eq!(stale.status(), 412, "the version it names is gone");
    let (_, again) = fetch_and_revalidate(&format!("{}{}", t.base, tasks(&user))).await;
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn a_keyed_post_is_safe_to_retry() {
    let t = Target::new().await;
    let user = t.user("k");
    let token = t.token(&user);
    let url = format!("{}{}", t.base, tasks(&user));
    let post = async |key: &str, title: &str| {
        let request = t.http.post(&url).bearer_auth(&token);
        let request = request.header("idempotency-key", key);
        let response = request
            .json(&json!({ "title": title }))
            .send()
            .await
            .unwrap();
        let replayed = response.headers().get("idempotent-replayed").cloned();
        let (status, etag) = (response.status(), response.headers().get("etag").cloned());
        (
            status,
            replayed,
            etag,
            response.json::<Value>().await.unwrap(),
        )
    };
    let (status, replayed, etag, first) = post("retry-me", "once").await;
    assert_eq!((status.as_u16(), replayed), (201, None));
    let (status, replayed, again_etag, again) = post("\"retry-me\"", "once").await;
    assert_eq!(status, 201);
    assert_eq!(replayed.as_ref().map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!((again, again_etag), (first, etag), "the first 201, again");
    let (status, _, _, other) = post("retry-me", "another task").await;
    assert_eq!(status, 422);
    assert!(
        other["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    let listed = t.call("GET", &tasks(&user), &user, None).await;
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn due_priority_and_labels_go_through_post_and_put() {
    let t = Target::new().await;
    let user = t.user("u");
    let body = json!({
        "title": "t", "due": "2026-10-31", "time_zone": "America/Havana",
        "priority": 3, "labels": [" home ", "shop", "home"]
    });
    let created = t.call("POST", &tasks(&user), &user, Some(body)).await;
    assert_eq!(created.status, 201);
    let task = created.json();
    assert_eq!(task["due"], "2026-10-31");
    // Midnight happens twice in Havana that night: the first counts.
    assert_eq!(task["due_by"], "2026-11-01T04:00:00.000000Z");
    assert_eq!(task["priority"], 3);
    assert_eq!(task["labels"], json!(["home", "shop"]));
    let one = format!("{}/{}", tasks(&user), task["id"].as_str().unwrap());

    let moved = t
        .call(
            "PUT",
            &one,
            &user,
            Some(json!({ "due": "2026-12-24T17:00:00+01:00" })),
        )
        .await;
    assert_eq!(moved.status, 200);
    let moved = moved.json();
    assert_eq!(moved["due"], "2026-12-24T16:00:00.000000Z");
    assert_eq!(moved["due_by"], "2026-12-24T16:00:00.000000Z");
    assert_eq!(
        (&moved["priority"], &moved["labels"]),
        (&task["priority"], &task["labels"])
    );
    let cleared = t
        .call(
            "PUT",
            &one,
            &user,
            Some(json!({ "due": null, "labels": [] })),
        )
        .await
        .json();
    assert_eq!(
        (&cleared["due"], &cleared["due_by"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(cleared["labels"], json!([]));

    for (body, field) in [
        (json!({ "due": "2026-02-30" }), "due"),
        (json!({ "time_zone": "Europe/Atlantis" }), "time_zone"),
        (json!({ "time_zone": null }), "time_zone"),
        (json!({ "priority": 4 }), "priority"),
        (json!({ "priority": null }), "priority"),
        (json!({ "labels": ["a,b"] }), "labels"),
        (json!({ "due_by": "2026-12-24T16:00:00.000000Z" }), "due_by"),
    ] {
        let answer = t.call("PUT", &one, &user, Some(body.clone())).await;
        assert_eq!(answer.status, 400, "{body}");
        assert!(
            answer.detail().contains(field),
            "{body}: {}",
            answer.detail()
        );
    }
}

#[tokio::test]
async fn task_ids_must_be_canonical_uuids() {
    let t = Target::new().await;
    let user = t.user("u");
    let uuid = uuid::Uuid::now_v7();
    for id in [
        "not-a-uuid".to_owned(),
        "123".into(),
        uuid.simple().to_string(),
        format!("%7B{uuid}%7D"),
        format!("{uuid}x"),
        "%20".into(),
    ] {
        for (method, suffix) in [("GET", ""), ("DELETE", ""), ("PATCH", "/complete")] {
            let path = format!("{}/{id}{suffix}", tasks(&user));
            let answer = t.call(method, &path, &user, None).await;
            assert_eq!(answer.status, 400, "{method} {path}");
            assert!(answer.detail().contains("task_id"), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn bodies_break_no_rule_unnoticed() {
    let t = Target::new().await;
    let user = t.user("u");
    let path = tasks(&user);
    let token = t.token(&user);
    let post = |content_type: &'static str, body: Vec<u8>| {
        let (path, token) = (path.clone(), token.clone());
        let t = &t;
        async move {
            t.send("POST", &path, Some(&token), Some((content_type, body)))
                .await
        }
    };
    for (body, names) in [
        (json!({ "title": "" }), "title"),
        (json!({ "title": " \t\u{3000}" }), "title"),
        (json!({ "title": "é".repeat(256) }), "title"),
        (json!({ "title": 5 }), "title"),
        (json!({ "title": "a\u{0}b" }), "title"),
        (
            json!({ "title": "t", "description": "x".repeat(1001) }),
            "description",
        ),
        (json!({ "title": "t", "completed": true }), "completed"),
        (json!({ "description": "no title" }), "title"),
        (json!(["title"]), "JSON object"),
    ] {
        let answer = post("application/json", body.to_string().into_bytes()).await;
        assert_eq!(answer.status, 400, "{body}");
        assert!(answer.detail().contains(names), "{body}");
    }
    let duplicate = post("application/json", br#"{"title":"a","title":"b"}"#.to_vec()).await;
    assert_eq!(duplicate.status, 400);
    assert!(duplicate.detail().contains("duplicate"));
    let malformed = post("application/json", b"{\"title\":".to_vec()).await;
    assert_eq!(malformed.status, 400);
    malformed.detail();
    let wrong_type = post("text/plain", br#"{"title":"a"}"#.to_vec()).await;
    assert_eq!(wrong_type.status, 415);
    wrong_type.detail();
    let mut big = br#"{"title":"a","description":""#.to_vec();
    big.resize(64 * 1024 + 1, b' ');
    let too_big = post("application/json", big).await;
    assert_eq!(too_big.status, 413);
    too_big.detail();

    let not_utf8 = post("application/json", b"{\"title\":\"\xff\xfe\"}".to_vec()).await;
    assert_eq!(not_utf8.status, t.expected(400, &NON_UTF8_BODY));

    let task = t.create(&user, "kept").await;
    let one = format!("{path}/{}", task["id"].as_str().unwrap());
    for (method, target, body, names) in [
        ("PUT", one.clone(), json!({}), "at least one"),
        ("PUT", one.clone(), json!({ "title": null }), "title"),
        (
            "PUT",
            one.clone(),
            json!({ "completed": "yes" }),
            "completed",
        ),
        ("PUT", one.clone(), json!({ "owner": "x" }), "owner"),
        (
            "PATCH",
            format!("{one}/complete"),
            json!({ "completed": 1 }),
            "completed",
        ),
        ("PATCH", format!("{one}/complete"), json!({}), "completed"),
        (
            "PATCH",
            format!("{one}/complete"),
            json!({ "completed": "yes" }),
            "completed",
        ),
        (
            "PATCH",
            format!("{one}/complete"),
            json!({ "completed": true, "x": 1 }),
            "x",
        ),
        (
            "PATCH",
            format!("{one}/complete"),
            json!([true]),
            "JSON object",
        ),
    ] {
        let answer = t.call(method, &target, &user, Some(body.clone())).await;
        assert_eq!(answer.status, 400, "{method} {body}");
        assert!(answer.detail().contains(names), "{method} {body}");
    }
    // Nothing above was written.
    let listed = t.call("GET", &path, &user, None).await;
    assert_eq!(listed.json(), json!([task]));
}

#[tokio::test]
async fn lists_are_newest_first_filtered_and_paged() {
    let t = Target::new().await;
    let user = t.user("u");
    let empty = t.call("GET", &tasks(&user), &user, None).await;
    assert_eq!((empty.status, empty.json()), (200, json!([])));
    assert_eq!(empty.header("link"), None);

    let mut ids = Vec::new();
    for i in 0..5 {
        let task = t.create(&user, &format!("t{i}")).await;
        ids.push(task["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    let done = format!("{}/{}/complete", tasks(&user), ids[1]);
    assert_eq!(t.call("PATCH", &done, &user, None).await.status, 200);

    let all = t.call("GET", &tasks(&user), &user, None).await;
    let listed: Vec<String> = all
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids);

    let completed = t
        .call(
            "GET",
            &format!("{}?completed=true", tasks(&user)),
            &user,
            None,
        )
        .await;
    assert_eq!(completed.json().as_array().unwrap().len(), 1);
    let open = t
        .call(
            "GET",
            &format!("{}?completed=false&x=1", tasks(&user)),
            &user,
            None,
        )
        .await;
    assert_eq!(open.json().as_array().unwrap().len(), 4);

    // Pages of two, following `Link`, see every task once, in order.
    let mut path = format!("{}?limit=2", tasks(&user));
    let mut seen = Vec::new();
    loop {
        let page = t.call("GET", &path, &user, None).await;
        assert_eq!(page.status, 200, "{path}");
        seen.extend(
            page.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned()),
        );
        let Some(link) = page.header("link") else {
            break;
        };
        assert!(link.ends_with(r#">; rel="next""#), "{link}");
        path = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_owned();
        assert!(
            path.starts_with(&format!("{}?limit=2&cursor=", tasks(&user))),
            "{path}"
        );
    }
    assert_eq!(seen, ids);

    for query in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "completed=yes",
        "cursor=bad",
        "limit=1&limit=2",
    ] {
        let answer = t
            .call("GET", &format!("{}?{query}", tasks(&user)), &user, None)
            .await;
        assert_eq!(answer.status, 400, "{query}");
        answer.detail();
    }
}

/// Sorts, filters and their cursors (searching needs the words POST
/// writes: `tests/api/finding.rs` covers it on seeded rows).
#[tokio::test]
async fn lists_are_sorted_filtered_and_paged_in_their_order() {
    let t = Target::new().await;
    let user = t.user("sorted");
    let mut ids = Vec::new();
    for title in ["b", "C", "a", "B"] {
        ids.push(
            t.create(&user, title).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let listed = |answer: &Answer| -> Vec<String> {
        let body = answer.json();
        body.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // By lower-cased title, ties ("b", "B") by id in the same direction.
    let by_title = t
        .call("GET", &format!("{}?sort=title", tasks(&user)), &user, None)
        .await;
    assert_eq!(by_title.status, 200);
    let (b, upper_b) = (ids[0].clone(), ids[3].clone());
    let (b1, b2) = if b < upper_b {
        (b, upper_b)
    } else {
        (upper_b, b)
    };
    assert_eq!(
        listed(&by_title),
        [ids[2].clone(), b1.clone(), b2.clone(), ids[1].clone()]
    );
    let back = t
        .call("GET", &format!("{}?sort=-title", tasks(&user)), &user, None)
        .await;
    assert_eq!(listed(&back), [ids[1].clone(), b2, b1, ids[2].clone()]);
    let oldest = t
        .call(
            "GET",
            &format!("{}?sort=created_at", tasks(&user)),
            &user,
            None,
        )
        .await;
    assert_eq!(listed(&oldest), ids);

    // A page's Link keeps the sort and filters; its cursor is theirs only.
    let first = t
        .call(
            "GET",
            &format!("{}?sort=title&has_due=false&limit=3", tasks(&user)),
            &user,
            None,
        )
        .await;
    let link = first.header("link").expect("a next page").to_owned();
    let path = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    assert!(path.ends_with("&sort=title&has_due=false"), "{path}");
    let rest = t.call("GET", &path, &user, None).await;
    assert_eq!(listed(&rest), [ids[1].clone()]);
    let cursor = path
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let other = t
        .call(
            "GET",
            &format!("{}?sort=-title&cursor={cursor}", tasks(&user)),
            &user,
            None,
        )
        .await;
    assert_eq!(other.status, 400);
    assert!(other.detail().starts_with("cursor"), "{}", other.detail());

    for (query, name) in [
        ("sort=name", "sort"),
        ("q=", "q"),
        ("priority=5", "priority"),
        ("label=a%2Cb", "label"),
        ("due_before=2026-12-24", "due_before"),
        ("overdue=maybe", "overdue"),
        ("has_due=", "has_due"),
    ] {
        let answer = t
            .call("GET", &format!("{}?{query}", tasks(&user)), &user, None)
            .await;
        assert_eq!(answer.status, 400, "{query}");
        assert!(
            answer.detail().starts_with(name),
            "{query}: {}",
            answer.detail()
        );
    }
}

#[tokio::test]
async fn user_ids_are_path_segments_decoded_once() {
    let t = Target::new().await;
    let user = format!("{} é%41", t.user("a"));
    let encoded = user
        .replace('%', "%25")
        .replace(' ', "%20")
        .replace('é', "%C3%A9");
    let answer = t
        .call(
            "POST",
            &tasks(&encoded),
            &user,
            Some(json!({ "title": "t" })),
        )
        .await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.json()["user_id"], user.as_str());
    let location = answer.header("location").unwrap().to_owned();
    assert!(location.starts_with(&tasks(&encoded)), "{location}");
    let fetched = t.call("GET", &location, &user, None).await;
    assert_eq!(fetched.status, 200);
}

#[tokio::test]
async fn a_slash_in_a_user_id_is_one_segment() {
    let t = Target::new().await;
    let user = format!("{}/x", t.user("a"));
    let answer = t
        .call("GET", &tasks(&user.replace('/', "%2F")), &user, None)
        .await;
    assert_eq!(answer.status, t.expected(200, &ENCODED_SLASH));
}

#[tokio::test]
async fn unknown_paths_are_not_routed() {
    let t = Target::new().await;
    let user = t.user("u");
    for path in [
        format!("/api/{user}"),
        format!("/api/{user}/tasks/a/b/c"),
        "/nothing".into(),
    ] {
        let answer = t.call("GET", &path, &user, None).await;
        assert_eq!(answer.status, t.expected(404, &UNKNOWN_ROUTE), "{path}");
    }
    let answer = t
        .call("GET", &format!("/api/{user}//tasks"), &user, None)
        .await;
    assert_eq!(answer.status, t.expected(404, &DOUBLE_SLASH));
}

#[test]
fn every_sam_deviation_names_a_test_of_this_file() {
    let source = include_str!("main.rs");
    for (deviation, test) in SAM_DEVIATIONS {
        assert!(
            source.contains(&format!("async fn {test}()")),
            "{}: no test {test}",
            deviation.case
        );
        assert!(!deviation.why.is_empty());
    }
}

/// Each function's `events/` fixture (its user and token made this test's
/// own) gets the Lambda response the contract needs: status, JSON as text
/// and never base64, `Location` on a 201.
#[tokio::test]
async fn each_fixture_gets_its_raw_lambda_response() {
    let t = Target::new().await;
    let user = t.user("fixture");
    let mut task_id = FIXTURE_TASK_ID.to_owned();
    for (function, status) in FIXTURES {
        let path = format!("{}/../events/{function}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path)
            .expect("fixture")
            .replace("demo-user", &user)
            .replace(FIXTURE_TASK_ID, &task_id);
        let mut event: Value = serde_json::from_str(&text).expect("fixture JSON");
        if event["headers"].get("authorization").is_some() {
            event["headers"]["authorization"] = json!(format!("Bearer {}", t.token(&user)));
        }
        let document = t.lambda_response(function, &event).await;
        assert_eq!(document["statusCode"], status, "{function}: {document}");
        assert_eq!(document["isBase64Encoded"], false, "{function}: {document}");
        if status == 204 {
            assert!(document["body"].as_str().unwrap_or_default().is_empty());
            continue;
        }
        assert_eq!(document["headers"]["content-type"], "application/json");
        let body: Value = serde_json::from_str(document["body"].as_str().expect("a text body"))
            .expect("a JSON body");
        match function {
            "create-task" => {
                task_id = body["id"].as_str().expect("id").to_owned();
                let location = document["headers"]["location"].as_str().expect("location");
                assert_eq!(location, format!("{}/{task_id}", tasks(&user)));
            }
            "list-tasks" | "list-trash" => assert_eq!(body[0]["id"], task_id.as_str()),
            "task-history" => {
                let entries = body.as_array().expect("entries");
                assert_eq!(entries.last().expect("one")["action"], "created");
            }
            "list-changes" => {
                let changes = body["changes"].as_array().expect("changes");
                assert!(
                    changes.iter().any(|c| c["id"] == task_id.as_str()),
                    "{body}"
                );
            }
            "batch-tasks" => {
                assert_eq!(body["results"][0]["status"], 201, "{body}");
                assert_eq!(body["results"][1]["status"], 200, "{body}");
                assert_eq!(body["results"][1]["task"]["id"], task_id.as_str());
                assert_eq!(body["results"][1]["task"]["completed"], true);
            }
            "health" => assert_eq!(body, json!({ "status": "ok" })),
            _ => assert_eq!(body["id"], task_id.as_str(), "{function}"),
        }
    }
}

/// Whatever API Gateway can deliver is answered with the contract's JSON,
/// even what the event library cannot read: a header value HTTP forbids
/// (a control character, as `sam local start-api` passes on) is a 400
/// naming the header, and so is a header name with one; nothing is
/// created. In-process here; under SAM, the real function in its container
/// (`sam local invoke`).
#[tokio::test]
async fn headers_http_forbids_get_the_apis_own_400() {
    let t = Target::new().await;
    let user = t.user("headers");
    let path = format!("{}/../events/create-task.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path)
        .expect("fixture")
        .replace("demo-user", &user);
    let fixture: Value = serde_json::from_str(&text).expect("fixture JSON");
    for (name, value, named) in [
        ("idempotency-key", "abc\u{1}def", "idempotency-key"),
        ("idempotency-key", "abc\u{7f}", "idempotency-key"),
        ("x-bad\u{1}name", "v", "header name"),
    ] {
        let mut event = fixture.clone();
        event["headers"]["authorization"] = json!(format!("Bearer {}", t.token(&user)));
        event["headers"][name] = json!(value);
        let document = t.lambda_response("create-task", &event).await;
        assert_eq!(document["statusCode"], 400, "{name:?}: {document}");
        assert_eq!(document["headers"]["content-type"], "application/json");
        assert_eq!(document["headers"]["cache-control"], "no-store");
        let body: Value = serde_json::from_str(document["body"].as_str().expect("a text body"))
            .expect("a JSON body");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(named), "{name:?}: {detail}");
    }
    let listed = t.call("GET", &tasks(&user), &user, None).await;
    assert_eq!(listed.json(), json!([]), "nothing was created");
}

/// `POST /tasks/batch`, black box: in order, each result what the single
/// route answers; atomic by default (a failure at the last operation
/// writes nothing, 424s name it); not atomic, each alone; a malformed
/// batch one 400; a keyed retry replays the first answer.
#[tokio::test]
async fn a_batch_is_all_or_nothing_and_answers_per_operation() {
    let t = Target::new().await;
    let user = t.user("batch");
    let other = t.user("batch-other");
    let theirs = t.create(&other, "not yours").await;
    let mine = t.create(&user, "mine").await;
    let (their_id, my_id) = (theirs["id"].as_str().unwrap(), mine["id"].as_str().unwrap());
    let batch = format!("{}/batch", tasks(&user));
    let statuses = |answer: &Answer| -> Vec<u64> {
        answer.json()["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&answer.body)))
            .iter()
            .map(|r| r["status"].as_u64().unwrap())
            .collect()
    };

    let failing = json!({"operations": [
        {"op": "create", "task": {"title": "never"}},
        {"op": "update", "id": my_id, "task": {"title": "never"}},
        {"op": "complete", "id": their_id},
    ]});
    let answer = t.call("POST", &batch, &user, Some(failing)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(statuses(&answer), [424, 424, 404]);
    let results = answer.json()["results"].clone();
    assert_eq!(results[2]["detail"], "task not found");
    assert!(
        results[0]["detail"]
            .as_str()
            .unwrap()
            .contains("operation 2")
    );
    let listed = t.call("GET", &tasks(&user), &user, None).await.json();
    assert_eq!(listed, json!([mine]), "nothing written");

    let partial = json!({"atomic": false, "operations": [
        {"op": "create", "task": {"title": "made"}},
        {"op": "delete", "id": their_id},
        {"op": "update", "id": my_id, "task": {"priority": 3}},
        {"op": "delete", "id": my_id},
    ]});
    let headers = [("idempotency-key", "batch-1")];
    let send = |body: &Value| {
        let mut request = t
            .http
            .post(format!("{}{batch}", t.base))
            .bearer_auth(t.token(&user))
            .json(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let first = send(&partial).await.expect("send");
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.expect("json");
    let codes: Vec<u64> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [201, 404, 200, 204]);
    assert_eq!(first["results"][0]["task"]["title"], "made");
    assert_eq!(first["results"][2]["task"]["priority"], 3);
    let replay = send(&partial).await.expect("send");
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert_eq!(replay.json::<Value>().await.expect("json"), first);
    let listed = t.call("GET", &tasks(&user), &user, None).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        t.call("GET", &tasks(&other), &other, None).await.json(),
        json!([theirs])
    );

    let malformed = t
        .call(
            "POST",
            &batch,
            &user,
            Some(json!({"operations": [{"op": "move"}]})),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.detail().contains("operations[0].op"));
}

/// The path a `Link: <...>; rel="next"` names.
fn next_page(answer: &Answer) -> Option<String> {
    let link = answer.header("link")?;
    Some(
        link.strip_prefix('<')
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .expect("a next link")
            .to_owned(),
    )
}

#[tokio::test]
async fn a_tasks_history_is_newest_first_paged_and_only_its_owners() {
    let t = Target::new().await;
    let (alice, bob) = (t.user("alice"), t.user("bob"));
    let task = t.create(&alice, "Buy milk").await;
    let one = format!("{}/{}", tasks(&alice), task["id"].as_str().unwrap());
    let put = t
        .call(
            "PUT",
            &one,
            &alice,
            Some(json!({ "title": "Buy oat milk" })),
        )
        .await;
    assert_eq!(put.status, 200);
    assert_eq!(t.call("DELETE", &one, &alice, None).await.status, 204);
    // In the trash: still its history, newest first.
    let history = format!("{one}/history");
    let whole = t.call("GET", &history, &alice, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("cache-control"), Some("private, no-cache"));
    let entries = whole.json();
    let actions: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["deleted", "updated", "created"]);
    assert_eq!(
        entries[1],
        json!({ "at": put.json()["updated_at"], "action": "updated",
                "changes": { "title": { "from": "Buy milk", "to": "Buy oat milk" } } })
    );
    // Paged: one entry a page, `Link` to the next, the same entries.
    let mut paged = Vec::new();
    let mut path = Some(format!("{history}?limit=1"));
    while let Some(p) = path {
        let page = t.call("GET", &p, &alice, None).await;
        assert_eq!(page.status, 200, "{p}");
        paged.extend(page.json().as_array().unwrap().iter().cloned());
        path = next_page(&page);
    }
    assert_eq!(Value::Array(paged), entries);
    let etag = whole.header("etag").expect("an ETag").to_owned();
    let same = t
        .send(
            "GET",
            &history,
            Some(&t.token(&alice)),
            None::<(&str, Vec<u8>)>,
        )
        .await;
    assert_eq!(same.header("etag"), Some(etag.as_str()));
    // Another user: 403 on alice's path, 404 for her task on his own.
    let bobs = format!("{}/{}/history", tasks(&bob), task["id"].as_str().unwrap());
    assert_eq!(t.call("GET", &history, &bob, None).await.status, 403);
    let answer = t.call("GET", &bobs, &bob, None).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json(), json!({ "detail": "task not found" }));
    let answer = t
        .call("GET", &format!("{history}?cursor=x"), &alice, None)
        .await;
    assert_eq!(answer.status, 400);
    assert!(answer.detail().contains("cursor"));
}

#[tokio::test]
async fn a_copy_kept_by_the_change_feed_ends_equal_to_the_tasks() {
    let t = Target::new().await;
    let (alice, bob) = (t.user("alice"), t.user("bob"));
    let changes = format!("/api/{alice}/changes");
    let mut copy = std::collections::BTreeMap::new();
    let mut since: Option<String> = None;
    let mut sync = async |copy: &mut std::collections::BTreeMap<String, Value>| {
        loop {
            let path = match &since {
                Some(token) => format!("{changes}?limit=2&since={token}"),
                None => format!("{changes}?limit=2"),
            };
            let page = t.call("GET", &path, &alice, None).await;
            assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
            let body = page.json();
            for change in body["changes"].as_array().unwrap() {
                let id = change["id"].as_str().unwrap().to_owned();
                if change["deleted"] == true {
                    copy.remove(&id);
                } else {
                    copy.insert(id, change.clone());
                }
            }
            since = Some(body["next"].as_str().unwrap().to_owned());
            if body["more"] == false {
                return since.clone().unwrap();
            }
        }
    };
    let listed = async || {
        let list = t.call("GET", &tasks(&alice), &alice, None).await.json();
        list.as_array()
            .unwrap()
            .iter()
            .map(|task| (task["id"].as_str().unwrap().to_owned(), task.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            t.create(&alice, &format!("t{n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    sync(&mut copy).await;
    assert_eq!(copy, listed().await);
    let one = |id: &str| format!("{}/{id}", tasks(&alice));
    assert_eq!(
        t.call(
            "PUT",
            &one(&ids[0]),
            &alice,
            Some(json!({ "title": "renamed" }))
        )
        .await
        .status,
        200
    );
    assert_eq!(
        t.call("PATCH", &format!("{}/complete", one(&ids[1])), &alice, None)
            .await
            .status,
        200
    );
    assert_eq!(
        t.call("DELETE", &one(&ids[2]), &alice, None).await.status,
        204
    );
    t.create(&alice, "new").await;
    let token = sync(&mut copy).await;
    assert_eq!(copy, listed().await);
    assert_eq!(copy.len(), 5);

    // Tokens are their user's, and well formed: 400s naming `since`.
    for (user, path) in [
        (&bob, format!("/api/{bob}/changes?since={token}")),
        (&alice, format!("{changes}?since=garbage")),
    ] {
        let answer = t.call("GET", &path, user, None).await;
        assert_eq!(answer.status, 400, "{path}");
        assert!(answer.detail().starts_with("since"));
    }
    assert_eq!(t.call("GET", &changes, &bob, None).await.status, 403);
    // A token ahead of the user's changes (never issued here): 410.
    let mut ahead = shared::sync_token::Token::decode(&token, &alice).unwrap();
    ahead.position = shared::sync_token::Position::Since(1_000_000);
    let answer = t
        .call(
            "GET",
            &format!("{changes}?since={}", ahead.encode()),
            &alice,
            None,
        )
        .await;
    assert_eq!(answer.status, 410);
    assert!(answer.detail().starts_with("since"));
}

/// Search through the deployed path: POST writes the words, `q` finds
/// tasks by word prefixes (every word, any case, not mid-word), in the
/// list's sort.
#[tokio::test]
async fn search_finds_tasks_by_the_start_of_their_words() {
    let t = Target::new().await;
    let user = t.user("searcher");
    let mut ids = Vec::new();
    for title in ["Buy milk", "Walk the dog", "buy MILLET seeds", "Silk"] {
        ids.push(
            t.create(&user, title).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let found = |answer: &Answer| -> Vec<String> {
        assert_eq!(answer.status, 200);
        answer
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, expected) in [
        ("q=mil", vec![ids[2].clone(), ids[0].clone()]),
        (
            "q=buy%20mi&sort=created_at",
            vec![ids[0].clone(), ids[2].clone()],
        ),
        ("q=BUY%20milk", vec![ids[0].clone()]),
        ("q=ilk", vec![]),
        ("q=dog%20walk", vec![ids[1].clone()]),
    ] {
        let answer = t
            .call("GET", &format!("{}?{query}", tasks(&user)), &user, None)
            .await;
        assert_eq!(found(&answer), expected, "{query}");
    }
}
