//! `Idempotency-Key` on a batch: the first answer of a batch that wrote
//! something, remembered for 24 hours with the batch's fingerprint and
//! replayed as it was sent. The key is claimed inside the batch's own
//! transaction (a transaction-scoped advisory lock: nothing outlives it
//! behind a transaction-mode pooler), and remembered in it, so a batch
//! and its key commit together or not at all.

use tokio_postgres::types::Type;

use super::header::IdempotencyKey;
use crate::{
    auth::UserId,
    db::{DbError, Executor},
};

pub mod sql {
    /// The key's stored answer, and whether it was for the same batch.
    pub const FIND_BATCH: &str = "SELECT fingerprint = $3 AS same_batch, response
        FROM idempotent_batches
        WHERE user_id = $1 AND key = $2 AND created_at > now() - interval '24 hours'";

    /// Marks the batch with this key in progress until its transaction
    /// ends; a concurrent one does not wait (false: 409). Keyed apart from
    /// a single POST's lock on the same key.
    pub const LOCK_BATCH_KEY: &str =
        "SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext('batch ' || $2))";

    /// Remembers the answer; an expired entry of the key is taken over.
    pub const REMEMBER_BATCH: &str = "INSERT INTO idempotent_batches AS k
            (user_id, key, fingerprint, response)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_id, key) DO UPDATE
            SET fingerprint = EXCLUDED.fingerprint, response = EXCLUDED.response,
                created_at = EXCLUDED.created_at
            WHERE k.created_at <= now() - interval '24 hours'";

    /// Up to 100 expired entries of any user; rows another purge holds
    /// are skipped.
    pub const PURGE_EXPIRED_BATCHES: &str =
        "DELETE FROM idempotent_batches WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM idempotent_batches
            WHERE created_at <= now() - interval '24 hours'
            ORDER BY created_at
            LIMIT 100
            FOR UPDATE SKIP LOCKED
        ))";
}

/// What a key says about a batch before it runs.
#[derive(Debug)]
pub enum Remembered {
    /// The key's first answer, for the same batch: send it again.
    Replay(String),
    /// The key was used for another batch.
    Reused,
}

/// The remembered answer under `key`, if any.
pub async fn find_batch(
    db: &impl Executor,
    user: &UserId,
    key: &IdempotencyKey,
    fingerprint: &[u8; 32],
) -> Result<Option<Remembered>, DbError> {
    let row = db
        .query_opt(
            sql::FIND_BATCH,
            &[
                (&user.as_str(), Type::TEXT),
                (&key.as_str(), Type::TEXT),
                (&fingerprint.as_slice(), Type::BYTEA),
            ],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let same: bool = row.try_get("same_batch").map_err(DbError::internal)?;
    Ok(Some(if same {
        Remembered::Replay(row.try_get("response").map_err(DbError::internal)?)
    } else {
        Remembered::Reused
    }))
}

/// Whether this transaction now holds the key (false: another request
/// with it is in progress).
pub async fn lock_batch_key(
    db: &impl Executor,
    user: &UserId,
    key: &IdempotencyKey,
) -> Result<bool, DbError> {
    let row = db
        .query_opt(
            sql::LOCK_BATCH_KEY,
            &[(&user.as_str(), Type::TEXT), (&key.as_str(), Type::TEXT)],
        )
        .await?
        .ok_or_else(|| DbError::internal("advisory lock returned no row"))?;
    row.try_get(0).map_err(DbError::internal)
}

/// Remembers `response` under `key`, in the batch's transaction.
pub async fn remember_batch(
    db: &impl Executor,
    user: &UserId,
    key: &IdempotencyKey,
    fingerprint: &[u8; 32],
    response: &str,
) -> Result<(), DbError> {
    db.query(
        sql::REMEMBER_BATCH,
        &[
            (&user.as_str(), Type::TEXT),
            (&key.as_str(), Type::TEXT),
            (&fingerprint.as_slice(), Type::BYTEA),
            (&response, Type::TEXT),
        ],
    )
    .await
    .map(drop)
}

/// Purges expired entries; a failure is only logged (the next will do).
pub async fn purge_expired_batches(db: &impl Executor) {
    if let Err(e) = db.query(sql::PURGE_EXPIRED_BATCHES, &[]).await {
        tracing::warn!(error = %e, "purging expired idempotent batches failed");
    }
}
