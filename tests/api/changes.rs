//! The change feed (API.md "Sync: changes since"): a first sync of every
//! live task, then every change since a token, each once in its latest
//! state, tombstones for the trash and for tasks gone for good; pages by
//! `limit` and the byte budget; tokens bound to their user; the 410s; and
//! the tombstones' 90-day bound, purged without a scheduler. The guarantee
//! under concurrent writers is `database::sync`'s.

use std::collections::BTreeMap;

use integration_tests::*;
use serde_json::{Value, json};
use shared::sync_token::{Position, Token, user_tag};

async fn send(app: &TestApp, method: Method, path: &str, user: &str, body: Option<Value>) -> Reply {
    let body = body.map(|b| (Some("application/json"), b.to_string().into()));
    app.send_with(method, path, Some(&token(user)), &[], body)
        .await
}

/// One page: `since` and `limit` as given.
async fn changes(app: &TestApp, user: &str, since: Option<&str>, limit: Option<usize>) -> Reply {
    let mut query = Vec::new();
    if let Some(since) = since {
        query.push(format!("since={since}"));
    }
    if let Some(limit) = limit {
        query.push(format!("limit={limit}"));
    }
    let path = format!("/api/{user}/changes?{}", query.join("&"));
    send(app, Method::GET, &path, user, None).await
}

/// A copy kept in step by applying pages: task id to its JSON.
#[derive(Default)]
struct Replica {
    tasks: BTreeMap<String, Value>,
    since: Option<String>,
    pages: usize,
}

impl Replica {
    /// Applies pages until `more` is false; the changes it applied.
    async fn sync(&mut self, app: &TestApp, user: &str, limit: Option<usize>) -> Vec<Value> {
        let mut applied = Vec::new();
        loop {
            let page = changes(app, user, self.since.as_deref(), limit).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.json);
            let body = page.json.as_object().unwrap();
            assert_eq!(body.len(), 3, "{}", page.json);
            let list = body["changes"].as_array().unwrap();
            if let Some(limit) = limit {
                assert!(list.len() <= limit);
            }
            let mut ids: Vec<&str> = list.iter().map(|c| c["id"].as_str().unwrap()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), list.len(), "each task once a page");
            for change in list {
                self.apply(change);
            }
            applied.extend(list.iter().cloned());
            self.since = Some(body["next"].as_str().unwrap().to_owned());
            self.pages += 1;
            if !body["more"].as_bool().unwrap() {
                return applied;
            }
        }
    }

    fn apply(&mut self, change: &Value) {
        let id = change["id"].as_str().unwrap().to_owned();
        if change.get("deleted").is_some() {
            assert_eq!(change.as_object().unwrap().len(), 3, "{change}");
            assert_eq!(change["deleted"], true);
            assert!(is_rfc3339_micros_z(change["deleted_at"].as_str().unwrap()));
            self.tasks.remove(&id);
        } else {
            assert_eq!(change.as_object().unwrap().len(), 12, "{change}");
            self.tasks.insert(id, change.clone());
        }
    }
}

/// The server's tasks of `user`, as GET returns them.
async fn server_tasks(app: &TestApp, user: &str) -> BTreeMap<String, Value> {
    let list: Vec<Value> = app.get_json(&format!("/api/{user}/tasks"), user).await;
    list.into_iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t))
        .collect()
}

fn task_path(user: &str, id: &str) -> String {
    format!("/api/{user}/tasks/{id}")
}

async fn sql(app: &TestApp, statements: &str) {
    app.db
        .client()
        .await
        .batch_execute(statements)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_first_sync_has_every_live_task_then_each_change_once_in_its_latest_state() {
    let app = TestApp::spawn().await;
    // No write ever: an empty first page, and a token that works later.
    let mut replica = Replica::default();
    assert!(replica.sync(&app, "u", None).await.is_empty());

    let a = app.create("u", "a").await;
    let b = app.create("u", "b").await;
    let c = app.create("u", "c").await;
    let trashed = app.create("u", "trashed early").await;
    let id = |t: &Value| t["id"].as_str().unwrap().to_owned();
    let del = send(
        &app,
        Method::DELETE,
        &task_path("u", &id(&trashed)),
        "u",
        None,
    )
    .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    app.create("v", "another user's").await;

    // A new copy: every live task as GET returns it, not the trash.
    let mut fresh = Replica::default();
    let first = fresh.sync(&app, "u", None).await;
    assert_eq!(first.len(), 3, "{first:?}");
    assert_eq!(fresh.tasks, server_tasks(&app, "u").await);
    // The older copy learns the same, and the trashed one's tombstone.
    let applied = replica.sync(&app, "u", None).await;
    assert_eq!(replica.tasks, server_tasks(&app, "u").await);
    assert!(
        applied
            .iter()
            .any(|c| c["id"] == id(&trashed) && c["deleted"] == true)
    );

    // Nothing changed: an empty page, `more` false.
    let quiet = changes(&app, "u", fresh.since.as_deref(), None).await;
    assert_eq!(quiet.json["changes"], json!([]));
    assert_eq!(quiet.json["more"], false);

    // Two PUTs of one task come once, in the latest state; a trashed task
    // comes as its tombstone with the trash's deleted_at; another user's
    // changes never come.
    for title in ["a1", "a2"] {
        let r = send(
            &app,
            Method::PUT,
            &task_path("u", &id(&a)),
            "u",
            Some(json!({"title": title})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    send(&app, Method::DELETE, &task_path("u", &id(&b)), "u", None).await;
    app.create("v", "another one").await;
    let d = app.create("u", "d").await;
    let applied = fresh.sync(&app, "u", None).await;
    let ids: Vec<String> = applied.iter().map(id).collect();
    assert_eq!(ids, [id(&a), id(&b), id(&d)], "oldest change first");
    assert_eq!(applied[0]["title"], "a2");
    assert_eq!(
        applied[0],
        app.get_json::<Value>(&task_path("u", &id(&a)), "u").await
    );
    let deleted_at: chrono::DateTime<chrono::Utc> = app
        .db
        .client()
        .await
        .query_typed(
            "SELECT deleted_at FROM trashed_tasks WHERE id = $1",
            &[(
                &uuid::Uuid::parse_str(&id(&b)).unwrap(),
                tokio_postgres::types::Type::UUID,
            )],
        )
        .await
        .unwrap()[0]
        .get(0);
    let deleted_at = deleted_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    assert_eq!(
        applied[1],
        json!({"id": id(&b), "deleted": true, "deleted_at": deleted_at})
    );
    assert_eq!(fresh.tasks, server_tasks(&app, "u").await);
    assert!(fresh.tasks.contains_key(&id(&c)));
}

#[tokio::test]
async fn pages_split_by_limit_lose_no_task_written_by_hand_with_seq_0() {
    let app = TestApp::spawn().await;
    app.create("u", "by the API").await;
    // Rows written by hand: seq 0 (migration 0006's default), and one
    // `created_at` for them all, so only the id tells them apart.
    sql(
        &app,
        "INSERT INTO tasks (id, user_id, title, created_at, updated_at)
         SELECT gen_random_uuid(), 'u', 'seeded ' || g, '2026-01-01Z', '2026-01-01Z'
         FROM generate_series(1, 7) g",
    )
    .await;
    for limit in [1, 2, 3, 1000] {
        let mut replica = Replica::default();
        replica.sync(&app, "u", Some(limit)).await;
        assert_eq!(replica.tasks.len(), 8, "limit {limit}");
        assert_eq!(
            replica.tasks,
            server_tasks(&app, "u").await,
            "limit {limit}"
        );
        assert_eq!(replica.pages, 8usize.div_ceil(limit), "limit {limit}");
    }
}

#[tokio::test]
async fn writes_between_the_pages_of_a_first_sync_are_not_lost() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(
            app.create("u", &format!("t{n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Newest first: page one holds t5 and t4.
    let mut replica = Replica::default();
    let page = changes(&app, "u", None, Some(2)).await;
    assert_eq!(page.json["more"], true);
    for change in page.json["changes"].as_array().unwrap() {
        replica.apply(change);
    }
    replica.since = Some(page.json["next"].as_str().unwrap().to_owned());
    // Meanwhile: a task not yet walked is changed, one walked is
    // trashed, one not walked is trashed, a new one is made.
    send(
        &app,
        Method::PUT,
        &task_path("u", &ids[0]),
        "u",
        Some(json!({"title": "t0 changed"})),
    )
    .await;
    send(&app, Method::DELETE, &task_path("u", &ids[5]), "u", None).await;
    send(&app, Method::DELETE, &task_path("u", &ids[1]), "u", None).await;
    app.create("u", "new").await;
    replica.sync(&app, "u", Some(2)).await;
    assert_eq!(replica.tasks, server_tasks(&app, "u").await);
    assert_eq!(replica.tasks[&ids[0]]["title"], "t0 changed");
}

#[tokio::test]
async fn tombstones_of_tasks_gone_for_good_are_changes() {
    let app = TestApp::spawn().await;
    let gone = app.create("u", "gone").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut replica = Replica::default();
    replica.sync(&app, "u", None).await;
    assert!(replica.tasks.contains_key(&gone));
    // Trashed, then gone for good (as DELETE /trash does it: the same seq,
    // the tombstone kept, the history gone): one tombstone.
    send(&app, Method::DELETE, &task_path("u", &gone), "u", None).await;
    sql(
        &app,
        &format!(
            "WITH g AS (DELETE FROM trashed_tasks WHERE id = '{gone}' RETURNING user_id, id, seq, deleted_at)
             INSERT INTO task_tombstones (user_id, id, seq, deleted_at) SELECT * FROM g"
        ),
    )
    .await;
    let applied = replica.sync(&app, "u", None).await;
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["id"], gone.as_str());
    assert_eq!(applied[0]["deleted"], true);
    assert!(replica.tasks.is_empty());
}

#[tokio::test]
async fn a_page_ends_before_its_byte_budget_and_says_more() {
    let app = TestApp::spawn().await;
    for n in 0..30 {
        let body = json!({"title": format!("t{n}"), "description": "d".repeat(1000)});
        let r = send(&app, Method::POST, "/api/u/tasks", "u", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut headers = lambda_http::http::HeaderMap::new();
    let bearer = format!("Bearer {}", token("u"));
    headers.insert("authorization", bearer.parse().unwrap());
    let user = app.state.auth.authorize(&headers, "u").await.unwrap();
    // 30 tasks of about 1.3 KB, in pages of at most 8 KB: the walk, then
    // by seq (the same tasks, changed).
    let mut since = None;
    let mut seen = std::collections::BTreeSet::new();
    let mut pages = 0;
    loop {
        let query = shared::input::ChangesQuery { since, limit: 1000 };
        let page = shared::changes::page(&app.state.tasks, &user, &query, 8 * 1024)
            .await
            .unwrap();
        assert!(page.body.len() <= 8 * 1024, "{}", page.body.len());
        let body: Value = serde_json::from_str(&page.body).unwrap();
        assert!(!body["changes"].as_array().unwrap().is_empty() || body["more"] == false);
        for change in body["changes"].as_array().unwrap() {
            assert!(
                seen.insert(change["id"].as_str().unwrap().to_owned()),
                "once"
            );
        }
        pages += 1;
        since = Some(Token::decode(body["next"].as_str().unwrap(), "u").unwrap());
        if body["more"] == false {
            break;
        }
    }
    assert_eq!(seen.len(), 30);
    assert!(pages >= 5, "{pages}");
}

/// A token made by hand, as the server would have made it.
fn forged(user: &str, epoch: i64, issued_at: i64, position: Position) -> String {
    Token {
        user_tag: user_tag(user),
        epoch,
        issued_at,
        position,
    }
    .encode()
}

#[tokio::test]
async fn tokens_belong_to_their_user_and_a_stale_one_is_a_410() {
    let app = TestApp::spawn().await;
    app.create("alice", "a").await;
    app.create("bob", "b").await;
    let alice = changes(&app, "alice", None, None).await;
    let token = alice.json["next"].as_str().unwrap();
    assert_eq!(
        changes(&app, "alice", Some(token), None).await.status,
        StatusCode::OK
    );

    // 400s naming the parameter.
    for (user, query) in [
        ("bob", format!("since={token}")),
        ("alice", "since=not-a-token".to_owned()),
        ("alice", format!("since={}", &token[..token.len() - 4])),
        ("alice", format!("since={token}&since={token}")),
        ("alice", "limit=0".to_owned()),
        ("alice", "limit=1001".to_owned()),
        ("alice", "limit=ten".to_owned()),
    ] {
        let path = format!("/api/{user}/changes?{query}");
        let reply = send(&app, Method::GET, &path, user, None).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.json
        );
        let field = query.split('=').next().unwrap();
        assert!(
            reply.json["detail"].as_str().unwrap().starts_with(field),
            "{}",
            reply.json
        );
    }

    // 410s, each with a JSON detail: older than 90 days, ahead of the
    // user's counter, from an earlier account, below a purged tombstone.
    let epoch = Token::decode(token, "alice").unwrap().epoch;
    let now = now() as i64;
    for (why, raw) in [
        (
            "old",
            forged("alice", epoch, now - 91 * 86_400, Position::Since(1)),
        ),
        ("ahead", forged("alice", epoch, now, Position::Since(1_000))),
        (
            "walk ahead",
            forged(
                "alice",
                epoch,
                now,
                Position::Walk {
                    floor: 1_000,
                    created_at_micros: 0,
                    id: uuid::Uuid::nil(),
                },
            ),
        ),
        (
            "earlier account",
            forged("alice", epoch - 1, now, Position::Since(1)),
        ),
    ] {
        let reply = changes(&app, "alice", Some(&raw), None).await;
        assert_eq!(reply.status, StatusCode::GONE, "{why}: {}", reply.json);
        assert!(
            reply.json["detail"].as_str().unwrap().starts_with("since"),
            "{why}"
        );
    }
    // A token older than 89 days is still good.
    let young = forged("alice", epoch, now - 89 * 86_400, Position::Since(1));
    assert_eq!(
        changes(&app, "alice", Some(&young), None).await.status,
        StatusCode::OK
    );
    sql(&app, "UPDATE users SET purged_seq = 1 WHERE id = 'alice'").await;
    let below = forged("alice", epoch, now, Position::Since(0));
    let reply = changes(&app, "alice", Some(&below), None).await;
    assert_eq!(reply.status, StatusCode::GONE, "{}", reply.json);
    let at_purge = forged("alice", epoch, now, Position::Since(1));
    assert_eq!(
        changes(&app, "alice", Some(&at_purge), None).await.status,
        StatusCode::OK
    );
}

/// Tombstones older than 90 days are purged, 100 at a time, every 16th
/// read of the feed or of a history, raising `purged_seq`: a token from
/// before them is then a 410; the younger ones stay.
#[tokio::test]
async fn tombstones_older_than_90_days_are_purged_and_their_tokens_are_410s() {
    let app = TestApp::spawn().await;
    app.create("u", "live").await;
    let before = changes(&app, "u", None, None).await.json["next"]
        .as_str()
        .unwrap()
        .to_owned();
    // 150 old tombstones (seqs 2-151) and one young one (seq 152).
    sql(
        &app,
        "UPDATE users SET change_seq = 152 WHERE id = 'u';
         INSERT INTO task_tombstones (user_id, id, seq, deleted_at)
         SELECT 'u', gen_random_uuid(), 1 + g,
                now() - interval '91 days' - (200 - g) * interval '1 second'
         FROM generate_series(1, 150) g;
         INSERT INTO task_tombstones (user_id, id, seq, deleted_at)
         VALUES ('u', gen_random_uuid(), 152, now() - interval '89 days')",
    )
    .await;
    let client = app.db.client().await;
    let state = || async {
        let row = client
            .query_typed(
                "SELECT (SELECT count(*) FROM task_tombstones), purged_seq FROM users WHERE id = 'u'",
                &[],
            )
            .await
            .unwrap();
        (row[0].get::<_, i64>(0), row[0].get::<_, i64>(1))
    };
    // The 16th read of an environment purges, then every 16th (nextest
    // runs each test in a process of its own); this test's reads so far:
    // one.
    for _ in 0..14 {
        assert_eq!(state().await, (151, 0));
        send(&app, Method::GET, "/api/u/changes?limit=1", "u", None).await;
    }
    assert_eq!(state().await, (151, 0));
    send(&app, Method::GET, "/api/u/changes?limit=1", "u", None).await;
    assert_eq!(state().await, (51, 101), "100 at a time, oldest first");
    for _ in 0..16 {
        send(&app, Method::GET, "/api/u/changes?limit=1", "u", None).await;
    }
    assert_eq!(state().await, (1, 151));
    let reply = changes(&app, "u", Some(&before), None).await;
    assert_eq!(reply.status, StatusCode::GONE, "{}", reply.json);
    // A first sync works, and reads from after the purge.
    let mut replica = Replica::default();
    replica.sync(&app, "u", None).await;
    assert_eq!(replica.tasks, server_tasks(&app, "u").await);
}
