//! Running a batch. One transaction on one pooled connection: its key
//! claimed, its existing tasks locked in id order, then each operation in
//! order with the single routes' own statements (a run of consecutive
//! creates as one statement). Atomic: the first failure rolls everything
//! back. Not atomic: each operation under a savepoint, so a failed one
//! undoes only itself.

use lambda_http::http::StatusCode;
use uuid::Uuid;

use super::parse::{Batch, Operation};
use crate::{
    auth::UserId,
    db::{DbError, Transaction},
    endpoint,
    error::ApiError,
    housekeeping::NowAndThen,
    idempotency::{
        IdempotencyKey,
        batches::{self, Remembered},
    },
    input::NewTask,
    repository::{TaskRepository, Written},
    task::Task,
    validation,
};

/// One operation's answer.
#[derive(Debug)]
pub enum Answer {
    /// 201 (created) or 200, with the task and its ETag.
    Task(StatusCode, Task),
    /// 204 (deleted).
    NoContent,
    /// What the single route would have refused it with (400, 404, 409,
    /// 412).
    Refused(ApiError),
    /// 424: an atomic batch whose operation at this index failed.
    NotApplied { failed: usize },
}

impl Answer {
    fn succeeded(&self) -> bool {
        matches!(self, Self::Task(..) | Self::NoContent)
    }

    /// `{"status": …, "task": …, "etag": …}` or `{"status": …, "detail": …}`.
    fn write_json(&self, out: &mut String) -> Result<(), ApiError> {
        let detail = |out: &mut String, status: StatusCode, detail: &str| {
            out.push_str(&format!(
                r#"{{"status":{},"detail":{}}}"#,
                status.as_u16(),
                serde_json::Value::from(detail)
            ));
        };
        match self {
            Self::Task(status, task) => {
                out.push_str(&format!(r#"{{"status":{},"task":"#, status.as_u16()));
                out.push_str(&task.to_json()?);
                out.push_str(r#","etag":"#);
                out.push_str(&serde_json::Value::from(task.etag()?).to_string());
                out.push('}');
            }
            Self::NoContent => out.push_str(r#"{"status":204}"#),
            Self::Refused(e) => detail(out, e.status(), &e.to_string()),
            Self::NotApplied { failed } => detail(
                out,
                StatusCode::FAILED_DEPENDENCY,
                &format!(
                    "not applied: operation {failed} failed, and the batch is atomic: nothing was written"
                ),
            ),
        }
        Ok(())
    }
}

/// A batch's 200 body, new or replayed.
#[derive(Debug)]
pub enum Reply {
    Ran(String),
    /// The first answer under the request's `Idempotency-Key`.
    Replayed(String),
}

/// Keyed batches remembered in this execution environment: every 16th
/// purges the expired ones, as keyed POSTs do their keys.
static REMEMBERED: NowAndThen = NowAndThen::from_the_first();

/// Runs `batch` for `user`: its answers as the 200's body, or the replay
/// of `key`'s first answer. 409 / 422 for a key in progress or reused;
/// 503 / 500 as any route.
pub async fn run(
    tasks: &TaskRepository,
    user: &UserId,
    mut batch: Batch,
    key: Option<&IdempotencyKey>,
) -> Result<Reply, ApiError> {
    let db = tasks.database();
    // A retry is only read, as a keyed POST's.
    if let Some(key) = key
        && let Some(remembered) = batches::find_batch(db, user, key, &batch.fingerprint).await?
    {
        return replay(remembered);
    }
    check_time_zones(tasks, &mut batch).await?;
    // An atomic batch answers its first failure in order. When the first
    // operation is invalid nothing can fail before it: no SQL at all. One
    // invalid further on still runs those before it (then rolls back),
    // since one of them may fail first (a 404, a 412).
    if batch.atomic
        && let Some(failed) = batch
            .operations
            .first()
            .is_some_and(Result::is_err)
            .then_some(0)
    {
        let answers = batch
            .operations
            .into_iter()
            .enumerate()
            .map(|(at, op)| match op {
                Err(e) if at == failed => Answer::Refused(e),
                _ => Answer::NotApplied { failed },
            })
            .collect::<Vec<_>>();
        return Ok(Reply::Ran(body(&answers)?));
    }

    // A statement gone stale (issue 26) aborts the transaction, and
    // nothing of it is committed: the whole batch runs once more on a fresh
    // one, its statements prepared again. Its key is claimed again too (the
    // claim is the transaction's): a retry that finds it taken or finished
    // answers as any request would then.
    // Both runs share the first one's deadline: one statement's slot of
    // the time budget.
    let mut retry_until = None;
    let (body, remembered) = loop {
        let (tx, claimed) = db
            .transaction_with(retry_until, async |tx| {
                claim(tasks, tx, user, &batch, key).await
            })
            .await?;
        let attempt = match claimed {
            Ok(None) => attempt(tasks, &tx, user, &batch, key).await,
            Ok(Some(stop)) => Ok(Attempt::Rollback(stop)),
            Err(e) => Err(e),
        };
        match attempt {
            Ok(Attempt::Commit(body, remembered)) => {
                tx.commit().await?;
                break (body, remembered);
            }
            Ok(Attempt::Rollback(reply)) => {
                tx.rollback().await?;
                return reply;
            }
            Err(_) if retry_until.is_none() && tx.went_stale() => {
                tracing::warn!("batch hit a stale statement; running it once more");
                retry_until = Some(tx.deadline());
                tx.rollback().await?;
            }
            Err(e) => return Err(e),
        }
    };
    if remembered && REMEMBERED.due() {
        batches::purge_expired_batches(db).await;
    }
    Ok(Reply::Ran(body))
}

/// How one run of a batch's transaction ends.
enum Attempt {
    /// Commit, and answer this body; whether it was remembered under the
    /// request's key.
    Commit(String, bool),
    /// Roll back, and answer this (a failed atomic batch, a key in progress
    /// or finished meanwhile).
    Rollback(Result<Reply, ApiError>),
}

/// What a batch reads before it writes, pipelined with its `BEGIN`
/// (`Database::transaction_with`): its key claimed and looked up again,
/// in one round trip, or else its existing tasks locked. `Some`: the
/// answer, without running (the key in progress, or finished between
/// the first look and the claim).
async fn claim(
    tasks: &TaskRepository,
    tx: &Transaction<'_>,
    user: &UserId,
    batch: &Batch,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Result<Reply, ApiError>>, ApiError> {
    let Some(key) = key else {
        lock_tasks(tasks, tx, user, batch).await?;
        return Ok(None);
    };
    let (claimed, found) = futures_util::future::join(
        batches::lock_batch_key(tx, user, key),
        batches::find_batch(tx, user, key, &batch.fingerprint),
    )
    .await;
    if !claimed? {
        return Ok(Some(Err(ApiError::IdempotencyKeyInProgress)));
    }
    if let Some(remembered) = found? {
        return Ok(Some(replay(remembered)));
    }
    // Only once the key is ours: these locks may wait.
    lock_tasks(tasks, tx, user, batch).await?;
    Ok(None)
}

/// Locks the batch's existing tasks in id order (the lock order of every
/// write: task rows first, then the user row).
async fn lock_tasks(
    tasks: &TaskRepository,
    tx: &Transaction<'_>,
    user: &UserId,
    batch: &Batch,
) -> Result<(), DbError> {
    let mut ids: Vec<Uuid> = batch
        .operations
        .iter()
        .filter_map(|op| op.as_ref().ok()?.task_id())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    tasks.on(tx).lock_tasks(user, &ids).await
}

/// The batch on `tx`, its key claimed and its tasks locked (`claim`):
/// its answers, and whether to commit them.
async fn attempt(
    tasks: &TaskRepository,
    tx: &Transaction<'_>,
    user: &UserId,
    batch: &Batch,
    key: Option<&IdempotencyKey>,
) -> Result<Attempt, ApiError> {
    let on_tx = tasks.on(tx);
    let answers = apply_all(&on_tx, tx, user, batch).await?;
    if batch.atomic
        && let Some(failed) = answers.iter().position(|a| !a.succeeded())
    {
        // The operations after the failed one never ran.
        let mut answers = answers;
        answers.resize_with(batch.operations.len(), || Answer::NotApplied { failed });
        let answers = answers
            .into_iter()
            .enumerate()
            .map(|(at, answer)| {
                if at == failed {
                    answer
                } else {
                    Answer::NotApplied { failed }
                }
            })
            .collect::<Vec<_>>();
        return Ok(Attempt::Rollback(body(&answers).map(Reply::Ran)));
    }
    let body = body(&answers)?;
    let wrote = answers.iter().any(Answer::succeeded);
    let remember = key.filter(|_| wrote);
    if let Some(key) = remember {
        batches::remember_batch(tx, user, key, &batch.fingerprint, &body).await?;
    }
    Ok(Attempt::Commit(body, remember.is_some()))
}

fn replay(remembered: Remembered) -> Result<Reply, ApiError> {
    match remembered {
        Remembered::Replay(body) => Ok(Reply::Replayed(body)),
        Remembered::Reused => Err(ApiError::BatchKeyReused),
    }
}

/// An operation naming a zone the database does not know is its 400, as
/// the single route's, found before anything is written (one probe).
async fn check_time_zones(tasks: &TaskRepository, batch: &mut Batch) -> Result<(), DbError> {
    let zone = |op: &Operation| -> Option<String> {
        match op {
            Operation::Create(task) => Some(task.time_zone.clone()),
            Operation::Update { changes, .. } => changes.time_zone.clone(),
            _ => None,
        }
        .filter(|zone| zone != crate::input::DEFAULT_TIME_ZONE)
    };
    let zones: Vec<String> = batch
        .operations
        .iter()
        .filter_map(|op| zone(op.as_ref().ok()?))
        .collect();
    if zones.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = zones.iter().map(String::as_str).collect();
    let unknown = tasks.unknown_time_zones(&names).await?;
    for op in &mut batch.operations {
        if let Some(bad) = op
            .as_ref()
            .ok()
            .and_then(zone)
            .filter(|z| unknown.contains(z))
        {
            *op = Err(ApiError::bad_request(validation::unknown_time_zone(&bad)));
        }
    }
    Ok(())
}

/// Each operation in order; an atomic batch stops at its first failure
/// (the rest are answered 424 by the caller).
async fn apply_all(
    tasks: &TaskRepository<&Transaction<'_>>,
    tx: &Transaction<'_>,
    user: &UserId,
    batch: &Batch,
) -> Result<Vec<Answer>, ApiError> {
    let ops = &batch.operations;
    let mut answers: Vec<Answer> = Vec::with_capacity(ops.len());
    // Not atomic: whether a step's savepoint is held (released with the
    // next step's, or by `COMMIT`, which releases them all).
    let mut savepoint = false;
    while answers.len() < ops.len() {
        let at = answers.len();
        let creates: Vec<&NewTask> = ops[at..]
            .iter()
            .map_while(|op| match op {
                Ok(Operation::Create(task)) => Some(task),
                _ => None,
            })
            .collect();
        let mut done: Vec<Answer> = if !creates.is_empty() {
            guarded(
                tx,
                batch.atomic,
                &mut savepoint,
                create_run(tasks, user, &creates),
            )
            .await?
        } else {
            match &ops[at] {
                Err(e) => vec![Answer::Refused(clone_refusal(e))],
                Ok(op) => guarded(tx, batch.atomic, &mut savepoint, apply(tasks, user, op)).await?,
            }
        };
        let failed = batch.atomic && done.iter().any(|a| !a.succeeded());
        answers.append(&mut done);
        if failed {
            break;
        }
    }
    Ok(answers)
}

/// Runs one step (an operation, or a run of creates): in a batch that is
/// not atomic, under a savepoint, rolled back to when nothing of the step
/// succeeded (a run of creates stopped by the task limit keeps those made).
/// The last step's savepoint's `RELEASE`, this step's `SAVEPOINT` and its
/// first statement go out together, in one round trip: nothing they answer is
/// needed to send the next (a failure of either fails the batch, which
/// then commits nothing).
async fn guarded(
    tx: &Transaction<'_>,
    atomic: bool,
    savepoint_held: &mut bool,
    step: impl Future<Output = Result<Vec<Answer>, ApiError>>,
) -> Result<Vec<Answer>, ApiError> {
    if atomic {
        return step.await;
    }
    let held = *savepoint_held;
    let release = async {
        if held {
            tx.release_savepoint().await
        } else {
            Ok(())
        }
    };
    let (released, marked, answers) =
        futures_util::future::join3(release, tx.savepoint(), step).await;
    released?;
    marked?;
    *savepoint_held = true;
    let answers = answers?;
    if !answers.iter().any(Answer::succeeded) {
        // The savepoint stays, released with the next step's.
        tx.rollback_to_savepoint().await?;
    }
    Ok(answers)
}

/// Consecutive creates, one statement: 201 each, and 409 for those past
/// the owner's task limit.
async fn create_run(
    tasks: &TaskRepository<&Transaction<'_>>,
    user: &UserId,
    creates: &[&NewTask],
) -> Result<Vec<Answer>, ApiError> {
    let made = match tasks.create_many(user, creates).await {
        Ok(made) => made,
        Err(DbError::Invalid(detail)) => {
            return Ok(creates
                .iter()
                .map(|_| Answer::Refused(ApiError::BadRequest(detail.clone())))
                .collect());
        }
        Err(e) => return Err(e.into()),
    };
    let mut answers: Vec<Answer> = made
        .into_iter()
        .map(|task| Answer::Task(StatusCode::CREATED, task))
        .collect();
    while answers.len() < creates.len() {
        answers.push(Answer::Refused(ApiError::TaskLimitReached(
            tasks.max_tasks(),
        )));
    }
    Ok(answers)
}

/// One update, complete or delete: the single route's statement.
async fn apply(
    tasks: &TaskRepository<&Transaction<'_>>,
    user: &UserId,
    op: &Operation,
) -> Result<Vec<Answer>, ApiError> {
    let written = match op {
        Operation::Create(task) => return create_run(tasks, user, &[task]).await,
        Operation::Update {
            id,
            changes,
            versions,
        } => tasks.update(user, *id, changes, versions.as_deref()).await,
        Operation::Complete {
            id,
            completed: Some(completed),
            versions,
        } => {
            tasks
                .set_completed(user, *id, *completed, versions.as_deref())
                .await
        }
        Operation::Complete {
            id,
            completed: None,
            versions,
        } => tasks.toggle_completed(user, *id, versions.as_deref()).await,
        Operation::Delete { id, versions } => {
            let deleted = tasks.delete(user, *id, versions.as_deref()).await;
            return Ok(vec![match deleted {
                Ok(written) => match endpoint::written(written) {
                    Ok(()) => Answer::NoContent,
                    Err(refusal) => Answer::Refused(refusal),
                },
                Err(DbError::Invalid(detail)) => Answer::Refused(ApiError::BadRequest(detail)),
                Err(e) => return Err(e.into()),
            }]);
        }
    };
    Ok(vec![match written {
        Ok(written) => task_answer(written),
        Err(DbError::Invalid(detail)) => Answer::Refused(ApiError::BadRequest(detail)),
        Err(e) => return Err(e.into()),
    }])
}

fn task_answer(written: Written<Task>) -> Answer {
    match endpoint::written(written) {
        Ok(task) => Answer::Task(StatusCode::OK, task),
        Err(refusal) => Answer::Refused(refusal),
    }
}

/// Validation's refusals are 400s with a detail: copied into the answer.
fn clone_refusal(e: &ApiError) -> ApiError {
    match e {
        ApiError::BadRequest(detail) => ApiError::BadRequest(detail.clone()),
        other => ApiError::BadRequest(other.to_string()),
    }
}

/// `{"results": [...]}`.
fn body(answers: &[Answer]) -> Result<String, ApiError> {
    let mut out = String::with_capacity(64 + answers.len() * 512);
    out.push_str(r#"{"results":["#);
    for (at, answer) in answers.iter().enumerate() {
        if at > 0 {
            out.push(',');
        }
        answer.write_json(&mut out)?;
    }
    out.push_str("]}");
    Ok(out)
}
