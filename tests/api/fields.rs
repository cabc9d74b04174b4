//! Issue 27's fields over real HTTP on the real database: `due` (a date or
//! a moment), `time_zone`, the server's `due_by`, `priority`, `labels`;
//! their rules (each 400 naming its field, nothing written), POST and PUT
//! semantics, keyed retries, and the search words stored beside them.

use integration_tests::*;
use serde_json::{Value, json};
use tokio_postgres::types::Type;

async fn post(app: &TestApp, body: Value) -> Reply {
    post_keyed(app, None, body).await
}

async fn post_keyed(app: &TestApp, key: Option<&str>, body: Value) -> Reply {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    let body = Some((Some("application/json"), body.to_string().into()));
    app.send_with(
        Method::POST,
        "/api/u1/tasks",
        Some(&token("u1")),
        &headers,
        body,
    )
    .await
}

async fn put(app: &TestApp, id: &str, body: Value) -> Reply {
    let body = Some((Some("application/json"), body.to_string().into()));
    let path = format!("/api/u1/tasks/{id}");
    app.send(Method::PUT, &path, Some(&token("u1")), body).await
}

async fn created(app: &TestApp, body: Value) -> Value {
    let reply = post(app, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    reply.json
}

fn id(task: &Value) -> &str {
    task["id"].as_str().expect("id")
}

/// A 400 whose detail starts with the field's name.
fn assert_refused(reply: &Reply, field: &str, what: &Value) {
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{what}: {}",
        reply.json
    );
    let detail = reply.json["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with(field),
        "{what}: {detail:?} names {field}"
    );
}

/// The task as the database stores it, read straight from `tasks`.
async fn stored(app: &TestApp, id: &str) -> Value {
    let client = app.db.client().await;
    let row = client
        .query_typed(
            "SELECT (to_jsonb(t) - 'title_words' - 'description_words')::text FROM tasks t
             WHERE id = $1::text::uuid",
            &[(&id, Type::TEXT)],
        )
        .await
        .expect("read")
        .pop()
        .expect("a row");
    serde_json::from_str(row.get(0)).expect("JSON")
}

#[tokio::test]
async fn a_task_has_twelve_fields_with_their_defaults() {
    let app = TestApp::spawn().await;
    let task = created(&app, json!({ "title": "plain" })).await;
    let fields = task.as_object().expect("object");
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "completed",
            "created_at",
            "description",
            "due",
            "due_by",
            "id",
            "labels",
            "priority",
            "time_zone",
            "title",
            "updated_at",
            "user_id"
        ]
    );
    assert_eq!(task["due"], Value::Null);
    assert_eq!(task["time_zone"], "UTC");
    assert_eq!(task["due_by"], Value::Null);
    assert_eq!(task["priority"], 0);
    assert_eq!(task["labels"], json!([]));
    // GET and the list answer the same twelve fields.
    let one = app
        .get_json::<Value>(&format!("/api/u1/tasks/{}", id(&task)), "u1")
        .await;
    assert_eq!(one, task);
    let all = app.get_json::<Value>("/api/u1/tasks", "u1").await;
    assert_eq!(all, json!([task]));
}

#[tokio::test]
async fn a_date_due_ends_at_the_next_midnight_of_its_zone_across_dst() {
    let app = TestApp::spawn().await;
    // (zone, due, due_by): PostgreSQL 15's tz database, agreeing with
    // Python's zoneinfo; Havana and the Azores repeat midnight (the first
    // counts), Sao Paulo and Beirut skip it (the first instant after).
    for (zone, due, due_by) in [
        (
            "America/Sao_Paulo",
            "2018-11-03",
            "2018-11-04T03:00:00.000000Z",
        ),
        (
            "America/Sao_Paulo",
            "2018-11-04",
            "2018-11-05T02:00:00.000000Z",
        ),
        (
            "America/Sao_Paulo",
            "2019-02-16",
            "2019-02-17T03:00:00.000000Z",
        ),
        ("Europe/Berlin", "2026-03-28", "2026-03-28T23:00:00.000000Z"),
        ("Europe/Berlin", "2026-03-29", "2026-03-29T22:00:00.000000Z"),
        ("Europe/Berlin", "2026-10-24", "2026-10-24T22:00:00.000000Z"),
        ("Europe/Berlin", "2026-10-25", "2026-10-25T23:00:00.000000Z"),
        (
            "America/Havana",
            "2026-10-31",
            "2026-11-01T04:00:00.000000Z",
        ),
        (
            "Atlantic/Azores",
            "2026-10-24",
            "2026-10-25T00:00:00.000000Z",
        ),
        ("Asia/Beirut", "2026-03-28", "2026-03-28T22:00:00.000000Z"),
        ("UTC", "9999-12-30", "9999-12-31T00:00:00.000000Z"),
        (
            "America/Los_Angeles",
            "9999-12-30",
            "9999-12-31T08:00:00.000000Z",
        ),
        ("Etc/GMT+12", "9999-12-30", "9999-12-31T12:00:00.000000Z"),
        (
            "Pacific/Kiritimati",
            "9999-12-30",
            "9999-12-30T10:00:00.000000Z",
        ),
        ("Europe/Berlin", "0001-01-01", "0001-01-01T23:06:32.000000Z"),
    ] {
        let body = json!({ "title": "due", "due": due, "time_zone": zone });
        let task = created(&app, body.clone()).await;
        assert_eq!(task["due"], due, "{body}: a date is answered as sent");
        assert_eq!(task["time_zone"], zone);
        assert_eq!(task["due_by"], due_by, "{body}");
        let fetched = app
            .get_json::<Value>(&format!("/api/u1/tasks/{}", id(&task)), "u1")
            .await;
        assert_eq!(fetched, task);
    }
}

#[tokio::test]
async fn a_date_time_due_is_answered_in_utc_and_is_its_own_due_by() {
    let app = TestApp::spawn().await;
    for (sent, utc) in [
        ("2026-12-24T17:00:00+01:00", "2026-12-24T16:00:00.000000Z"),
        ("2026-12-24T17:00:00.5-02:30", "2026-12-24T19:30:00.500000Z"),
        (
            "2026-12-24t17:00:00.1234567z",
            "2026-12-24T17:00:00.123456Z",
        ),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
    ] {
        let task = created(
            &app,
            json!({ "title": "at", "due": sent, "time_zone": "Asia/Tokyo" }),
        )
        .await;
        assert_eq!(task["due"], utc, "{sent}");
        assert_eq!(task["due_by"], utc, "{sent}: the zone plays no part");
        assert_eq!(task["time_zone"], "Asia/Tokyo");
        assert!(is_rfc3339_micros_z(task["due"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn every_bad_value_is_a_400_naming_its_field_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let cases = [
        ("due", json!("2026-02-29")),
        ("due", json!("9999-12-31")),
        ("due", json!("0000-12-31")),
        ("due", json!("2026-12-24T17:00:00")),
        ("due", json!("24/12/2026")),
        ("due", json!("tomorrow")),
        ("due", json!("9999-12-31T23:59:59-12:00")),
        ("due", json!("0001-01-01T00:30:00+01:00")),
        ("due", json!(20261224)),
        ("time_zone", json!("Mars/Olympus_Mons")),
        ("time_zone", json!("europe/berlin")),
        ("time_zone", json!("PST")),
        ("time_zone", json!("UTC+3")),
        // Zones that `AT TIME ZONE` would read as fixed abbreviations,
        // losing their summer time: not accepted (migration 0003).
        ("time_zone", json!("CET")),
        ("time_zone", json!("WET")),
        ("time_zone", json!("posix/Europe/Berlin")),
        ("time_zone", json!("")),
        ("time_zone", json!("Europe/Berlin\u{0}")),
        ("time_zone", json!(null)),
        ("time_zone", json!(1)),
        ("priority", json!(4)),
        ("priority", json!(-1)),
        ("priority", json!(1.5)),
        ("priority", json!(3.5)),
        ("priority", json!("1")),
        ("priority", json!(null)),
        ("priority", json!(1e20)),
        ("labels", json!(vec!["ok"; 21])),
        ("labels", json!(["a,b"])),
        ("labels", json!(["  "])),
        ("labels", json!(["x".repeat(51)])),
        ("labels", json!(["a\u{0}"])),
        ("labels", json!([1])),
        ("labels", json!("home")),
        ("labels", json!(null)),
        ("due_by", json!("2026-12-24T16:00:00.000000Z")),
    ];
    for (field, value) in &cases {
        let body = json!({ "title": "bad", field.to_string(): value });
        assert_refused(&post(&app, body.clone()).await, field, &body);
    }
    // A bad zone with a date due: the zone is named, not a 500.
    for zone in [
        "Mars/Olympus_Mons",
        "europe/berlin",
        "PST",
        "CET",
        "EET",
        "MET",
        "WET",
    ] {
        let body = json!({ "title": "bad", "due": "2026-12-24", "time_zone": zone });
        assert_refused(&post(&app, body.clone()).await, "time_zone", &body);
    }
    assert_eq!(app.stored_tasks("u1").await, 0);

    // The same on PUT, where the task keeps every value it had.
    let task = created(
        &app,
        json!({ "title": "kept", "labels": ["a"], "priority": 2 }),
    )
    .await;
    for (field, value) in &cases {
        let body = json!({ field.to_string(): value });
        assert_refused(&put(&app, id(&task), body.clone()).await, field, &body);
    }
    let body = json!({ "due": "2026-12-24", "time_zone": "Mars/Base" });
    assert_refused(
        &put(&app, id(&task), body.clone()).await,
        "time_zone",
        &body,
    );
    let now = app
        .get_json::<Value>(&format!("/api/u1/tasks/{}", id(&task)), "u1")
        .await;
    assert_eq!(now, task, "nothing written");

    // A bad zone is a 400 before the task is looked up (404) or its
    // version compared (412).
    let missing = uuid::Uuid::now_v7().to_string();
    let body = json!({ "time_zone": "Mars/Base" });
    assert_refused(&put(&app, &missing, body.clone()).await, "time_zone", &body);
    let path = format!("/api/u1/tasks/{}", id(&task));
    let stale = app
        .send_with(
            Method::PUT,
            &path,
            Some(&token("u1")),
            &[("if-match", "\"stale\"")],
            Some((None, body.to_string().into())),
        )
        .await;
    assert_refused(&stale, "time_zone", &body);
    // And a good one there is the 404 it was.
    let body = json!({ "time_zone": "Europe/Berlin" });
    assert_eq!(
        put(&app, &missing, body).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn put_keeps_absent_fields_clears_due_and_labels_and_refuses_null_zone_or_priority() {
    let app = TestApp::spawn().await;
    let task = created(
        &app,
        json!({
            "title": "t", "due": "2026-03-29", "time_zone": "Europe/Berlin",
            "priority": 3, "labels": ["home", "work"]
        }),
    )
    .await;
    assert_eq!(task["due_by"], "2026-03-29T22:00:00.000000Z");
    let one = id(&task).to_owned();

    // Another field alone: every new field keeps its value.
    let renamed = put(&app, &one, json!({ "title": "renamed" })).await;
    assert_eq!(renamed.status, StatusCode::OK);
    for field in ["due", "time_zone", "due_by", "priority", "labels"] {
        assert_eq!(renamed.json[field], task[field], "{field}");
    }
    assert_ne!(renamed.json["updated_at"], task["updated_at"]);

    // due_by follows a change of the zone...
    let moved = put(&app, &one, json!({ "time_zone": "America/Havana" })).await;
    assert_eq!(moved.json["due"], "2026-03-29");
    assert_eq!(moved.json["due_by"], "2026-03-30T04:00:00.000000Z");
    // ...and of the due, a date or a moment.
    let later = put(&app, &one, json!({ "due": "2026-10-31" })).await;
    assert_eq!(later.json["due_by"], "2026-11-01T04:00:00.000000Z");
    let at = put(&app, &one, json!({ "due": "2026-12-24T17:00:00+01:00" })).await;
    assert_eq!(at.json["due"], "2026-12-24T16:00:00.000000Z");
    assert_eq!(at.json["due_by"], "2026-12-24T16:00:00.000000Z");
    let back = put(
        &app,
        &one,
        json!({ "due": "2026-10-24", "time_zone": "Atlantic/Azores" }),
    )
    .await;
    assert_eq!(back.json["due"], "2026-10-24");
    assert_eq!(back.json["due_by"], "2026-10-25T00:00:00.000000Z");
    let row = stored(&app, &one).await;
    assert_eq!(row["due_at"], Value::Null, "never both columns");
    assert_eq!(row["due_date"], "2026-10-24");

    // Priority and labels replace; `[]` and `"due": null` clear.
    let changed = put(
        &app,
        &one,
        json!({ "priority": 0, "labels": [" b ", "a", "b"] }),
    )
    .await;
    assert_eq!(changed.json["priority"], 0);
    assert_eq!(changed.json["labels"], json!(["b", "a"]));
    let cleared = put(&app, &one, json!({ "due": null, "labels": [] })).await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert_eq!(cleared.json["due"], Value::Null);
    assert_eq!(cleared.json["due_by"], Value::Null);
    assert_eq!(cleared.json["labels"], json!([]));
    assert_eq!(cleared.json["time_zone"], "Atlantic/Azores", "kept");
    assert_eq!(cleared.json["title"], "renamed");

    // Each write is a new version: a new ETag.
    let etags: Vec<&Value> = [&task, &renamed.json, &moved.json, &at.json, &cleared.json]
        .iter()
        .map(|t| &t["updated_at"])
        .collect();
    for (i, etag) in etags.iter().enumerate() {
        assert!(!etags[i + 1..].contains(etag), "{etag} repeats");
    }
    let reply = app
        .send(
            Method::GET,
            &format!("/api/u1/tasks/{one}"),
            Some(&token("u1")),
            None,
        )
        .await;
    let after_labels = reply.header("etag").expect("etag");
    let again = put(&app, &one, json!({ "labels": ["x"] })).await;
    let reply = app
        .send(
            Method::GET,
            &format!("/api/u1/tasks/{one}"),
            Some(&token("u1")),
            None,
        )
        .await;
    assert_eq!(reply.json, again.json);
    assert_ne!(reply.header("etag").expect("etag"), after_labels);

    for body in [json!({ "time_zone": null }), json!({ "priority": null })] {
        let field = body.as_object().unwrap().keys().next().unwrap().clone();
        assert_refused(&put(&app, &one, body.clone()).await, &field, &body);
    }
    // A number without a fraction is an integer, as in JSON Schema.
    let two = put(&app, &one, json!({ "priority": 2.0 })).await;
    assert_eq!(
        (two.status, &two.json["priority"]),
        (StatusCode::OK, &json!(2))
    );
    // A PUT of only new fields is not empty.
    assert_eq!(
        put(&app, &one, json!({ "priority": 1 })).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn labels_are_trimmed_and_deduplicated_keeping_the_first() {
    let app = TestApp::spawn().await;
    let task = created(
        &app,
        json!({
            "title": "t",
            "labels": ["\u{3000}Home\t", "work", "Home", " work ", "home", "é".repeat(50), "x"]
        }),
    )
    .await;
    assert_eq!(
        task["labels"],
        json!(["Home", "work", "home", "é".repeat(50), "x"])
    );
    // Twenty as sent, however few remain.
    let task = created(&app, json!({ "title": "t", "labels": vec!["same"; 20] })).await;
    assert_eq!(task["labels"], json!(["same"]));
    let row = stored(&app, id(&task)).await;
    assert_eq!(row["labels"], json!(["same"]));
}

#[tokio::test]
async fn a_keyed_retry_replays_all_twelve_fields_and_another_label_is_a_422() {
    let app = TestApp::spawn().await;
    let body = json!({
        "title": "Buy milk", "due": "2026-10-31", "time_zone": "America/Havana",
        "priority": 2, "labels": ["home", "shop"]
    });
    let first = post_keyed(&app, Some("k-27"), body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    assert_eq!(first.json["due_by"], "2026-11-01T04:00:00.000000Z");
    assert_eq!(first.json.as_object().unwrap().len(), 12);

    // The same task after validation (labels trimmed, duplicates dropped).
    let same = json!({
        "title": " Buy milk ", "due": "2026-10-31", "time_zone": "America/Havana",
        "priority": 2, "labels": [" home", "shop", "home"]
    });
    let replay = post_keyed(&app, Some("k-27"), same).await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(replay.json, first.json, "the first 201, all twelve fields");
    assert_eq!(replay.header("etag"), first.header("etag"));

    // Even after the task changed, the replay is the first 201.
    put(&app, id(&first.json), json!({ "labels": [], "due": null })).await;
    let replay = post_keyed(&app, Some("k-27"), body.clone()).await;
    assert_eq!(replay.json, first.json);

    for (field, value) in [
        ("labels", json!(["home"])),
        ("labels", json!(["shop", "home"])),
        ("priority", json!(3)),
        ("due", json!("2026-11-01")),
        ("due", json!("2026-10-31T12:00:00Z")),
        ("time_zone", json!("Europe/Berlin")),
    ] {
        let mut other = body.clone();
        other[field] = value;
        let reply = post_keyed(&app, Some("k-27"), other.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{other}");
        assert!(
            reply.json["detail"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key")
        );
    }
    // A bad zone under a used key is a 400 first.
    let mut other = body.clone();
    other["time_zone"] = json!("Mars/Base");
    assert_refused(
        &post_keyed(&app, Some("k-27"), other.clone()).await,
        "time_zone",
        &other,
    );
    other["due"] = json!("2026-10-31T12:00:00Z");
    assert_refused(
        &post_keyed(&app, Some("k-27"), other.clone()).await,
        "time_zone",
        &other,
    );
    // A refused first request leaves its key unused.
    let refused = post_keyed(&app, Some("k-bad"), other).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let fresh = post_keyed(&app, Some("k-bad"), body).await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_eq!(fresh.header("idempotent-replayed"), None);
    assert_eq!(app.stored_tasks("u1").await, 2);

    // Defaults sent or left out are the same task.
    let plain = post_keyed(&app, Some("k-plain"), json!({ "title": "p" })).await;
    let explicit =
        json!({ "title": "p", "time_zone": "UTC", "priority": 0, "labels": [], "due": null });
    let replay = post_keyed(&app, Some("k-plain"), explicit).await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(replay.json, plain.json);
}

/// The words the list's search reads: `title_words`, `description_words`.
async fn words(app: &TestApp, id: &str) -> (String, String) {
    let client = app.db.client().await;
    let row = client
        .query_typed(
            "SELECT title_words::text, description_words::text FROM tasks
             WHERE id = $1::text::uuid",
            &[(&id, Type::TEXT)],
        )
        .await
        .expect("read")
        .pop()
        .expect("a row");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn search_words_are_stored_lower_cased_and_follow_each_write() {
    let app = TestApp::spawn().await;
    let task = created(
        &app,
        json!({ "title": "  Buy MILK: Été, 3.14 ", "description": "foo@bar.com BUY" }),
    )
    .await;
    let one = id(&task).to_owned();
    // tsvector's text: lexemes sorted, quoted, without positions.
    assert_eq!(
        words(&app, &one).await,
        (
            "'14' '3' 'buy' 'milk' 'été'".to_owned(),
            "'bar' 'buy' 'com' 'foo'".to_owned()
        )
    );
    assert_eq!(
        task["title"], "Buy MILK: Été, 3.14",
        "the title as sent, trimmed"
    );

    // A description edit leaves the title's words alone, and back.
    put(&app, &one, json!({ "description": "Ölwechsel" })).await;
    assert_eq!(
        words(&app, &one).await,
        (
            "'14' '3' 'buy' 'milk' 'été'".to_owned(),
            "'ölwechsel'".to_owned()
        )
    );
    put(&app, &one, json!({ "title": "x—y", "priority": 1 })).await;
    assert_eq!(
        words(&app, &one).await,
        ("'x' 'y'".to_owned(), "'ölwechsel'".to_owned())
    );
    put(&app, &one, json!({ "description": null })).await;
    assert_eq!(words(&app, &one).await.1, "");
    put(&app, &one, json!({ "completed": true, "labels": ["Milk"] })).await;
    assert_eq!(
        words(&app, &one).await,
        ("'x' 'y'".to_owned(), String::new()),
        "labels are not words"
    );

    // No words at all, and the longest word cut to 200 characters.
    let bare = created(&app, json!({ "title": "--", "description": "" })).await;
    assert_eq!(words(&app, id(&bare)).await, (String::new(), String::new()));
    let long = created(&app, json!({ "title": "É".repeat(255) })).await;
    assert_eq!(
        words(&app, id(&long)).await.0,
        format!("'{}'", "é".repeat(200))
    );

    // Keyed creates store them too.
    let keyed = post_keyed(&app, Some("k-w"), json!({ "title": "Keyed Words" })).await;
    assert_eq!(words(&app, id(&keyed.json)).await.0, "'keyed' 'words'");
}

#[tokio::test]
async fn a_bad_zone_is_a_400_before_the_task_limits_409() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("MAX_TASKS_PER_USER".into(), "1".into());
    })
    .await;
    created(&app, json!({ "title": "the one" })).await;
    for key in [None, Some("k-limit")] {
        let body = json!({ "title": "t", "time_zone": "Mars/Base" });
        assert_refused(
            &post_keyed(&app, key, body.clone()).await,
            "time_zone",
            &body,
        );
        let body = json!({ "title": "t", "time_zone": "Europe/Berlin" });
        let full = post_keyed(&app, key, body).await;
        assert_eq!(full.status, StatusCode::CONFLICT, "{}", full.json);
    }
    assert_eq!(app.stored_tasks("u1").await, 1);
}
