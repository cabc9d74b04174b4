//! The change feed's guarantee (API.md "Sync: changes since"), under load:
//! through PgBouncer in transaction mode, several writers change one
//! user's tasks over the real HTTP API (create, PUT, PATCH, DELETE to the
//! trash, restore, delete for good) while others run the repository's own statements inside
//! transactions they hold open a while (restore, delete for good, trash,
//! toggle, the 30-day purge), and one reader syncs a copy page by page all
//! along. At the end, once the reader has read until `more` is false, its
//! copy equals the server's tasks exactly. Why it holds: docs/design.md,
//! "The change feed".

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use integration_tests::{cluster::Pooler, *};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_postgres::types::Type;
use uuid::Uuid;

const USER: &str = "syncer";
/// How many writes a run makes (the writers stop after them): a count,
/// not a time, so that a run on a loaded machine is the same run, slower.
const WRITES: u64 = 1_500;
/// Small pages: many reads, each a snapshot of its own, during the writes.
const PAGE: usize = 7;

/// A small xorshift generator: no dependency, and a seed to print.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The ids writers pick from: every task ever created in the run.
type Ids = Arc<Mutex<Vec<Uuid>>>;

async fn pick(ids: &Ids, rng: &mut Rng) -> Option<Uuid> {
    let ids = ids.lock().await;
    (!ids.is_empty()).then(|| ids[rng.below(ids.len())])
}

/// A writer over HTTP: create, PUT, PATCH (toggle or set), DELETE to the
/// trash, restore, delete for good, on random tasks of the run (many of them trashed or gone: those
/// writes are 404s, which must change nothing).
async fn http_writer(
    base: String,
    ids: Ids,
    seed: u64,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) {
    let http = reqwest::Client::new();
    let token = token(USER);
    let mut rng = Rng(seed);
    let tasks = format!("{base}/api/{USER}/tasks");
    let trash = format!("{base}/api/{USER}/trash");
    while !stop.load(Ordering::Relaxed) {
        let roll = rng.below(100);
        let target = pick(&ids, &mut rng).await;
        let request = match (roll, target) {
            (0..20, _) | (_, None) => http.post(&tasks).json(
                &json!({"title": format!("t{}", rng.next() % 1000), "priority": rng.below(4)}),
            ),
            (20..45, Some(id)) => http.put(format!("{tasks}/{id}")).json(&json!({
                "title": format!("p{}", rng.next() % 1000),
                "completed": rng.below(2) == 0,
                "labels": [format!("l{}", rng.below(3))],
            })),
            (45..65, Some(id)) => http.patch(format!("{tasks}/{id}/complete")),
            (65..72, Some(id)) => http
                .patch(format!("{tasks}/{id}/complete"))
                .json(&json!({"completed": rng.below(2) == 0})),
            (72..82, Some(id)) => http.post(format!("{trash}/{id}/restore")),
            (82..86, Some(id)) => http.delete(format!("{trash}/{id}")),
            (_, Some(id)) => http.delete(format!("{tasks}/{id}")),
        };
        let response = request.bearer_auth(&token).send().await.expect("send");
        let status = response.status();
        assert!(
            [200, 201, 204, 404].contains(&status.as_u16()),
            "seed {seed}: {status} {}",
            response.text().await.unwrap_or_default()
        );
        if status == StatusCode::CREATED {
            let task: Value = response.json().await.expect("json");
            let id = task["id"].as_str().expect("id").parse().expect("uuid");
            ids.lock().await.push(id);
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// A writer that runs one of the repository's statements in a
/// transaction it holds open 2-20 ms before committing, so that its seq
/// is taken and uncommitted while the reader reads: restore, delete for
/// good, trash, toggle, or the 30-day purge (of a trashed task made due).
async fn held_writer(
    url: String,
    ids: Ids,
    seed: u64,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) {
    use shared::repository::{sql, trash};
    let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect through the pooler");
    tokio::spawn(connection);
    let mut rng = Rng(seed);
    let versions: Option<Vec<chrono::DateTime<chrono::Utc>>> = None;
    let limit = 1_000_000i32;
    while !stop.load(Ordering::Relaxed) {
        let Some(id) = pick(&ids, &mut rng).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let tx = client.transaction().await.expect("begin");
        let user = (
            &USER as &(dyn tokio_postgres::types::ToSql + Sync),
            Type::TEXT,
        );
        let id_param = (
            &id as &(dyn tokio_postgres::types::ToSql + Sync),
            Type::UUID,
        );
        let versions_param = (
            &versions as &(dyn tokio_postgres::types::ToSql + Sync),
            Type::TIMESTAMPTZ_ARRAY,
        );
        let written = match rng.below(100) {
            0..35 => {
                let limit = (
                    &limit as &(dyn tokio_postgres::types::ToSql + Sync),
                    Type::INT4,
                );
                tx.query_typed(
                    trash::sql::RESTORE,
                    &[user, id_param, versions_param, limit],
                )
                .await
            }
            35..55 => {
                tx.query_typed(trash::sql::DESTROY, &[user, id_param, versions_param])
                    .await
            }
            55..75 => {
                tx.query_typed(trash::sql::TRASH, &[user, id_param, versions_param])
                    .await
            }
            75..92 => {
                tx.query_typed(sql::TOGGLE, &[user, id_param, versions_param])
                    .await
            }
            _ => {
                tx.query_typed(
                    "UPDATE trashed_tasks SET purge_after = now() WHERE user_id = $1 AND id = $2",
                    &[user, id_param],
                )
                .await
                .expect("due");
                tx.query_typed(trash::sql::PURGE_TRASH, &[]).await
            }
        };
        written.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        tokio::time::sleep(Duration::from_millis(2 + rng.below(19) as u64)).await;
        tx.commit().await.expect("commit");
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// The syncing reader's copy: task id to the task's JSON.
#[derive(Default)]
struct Replica {
    tasks: BTreeMap<String, Value>,
    since: Option<String>,
    pages: u64,
}

impl Replica {
    /// Reads and applies one page; whether `more` was true.
    async fn step(&mut self, http: &reqwest::Client, base: &str) -> bool {
        let mut url = format!("{base}/api/{USER}/changes?limit={PAGE}");
        if let Some(since) = &self.since {
            url.push_str(&format!("&since={since}"));
        }
        let response = http
            .get(&url)
            .bearer_auth(token(USER))
            .send()
            .await
            .expect("send");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{body}");
        let changes = body["changes"].as_array().expect("changes");
        assert!(changes.len() <= PAGE);
        for change in changes {
            let id = change["id"].as_str().expect("id").to_owned();
            if change["deleted"] == true {
                self.tasks.remove(&id);
            } else {
                self.tasks.insert(id, change.clone());
            }
        }
        self.since = Some(body["next"].as_str().expect("next").to_owned());
        self.pages += 1;
        body["more"] == true
    }
}

/// One run: writers and the reader at once, then the check.
async fn run_once(round: u64) {
    let db = TestDb::new().await;
    let pooler = Pooler::start(&direct(&db.url), 1000).await;
    let mut vars = db.vars();
    vars.insert("DATABASE_URL".into(), pooler.url.clone());
    vars.insert("DB_POOL_MAX_SIZE".into(), "8".into());
    vars.insert("DB_POOL_TIMEOUT_MS".into(), "20000".into());
    // Two servers, as two Lambda functions would be: the writers' and the
    // reader's, each with its own pool, both through the pooler.
    let writers_api = serve(
        Arc::new(shared::AppState::new(&config_from(&vars)).expect("state")),
        origins(),
    )
    .await;
    let reader_api = serve(
        Arc::new(shared::AppState::new(&config_from(&vars)).expect("state")),
        origins(),
    )
    .await;
    let seed = now() ^ (round << 32) | 1;
    let ids: Ids = Arc::default();
    let http = reqwest::Client::new();
    // Tasks to start from: the reader's first sync walks them while the
    // writers change them.
    for n in 0..60 {
        let task = http
            .post(format!("{writers_api}/api/{USER}/tasks"))
            .bearer_auth(token(USER))
            .json(&json!({"title": format!("seed {n}")}))
            .send()
            .await
            .expect("send");
        assert_eq!(task.status(), StatusCode::CREATED);
        let task: Value = task.json().await.expect("json");
        ids.lock()
            .await
            .push(task["id"].as_str().unwrap().parse().unwrap());
    }

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..4u64 {
        writers.push(tokio::spawn(http_writer(
            writers_api.clone(),
            ids.clone(),
            seed.wrapping_mul(w + 3) | 1,
            stop.clone(),
            done.clone(),
        )));
    }
    for w in 0..2u64 {
        writers.push(tokio::spawn(held_writer(
            pooler.url.clone(),
            ids.clone(),
            seed.wrapping_mul(w + 11) | 1,
            stop.clone(),
            done.clone(),
        )));
    }
    let mut replica = Replica::default();
    let mut pages_while_writing = 0;
    while done.load(Ordering::Relaxed) < WRITES {
        replica.step(&http, &reader_api).await;
        pages_while_writing += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("a writer failed");
    }
    // Drain: read until the feed says there is no more.
    while replica.step(&http, &reader_api).await {}

    let server: Vec<Value> = http
        .get(format!("{writers_api}/api/{USER}/tasks"))
        .bearer_auth(token(USER))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let server: BTreeMap<String, Value> = server
        .into_iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t))
        .collect();
    let client = db.client().await;
    let counts = client
        .query_typed(
            "SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM trashed_tasks),
                    (SELECT count(*) FROM task_tombstones), (SELECT change_seq FROM users WHERE id = $1)",
            &[(&USER, Type::TEXT)],
        )
        .await
        .expect("counts");
    let (live, trashed, gone, seq): (i64, i64, i64, i64) = (
        counts[0].get(0),
        counts[0].get(1),
        counts[0].get(2),
        counts[0].get(3),
    );
    let mut wrong: Vec<&String> = server
        .keys()
        .chain(replica.tasks.keys())
        .filter(|id| server.get(*id) != replica.tasks.get(*id))
        .collect();
    wrong.sort_unstable();
    wrong.dedup();
    eprintln!(
        "round {round} (seed {seed}): {} writes, {} pages ({pages_while_writing} while writing), final seq {seq}, \
         live/trash/gone {live}/{trashed}/{gone}, rows wrong {}",
        done.load(Ordering::Relaxed),
        replica.pages,
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "seed {seed}: the copy differs on {} tasks, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(replica.tasks.len() as i64, live);
    // The run did what it is meant to: writes of every kind, while pages
    // were read.
    assert!(
        trashed > 0 && gone > 0 && seq > 200,
        "{trashed} {gone} {seq}"
    );
    assert!(pages_while_writing > 10, "{pages_while_writing}");
    // Every seq above 0 is one write's: unique across the three tables.
    let duplicated: i64 = client
        .query_typed(
            "SELECT count(*) - count(DISTINCT seq) FROM (
                 SELECT seq FROM tasks UNION ALL SELECT seq FROM trashed_tasks
                 UNION ALL SELECT seq FROM task_tombstones) s",
            &[],
        )
        .await
        .expect("seqs")[0]
        .get(0);
    assert_eq!(duplicated, 0);
}

/// `SYNC_ROUNDS` runs (1 by default; the "20 in a row" is
/// `SYNC_ROUNDS=20`), each on a database and a pooler of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_syncing_copy_ends_equal_to_the_server_under_concurrent_writers() {
    let rounds: u64 = std::env::var("SYNC_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    for round in 0..rounds {
        run_once(round).await;
    }
}
