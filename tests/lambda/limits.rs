//! Responses Lambda will deliver. A synchronous Lambda response document
//! over 6,291,556 bytes is refused (API Gateway then answers 500), and
//! neither `cargo lambda watch` nor `sam local` enforces that. So: the
//! largest list pages of worst-case tasks, serialised exactly as the
//! runtime POSTs them, in-process and from the real function binary.

use integration_tests::{
    SECRET, TestDb, function_binary, runtime_api::RuntimeApi, token, workspace,
};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use serde_json::{Value, json};
use shared::{AppState, lambda::MAX_RESPONSE_BYTES, task::MAX_PAGE_BODY_BYTES};
use tokio_postgres::types::Type;

/// Tasks per user: one more than the default page of 1000.
const TASKS: i64 = 1001;

/// Two worst cases: the most JSON per task (control characters, written
/// `\u0001`; a user id of 255 four-byte characters), and the most bytes in
/// the Lambda document per byte of body (`"` and `\`, escaped once in the
/// body and again in the document).
fn worst_users() -> [(String, String, String); 2] {
    [
        ("𝕏".repeat(255), "\u{1}".repeat(255), "\u{1f}".repeat(1000)),
        ("\"".repeat(255), "\"".repeat(255), "\\".repeat(1000)),
    ]
}

/// `TASKS` tasks for `user`, each with that title and description, one
/// millisecond apart; their ids, newest first.
async fn seed(db: &TestDb, user: &str, title: &str, description: &str) -> Vec<String> {
    let client = db.client().await;
    client
        .query_typed(
            "WITH owner AS (INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING)
             INSERT INTO tasks (id, user_id, title, description, created_at, updated_at)
             SELECT gen_random_uuid(), $1, $2, $3, t, t
             FROM generate_series(1, $4) AS n,
                  LATERAL (SELECT now() - n * interval '1 millisecond' AS t) AS at",
            &[
                (&user, Type::TEXT),
                (&title, Type::TEXT),
                (&description, Type::TEXT),
                (&TASKS, Type::INT8),
            ],
        )
        .await
        .expect("seed");
    client
        .query_typed(
            "SELECT id::text FROM tasks WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
            &[(&user, Type::TEXT)],
        )
        .await
        .expect("ids")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The HTTP API event of `GET /api/{user}/tasks?{query}` with a token for `user`.
fn list_event(user: &str, query: &str) -> Value {
    let fixture = std::fs::read_to_string(workspace().join("events/list-tasks.json")).unwrap();
    let mut event: Value = serde_json::from_str(&fixture).unwrap();
    let path = shared::response::tasks_path(user);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["queryStringParameters"] = json!({});
    event["pathParameters"] = json!({ "user_id": user });
    event["headers"]["authorization"] = json!(format!("Bearer {}", token(user)));
    event
}

/// Checks one Lambda response document against what Lambda and the
/// contract allow; returns the page's ids and the next query, if any.
fn check_page(document: &[u8]) -> (Vec<String>, Option<String>) {
    assert!(
        document.len() < MAX_RESPONSE_BYTES,
        "a {} byte response: Lambda refuses it",
        document.len()
    );
    let response: ApiGatewayV2httpResponse = serde_json::from_slice(document).unwrap();
    assert_eq!(response.status_code, 200);
    assert!(!response.is_base64_encoded, "JSON goes out as text");
    let body = match response.body {
        Some(lambda_http::Body::Text(text)) => text,
        other => panic!("body {other:?}"),
    };
    assert!(
        body.len() <= MAX_PAGE_BODY_BYTES,
        "a {} byte body",
        body.len()
    );
    let tasks: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert!(!tasks.is_empty());
    let ids = tasks
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    let next = response.headers.get("link").map(|link| {
        let link = link.to_str().unwrap();
        assert!(link.ends_with(r#">; rel="next""#), "{link}");
        let target = link.trim_start_matches('<').split('>').next().unwrap();
        target.split_once('?').unwrap().1.to_owned()
    });
    (ids, next)
}

/// The first page of each worst case, through lambda_http's own
/// conversions in-process: it ends early, under both limits, and says
/// where the rest is.
#[tokio::test]
async fn the_largest_pages_fit_in_a_lambda_response() {
    let db = TestDb::new().await;
    let state = AppState::new(&db.config()).unwrap();
    for (user, title, description) in worst_users() {
        let ids = seed(&db, &user, &title, &description).await;
        let event = serde_json::from_value(list_event(&user, "")).unwrap();
        let document = shared::lambda::invoke(event, |req| list_tasks::handler(req, &state)).await;
        let (page, next) = check_page(&document);
        assert!(page.len() < 1000, "the body limit ended the page");
        assert_eq!(page, ids[..page.len()]);
        let next = next.expect("a next link");
        assert!(next.starts_with("limit=1000&cursor="), "{next}");
        eprintln!("{} tasks, a {} byte document", page.len(), document.len());
    }
}

/// The real `list-tasks` binary, under its real Lambda runtime, against a
/// Runtime API that keeps the bytes it POSTs: walking every page of each
/// worst case sees every task once, in order, each page within the limits.
#[tokio::test(flavor = "multi_thread")]
async fn the_real_function_walks_every_page_of_the_largest_tasks() {
    let db = TestDb::new().await;
    let api = RuntimeApi::start().await;
    let log = std::env::temp_dir().join(format!("list-tasks-{}.log", uuid::Uuid::now_v7()));
    let (binary, runner) = function_binary("list-tasks");
    let _function = api.spawn_function(
        &binary,
        &runner,
        &[("DATABASE_URL", &db.url), ("BETTER_AUTH_SECRET", SECRET)],
        &log,
    );
    for (user, title, description) in worst_users() {
        let ids = seed(&db, &user, &title, &description).await;
        let mut seen = Vec::new();
        let mut query = String::new();
        let mut pages = 0;
        loop {
            let event = serde_json::to_vec(&list_event(&user, &query)).unwrap();
            let document = api.invoke(&event).await;
            let (page, next) = check_page(&document);
            seen.extend(page);
            pages += 1;
            match next {
                Some(next) => query = next,
                None => break,
            }
        }
        assert!(pages > 1);
        assert_eq!(seen, ids, "every task once, newest first");
    }
    let _ = std::fs::remove_file(&log);
}

/// The largest batch answer: 100 operations each answered with a task of
/// the most JSON, from a small request (an update of `priority` answers
/// the whole stored task). Seeded with 20 labels of 50 characters each.
async fn seed_batch(db: &TestDb, user: &str, title: &str, description: &str) -> Vec<String> {
    let client = db.client().await;
    let labels: Vec<String> = (0..20)
        .map(|i| {
            format!(
                "{}{}",
                title.chars().next().unwrap().to_string().repeat(49),
                char::from(b'a' + i)
            )
        })
        .collect();
    client
        .query_typed(
            "WITH owner AS (INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING)
             INSERT INTO tasks (id, user_id, title, description, labels)
             SELECT gen_random_uuid(), $1, $2, $3, $4 FROM generate_series(1, 100)
             RETURNING id::text",
            &[
                (&user, Type::TEXT),
                (&title, Type::TEXT),
                (&description, Type::TEXT),
                (&labels, Type::TEXT_ARRAY),
            ],
        )
        .await
        .expect("seed")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The HTTP API event of a batch updating each of `ids`.
fn batch_event(user: &str, ids: &[String]) -> Value {
    let fixture = std::fs::read_to_string(workspace().join("events/batch-tasks.json")).unwrap();
    let mut event: Value = serde_json::from_str(&fixture).unwrap();
    let path = format!("{}/batch", shared::response::tasks_path(user));
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["pathParameters"] = json!({ "user_id": user });
    event["headers"]["authorization"] = json!(format!("Bearer {}", token(user)));
    event["headers"]
        .as_object_mut()
        .unwrap()
        .remove("content-length");
    let operations: Vec<Value> = ids
        .iter()
        .map(|id| json!({"op": "update", "id": id, "task": {"priority": 1}}))
        .collect();
    event["body"] = json!(json!({ "operations": operations }).to_string());
    event
}

/// Checks a batch's Lambda response document: within Lambda's limit, as
/// text, 100 results of 200 with the worst tasks. Returns its size.
fn check_batch(document: &[u8], title: &str) -> usize {
    assert!(
        document.len() < MAX_RESPONSE_BYTES,
        "a {} byte response: Lambda refuses it",
        document.len()
    );
    let response: ApiGatewayV2httpResponse = serde_json::from_slice(document).unwrap();
    assert_eq!(response.status_code, 200);
    assert!(!response.is_base64_encoded, "JSON goes out as text");
    let body = match response.body {
        Some(lambda_http::Body::Text(text)) => text,
        other => panic!("body {other:?}"),
    };
    let results: Value = serde_json::from_str(&body).unwrap();
    let results = results["results"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    for result in results {
        assert_eq!(result["status"], 200, "{}", result["detail"]);
        assert_eq!(result["task"]["title"], title);
        assert_eq!(result["task"]["labels"].as_array().unwrap().len(), 20);
    }
    document.len()
}

/// The worst-case batch answer fits in a Lambda response, in-process and
/// from the real `batch-tasks` binary under its Lambda runtime.
#[tokio::test(flavor = "multi_thread")]
async fn the_largest_batch_answer_fits_in_a_lambda_response() {
    let db = TestDb::new().await;
    let state = AppState::new(&db.config()).unwrap();
    let api = RuntimeApi::start().await;
    let log = std::env::temp_dir().join(format!("batch-tasks-{}.log", uuid::Uuid::now_v7()));
    let (binary, runner) = function_binary("batch-tasks");
    let _function = api.spawn_function(
        &binary,
        &runner,
        &[("DATABASE_URL", &db.url), ("BETTER_AUTH_SECRET", SECRET)],
        &log,
    );
    for (user, title, description) in worst_users() {
        let ids = seed_batch(&db, &user, &title, &description).await;
        let event = batch_event(&user, &ids);
        let request = serde_json::from_value(event.clone()).unwrap();
        let document =
            shared::lambda::invoke(request, |req| batch_tasks::handler(req, &state)).await;
        let size = check_batch(&document, &title);
        let document = api.invoke(&serde_json::to_vec(&event).unwrap()).await;
        assert!(check_batch(&document, &title) > size / 2);
        eprintln!("100 worst-case results: a {size} byte document");
    }
    let _ = std::fs::remove_file(&log);
}

/// The HTTP API event of `GET /api/{user}/trash?{query}` with a token for `user`.
fn trash_event(user: &str, query: &str) -> Value {
    let fixture = std::fs::read_to_string(workspace().join("events/list-trash.json")).unwrap();
    let mut event: Value = serde_json::from_str(&fixture).unwrap();
    let path = shared::response::trash_path(user);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["queryStringParameters"] = json!({});
    event["pathParameters"] = json!({ "user_id": user });
    event["headers"]["authorization"] = json!(format!("Bearer {}", token(user)));
    event
}

/// The trash pages as the task list's: each worst case, all in the trash
/// (moved there by SQL, one millisecond apart, oldest deleted first), is
/// walked through `Link` in pages that end early under both limits, every
/// task once, last deleted first.
#[tokio::test]
async fn the_largest_trash_pages_fit_in_a_lambda_response() {
    let db = TestDb::new().await;
    let state = AppState::new(&db.config()).unwrap();
    let client = db.client().await;
    for (user, title, description) in worst_users() {
        let ids = seed(&db, &user, &title, &description).await;
        client
            .query_typed(
                "WITH gone AS (DELETE FROM tasks WHERE user_id = $1 RETURNING *)
                 INSERT INTO trashed_tasks (id, user_id, title, description, completed,
                     created_at, updated_at, due_date, due_at, time_zone, due_by, priority,
                     labels, title_words, description_words, seq, deleted_at, purge_after)
                 SELECT id, user_id, title, description, completed, created_at, updated_at,
                     due_date, due_at, time_zone, due_by, priority, labels, title_words,
                     description_words, seq, d, d + interval '720 hours'
                 FROM gone, LATERAL (SELECT created_at + interval '1 hour' AS d) AS at",
                &[(&user, Type::TEXT)],
            )
            .await
            .expect("to the trash");
        let mut seen = Vec::new();
        let mut query = String::new();
        let mut pages = 0;
        loop {
            let event = serde_json::from_value(trash_event(&user, &query)).unwrap();
            let document =
                shared::lambda::invoke(event, |req| list_trash::handler(req, &state)).await;
            let (page, next) = check_page(&document);
            if pages == 0 {
                assert!(page.len() < 1000, "the body limit ended the page");
            }
            seen.extend(page);
            pages += 1;
            match next {
                Some(next) => {
                    assert!(next.starts_with("limit=1000&cursor="), "{next}");
                    query = next;
                }
                None => break,
            }
        }
        assert!(pages > 1);
        assert_eq!(seen, ids, "every task once, last deleted first");
    }
}

/// The page budget holds for a searched, filtered and sorted list too: each
/// worst case, given a search word, walked with `q`, two filters and
/// another sort through `Link` (which keeps them), ends its first page
/// early, keeps every page within both limits and sees every task once,
/// in that sort's order.
#[tokio::test]
async fn the_largest_searched_filtered_sorted_pages_fit_in_a_lambda_response() {
    let db = TestDb::new().await;
    let state = AppState::new(&db.config()).unwrap();
    let client = db.client().await;
    let query = "q=wor&priority=0&has_due=false&sort=-updated_at";
    for (user, title, description) in worst_users() {
        let ids = seed(&db, &user, &title, &description).await;
        // The seeded titles hold no letter or digit: give them the word
        // the API would make of "Worst".
        client
            .query_typed(
                "UPDATE tasks SET title_words = array_to_tsvector(ARRAY['worst'])
                 WHERE user_id = $1",
                &[(&user, Type::TEXT)],
            )
            .await
            .expect("words");
        let mut seen = Vec::new();
        let mut next_query = query.to_owned();
        let mut pages = 0;
        loop {
            let event = serde_json::from_value(list_event(&user, &next_query)).unwrap();
            let document =
                shared::lambda::invoke(event, |req| list_tasks::handler(req, &state)).await;
            let (page, next) = check_page(&document);
            if pages == 0 {
                assert!(page.len() < 1000, "the body limit ended the page");
            }
            seen.extend(page);
            pages += 1;
            match next {
                Some(next) => {
                    for part in query.split('&') {
                        assert!(next.split('&').any(|p| p == part), "{part} kept: {next}");
                    }
                    next_query = next;
                }
                None => break,
            }
        }
        assert!(pages > 1);
        // updated_at is created_at in the seed: the same order as `ids`.
        assert_eq!(seen, ids, "every task once, last updated first");
    }
}
