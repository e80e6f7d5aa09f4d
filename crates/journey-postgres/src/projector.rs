//! The read tables (`journeys`, `entries`, `relapses_after_rehab`, `research_consent`,
//! `metric_weeks`) are projected per journey, inline: every transaction that appends events
//! to journeys calls `project_journeys` (migrations/0007) with them before it commits, which
//! projects each journey's events after its `read_checkpoint` and moves the checkpoint, in
//! the same transaction. A journey's events commit in sequence order (writers hold its
//! snapshot row), so no event is projected twice or skipped, and no lock is shared by all
//! journeys. This module only catches up journeys left behind (a store migrated from the
//! global projector, events written by another tool) and rebuilds from zero.

use sqlx::{PgPool, Postgres, Transaction};

use crate::error::StoreError;

/// Journeys projected per call of `project_journeys` by catch-up and rebuild.
pub const CHUNK_JOURNEYS: usize = 500;

/// Projects the new events of journeys `ids` in `tx`; returns how many.
pub async fn project(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[String],
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let projected: i64 = sqlx::query_scalar("SELECT project_journeys($1)")
        .bind(ids)
        .fetch_one(&mut **tx)
        .await?;
    Ok(projected as u64)
}

/// Projects every journey whose read checkpoint is behind its snapshot; returns the number
/// of events projected. Not on the path of a write: run when a process opens the store.
pub async fn catch_up(pool: &PgPool) -> Result<u64, StoreError> {
    let behind: Vec<String> = sqlx::query_scalar(
        "SELECT s.aggregate_id FROM snapshots s
           LEFT JOIN read_checkpoint c ON c.journey_id = s.aggregate_id
          WHERE s.aggregate_type = 'Journey' AND s.last_sequence > coalesce(c.sequence, 0)
          ORDER BY s.aggregate_id",
    )
    .fetch_all(pool)
    .await?;
    let mut total = 0;
    for chunk in behind.chunks(CHUNK_JOURNEYS) {
        let mut tx = pool.begin().await?;
        total += project(&mut tx, chunk).await?;
        tx.commit().await?;
    }
    Ok(total)
}

/// Empties the read tables and projects every event again, in one transaction: readers see
/// the old tables until the new ones are complete, and writers wait (the snapshots are
/// locked against them). Returns the number of events projected.
pub async fn rebuild(pool: &PgPool) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    match rebuild_in(&mut tx).await {
        Ok(total) => {
            tx.commit().await?;
            Ok(total)
        }
        // Rolled back at once: writers wait on the lock of `snapshots` until it is.
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn rebuild_in(tx: &mut Transaction<'_, Postgres>) -> Result<u64, StoreError> {
    sqlx::query("LOCK TABLE snapshots IN EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "TRUNCATE journeys, entries, relapses_after_rehab, research_consent, metric_weeks, read_checkpoint",
    )
    .execute(&mut **tx)
    .await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM snapshots WHERE aggregate_type = 'Journey' ORDER BY aggregate_id",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut total = 0;
    for chunk in ids.chunks(CHUNK_JOURNEYS) {
        total += project(tx, chunk).await?;
    }
    Ok(total)
}
