//! The list statements' plans, for one user with 100,000 tasks: every sort
//! both ways, first page and a page deep in the walk, a search, each
//! filter. A page reads only the rows it needs through an index:
//!
//! - no plan scans `tasks` sequentially;
//! - no scan reads (returns or filters away) half of the user's tasks or
//!   more, and no Sort is fed that many: a top-N Sort is fine over the
//!   rows an index condition beyond the owner already chose (the matches
//!   of a word or a label, a range of dues), which is what this bound lets
//!   through, and an unbounded one fails it;
//! - the statements that may be run named and cached (no filter beyond
//!   `completed`) meet the same rules with a generic plan.
//!
//! EXPLAIN ANALYZE on the real statements (`repository::list::statement`),
//! with their parameters bound as the API binds them.

use integration_tests::*;
use serde_json::Value;
use shared::{
    cursor::{Cursor, SortValue},
    input::{Filters, ListQuery},
    repository::list::{ListStatement, statement},
    sort::Sort,
};
use tokio_postgres::{Client, types::ToSql};

const BIG: &str = "big";
const BIG_TASKS: i64 = 100_000;
/// A scan or Sort may see fewer rows than this.
const BOUND: f64 = (BIG_TASKS / 2) as f64;

/// 100,000 tasks for `big`, 10 each for 50 others (the file says how).
const SEED: &str = include_str!("../../bench/sql/find-seed.sql");

/// The filters checked, each with every sort both ways.
fn cases() -> Vec<(&'static str, Filters)> {
    let at = |s: &str| Some(s.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    let words = |w: &[&str]| w.iter().map(|w| w.to_string()).collect();
    vec![
        ("none", Filters::default()),
        (
            "completed=false",
            Filters {
                completed: Some(false),
                ..Filters::default()
            },
        ),
        (
            "q: two dense words",
            Filters {
                words: words(&["bu", "mi"]),
                ..Filters::default()
            },
        ),
        (
            "q: a rare word",
            Filters {
                words: words(&["zanz"]),
                ..Filters::default()
            },
        ),
        (
            "q: one letter",
            Filters {
                words: words(&["e"]),
                ..Filters::default()
            },
        ),
        (
            "q: nothing matches",
            Filters {
                words: words(&["buy", "zzq"]),
                ..Filters::default()
            },
        ),
        (
            "priority=3",
            Filters {
                priority: Some(3),
                ..Filters::default()
            },
        ),
        (
            "label=label9&label=label31",
            Filters {
                labels: words(&["label31", "label9"]),
                ..Filters::default()
            },
        ),
        (
            "due window of 30 days",
            Filters {
                due_after: at("2025-06-01T00:00:00Z"),
                due_before: at("2025-07-01T00:00:00Z"),
                ..Filters::default()
            },
        ),
        (
            "overdue=true",
            Filters {
                overdue: Some(true),
                ..Filters::default()
            },
        ),
        (
            "overdue=false",
            Filters {
                overdue: Some(false),
                ..Filters::default()
            },
        ),
        (
            "has_due=true",
            Filters {
                has_due: Some(true),
                ..Filters::default()
            },
        ),
        (
            "has_due=false",
            Filters {
                has_due: Some(false),
                ..Filters::default()
            },
        ),
        (
            "completed=false&priority=2&q",
            Filters {
                completed: Some(false),
                priority: Some(2),
                words: words(&["re"]),
                ..Filters::default()
            },
        ),
    ]
}

const SORTS: [&str; 10] = [
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "due_by",
    "-due_by",
    "priority",
    "-priority",
    "title",
    "-title",
];

fn params(s: &ListStatement) -> Vec<(&(dyn ToSql + Sync), tokio_postgres::types::Type)> {
    s.params
        .iter()
        .map(|(v, t)| (v.as_ref() as &(dyn ToSql + Sync), t.clone()))
        .collect()
}

/// The position after the task 90 % of the way through the walk of all of
/// `big`'s tasks in `sort` (a deep page's cursor, its key as the database
/// returns it). A filtered list's deep page starts there too.
async fn deep_position(client: &Client, sort: Sort) -> (SortValue, uuid::Uuid) {
    let walk = ListQuery {
        sort,
        limit: BIG_TASKS as usize,
        ..ListQuery::default()
    };
    let s = statement(BIG, &walk);
    let sql = format!(
        "SELECT sort_key, id FROM ({}) page OFFSET {} LIMIT 1",
        s.sql,
        BIG_TASKS * 9 / 10
    );
    let row = client.query_typed(&sql, &params(&s)).await.unwrap();
    (row[0].get(0), row[0].get(1))
}

/// What breaks the rules in one plan (EXPLAIN ANALYZE's JSON), if anything.
fn faults(node: &Value, out: &mut Vec<String>) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let relation = node["Relation Name"].as_str().unwrap_or_default();
    let loops = node["Actual Loops"].as_f64().unwrap_or(1.0);
    let rows = node["Actual Rows"].as_f64().unwrap_or(0.0) * loops;
    if kind == "Seq Scan" && relation == "tasks" {
        out.push("Seq Scan on tasks".into());
    }
    if kind.contains("Scan") && relation == "tasks" {
        let removed = ["Rows Removed by Filter", "Rows Removed by Index Recheck"]
            .iter()
            .map(|k| node[*k].as_f64().unwrap_or(0.0) * loops)
            .sum::<f64>();
        if rows + removed >= BOUND {
            out.push(format!("{kind} reads {} rows", rows + removed));
        }
    }
    if kind == "Sort" {
        let input: f64 = node["Plans"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                c["Actual Rows"].as_f64().unwrap_or(0.0) * c["Actual Loops"].as_f64().unwrap_or(1.0)
            })
            .sum();
        if input >= BOUND {
            out.push(format!("Sort of {input} rows"));
        }
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        faults(child, out);
    }
}

fn shape(node: &Value) -> String {
    let mut text = node["Node Type"].as_str().unwrap_or_default().to_owned();
    if let Some(index) = node["Index Name"].as_str() {
        text.push_str(&format!("({index})"));
    }
    let children: Vec<String> = node["Plans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(shape)
        .collect();
    if !children.is_empty() {
        text.push_str(&format!(" > {}", children.join(" + ")));
    }
    text
}

async fn explain(
    client: &Client,
    sql: &str,
    p: &[(&(dyn ToSql + Sync), tokio_postgres::types::Type)],
) -> Value {
    let sql = format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}");
    let row = client.query_typed(&sql, p).await.unwrap();
    let plan: Value = row[0].get(0);
    plan[0]["Plan"].clone()
}

/// The generic plan of `s`, as a named statement would get it after its
/// fifth run (PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN)).
async fn explain_generic(client: &Client, s: &ListStatement) -> Value {
    let types: Vec<&str> = s.params.iter().map(|(_, t)| t.name()).collect();
    client.batch_execute("DEALLOCATE ALL").await.unwrap();
    client
        .batch_execute(&format!("PREPARE list ({}) AS {}", types.join(", "), s.sql))
        .await
        .unwrap();
    // EXECUTE takes no bound parameters inside EXPLAIN: the server writes
    // each value as a literal of its type.
    let quote: Vec<String> = (1..=types.len())
        .map(|i| format!("quote_nullable(${i}::{})", types[i - 1]))
        .collect();
    let row = client
        .query_typed(&format!("SELECT {}", quote.join(", ")), &params(s))
        .await
        .unwrap();
    let args: Vec<String> = (0..types.len())
        .map(|i| format!("{}::{}", row[0].get::<_, String>(i), types[i]))
        .collect();
    let sql = format!("EXECUTE list ({})", args.join(", "));
    client
        .batch_execute("SET plan_cache_mode = force_generic_plan")
        .await
        .unwrap();
    let plan = explain(client, &sql, &[]).await;
    client.batch_execute("RESET plan_cache_mode").await.unwrap();
    assert!(
        plan.to_string().contains("$1"),
        "not a generic plan: {plan}"
    );
    plan
}

#[tokio::test]
async fn every_list_statement_reads_only_the_rows_it_needs() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Indexes built once after the rows (9 s faster than row by row),
    // exactly as the migration makes them.
    let migration =
        std::fs::read_to_string(workspace().join("migrations/0003_add_due_priority_labels.up.sql"))
            .unwrap();
    let indexes: Vec<&str> = migration
        .split(';')
        .map(|s| s.trim())
        .filter_map(|s| s.find("CREATE INDEX").map(|at| &s[at..]))
        .collect();
    assert_eq!(indexes.len(), 7, "{indexes:?}");
    for index in &indexes {
        let name = index.split_whitespace().nth(2).unwrap();
        client
            .batch_execute(&format!("DROP INDEX {name}"))
            .await
            .unwrap();
    }
    client.batch_execute(SEED).await.unwrap();
    for index in &indexes {
        client.batch_execute(index).await.unwrap();
    }
    client.batch_execute("ANALYZE tasks").await.unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut deep = Vec::new();
    for sort in SORTS {
        let sort = Sort::parse(sort).unwrap();
        deep.push((sort, deep_position(&client, sort).await));
    }
    for (name, filters) in cases() {
        for (sort, (key, id)) in &deep {
            let query = ListQuery {
                sort: *sort,
                filters: filters.clone(),
                limit: 50,
                ..ListQuery::default()
            };
            let after = Cursor {
                sort: *sort,
                fingerprint: Some(filters.fingerprint()),
                key: key.clone(),
                id: *id,
            };
            let pages = [
                ("first page", query.clone()),
                (
                    "deep page",
                    ListQuery {
                        after: Some(after),
                        ..query.clone()
                    },
                ),
            ];
            for (page, query) in pages {
                let s = statement(BIG, &query);
                let mut plans = vec![("custom", explain(&client, &s.sql, &params(&s)).await)];
                if !s.selective {
                    plans.push(("generic", explain_generic(&client, &s).await));
                }
                for (kind, plan) in plans {
                    checked += 1;
                    let mut found = Vec::new();
                    faults(&plan, &mut found);
                    if !found.is_empty() {
                        failures.push(format!(
                            "{name}, sort={sort:?}, {page}, {kind} plan: {}\n    {}",
                            found.join("; "),
                            shape(&plan)
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 300, "{checked} plans checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The trash list's statements (`repository::trash`), first page and a
/// deep one, custom and generic plans, for a user with 20,000 trashed tasks
/// among 50 others' trash: each walks the (user_id, deleted_at, id) index
/// in order and stops at the page, no Sort, no scan of the user's trash.
#[tokio::test]
async fn the_trash_list_walks_its_index_in_order() {
    use shared::repository::trash::sql::{LIST_TRASH, LIST_TRASH_AFTER};
    use tokio_postgres::types::Type;
    const TRASHED: i64 = 20_000;
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "INSERT INTO users (id) SELECT 'u' || n FROM generate_series(0, 50) n;
             INSERT INTO trashed_tasks (id, user_id, title, created_at, updated_at,
                 title_words, description_words, deleted_at, purge_after)
             SELECT gen_random_uuid(), CASE WHEN n <= {TRASHED} THEN 'u0' ELSE 'u' || (n % 50 + 1) END,
                 'Task ' || n, t, t, '', '', t + interval '1 minute', t + interval '721 hours'
             FROM generate_series(1, {TRASHED} + 500) n,
                  LATERAL (SELECT now() - n * interval '1 second' AS t) AS at;
             ANALYZE trashed_tasks;"
        ))
        .await
        .unwrap();
    let deep: (chrono::DateTime<chrono::Utc>, uuid::Uuid) = {
        let row = client
            .query_one(
                "SELECT deleted_at, id FROM trashed_tasks WHERE user_id = 'u0'
                 ORDER BY deleted_at DESC, id DESC OFFSET 18000 LIMIT 1",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let user = "u0";
    let fetch: i64 = 51;
    let first: Vec<(&(dyn ToSql + Sync), Type)> = vec![(&user, Type::TEXT), (&fetch, Type::INT8)];
    let after: Vec<(&(dyn ToSql + Sync), Type)> = vec![
        (&user, Type::TEXT),
        (&deep.0, Type::TIMESTAMPTZ),
        (&deep.1, Type::UUID),
        (&fetch, Type::INT8),
    ];
    let mut failures = Vec::new();
    for (page, sql, p, types) in [
        ("first page", LIST_TRASH, &first, "text, int8"),
        (
            "deep page",
            LIST_TRASH_AFTER,
            &after,
            "text, timestamptz, uuid, int8",
        ),
    ] {
        let custom = explain(&client, sql, p).await;
        client.batch_execute("DEALLOCATE ALL").await.unwrap();
        client
            .batch_execute(&format!("PREPARE trash ({types}) AS {sql}"))
            .await
            .unwrap();
        let args = if p.len() == 2 {
            "'u0', 51".to_owned()
        } else {
            format!(
                "'u0', '{}'::timestamptz, '{}'::uuid, 51",
                deep.0.to_rfc3339(),
                deep.1
            )
        };
        client
            .batch_execute("SET plan_cache_mode = force_generic_plan")
            .await
            .unwrap();
        let generic = explain(&client, &format!("EXECUTE trash ({args})"), &[]).await;
        client.batch_execute("RESET plan_cache_mode").await.unwrap();
        for (kind, plan) in [("custom", custom), ("generic", generic)] {
            let text = shape(&plan);
            let rows = plan["Plans"][0]["Actual Rows"].as_f64().unwrap_or(f64::MAX);
            if !text.starts_with("Limit > Index Scan(trashed_tasks_user_id_deleted_at_id_idx)")
                || text.contains("Sort")
                || rows > 51.0
            {
                failures.push(format!("{page}, {kind}: {text} ({rows} rows)"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
