//! Idempotency-Key claims of API writes. A claim is inserted by the write's own transaction
//! (`store.rs`) and committed with its events and its answer, or rolled back with them: a
//! claim is never seen without its answer, so a crash leaves nothing "in progress".

use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::Written;
use crate::error::StoreError;

/// An API write's `Idempotency-Key`: the claim, and the answer to store with the write.
#[derive(Debug, Clone)]
pub struct Claim {
    pub user: Uuid,
    pub key: String,
    /// SHA-256 of the request as handled (a retry must send the same).
    pub hash: Vec<u8>,
    /// The answer given when the write succeeds (stored with it, in its transaction).
    pub status: u16,
    pub body: Value,
}

/// Claims `claim`'s key in `tx`; `Some` with what to answer when it was claimed before. A
/// claim is only ever seen committed with its answer: a request with the same key still
/// being handled holds the row, and this waits for its transaction to end.
pub(crate) async fn take_claim(
    tx: &mut Transaction<'_, Postgres>,
    claim: &Claim,
) -> Result<Option<Written>, StoreError> {
    let stored: Option<(Vec<u8>, Option<i16>, Option<Value>)> = sqlx::query_as(
        "WITH claimed AS (
             INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING RETURNING 1)
         SELECT request_hash, status, body FROM idempotency_keys
          WHERE user_id = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM claimed)",
    )
    .bind(claim.user)
    .bind(&claim.key)
    .bind(&claim.hash)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match stored {
        None => None,
        Some((hash, _, _)) if hash != claim.hash => Some(Written::Mismatch),
        Some((_, Some(status), Some(body))) => Some(Written::Replayed(status as u16, body)),
        // An answer-less claim cannot commit; one from before migration 0007 claims nothing.
        Some(_) => None,
    })
}

/// Stores the answer to a claimed request that was refused (bad input): a retry with the
/// same key and request gets the same answer. Nothing else was written.
pub async fn store_refusal(pool: &PgPool, claim: &Claim) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status, body)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, key) DO UPDATE SET status = excluded.status, body = excluded.body
          WHERE idempotency_keys.status IS NULL",
    )
    .bind(claim.user)
    .bind(&claim.key)
    .bind(&claim.hash)
    .bind(claim.status as i16)
    .bind(&claim.body)
    .execute(pool)
    .await?;
    Ok(())
}
