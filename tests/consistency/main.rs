//! The repository agrees with itself: template.yaml, the `cargo lambda
//! watch` router, the route table that local-api serves, and events/ all
//! name the same routes and functions; timeouts, secrets, CORS, the module
//! graph of `shared` and the benchmark's SQL are checked against their
//! sources. `operations` reads what template.yaml sets up to operate the
//! API; `openapi` holds openapi.json to what the server answers.

mod openapi;
mod operations;

use std::{collections::BTreeSet, fs};

use integration_tests::*;
use serde_json::Value;
use shared::routes::ROUTES;
use yaml_rust2::{Yaml, YamlLoader};

type RouteSet = BTreeSet<(String, String, String)>;

fn root(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

fn route_table() -> RouteSet {
    ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
            )
        })
        .collect()
}

fn template() -> Yaml {
    let text = fs::read_to_string(root("template.yaml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

#[test]
fn template_routes_match_the_route_table() {
    let template = template();
    let mut routes = RouteSet::new();
    let resources = template["Resources"].as_hash().unwrap();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap();
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{name}"
        );
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        assert!(
            fs::metadata(root(&format!("functions/{binary}/src/main.rs"))).is_ok(),
            "{name} names binary {binary}, which is not in functions/"
        );
        for (_, event) in resource["Properties"]["Events"].as_hash().unwrap() {
            assert_eq!(event["Type"].as_str(), Some("HttpApi"));
            let props = &event["Properties"];
            routes.insert((
                props["Method"].as_str().unwrap().to_owned(),
                props["Path"].as_str().unwrap().to_owned(),
                binary.to_owned(),
            ));
        }
    }
    assert_eq!(routes, route_table());

    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    for secret in ["DatabaseUrl", "BetterAuthSecret"] {
        assert_eq!(
            template["Parameters"][secret]["NoEcho"].as_bool(),
            Some(true),
            "{secret}"
        );
    }
    let cors = &template["Resources"]["TaskApi"]["Properties"]["CorsConfiguration"];
    let headers: Vec<&str> = cors["AllowHeaders"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(headers.contains(&"authorization") && headers.contains(&"content-type"));
}

#[test]
fn watch_router_matches_the_route_table() {
    let manifest: toml::Table = fs::read_to_string(root("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut routes = RouteSet::new();
    for (path, entries) in router {
        for entry in entries.as_array().unwrap() {
            routes.insert((
                entry["method"].as_str().unwrap().to_owned(),
                path.clone(),
                entry["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(routes, route_table());
}

#[test]
fn every_function_has_an_event_fixture_for_its_route() {
    for route in ROUTES {
        let text = fs::read_to_string(root(&format!("events/{}.json", route.function))).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], route.key);
        assert_eq!(event["requestContext"]["http"]["method"], route.method);
    }
}

#[tokio::test]
async fn local_api_serves_every_route_of_the_table() {
    let app = TestApp::spawn().await;
    for route in ROUTES {
        let path = route
            .path
            .replace("{user_id}", "u1")
            .replace("{task_id}", &uuid::Uuid::now_v7().to_string());
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let response = app
            .http
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap();
        // Reaching the handler: a token is asked for (or health answers).
        let expected = if route.function == "health" {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(response.status(), expected, "{}", route.key);
    }
}

/// A comma-separated header as a lowercase set.
fn header_set(headers: &reqwest::header::HeaderMap, name: &str) -> BTreeSet<String> {
    headers[name]
        .to_str()
        .unwrap()
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .collect()
}

fn yaml_set(list: &Yaml) -> BTreeSet<String> {
    list.as_vec()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_lowercase())
        .collect()
}

#[tokio::test]
async fn template_cors_is_the_local_api_cors() {
    let template = template();
    let cors = &template["Resources"]["TaskApi"]["Properties"]["CorsConfiguration"];
    let app = TestApp::spawn().await;
    let preflight = app
        .http
        .request(Method::OPTIONS, app.url("/api/u1/tasks/x"))
        .header("origin", "http://allowed.example")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    let headers = preflight.headers();
    assert_eq!(
        header_set(headers, "access-control-allow-methods"),
        yaml_set(&cors["AllowMethods"])
    );
    assert_eq!(
        header_set(headers, "access-control-allow-headers"),
        yaml_set(&cors["AllowHeaders"])
    );
    assert_eq!(
        headers["access-control-max-age"].to_str().unwrap(),
        cors["MaxAge"].as_i64().unwrap().to_string()
    );
    let response = app
        .request(Method::GET, "/api/u1/tasks", "u1")
        .header("origin", "http://allowed.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header_set(response.headers(), "access-control-expose-headers"),
        yaml_set(&cors["ExposeHeaders"])
    );
}

/// Every failure is the API's own JSON answer, never a gateway timeout:
/// with the default timeouts (and a JWKS to fetch), the worst case of one
/// request stays at least a second inside every function's Lambda
/// `Timeout`, and the template sets none of those timeouts otherwise.
#[test]
fn the_default_timeouts_fit_inside_the_lambda_timeout() {
    let template = template();
    let global = template["Globals"]["Function"]["Timeout"].as_i64();
    let defaults = shared::config::Config::from_source(&|name: &str| match name {
        "DATABASE_URL" => Some("postgres://db.example/tasks?sslmode=require".to_owned()),
        "JWKS_URL" => Some("https://auth.example/api/auth/jwks".to_owned()),
        "JWT_ISSUER" | "JWT_AUDIENCE" => Some("https://auth.example".to_owned()),
        _ => None,
    })
    .unwrap();
    let worst = defaults.worst_case_answer();
    let margin = std::time::Duration::from_secs(1);
    for (name, resource) in template["Resources"].as_hash().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let timeout = resource["Properties"]["Timeout"]
            .as_i64()
            .or(global)
            .expect("a Timeout");
        let limit = std::time::Duration::from_secs(timeout as u64);
        assert!(
            worst + margin <= limit,
            "{name:?}: a request may take {worst:?} before it answers; Timeout is {timeout} s"
        );
    }
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    for name in [
        "DB_CONNECT_TIMEOUT_MS",
        "DB_STATEMENT_TIMEOUT_MS",
        "DB_POOL_TIMEOUT_MS",
        "DB_POOL_MAX_SIZE",
        "JWKS_FETCH_TIMEOUT_MS",
    ] {
        assert!(variables[name].is_badvalue(), "template.yaml sets {name}");
    }
}

/// The dev secret never protects a deployment: template.yaml's rule
/// refuses exactly the secret that signs the published fixtures' tokens.
#[test]
fn a_deploy_with_the_published_dev_secret_fails() {
    let template = template();
    let assertions = template["Rules"]["TokensCannotBeForged"]["Assertions"]
        .as_vec()
        .expect("a Rules assertion");
    let text = fs::read_to_string(root("template.yaml")).unwrap();
    let rule = text
        .lines()
        .find(|l| l.contains("!Equals [!Ref BetterAuthSecret, local-dev-secret"))
        .expect("the rule compares BetterAuthSecret with the dev secret");
    assert!(rule.contains("Assert: !Not ["), "{rule}");
    assert_eq!(assertions.len(), 2);
    let secret = "local-dev-secret-do-not-use-in-production";
    assert!(rule.contains(secret));
    // That secret is the one the fixtures' tokens are signed with.
    let fixture: Value =
        serde_json::from_str(&fs::read_to_string(root("events/get-task.json")).unwrap()).unwrap();
    let token = fixture["headers"]["authorization"]
        .as_str()
        .unwrap()
        .trim_start_matches("Bearer ");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["sub"]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("the fixture's token is signed with the dev secret");
}

/// The modules of `shared` that each module names (`crate::x`, `super::`
/// within its own folder), from its source without its tests. Root
/// re-exports count as their modules.
fn shared_module_graph() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = std::path::PathBuf::from(root("shared/src"));
    let mut paths = Vec::new();
    files(&src, &mut paths);
    let mut graph = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
    for path in paths {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let mut names = shared_file_imports(relative.to_str().unwrap());
        names.remove(&module);
        graph.entry(module).or_default().extend(names);
    }
    graph
}

/// The modules of `shared` that one file of `shared/src` names
/// (`crate::x`), from its source without its tests. Root re-exports count
/// as their modules.
fn shared_file_imports(path: &str) -> BTreeSet<String> {
    let text = fs::read_to_string(root(&format!("shared/src/{path}"))).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap();
    let mut deps = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => return true,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    false
                })
                .map_or(group.len(), |(i, _)| i);
            let mut items = Vec::new();
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&group[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&group[start..end]);
            items
        } else {
            vec![rest]
        };
        for name in names {
            let name: String = name
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let name = match name.as_str() {
                "AppState" => "state".to_owned(),
                "ApiError" => "error".to_owned(),
                "" | "self" => continue,
                _ => name,
            };
            deps.insert(name);
        }
    }
    deps
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &std::collections::BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// `shared`'s modules depend on each other one way: storage does not know
/// HTTP, responses do not know errors, validation does not know storage.
#[test]
fn shared_modules_have_no_import_cycles() {
    let graph = shared_module_graph();
    assert!(graph["error"].contains("response"), "{graph:?}");
    assert!(graph["repository"].contains("db"), "{graph:?}");
    assert_eq!(find_cycle(&graph), None, "{graph:#?}");
    // The check finds a cycle when there is one.
    let mut with_cycle = graph.clone();
    with_cycle
        .entry("db".into())
        .or_default()
        .insert("repository".into());
    assert!(find_cycle(&with_cycle).is_some());
}

/// Storage answers in its own terms (`DbError`, a task or none, another
/// version, a key in progress): the repository and the idempotency store
/// never name the API's error, and the repository carries no idempotency.
/// What a storage outcome means in HTTP, the handlers and `endpoint` say.
#[test]
fn storage_does_not_know_the_api_error() {
    let graph = shared_module_graph();
    assert!(graph["repository"].contains("db"), "{graph:?}");
    assert!(!graph["repository"].contains("error"), "{graph:?}");
    assert!(!graph["repository"].contains("idempotency"), "{graph:?}");
    let store = shared_file_imports("idempotency/store.rs");
    assert!(store.contains("db"), "{store:?}");
    assert!(!store.contains("error"), "{store:?}");
    // The check sees an import of the error where there is one.
    assert!(shared_file_imports("idempotency/header.rs").contains("error"));
}

/// `bench/sql/*.sql` (what pgbench runs, to compare the API with its bare
/// SQL) are the repository's statements with literals for the parameters:
/// they cannot drift apart.
#[test]
fn bench_sql_is_the_repository_sql() {
    use shared::repository::sql;
    let id = "('00000000-0000-7000-800' || :u || '-000000000' || lpad(:i::text, 3, '0'))::uuid";
    let deleted = "('00000000-0000-7000-9000-' || lpad(:i::text, 12, '0'))::uuid";
    let cases: [(&str, &str, &[&str]); 6] = [
        ("list", sql::LIST, &["'bench-1'", "1001"]),
        (
            "create",
            sql::CREATE,
            &[
                "gen_random_uuid()",
                "'bench-new'",
                "'Benchmark task'",
                "NULL",
                "2000000000",
                "NULL::date",
                "NULL::timestamptz",
                "'UTC'",
                "0::smallint",
                "'{}'::text[]",
                "'{benchmark,task}'::text[]",
                "'{}'::text[]",
            ],
        ),
        ("get", sql::GET, &["'bench-2'", id]),
        (
            "update",
            sql::UPDATE,
            &[
                "'bench-3'",
                id,
                "'Renamed'",
                "false",
                "NULL",
                "NULL",
                "NULL::timestamptz[]",
                "false",
                "NULL::date",
                "NULL::timestamptz",
                "NULL::text",
                "NULL::smallint",
                "NULL::text[]",
                "'{renamed}'::text[]",
                "'{}'::text[]",
            ],
        ),
        (
            "toggle",
            sql::TOGGLE,
            &["'bench-4'", id, "NULL::timestamptz[]"],
        ),
        (
            "delete",
            shared::repository::trash::sql::TRASH,
            &["'bench-del'", deleted, "NULL::timestamptz[]"],
        ),
    ];
    let words = |text: &str| -> String {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end_matches(';')
            .to_owned()
    };
    for (name, statement, values) in cases {
        let file = fs::read_to_string(root(&format!("bench/sql/{name}.sql"))).unwrap();
        let bench: String = file
            .lines()
            .filter(|l| !l.starts_with("--") && !l.starts_with("\\set"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut expected = statement.to_owned();
        // $10 before $1: from the last parameter down.
        for (i, value) in values.iter().enumerate().rev() {
            expected = expected.replace(&format!("${}", i + 1), value);
        }
        assert_eq!(words(&bench), words(&expected), "bench/sql/{name}.sql");
    }
}

/// The scripts build what Cargo.lock says (`--locked`: a build never
/// resolves newer dependencies on its own) and install tools at pinned
/// versions (`==`): CI on a fresh clone runs what was reviewed.
#[test]
fn scripts_build_locked_and_install_pinned_tools() {
    let builds = [
        "cargo build ",
        "cargo run ",
        "cargo test ",
        "cargo clippy ",
        "cargo nextest run ",
        "cargo lambda build ",
        "cargo install ",
    ];
    let mut checked = 0;
    for dir in ["scripts", "bench"] {
        for entry in fs::read_dir(root(dir)).unwrap() {
            let path = entry.unwrap().path();
            let Ok(text) = fs::read_to_string(&path) else {
                continue;
            };
            if !text.starts_with("#!") {
                continue;
            }
            for line in text.lines().map(str::trim) {
                if line.starts_with('#') || line.starts_with("echo") {
                    continue;
                }
                if builds.iter().any(|b| line.contains(b)) && !line.contains(" --version") {
                    checked += 1;
                    assert!(line.contains("--locked"), "{}: {line}", path.display());
                }
                if line.contains("pip install") {
                    let named: Vec<&str> = line
                        .split_whitespace()
                        .skip_while(|w| *w != "install")
                        .skip(1)
                        .filter(|w| !w.starts_with('-') && !w.starts_with('"'))
                        .collect();
                    for package in named {
                        assert!(package.contains("=="), "{}: {line}", path.display());
                    }
                }
                if line.contains("pip_packages+=(") {
                    assert!(line.contains("=="), "{}: {line}", path.display());
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "found only {checked} cargo builds in scripts/ and bench/"
    );
}
