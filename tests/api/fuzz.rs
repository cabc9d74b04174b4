//! Fuzzing, with a fixed budget: random API Gateway events — paths, query
//! strings, headers, bodies (JSON-shaped and raw bytes, plain or base64) —
//! through lambda_http's own event parsing and every validator and the
//! token check. Nothing panics; every refusal is a 4xx; everything accepted
//! obeys the rules of the contract (docs/contract.md).

use proptest::prelude::*;
use serde_json::{Value, json};
use shared::{auth::Authenticator, config::Config, endpoint, validation};

/// Cases per property; the CI budget (`FUZZ_CASES` overrides it).
fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// Text biased towards what breaks parsers: edges of the limits, white
/// space, NULs, escapes, surrogates' neighbours, multi-byte characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,20}",
        "[ \t\n\u{3000}\u{200b}a-zé✓\u{0}]{0,300}",
        (0usize..1100, "[a-zé✓ ]").prop_map(|(n, c)| c.repeat(n)),
        Just(String::new()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("title".to_owned()),
                        Just("description".to_owned()),
                        Just("completed".to_owned()),
                        "[a-z]{1,8}"
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A body: a task-shaped object, any JSON, or arbitrary bytes.
fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    let task = (
        prop::option::of(prop_oneof![text().prop_map(Value::from), json_value()]),
        prop::option::of(prop_oneof![text().prop_map(Value::from), json_value()]),
        prop::option::of(prop_oneof![
            any::<bool>().prop_map(Value::from),
            json_value()
        ]),
    )
        .prop_map(|(title, description, completed)| {
            let mut o = serde_json::Map::new();
            title.map(|v| o.insert("title".into(), v));
            description.map(|v| o.insert("description".into(), v));
            completed.map(|v| o.insert("completed".into(), v));
            Value::Object(o).to_string().into_bytes()
        });
    prop_oneof![
        4 => task.prop_map(Some),
        2 => json_value().prop_map(|v| Some(v.to_string().into_bytes())),
        2 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Some),
        1 => Just(None),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("application/json".to_owned()),
        Just("application/json; charset=utf-8".to_owned()),
        Just("APPLICATION/JSON".to_owned()),
        Just("text/plain".to_owned()),
        Just("application/x-www-form-urlencoded".to_owned()),
        "[a-z/+;= -]{0,30}",
    ])
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![Just("completed"), Just("limit"), Just("cursor"), Just("x")];
    let value = prop_oneof![
        Just("true".to_owned()),
        Just("false".to_owned()),
        (0i64..1200).prop_map(|n| n.to_string()),
        "[A-Za-z0-9_%-]{0,40}",
    ];
    prop::collection::vec((key, value), 0..4).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn task_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(uuid::Uuid::now_v7().to_string()),
        "[0-9a-fA-F-]{30,40}",
        ".{0,40}",
        Just("../x".to_owned()),
    ]
}

/// The API Gateway HTTP API event, as JSON, turned into a request by
/// lambda_http exactly as in Lambda.
fn request(
    id: &str,
    query: &str,
    content_type: &Option<String>,
    authorization: &str,
    body: &Option<Vec<u8>>,
    base64: bool,
) -> Option<lambda_http::Request> {
    let mut headers = serde_json::Map::new();
    if let Some(ct) = content_type {
        headers.insert("content-type".into(), json!(ct));
    }
    headers.insert("authorization".into(), json!(authorization));
    let (body, is_base64) = match body {
        None => (Value::Null, false),
        Some(bytes) if base64 || std::str::from_utf8(bytes).is_err() => {
            use base64::Engine;
            (
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                true,
            )
        }
        Some(bytes) => (json!(String::from_utf8_lossy(bytes)), false),
    };
    let event = json!({
        "version": "2.0",
        "routeKey": "PUT /api/{user_id}/tasks/{task_id}",
        "rawPath": "/api/u1/tasks/x",
        "rawQueryString": query,
        "headers": headers,
        "pathParameters": { "user_id": "u1", "task_id": id },
        "requestContext": {
            "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
            "http": { "method": "PUT", "path": "/api/u1/tasks/x", "protocol": "HTTP/1.1",
                      "sourceIp": "127.0.0.1", "userAgent": "fuzz" },
            "requestId": "r", "routeKey": "PUT /api/{user_id}/tasks/{task_id}",
            "stage": "$default", "time": "1/Jan/2026:00:00:00 +0000", "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    let parsed: lambda_http::request::LambdaRequest = serde_json::from_value(event).ok()?;
    Some(lambda_http::Request::from(parsed))
}

fn refusal_is_4xx(what: &str, e: &shared::ApiError) -> Result<(), TestCaseError> {
    let status = e.status().as_u16();
    prop_assert!((400..500).contains(&status), "{what}: {status} {e}");
    prop_assert!(!e.to_string().is_empty());
    Ok(())
}

fn check_title(t: &str) -> Result<(), TestCaseError> {
    let n = t.chars().count();
    prop_assert!((1..=255).contains(&n), "title of {n} characters accepted");
    prop_assert_eq!(t.trim(), t, "title not trimmed");
    prop_assert!(!t.contains('\0'));
    Ok(())
}

fn check_description(d: &str) -> Result<(), TestCaseError> {
    prop_assert!(d.chars().count() <= 1000);
    prop_assert!(!d.contains('\0'));
    Ok(())
}

fn authenticator() -> Authenticator {
    let config = Config::from_source(&|k: &str| match k {
        "DATABASE_URL" => Some("postgres://127.0.0.1:1/none".into()),
        "BETTER_AUTH_SECRET" => Some("fuzz-secret-at-least-32-bytes-long".into()),
        _ => None,
    })
    .expect("config");
    Authenticator::new(&config.auth, &shared::tls::Tls::default()).expect("authenticator")
}

/// Every numeric setting (docs/operations.md, "Configuration").
const NUMERIC_SETTINGS: [&str; 12] = [
    "MAX_TASKS_PER_USER",
    "DB_POOL_MAX_SIZE",
    "DB_CONNECT_TIMEOUT_MS",
    "DB_STATEMENT_TIMEOUT_MS",
    "DB_POOL_TIMEOUT_MS",
    "DB_IDLE_CHECK_AFTER_MS",
    "JWT_LEEWAY_SECONDS",
    "JWKS_FETCH_TIMEOUT_MS",
    "JWKS_MIN_REFRESH_SECONDS",
    "JWKS_CACHE_MIN_SECONDS",
    "JWKS_CACHE_MAX_SECONDS",
    "JWKS_MAX_STALE_SECONDS",
];

/// A value for a numeric setting: anything from small numbers to past
/// u64, negative, fractional, or not a number.
fn setting_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100_000).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[0-9]{19,30}",
        "[ 0-9.eE+-]{0,12}",
        ".{0,8}",
    ]
}

/// What a function does with a loaded configuration: build its state, add
/// each duration to now (as the timers and the key-set cache do), and
/// verify a good and an expired token. A panic anywhere fails the case.
fn use_config(config: &Config) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let state = shared::AppState::new(config).expect("state from a loaded config");
        let now = std::time::Instant::now();
        let db = &config.db;
        for d in [
            db.connect_timeout,
            db.statement_timeout,
            db.pool_wait_timeout,
            db.idle_check_after,
            config.worst_case_answer(),
        ] {
            let _ = now + d;
        }
        if let Some(jwks) = &config.auth.jwks {
            let _ = now + jwks.max_max_age + jwks.max_stale + jwks.min_refresh_interval;
            let _ = now + jwks.fetch_timeout;
        }
        let mut headers = lambda_http::http::HeaderMap::new();
        for (exp, ok) in [(now_secs() + 600, true), (1, false)] {
            let claims = json!({ "sub": "alice", "iss": ISSUER, "aud": ISSUER, "exp": exp });
            let token = integration_tests::sign(claims);
            headers.insert(
                "authorization",
                format!("Bearer {token}").parse().expect("header"),
            );
            let verdict = state.auth.authenticate(&headers).await;
            prop_assert_eq!(verdict.is_ok(), ok, "{:?}", verdict.err());
        }
        Ok(())
    })
}

const ISSUER: &str = "https://auth.example.com";

fn now_secs() -> u64 {
    integration_tests::now()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // No regression files: the seed of a failure is printed instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn validators_refuse_with_4xx_and_accept_only_valid_input(
        id in task_id(),
        query in query(),
        content_type in content_type(),
        body in body(),
        base64 in any::<bool>(),
    ) {
        let Some(req) = request(&id, &query, &content_type, "Bearer x", &body, base64) else {
            return Ok(()); // not an event lambda_http accepts: never reaches us
        };
        match validation::new_task(&req) {
            Ok(task) => {
                check_title(&task.title)?;
                if let Some(d) = &task.description { check_description(d)?; }
            }
            Err(e) => refusal_is_4xx("POST body", &e)?,
        }
        match validation::task_changes(&req) {
            Ok(changes) => {
                prop_assert!(changes.title.is_some() || changes.description.is_some() || changes.completed.is_some(), "empty change accepted");
                if let Some(t) = &changes.title { check_title(t)?; }
                if let Some(Some(d)) = &changes.description { check_description(d)?; }
            }
            Err(e) => refusal_is_4xx("PUT body", &e)?,
        }
        if let Err(e) = validation::completion(&req) {
            refusal_is_4xx("PATCH body", &e)?;
        }
        match validation::list_query(&req) {
            Ok(q) => prop_assert!((1..=1000).contains(&q.limit)),
            Err(e) => refusal_is_4xx("query", &e)?,
        }
        match endpoint::task_id(&req) {
            Ok(parsed) => prop_assert_eq!(parsed.to_string(), id.to_lowercase()),
            Err(e) => refusal_is_4xx("task id", &e)?,
        }
    }

    #[test]
    fn garbage_tokens_are_401(token in prop_oneof![
        ".{0,200}",
        "[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{1,200}\\.[A-Za-z0-9_-]{0,90}",
        "eyJ[A-Za-z0-9_-]{10,80}\\.[A-Za-z0-9_-]{0,100}\\.[A-Za-z0-9_-]{0,50}",
    ], scheme in prop_oneof![Just("Bearer "), Just("bearer "), Just("Basic "), Just("")]) {
        let auth = authenticator();
        let mut headers = lambda_http::http::HeaderMap::new();
        if let Ok(value) = format!("{scheme}{token}").parse() {
            headers.insert("authorization", value);
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        match rt.block_on(auth.authenticate(&headers)) {
            Ok(user) => prop_assert!(false, "a random token passed as {:?}", user),
            Err(e) => prop_assert_eq!(e.status().as_u16(), 401, "{}", e),
        }
    }
}

proptest! {
    // Each case builds a whole state (a TLS context among it): a tenth of
    // the budget covers every setting many times over.
    #![proptest_config(ProptestConfig {
        cases: cases() / 10,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any value of any numeric setting either loads or is refused naming
    /// that setting; a loaded configuration never panics where it is used.
    #[test]
    fn numeric_settings_load_or_are_refused_by_name(
        values in proptest::collection::btree_map(
            proptest::sample::select(NUMERIC_SETTINGS.to_vec()),
            setting_value(),
            1..4,
        ),
    ) {
        let fixed = [
            ("DATABASE_URL", "postgres://127.0.0.1:1/none"),
            ("BETTER_AUTH_SECRET", integration_tests::SECRET),
            ("ALLOW_HS256", "true"),
            ("JWKS_URL", "http://127.0.0.1:1/jwks"),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", ISSUER),
        ];
        let source = |name: &str| {
            values
                .get(name)
                .cloned()
                .or_else(|| fixed.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
        };
        match Config::from_source(&source) {
            Ok(config) => use_config(&config)?,
            Err(e) => prop_assert!(
                values.contains_key(e.name)
                    // Their relation: the floor above the ceiling.
                    || (e.name == "JWKS_CACHE_MIN_SECONDS"
                        && values.contains_key("JWKS_CACHE_MAX_SECONDS")),
                "{} named for {:?}",
                e,
                values
            ),
        }
    }
}
