//! Property test: random sequences of operations by three users, over real
//! HTTP against the real database, checked step by step against a simple
//! in-memory model. No user ever reads, changes or deletes another's task,
//! and every status and body is what the model predicts — with fresh and
//! stale ETags (`If-Match`, `If-None-Match`), repeated `Idempotency-Key`s,
//! and due dates (with the `due_by` each zone gives), priorities and labels,
//! valid and not, sent on POST and PUT.

use std::{collections::HashMap, sync::OnceLock};

use integration_tests::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const USERS: usize = 3;

#[derive(Clone, Debug)]
enum Title {
    Valid(String),
    Blank,
    TooLong,
    Nul,
}

impl Title {
    fn json(&self) -> Value {
        match self {
            Self::Valid(t) => json!(t),
            Self::Blank => json!("   "),
            Self::TooLong => json!("é".repeat(256)),
            Self::Nul => json!("a\u{0}b"),
        }
    }

    /// The stored title, or None when the API must refuse it.
    fn stored(&self) -> Option<String> {
        match self {
            Self::Valid(t) => Some(t.trim().to_owned()),
            _ => None,
        }
    }
}

/// Issue 27's fields an operation sends, each absent or from a small pool
/// of valid and invalid values (`None` leaves the field out).
#[derive(Clone, Debug, Default, PartialEq)]
struct More {
    due: Option<Value>,
    time_zone: Option<Value>,
    priority: Option<Value>,
    labels: Option<Value>,
}

/// The due values sent: none (`null`), two dates, a moment, and a date that
/// is none.
const DUES: [&str; 5] = [
    "null",
    "\"2026-03-29\"",
    "\"2026-10-31\"",
    "\"2026-12-24T17:00:00+01:00\"",
    "\"2026-02-30\"",
];
const ZONES: [&str; 5] = [
    "\"UTC\"",
    "\"Europe/Berlin\"",
    "\"America/Havana\"",
    "\"Mars/Base\"",
    "null",
];
const PRIORITIES: [&str; 5] = ["0", "1", "3", "4", "null"];
const LABELS: [&str; 5] = [
    "[]",
    "[\"a\"]",
    "[\" b \", \"a\", \"b\"]",
    "[\"x,y\"]",
    "null",
];

/// `due_by` of a date due in a zone: PostgreSQL's tz database (in Havana,
/// midnight of 2026-11-01 happens twice: the first counts).
fn date_due_by(date: &str, zone: &str) -> Option<&'static str> {
    Some(match (date, zone) {
        ("2026-03-29", "UTC") => "2026-03-30T00:00:00.000000Z",
        ("2026-10-31", "UTC") => "2026-11-01T00:00:00.000000Z",
        ("2026-03-29", "Europe/Berlin") => "2026-03-29T22:00:00.000000Z",
        ("2026-10-31", "Europe/Berlin") => "2026-10-31T23:00:00.000000Z",
        ("2026-03-29", "America/Havana") => "2026-03-30T04:00:00.000000Z",
        ("2026-10-31", "America/Havana") => "2026-11-01T04:00:00.000000Z",
        _ => return None,
    })
}

impl More {
    fn insert_into(&self, body: &mut serde_json::Map<String, Value>) {
        for (name, value) in [
            ("due", &self.due),
            ("time_zone", &self.time_zone),
            ("priority", &self.priority),
            ("labels", &self.labels),
        ] {
            if let Some(v) = value {
                body.insert(name.into(), v.clone());
            }
        }
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `task` with these fields applied as the API applies them, or `None`
    /// when the API must refuse them (a 400).
    fn apply(&self, task: &ModelTask) -> Option<ModelTask> {
        let mut task = task.clone();
        if let Some(due) = &self.due {
            task.due = match due.as_str() {
                None => Value::Null,
                Some("2026-02-30") => return None,
                Some(d) if d.contains('T') => json!("2026-12-24T16:00:00.000000Z"),
                Some(d) => json!(d),
            };
        }
        if let Some(zone) = &self.time_zone {
            match zone.as_str() {
                Some("Mars/Base") | None => return None,
                Some(z) => task.time_zone = z.to_owned(),
            }
        }
        if let Some(priority) = &self.priority {
            match priority.as_i64() {
                Some(p @ 0..=3) => task.priority = p,
                _ => return None,
            }
        }
        if let Some(labels) = &self.labels {
            let labels = labels.as_array()?;
            let mut kept: Vec<String> = Vec::new();
            for label in labels {
                let label = label.as_str()?.trim();
                if label.contains(',') {
                    return None;
                }
                if !kept.iter().any(|k| k == label) {
                    kept.push(label.to_owned());
                }
            }
            task.labels = kept;
        }
        task.due_by = match task.due.as_str() {
            None => Value::Null,
            Some(at) if at.contains('T') => json!(at),
            Some(date) => json!(date_due_by(date, &task.time_zone).expect("in the table")),
        };
        Some(task)
    }
}

fn more() -> impl Strategy<Value = More> {
    let field = |pool: &'static [&'static str; 5]| {
        prop::option::weighted(0.3, prop::sample::select(&pool[..]))
            .prop_map(|v| v.map(|v| serde_json::from_str::<Value>(v).expect("JSON")))
    };
    (
        field(&DUES),
        field(&ZONES),
        field(&PRIORITIES),
        field(&LABELS),
    )
        .prop_map(|(due, time_zone, priority, labels)| More {
            due,
            time_zone,
            priority,
            labels,
        })
}

/// Which task an operation names: one created earlier (by anyone), or an
/// id that never existed.
#[derive(Clone, Debug)]
enum Target {
    Created(prop::sample::Index),
    Unknown,
}

/// The ETag a conditional request sends: the one the model holds as
/// current for that task, or an older one.
#[derive(Clone, Debug)]
enum Version {
    Fresh,
    Stale,
}

/// Idempotency keys come from a small pool, so that they repeat.
const KEYS: u8 = 3;

#[derive(Clone, Debug)]
enum Op {
    Create {
        actor: usize,
        path_user: usize,
        title: Title,
        more: More,
        key: Option<u8>,
    },
    List {
        actor: usize,
        path_user: usize,
        completed: Option<bool>,
    },
    Get {
        actor: usize,
        path_user: usize,
        target: Target,
        version: Option<Version>,
    },
    Update {
        actor: usize,
        path_user: usize,
        target: Target,
        title: Option<Title>,
        completed: Option<bool>,
        more: More,
        version: Option<Version>,
    },
    Toggle {
        actor: usize,
        path_user: usize,
        target: Target,
        version: Option<Version>,
    },
    SetCompleted {
        actor: usize,
        path_user: usize,
        target: Target,
        completed: bool,
        version: Option<Version>,
    },
    Delete {
        actor: usize,
        path_user: usize,
        target: Target,
        version: Option<Version>,
    },
    /// A keyed create sent again by its user: the same task (a retry), or
    /// another one under the same key.
    Retry {
        pick: prop::sample::Index,
        same_task: bool,
    },
}

fn title() -> impl Strategy<Value = Title> {
    prop_oneof![
        4 => "[ a-zA-Zé✓]{0,12}[a-z][ a-z]{0,5}".prop_map(Title::Valid),
        // Titles that repeat (trimmed, the first two are one), so that a
        // repeated key is as often a retry as a reuse.
        2 => prop::sample::select(&["milk", "  milk ", "bread"][..])
            .prop_map(|t| Title::Valid(t.to_owned())),
        1 => Just(Title::Blank),
        1 => Just(Title::TooLong),
        1 => Just(Title::Nul),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![5 => any::<prop::sample::Index>().prop_map(Target::Created), 1 => Just(Target::Unknown)]
}

/// Mostly unconditional; else as likely fresh as stale.
fn version() -> impl Strategy<Value = Option<Version>> {
    prop_oneof![2 => Just(None), 1 => Just(Some(Version::Fresh)), 1 => Just(Some(Version::Stale))]
}

/// Mostly the actor's own path, sometimes another user's.
fn users() -> impl Strategy<Value = (usize, usize)> {
    (0..USERS, 0..USERS, 0..4u8).prop_map(|(a, b, own)| (a, if own > 0 { a } else { b }))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (users(), title(), more(), prop::option::of(0..KEYS))
            .prop_map(|((actor, path_user), title, more, key)| Op::Create { actor, path_user, title, more, key }),
        1 => (users(), prop::option::of(any::<bool>()))
            .prop_map(|((actor, path_user), completed)| Op::List { actor, path_user, completed }),
        2 => (users(), target(), version())
            .prop_map(|((actor, path_user), target, version)| Op::Get { actor, path_user, target, version }),
        2 => (users(), target(), prop::option::of(title()), prop::option::of(any::<bool>()), more(), version())
            .prop_map(|((actor, path_user), target, title, completed, more, version)| Op::Update { actor, path_user, target, title, completed, more, version }),
        2 => (users(), target(), version())
            .prop_map(|((actor, path_user), target, version)| Op::Toggle { actor, path_user, target, version }),
        1 => (users(), target(), any::<bool>(), version())
            .prop_map(|((actor, path_user), target, completed, version)| Op::SetCompleted { actor, path_user, target, completed, version }),
        1 => (users(), target(), version())
            .prop_map(|((actor, path_user), target, version)| Op::Delete { actor, path_user, target, version }),
        1 => (any::<prop::sample::Index>(), any::<bool>())
            .prop_map(|(pick, same_task)| Op::Retry { pick, same_task }),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct ModelTask {
    owner: usize,
    title: String,
    completed: bool,
    due: Value,
    time_zone: String,
    due_by: Value,
    priority: i64,
    labels: Vec<String>,
}

impl ModelTask {
    /// A new task of `owner`'s, every field of issue 27 at its default.
    fn new(owner: usize, title: String) -> Self {
        Self {
            owner,
            title,
            completed: false,
            due: Value::Null,
            time_zone: "UTC".into(),
            due_by: Value::Null,
            priority: 0,
            labels: Vec::new(),
        }
    }
}

/// The model: live tasks by id, every id ever created in order, every
/// ETag each task has had (kept after a delete), and each user's keys
/// with the title and the 201 body they were first used with.
#[derive(Default)]
struct Model {
    tasks: HashMap<String, ModelTask>,
    created: Vec<String>,
    etags: HashMap<String, Vec<String>>,
    keys: HashMap<(usize, u8), (ModelTask, Value)>,
    /// The keyed creates that created, in order: what `Retry` resends.
    keyed: Vec<(usize, u8, Title, More)>,
}

impl Model {
    /// The header value a conditional request on task `id` sends.
    fn etag(&self, id: &str, version: &Version) -> String {
        let history = self.etags.get(id).map_or(&[][..], Vec::as_slice);
        let older = history.len().checked_sub(2).map(|i| history[i].clone());
        match version {
            Version::Fresh => history.last().cloned(),
            // Never changed: a well-formed tag that no version has.
            Version::Stale => older.or_else(|| Some("\"stale\"".into())),
        }
        .unwrap_or_else(|| "\"unknown\"".into())
    }

    /// A new ETag for `id`: it must differ from every earlier one.
    fn record(&mut self, id: &str, etag: Option<String>) -> Result<(), TestCaseError> {
        let etag = etag.ok_or_else(|| TestCaseError::fail("no ETag"))?;
        let history = self.etags.entry(id.to_owned()).or_default();
        prop_assert!(!history.contains(&etag), "ETag {} seen before", etag);
        history.push(etag);
        Ok(())
    }
}

struct Runner {
    rt: tokio::runtime::Runtime,
    app: TestApp,
}

fn runner() -> &'static Runner {
    static RUNNER: OnceLock<Runner> = OnceLock::new();
    RUNNER.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let app = rt.block_on(TestApp::spawn());
        Runner { rt, app }
    })
}

/// Status, JSON body (`Null` when none), and the `ETag` and
/// `Idempotent-Replayed` headers.
struct Answer {
    status: u16,
    body: Value,
    etag: Option<String>,
    replayed: bool,
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    user: &str,
    header: Option<(&str, String)>,
    body: Option<Value>,
) -> Answer {
    let mut request = app.request(method, path, user);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let text = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("text").to_owned())
    };
    let (etag, replayed) = (text("etag"), text("idempotent-replayed").is_some());
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        etag,
        replayed,
    }
}

fn check_task(
    body: &Value,
    id: &str,
    user: &str,
    expected: &ModelTask,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(body["id"].as_str(), Some(id));
    prop_assert_eq!(body["user_id"].as_str(), Some(user));
    prop_assert_eq!(body["title"].as_str(), Some(expected.title.as_str()));
    prop_assert_eq!(body["completed"].as_bool(), Some(expected.completed));
    prop_assert_eq!(&body["due"], &expected.due);
    prop_assert_eq!(
        body["time_zone"].as_str(),
        Some(expected.time_zone.as_str())
    );
    prop_assert_eq!(&body["due_by"], &expected.due_by);
    prop_assert_eq!(body["priority"].as_i64(), Some(expected.priority));
    prop_assert_eq!(&body["labels"], &json!(expected.labels));
    prop_assert_eq!(body.as_object().map(|o| o.len()), Some(12));
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let app = &runner().app;
    // Fresh users for every case, so the model starts empty.
    let case = uuid::Uuid::now_v7().simple().to_string();
    let names: Vec<String> = (0..USERS).map(|u| format!("u{u}-{case}")).collect();
    let mut model = Model::default();

    for op in ops {
        let op = match op {
            Op::Retry { pick, same_task } if !model.keyed.is_empty() => {
                let (actor, key, title, more) = pick.get(&model.keyed).clone();
                Op::Create {
                    actor,
                    path_user: actor,
                    // The generator makes no digits: another task.
                    title: if same_task {
                        title
                    } else {
                        Title::Valid("retry 2".into())
                    },
                    more,
                    key: Some(key),
                }
            }
            Op::Retry { .. } => continue,
            op => op,
        };
        match op.clone() {
            Op::Create {
                actor,
                path_user,
                title,
                more,
                key,
            } => {
                let path = format!("/api/{}/tasks", names[path_user]);
                let header = key.map(|k| ("idempotency-key", format!("key-{k}")));
                let answer = call(
                    app,
                    Method::POST,
                    &path,
                    &names[actor],
                    header,
                    Some({
                        let mut body = serde_json::Map::new();
                        body.insert("title".into(), title.json());
                        more.insert_into(&mut body);
                        Value::Object(body)
                    }),
                )
                .await;
                let (status, body) = (answer.status, &answer.body);
                // A refused request (403, 400) leaves its key unused.
                let used = key.and_then(|k| model.keys.get(&(actor, k)));
                let stored = title
                    .stored()
                    .and_then(|t| more.apply(&ModelTask::new(actor, t)));
                match (actor == path_user, stored, used) {
                    (false, _, _) => prop_assert_eq!(status, 403),
                    (true, None, _) => prop_assert_eq!(status, 400, "{}", body),
                    (true, Some(stored), Some((first_task, first_body))) => {
                        if stored == *first_task {
                            prop_assert_eq!(status, 201, "{}", body);
                            prop_assert!(answer.replayed);
                            prop_assert_eq!(body, first_body, "the first 201, replayed");
                        } else {
                            prop_assert_eq!(status, 422, "{}", body);
                        }
                    }
                    (true, Some(stored), None) => {
                        prop_assert_eq!(status, 201, "{}", body);
                        prop_assert!(!answer.replayed);
                        let id = body["id"].as_str().expect("id").to_owned();
                        let task = stored;
                        check_task(body, &id, &names[actor], &task)?;
                        if let Some(k) = key {
                            model.keys.insert((actor, k), (task.clone(), body.clone()));
                            model.keyed.push((actor, k, title.clone(), more.clone()));
                        }
                        model.record(&id, answer.etag)?;
                        model.created.push(id.clone());
                        model.tasks.insert(id, task);
                    }
                }
            }
            Op::Retry { .. } => unreachable!("made a Create above"),
            Op::List {
                actor,
                path_user,
                completed,
            } => {
                let filter = completed.map_or(String::new(), |c| format!("?completed={c}"));
                let path = format!("/api/{}/tasks{filter}", names[path_user]);
                let answer = call(app, Method::GET, &path, &names[actor], None, None).await;
                let (status, body) = (answer.status, answer.body);
                if actor != path_user {
                    prop_assert_eq!(status, 403);
                    continue;
                }
                prop_assert_eq!(status, 200);
                // Newest first: the reverse of creation order.
                let expected: Vec<&String> = model
                    .created
                    .iter()
                    .rev()
                    .filter(|id| {
                        model.tasks.get(*id).is_some_and(|t| {
                            t.owner == actor && completed.is_none_or(|c| t.completed == c)
                        })
                    })
                    .collect();
                let listed = body.as_array().expect("array");
                prop_assert_eq!(listed.len(), expected.len());
                for (item, id) in listed.iter().zip(expected) {
                    check_task(item, id, &names[actor], &model.tasks[id])?;
                }
            }
            Op::Get {
                actor,
                path_user,
                target,
                version,
            }
            | Op::Toggle {
                actor,
                path_user,
                target,
                version,
            }
            | Op::Delete {
                actor,
                path_user,
                target,
                version,
            }
            | Op::SetCompleted {
                actor,
                path_user,
                target,
                version,
                ..
            }
            | Op::Update {
                actor,
                path_user,
                target,
                version,
                ..
            } => {
                let id = match &target {
                    Target::Created(i) if !model.created.is_empty() => {
                        i.get(&model.created).clone()
                    }
                    _ => uuid::Uuid::now_v7().to_string(),
                };
                let one = format!("/api/{}/tasks/{id}", names[path_user]);
                let (method, path, body) = match &op {
                    Op::Get { .. } => (Method::GET, one, None),
                    Op::Delete { .. } => (Method::DELETE, one, None),
                    Op::Toggle { .. } => (Method::PATCH, format!("{one}/complete"), None),
                    Op::SetCompleted { completed, .. } => (
                        Method::PATCH,
                        format!("{one}/complete"),
                        Some(json!({ "completed": completed })),
                    ),
                    Op::Update {
                        title,
                        completed,
                        more,
                        ..
                    } => {
                        let mut body = serde_json::Map::new();
                        if let Some(t) = title {
                            body.insert("title".into(), t.json());
                        }
                        if let Some(c) = completed {
                            body.insert("completed".into(), json!(c));
                        }
                        more.insert_into(&mut body);
                        (Method::PUT, one, Some(Value::Object(body)))
                    }
                    Op::Create { .. } | Op::List { .. } | Op::Retry { .. } => unreachable!(),
                };
                let is_get = method == Method::GET;
                let condition = if is_get { "if-none-match" } else { "if-match" };
                // Any user may send the ETags the model knows of a task,
                // the owner's current one included.
                let header = version.as_ref().map(|v| (condition, model.etag(&id, v)));
                let answer = call(app, method, &path, &names[actor], header, body).await;
                let (status, response) = (answer.status, &answer.body);
                if actor != path_user {
                    prop_assert_eq!(status, 403);
                    continue;
                }
                // Bad input is judged before the task is looked up.
                let bad_input = match &op {
                    Op::Update {
                        title,
                        completed,
                        more,
                        ..
                    } => {
                        (title.is_none() && completed.is_none() && more.is_empty())
                            || title.as_ref().is_some_and(|t| t.stored().is_none())
                            || more.apply(&ModelTask::new(0, String::new())).is_none()
                    }
                    _ => false,
                };
                if bad_input {
                    prop_assert_eq!(status, 400, "{}", response);
                    continue;
                }
                let owned = model.tasks.get(&id).is_some_and(|t| t.owner == actor);
                if !owned {
                    // Another user's task, a deleted one, or none: all 404.
                    prop_assert_eq!(status, 404, "{:?} {}", op, response);
                    continue;
                }
                if let Some(version) = &version {
                    // Fresh: If-None-Match is a 304, If-Match lets the write
                    // through. Stale: the GET is answered, the write is 412.
                    match (version, is_get) {
                        (Version::Fresh, true) => {
                            prop_assert_eq!(status, 304, "{:?}", op);
                            prop_assert_eq!(answer.etag, Some(model.etag(&id, version)));
                            continue;
                        }
                        (Version::Stale, false) => {
                            prop_assert_eq!(status, 412, "{:?} {}", op, response);
                            continue;
                        }
                        _ => {}
                    }
                }
                let task = model.tasks.get_mut(&id).expect("owned");
                match &op {
                    Op::Get { .. } => {
                        prop_assert_eq!(answer.etag.as_ref(), model.etags[&id].last());
                    }
                    Op::Delete { .. } => {
                        prop_assert_eq!(status, 204);
                        model.tasks.remove(&id);
                        continue;
                    }
                    Op::Toggle { .. } => task.completed = !task.completed,
                    Op::SetCompleted { completed, .. } => task.completed = *completed,
                    Op::Update {
                        title,
                        completed,
                        more,
                        ..
                    } => {
                        if let Some(t) = title.as_ref().and_then(Title::stored) {
                            task.title = t;
                        }
                        if let Some(c) = completed {
                            task.completed = *c;
                        }
                        *task = more.apply(task).expect("judged valid above");
                    }
                    _ => {}
                }
                prop_assert_eq!(status, 200, "{:?} {}", op, response);
                check_task(response, &id, &names[actor], task)?;
                if !is_get {
                    model.record(&id, answer.etag)?;
                }
            }
        }
    }

    // In the end, the database holds exactly the model, user by user.
    for (u, name) in names.iter().enumerate() {
        let stored = app.stored_tasks(name).await;
        let expected = model.tasks.values().filter(|t| t.owner == u).count() as i64;
        prop_assert_eq!(stored, expected);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // No regression files: the seed of a failure is printed instead.
        failure_persistence: None,
        // Shrinking replays sequences against the real API: keep it bounded.
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn users_only_ever_see_and_change_their_own_tasks(ops in prop::collection::vec(op(), 1..40)) {
        runner().rt.block_on(run(ops))?;
    }
}
