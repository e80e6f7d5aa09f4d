//! The read tables (`journeys`, `entries`, `relapses_after_rehab`, `research_consent`,
//! `metric_weeks`) are projected per journey, inline: every transaction that appends events
//! to journeys calls `project_journeys` (migrations/0007) with them before it commits, which
//! projects each journey's events after its `read_checkpoint` and moves the checkpoint, in
//! the same transaction. A journey's events commit in sequence order (writers hold its
//! snapshot row), so no event is projected twice or skipped, and no lock is shared by all
//! journeys. This module only catches up journeys left behind (a store migrated from the
//! global projector, events written by another tool) and rebuilds from zero.
//!
//! Catch-up is shared by every process that runs it (`journey project`, each `journey
//! serve`, each command as it opens the store): the journeys fall into [`RANGES`] ranges by
//! a hash of their id, and a worker projects a chunk of a range only in a transaction that
//! holds that range's advisory lock, so two workers never do the same work. The lock is a
//! transaction lock (it holds behind a transaction pooler): a worker that dies loses it
//! with its transaction, which rolls back, and the next pass of any other worker takes the
//! range over. An
//! event is never applied twice whatever the workers do: `project_journeys` locks the
//! journeys' snapshot rows and projects only what follows their checkpoint.

use std::time::Duration;

use sqlx::{PgPool, Postgres, Transaction};

use crate::error::StoreError;

/// Journeys projected per call of `project_journeys` by catch-up and rebuild.
pub const CHUNK_JOURNEYS: usize = 500;

/// The ranges the journeys are shared out in among catch-up workers.
pub const RANGES: i32 = 16;

/// The class (first key) of the projection ranges' advisory locks ("JP").
const LOCK_CLASS: i32 = 0x4a50;

/// The range of the journey id in `column`, as SQL.
fn range_of(column: &str) -> String {
    format!("((hashtext({column}) & 2147483647) % {RANGES})")
}

/// What a worker does with a range another worker holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Leave it to that worker (a background worker's pass).
    Skip,
    /// Wait for it, so the whole store is caught up on return (a process opening the store).
    Wait,
}

/// What one pass of a worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Events projected.
    pub events: u64,
    /// Journeys caught up.
    pub journeys: u64,
    /// Ranges that had work but were held by another worker (with [`Busy::Skip`]).
    pub skipped: Vec<i32>,
}

/// One committed piece of a pass: `journeys` of `range` caught up with `events` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Projected {
    pub range: i32,
    pub journeys: u64,
    pub events: u64,
}

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

/// Projects every journey whose read checkpoint is behind its snapshot, waiting for ranges
/// another worker is catching up; returns the number of events this call projected. Not on
/// the path of a write: run when a process opens the store.
pub async fn catch_up(pool: &PgPool) -> Result<u64, StoreError> {
    Ok(pass(pool, Busy::Wait, CHUNK_JOURNEYS, &mut |_| {})
        .await?
        .events)
}

/// The ranges that hold journeys behind their events.
async fn ranges_behind(pool: &PgPool) -> Result<Vec<i32>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT DISTINCT {} FROM snapshots s
           LEFT JOIN read_checkpoint c ON c.journey_id = s.aggregate_id
          WHERE s.aggregate_type = 'Journey' AND s.last_sequence > coalesce(c.sequence, 0)",
        range_of("s.aggregate_id")
    ))
    .fetch_all(pool)
    .await?)
}

/// One pass over the ranges with work, from an offset of this process's own (so that
/// workers started together begin apart): each range is caught up by chunks of `chunk`
/// journeys, one transaction each, reported to `done` once committed.
pub async fn pass(
    pool: &PgPool,
    busy: Busy,
    chunk: usize,
    done: &mut (dyn FnMut(Projected) + Send),
) -> Result<Pass, StoreError> {
    let mut ranges = ranges_behind(pool).await?;
    let start = (std::process::id() % RANGES as u32) as i32;
    ranges.sort_by_key(|r| (r - start).rem_euclid(RANGES));
    let mut result = Pass::default();
    for range in ranges {
        if !catch_up_range(pool, range, busy, chunk, done, &mut result).await? {
            result.skipped.push(range);
        }
    }
    Ok(result)
}

/// Catches up the journeys of `range` behind their events, a chunk per transaction; each
/// transaction first takes the range's advisory lock (a transaction lock: it goes with the
/// transaction, whatever becomes of the worker, and holds behind a pooler) and reads its
/// chunk under it, so what another worker did is not redone. False when another worker
/// holds the range (with [`Busy::Skip`]).
async fn catch_up_range(
    pool: &PgPool,
    range: i32,
    busy: Busy,
    chunk: usize,
    done: &mut (dyn FnMut(Projected) + Send),
    result: &mut Pass,
) -> Result<bool, StoreError> {
    let behind = format!(
        "SELECT s.aggregate_id FROM snapshots s
           LEFT JOIN read_checkpoint c ON c.journey_id = s.aggregate_id
          WHERE s.aggregate_type = 'Journey' AND s.last_sequence > coalesce(c.sequence, 0)
            AND {} = $1
          ORDER BY s.aggregate_id
          LIMIT $2",
        range_of("s.aggregate_id")
    );
    loop {
        let mut tx = pool.begin().await?;
        let locked: bool = match busy {
            Busy::Skip => {
                sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, $2)")
                    .bind(LOCK_CLASS)
                    .bind(range)
                    .fetch_one(&mut *tx)
                    .await?
            }
            Busy::Wait => {
                sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                    .bind(LOCK_CLASS)
                    .bind(range)
                    .execute(&mut *tx)
                    .await?;
                true
            }
        };
        if !locked {
            tx.rollback().await?;
            return Ok(false);
        }
        let ids: Vec<String> = sqlx::query_scalar(&behind)
            .bind(range)
            .bind(chunk.max(1) as i64)
            .fetch_all(&mut *tx)
            .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(true);
        }
        let events = project(&mut tx, &ids).await?;
        tx.commit().await?;
        let piece = Projected {
            range,
            journeys: ids.len() as u64,
            events,
        };
        result.journeys += piece.journeys;
        result.events += piece.events;
        done(piece);
        if events == 0 {
            // Journeys whose snapshot names events that are not there: nothing to project,
            // and no reason to ask again in this pass.
            return Ok(true);
        }
    }
}

/// A catch-up worker: a pass every `every`, leaving ranges other workers hold to them, until
/// the process ends. A failed pass (the database away) is reported and retried.
pub async fn work(
    pool: PgPool,
    every: Duration,
    chunk: usize,
    mut done: Box<dyn FnMut(Projected) + Send>,
    failed: Box<dyn Fn(&StoreError) + Send>,
) {
    loop {
        if let Err(e) = pass(&pool, Busy::Skip, chunk, &mut *done).await {
            failed(&e);
        }
        tokio::time::sleep(every).await;
    }
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
