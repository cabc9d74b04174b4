//! Property test: random sequences of operations by three users, over real
//! HTTP against the real database, checked step by step against a simple
//! in-memory model. No user ever reads, changes or deletes another's task,
//! and every status and body is what the model predicts.

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

/// Which task an operation names: one created earlier (by anyone), or an
/// id that never existed.
#[derive(Clone, Debug)]
enum Target {
    Created(prop::sample::Index),
    Unknown,
}

#[derive(Clone, Debug)]
enum Op {
    Create {
        actor: usize,
        path_user: usize,
        title: Title,
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
    },
    Update {
        actor: usize,
        path_user: usize,
        target: Target,
        title: Option<Title>,
        completed: Option<bool>,
    },
    Toggle {
        actor: usize,
        path_user: usize,
        target: Target,
    },
    SetCompleted {
        actor: usize,
        path_user: usize,
        target: Target,
        completed: bool,
    },
    Delete {
        actor: usize,
        path_user: usize,
        target: Target,
    },
}

fn title() -> impl Strategy<Value = Title> {
    prop_oneof![
        6 => "[ a-zA-Zé✓]{0,12}[a-z][ a-z]{0,5}".prop_map(Title::Valid),
        1 => Just(Title::Blank),
        1 => Just(Title::TooLong),
        1 => Just(Title::Nul),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![5 => any::<prop::sample::Index>().prop_map(Target::Created), 1 => Just(Target::Unknown)]
}

/// Mostly the actor's own path, sometimes another user's.
fn users() -> impl Strategy<Value = (usize, usize)> {
    (0..USERS, 0..USERS, 0..4u8).prop_map(|(a, b, own)| (a, if own > 0 { a } else { b }))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (users(), title()).prop_map(|((actor, path_user), title)| Op::Create { actor, path_user, title }),
        1 => (users(), prop::option::of(any::<bool>()))
            .prop_map(|((actor, path_user), completed)| Op::List { actor, path_user, completed }),
        2 => (users(), target()).prop_map(|((actor, path_user), target)| Op::Get { actor, path_user, target }),
        2 => (users(), target(), prop::option::of(title()), prop::option::of(any::<bool>()))
            .prop_map(|((actor, path_user), target, title, completed)| Op::Update { actor, path_user, target, title, completed }),
        2 => (users(), target()).prop_map(|((actor, path_user), target)| Op::Toggle { actor, path_user, target }),
        1 => (users(), target(), any::<bool>())
            .prop_map(|((actor, path_user), target, completed)| Op::SetCompleted { actor, path_user, target, completed }),
        1 => (users(), target()).prop_map(|((actor, path_user), target)| Op::Delete { actor, path_user, target }),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct ModelTask {
    owner: usize,
    title: String,
    completed: bool,
}

/// The model: live tasks by id, and every id ever created in order.
#[derive(Default)]
struct Model {
    tasks: HashMap<String, ModelTask>,
    created: Vec<String>,
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

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    user: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.request(method, path, user);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
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
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let app = &runner().app;
    // Fresh users for every case, so the model starts empty.
    let case = uuid::Uuid::now_v7().simple().to_string();
    let names: Vec<String> = (0..USERS).map(|u| format!("u{u}-{case}")).collect();
    let mut model = Model::default();

    for op in ops {
        match op.clone() {
            Op::Create {
                actor,
                path_user,
                title,
            } => {
                let path = format!("/api/{}/tasks", names[path_user]);
                let (status, body) = call(
                    app,
                    Method::POST,
                    &path,
                    &names[actor],
                    Some(json!({ "title": title.json() })),
                )
                .await;
                match (actor == path_user, title.stored()) {
                    (false, _) => prop_assert_eq!(status, 403),
                    (true, None) => prop_assert_eq!(status, 400),
                    (true, Some(stored)) => {
                        prop_assert_eq!(status, 201, "{}", body);
                        let id = body["id"].as_str().expect("id").to_owned();
                        let task = ModelTask {
                            owner: actor,
                            title: stored,
                            completed: false,
                        };
                        check_task(&body, &id, &names[actor], &task)?;
                        model.created.push(id.clone());
                        model.tasks.insert(id, task);
                    }
                }
            }
            Op::List {
                actor,
                path_user,
                completed,
            } => {
                let filter = completed.map_or(String::new(), |c| format!("?completed={c}"));
                let path = format!("/api/{}/tasks{filter}", names[path_user]);
                let (status, body) = call(app, Method::GET, &path, &names[actor], None).await;
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
            }
            | Op::Toggle {
                actor,
                path_user,
                target,
            }
            | Op::Delete {
                actor,
                path_user,
                target,
            }
            | Op::SetCompleted {
                actor,
                path_user,
                target,
                ..
            }
            | Op::Update {
                actor,
                path_user,
                target,
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
                        title, completed, ..
                    } => {
                        let mut body = serde_json::Map::new();
                        if let Some(t) = title {
                            body.insert("title".into(), t.json());
                        }
                        if let Some(c) = completed {
                            body.insert("completed".into(), json!(c));
                        }
                        (Method::PUT, one, Some(Value::Object(body)))
                    }
                    _ => unreachable!(),
                };
                let (status, response) = call(app, method, &path, &names[actor], body).await;
                if actor != path_user {
                    prop_assert_eq!(status, 403);
                    continue;
                }
                // Bad input is judged before the task is looked up.
                let bad_input = match &op {
                    Op::Update {
                        title, completed, ..
                    } => {
                        (title.is_none() && completed.is_none())
                            || title.as_ref().is_some_and(|t| t.stored().is_none())
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
                let task = model.tasks.get_mut(&id).expect("owned");
                match &op {
                    Op::Delete { .. } => {
                        prop_assert_eq!(status, 204);
                        model.tasks.remove(&id);
                        continue;
                    }
                    Op::Toggle { .. } => task.completed = !task.completed,
                    Op::SetCompleted { completed, .. } => task.completed = *completed,
                    Op::Update {
                        title, completed, ..
                    } => {
                        if let Some(t) = title.as_ref().and_then(Title::stored) {
                            task.title = t;
                        }
                        if let Some(c) = completed {
                            task.completed = *c;
                        }
                    }
                    _ => {}
                }
                prop_assert_eq!(status, 200, "{:?} {}", op, response);
                check_task(&response, &id, &names[actor], task)?;
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
