//! Versioned SQL migrations from `migrations/`, embedded in the binary.
//!
//! Each run takes a transaction-scoped advisory lock (two deploys cannot
//! migrate at once, and it works through a transaction-mode pooler) and
//! applies its work in one transaction: DDL in PostgreSQL is transactional,
//! so a failed migration leaves nothing half-applied.

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Transaction, types::Type};

use crate::search;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    up: &'static str,
    down: &'static str,
}

macro_rules! migration {
    ($version:literal, $prefix:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            up: include_str!(concat!("../../migrations/", $prefix, "_", $name, ".up.sql")),
            down: include_str!(concat!(
                "../../migrations/",
                $prefix,
                "_",
                $name,
                ".down.sql"
            )),
        }
    };
}

/// In order. A new file in `migrations/` must be listed here (a test checks).
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001", "create_users_and_tasks"),
    migration!(2, "0002", "create_idempotency_keys"),
    migration!(3, "0003", "add_due_priority_labels"),
    migration!(4, "0004", "create_app_role"),
    migration!(5, "0005", "count_tasks_per_user"),
    migration!(6, "0006", "add_trash_history_changes"),
    migration!(7, "0007", "create_idempotent_batches"),
    migration!(8, "0008", "count_tasks_per_statement"),
];

/// The role the functions connect as (`migrations/0004`): rows of the
/// API's tables only.
pub const APP_ROLE: &str = "task_api_app";

/// How long a migration waits for a table lock before it gives up: a
/// migration queued behind a long query would otherwise make every request
/// queue behind it (PostgreSQL grants locks in order).
pub const LOCK_TIMEOUT: &str = "5s";

/// Any key unique to this project.
const LOCK_KEY: i64 = 0x7461_736b_5f61_7069; // "task_api"

/// Applies every pending migration; returns the versions applied.
pub async fn up(client: &mut Client) -> Result<Vec<i64>, tokio_postgres::Error> {
    let tx = locked(client).await?;
    let applied = applied_versions(&tx).await?;
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(m.up).await?;
        if m.version == SEARCH_WORDS_ADDED {
            fill_search_words(&tx).await?;
        }
        tx.query_typed(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[(&m.version, Type::INT8), (&m.name, Type::TEXT)],
        )
        .await?;
        done.push(m.version);
    }
    tx.commit().await?;
    Ok(done)
}

/// Reverts the latest applied migration; returns its version.
pub async fn down(client: &mut Client) -> Result<Option<i64>, tokio_postgres::Error> {
    let tx = locked(client).await?;
    let applied = applied_versions(&tx).await?;
    let Some(latest) = MIGRATIONS
        .iter()
        .rev()
        .find(|m| applied.contains(&m.version))
    else {
        return Ok(None);
    };
    tx.batch_execute(latest.down).await?;
    tx.query_typed(
        "DELETE FROM schema_migrations WHERE version = $1",
        &[(&latest.version, Type::INT8)],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(latest.version))
}

/// Every known migration and when it was applied, if it was.
pub async fn status(
    client: &mut Client,
) -> Result<Vec<(&'static Migration, Option<DateTime<Utc>>)>, tokio_postgres::Error> {
    let tx = locked(client).await?;
    let rows = tx
        .query_typed("SELECT version, applied_at FROM schema_migrations", &[])
        .await?;
    let mut applied = Vec::with_capacity(rows.len());
    for row in &rows {
        applied.push((
            row.try_get::<_, i64>(0)?,
            row.try_get::<_, DateTime<Utc>>(1)?,
        ));
    }
    tx.commit().await?;
    Ok(MIGRATIONS
        .iter()
        .map(|m| {
            (
                m,
                applied
                    .iter()
                    .find(|(v, _)| *v == m.version)
                    .map(|(_, at)| *at),
            )
        })
        .collect())
}

/// The migration that added `title_words` and `description_words`.
const SEARCH_WORDS_ADDED: i64 = 3;

/// Tasks stored before the search words existed get theirs, made by the
/// API's own `search::words` (SQL cannot make the same words whatever the
/// database's locale), in the migration's transaction: every task is
/// findable from the moment the columns exist. `updated_at` stays: the
/// task has not changed. Words hold no spaces, so a batch travels as
/// space-joined text (a `text[][]` must be rectangular).
async fn fill_search_words(tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    const BATCH: i64 = 1000;
    let mut after = uuid::Uuid::nil();
    loop {
        let rows = tx
            .query_typed(
                "SELECT id, title, description FROM tasks WHERE id > $1 ORDER BY id LIMIT $2",
                &[(&after, Type::UUID), (&BATCH, Type::INT8)],
            )
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get(0)?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut titles = Vec::with_capacity(rows.len());
        let mut descriptions = Vec::with_capacity(rows.len());
        for row in &rows {
            ids.push(row.try_get::<_, uuid::Uuid>(0)?);
            titles.push(search::words(row.try_get(1)?).join(" "));
            let description: Option<&str> = row.try_get(2)?;
            descriptions.push(search::words(description.unwrap_or_default()).join(" "));
        }
        tx.query_typed(
            "UPDATE tasks t SET
                title_words = array_to_tsvector(string_to_array(w.title, ' ')),
                description_words = array_to_tsvector(string_to_array(w.description, ' '))
            FROM unnest($1::uuid[], $2::text[], $3::text[]) AS w (id, title, description)
            WHERE t.id = w.id",
            &[
                (&ids, Type::UUID_ARRAY),
                (&titles, Type::TEXT_ARRAY),
                (&descriptions, Type::TEXT_ARRAY),
            ],
        )
        .await?;
    }
}

async fn locked(client: &mut Client) -> Result<Transaction<'_>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1)",
        &[(&LOCK_KEY, Type::INT8)],
    )
    .await?;
    // After the advisory lock: a second deploy still waits for the first.
    tx.batch_execute(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version     bigint PRIMARY KEY,
            name        text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    Ok(tx)
}

async fn applied_versions(tx: &Transaction<'_>) -> Result<Vec<i64>, tokio_postgres::Error> {
    tx.query_typed("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_migrations_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let expected: Vec<String> = MIGRATIONS
            .iter()
            .flat_map(|m| {
                ["down", "up"].map(|dir| format!("{:04}_{}.{dir}.sql", m.version, m.name))
            })
            .collect();
        assert_eq!(files, expected);
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }
}
