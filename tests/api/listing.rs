//! GET /tasks: order, the `completed` filter, keyset pagination via `Link`.

use integration_tests::*;
use serde_json::Value;

async fn list(app: &TestApp, query: &str) -> (StatusCode, Vec<Value>, Option<String>) {
    let path = format!("/api/u1/tasks{query}");
    let reply = app.send(Method::GET, &path, Some(&token("u1")), None).await;
    let tasks = reply.json.as_array().cloned().unwrap_or_default();
    (reply.status, tasks, reply.header("link"))
}

/// The path inside `<...>; rel="next"`.
fn next_path(link: &str) -> String {
    assert!(link.ends_with(r#">; rel="next""#), "{link}");
    link.trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn pages_walk_every_task_once_in_order() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create("u1", &format!("t{i}")).await["id"].clone());
    }
    created.reverse();

    let (status, page, link) = list(&app, "?limit=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.len(), 3);
    let mut seen: Vec<Value> = page.iter().map(|t| t["id"].clone()).collect();
    let mut link = link.expect("a next link after a full page");
    assert!(link.starts_with("</api/u1/tasks?limit=3&cursor="), "{link}");
    loop {
        let path = next_path(&link);
        let response = app.request(Method::GET, &path, "u1").send().await.unwrap();
        let next = response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Vec<Value> = response.json().await.unwrap();
        seen.extend(page.iter().map(|t| t["id"].clone()));
        match next {
            Some(l) => link = l,
            None => break,
        }
    }
    assert_eq!(seen, created);

    let (_, all, link) = list(&app, "?limit=7").await;
    assert_eq!(all.len(), 7);
    assert_eq!(link, None, "no link when nothing follows");
}

#[tokio::test]
async fn completed_filter_applies_and_survives_paging() {
    let app = TestApp::spawn().await;
    for i in 0..6 {
        let task = app.create("u1", &format!("t{i}")).await;
        if i % 2 == 0 {
            let path = format!("/api/u1/tasks/{}/complete", task["id"].as_str().unwrap());
            app.request(Method::PATCH, &path, "u1")
                .send()
                .await
                .unwrap();
        }
    }
    let (_, done, _) = list(&app, "?completed=true").await;
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|t| t["completed"] == true));
    let (_, open, _) = list(&app, "?completed=false").await;
    assert_eq!(open.len(), 3);
    assert!(open.iter().all(|t| t["completed"] == false));

    let (_, first, link) = list(&app, "?completed=true&limit=2").await;
    assert_eq!(first.len(), 2);
    let link = link.unwrap();
    assert!(link.contains("completed=true"), "{link}");
    let rest: Vec<Value> = app.get_json(&next_path(&link), "u1").await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["completed"], true);
}

#[tokio::test]
async fn bad_query_parameters_are_400_and_unknown_ones_ignored() {
    let app = TestApp::spawn().await;
    app.create("u1", "t").await;
    for (query, field) in [
        ("?completed=yes", "completed"),
        ("?completed=", "completed"),
        ("?completed=TRUE", "completed"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=abc", "limit"),
        ("?limit=1&limit=2", "limit"),
        ("?cursor=garbage", "cursor"),
        ("?cursor=", "cursor"),
    ] {
        let (status, body, _) = {
            let response = app
                .request(Method::GET, &format!("/api/u1/tasks{query}"), "u1")
                .send()
                .await
                .unwrap();
            (
                response.status(),
                response.json::<Value>().await.unwrap(),
                (),
            )
        };
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            body["detail"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }
    let (status, tasks, _) = list(&app, "?sort=title&foo=bar").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks.len(), 1);
    let (status, tasks, _) = list(&app, "?limit=1000").await;
    assert_eq!((status, tasks.len()), (StatusCode::OK, 1));
}

#[tokio::test]
async fn forged_cursors_far_outside_time_are_positions_not_errors() {
    let app = TestApp::spawn().await;
    app.create("u1", "t").await;
    // Well-formed cursors whose time PostgreSQL cannot represent: once a
    // 500 (timestamp out of range), now the start or the end of time.
    for (cursor, expected) in [
        ("wAAAAAAAAAABAQEBAQEBAQEBAQEBAQEB", 0), // year −146 000: nothing older
        ("QAAAAAAAAAABAQEBAQEBAQEBAQEBAQEB", 1), // year 146 000: everything is older
        ("f_________8BAQEBAQEBAQEBAQEBAQEB", 1),
    ] {
        let (status, tasks, _) = list(&app, &format!("?cursor={cursor}")).await;
        assert_eq!(
            (status, tasks.len()),
            (StatusCode::OK, expected),
            "{cursor}"
        );
    }
}

#[tokio::test]
async fn default_page_is_1000_tasks() {
    let app = TestApp::spawn().await;
    // Seed straight into the database: 1001 tasks through HTTP would be slow.
    let client = app.db.client().await;
    client
        .batch_execute(
            "INSERT INTO users (id) VALUES ('u1');
             INSERT INTO tasks (id, user_id, title, created_at, updated_at)
             SELECT gen_random_uuid(), 'u1', 'seed ' || n, now() - n * interval '1 second', now() - n * interval '1 second'
             FROM generate_series(1, 1001) AS n;",
        )
        .await
        .unwrap();
    let (status, tasks, link) = list(&app, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks.len(), 1000);
    assert_eq!(tasks[0]["title"], "seed 1");
    let link = link.expect("the 1001st task follows");
    let rest: Vec<Value> = app.get_json(&next_path(&link), "u1").await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["title"], "seed 1001");
}
