//! The write path of single commands (record, consent, erase): one transaction each, which
//! holds the journey's turn, the events, the snapshot, the journey's read rows and, for an
//! API write with an `Idempotency-Key`, the key's claim and its answer. A crash at any line
//! rolls all of them back; once the transaction commits, nothing is left to do.
//!
//! 1. claim the idempotency key (a concurrent request with the same key waits on it);
//! 2. lock the journey's snapshot row (`FOR UPDATE`): writers of one journey take turns in
//!    the database, so two app processes are as correct as one; writers of different
//!    journeys never wait for each other;
//! 3. read the events newer than the snapshot (none, normally) and the entry index rows
//!    the command asks about;
//! 4. let the `Journey` aggregate handle the command (cqrs-es `Aggregate::handle`, the same
//!    call bulk import makes; the `EventSink` applies each event once);
//! 5. insert the events and the new snapshot in one statement;
//! 6. project the journey's new events into the read tables (`project_journeys`,
//!    migrations/0007), moving its read checkpoint;
//! 7. store the idempotency answer; commit.
//!
//! cqrs-es's `CqrsFramework::execute` commits events in a transaction of its own and offers
//! no way to add the projection or the claim to it, so this path calls the aggregate
//! directly; postgres-es's tables and column names are kept (traps.md).

pub mod batch;
pub mod claims;
mod loaded;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use journey_domain::{Body, Entry, JourneyError, JourneyEvent};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};

use crate::crypto::MasterKey;
use crate::error::StoreError;
use crate::research::{audit_many, audit_many_in, AuditRow};
use claims::take_claim;
pub use claims::{store_refusal, Claim};
pub use loaded::PgEntryLookup;
use loaded::{asks, decide, fresh, load_newer, lock};
pub(crate) use loaded::{insert_events, serialize};
pub(crate) use loaded::{APPENDED_COLUMNS, INDEX_APPENDED};

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Committed (or found already stored: the same entry id and content); the journey's id.
    Done(String),
    /// The idempotency key was used before with this request: its stored answer.
    Replayed(u16, Value),
    /// The idempotency key was used before with another request.
    Mismatch,
}

/// Times a write that met a concurrent write (a new journey's key, a deadlock) runs again.
const CONFLICT_RETRIES: u32 = 20;

/// How long a write waits for a lock another transaction holds (the journey's turn while
/// an import of a file naming it runs, an idempotency key another request is using) before
/// it gives up with [`StoreError::Busy`] (HTTP 503 with Retry-After): a family's request
/// never waits for minutes. Writers of the same journey take turns in milliseconds, so
/// only a long transaction (an import, an erase) makes one wait this long.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// A single command as the write path runs it.
pub(crate) enum Command {
    /// Entries of one journey, recorded together or not at all.
    Record(Vec<Entry>),
    Consent {
        granted: bool,
        text_version: String,
    },
    Erase,
}

/// Records entries, consent and erasure, one transaction per command.
pub struct Recorder {
    pool: PgPool,
    master: MasterKey,
    batch: batch::Batcher,
    lock_wait: std::time::Duration,
}

impl Recorder {
    pub fn new(pool: PgPool, master: MasterKey) -> Self {
        Self {
            pool,
            master,
            batch: batch::Batcher::default(),
            lock_wait: LOCK_WAIT,
        }
    }

    /// The same recorder with `wait` as the bound on a write's wait for a lock (instead
    /// of [`LOCK_WAIT`]).
    pub fn with_lock_wait(mut self, wait: std::time::Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// A recorder of the same database, key and lock wait, with a group commit of its own
    /// (for the writer tasks, and for a write of a batch that runs on its own).
    pub(crate) fn sibling(&self) -> Recorder {
        Recorder::new(self.pool.clone(), self.master.clone()).with_lock_wait(self.lock_wait)
    }

    /// A write's transaction: its waits for locks bounded by the recorder's lock wait.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('lock_timeout', $1, true)")
            .bind(format!("{}ms", self.lock_wait.as_millis().max(1)))
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// The group commits so far: batches committed, and the writes they held.
    pub fn group_commits(&self) -> (u64, u64) {
        self.batch.counts()
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }

    /// Records `entry` on the journey with key `key` (a `journey_started` line starts it).
    /// An entry already stored with the same id and content stores nothing. Returns the
    /// journey's internal id.
    pub async fn record(
        &self,
        key: &str,
        entry: Entry,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
    ) -> Result<String, StoreError> {
        match self
            .run(
                key,
                &Command::Record(vec![entry]),
                recorded_at,
                &metadata,
                None,
                None,
            )
            .await?
        {
            Written::Done(id) => Ok(id),
            other => unreachable!("no claim, yet {other:?}"),
        }
    }

    /// Records `entries` on the journey `key` in one transaction: all of them, or, when one
    /// breaks a rule, none (what a family saves with one tap is never half stored). Each
    /// entry is checked after the ones before it, as lines of a file are.
    pub async fn record_all(
        &self,
        key: &str,
        entries: Vec<Entry>,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
    ) -> Result<String, StoreError> {
        self.record_all_audited(key, entries, recorded_at, metadata, None)
            .await
    }

    /// [`Recorder::record_all`] with the audit row of the write (`audit`): it commits in the
    /// write's own transaction; a write that is not stored (refused, or a stored idempotent
    /// answer) has it written on its own.
    pub async fn record_all_audited(
        &self,
        key: &str,
        entries: Vec<Entry>,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
        audit: Option<AuditRow>,
    ) -> Result<String, StoreError> {
        match self
            .run(
                key,
                &Command::Record(entries),
                recorded_at,
                &metadata,
                None,
                audit.as_ref(),
            )
            .await?
        {
            Written::Done(id) => Ok(id),
            other => unreachable!("no claim, yet {other:?}"),
        }
    }

    /// [`Recorder::record`] under an idempotency claim: the claim, the entry and the answer
    /// commit together, or none of them.
    pub async fn record_claimed(
        &self,
        key: &str,
        entry: Entry,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
        claim: &Claim,
    ) -> Result<Written, StoreError> {
        self.record_claimed_audited(key, entry, recorded_at, metadata, claim, None)
            .await
    }

    /// [`Recorder::record_claimed`] with the audit row of the write, as
    /// [`Recorder::record_all_audited`].
    pub async fn record_claimed_audited(
        &self,
        key: &str,
        entry: Entry,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
        claim: &Claim,
        audit: Option<AuditRow>,
    ) -> Result<Written, StoreError> {
        self.run(
            key,
            &Command::Record(vec![entry]),
            recorded_at,
            &metadata,
            Some(claim),
            audit.as_ref(),
        )
        .await
    }

    /// Grants or withdraws research consent on the journey `key`.
    pub async fn consent(
        &self,
        key: &str,
        granted: bool,
        text_version: &str,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
    ) -> Result<(), StoreError> {
        let command = Command::Consent {
            granted,
            text_version: text_version.to_string(),
        };
        self.run(key, &command, recorded_at, &metadata, None, None)
            .await?;
        Ok(())
    }

    /// Erases the journey `key`, in one transaction: appends `JourneyErased` (the journey
    /// takes nothing more), destroys its key (handles and note text can never be read
    /// again), forgets its key name, assignments and entry index, and purges its read rows
    /// (the event is replayed by `rebuild`, so they stay purged). Events are never deleted.
    /// Returns the internal id, or `None` when there is no journey `key`.
    pub async fn erase(
        &self,
        key: &str,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
    ) -> Result<Option<String>, StoreError> {
        match self
            .run(key, &Command::Erase, recorded_at, &metadata, None, None)
            .await
        {
            Ok(Written::Done(id)) => Ok(Some(id)),
            Ok(other) => unreachable!("no claim, yet {other:?}"),
            Err(StoreError::Rule(JourneyError::NotStarted)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs `command`: entries go to the group commit of [`batch`] (written with the
    /// entries of other journeys recorded at the same moment), the rest alone.
    async fn run(
        &self,
        key: &str,
        command: &Command,
        recorded_at: DateTime<Utc>,
        metadata: &HashMap<String, String>,
        claim: Option<&Claim>,
        audit: Option<&AuditRow>,
    ) -> Result<Written, StoreError> {
        if let Command::Record(entries) = command {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = batch::Job {
                key: key.to_string(),
                entries: entries.clone(),
                recorded_at,
                metadata: metadata.clone(),
                claim: claim.cloned(),
                audit: audit.cloned(),
                reply,
            };
            // Taken, its outcome is unknown only if its writer task ended with it. Not taken
            // because no writer task runs in this runtime, it runs alone, below.
            match self.batch.submit(self, job).await {
                Ok(()) => {
                    return answer.await.unwrap_or_else(|_| {
                        Err(StoreError::Unavailable("the writer task ended".into()))
                    })
                }
                Err(batch::NotQueued::Full) => {
                    return Err(StoreError::Unavailable(
                        "too many writes at once; try again in a moment".into(),
                    ))
                }
                Err(batch::NotQueued::NoWriter) => {}
            }
        }
        self.run_alone(key, command, recorded_at, metadata, claim, audit)
            .await
    }

    /// Runs `command` in a transaction of its own (retried after a conflict).
    pub(crate) async fn run_alone(
        &self,
        key: &str,
        command: &Command,
        recorded_at: DateTime<Utc>,
        metadata: &HashMap<String, String>,
        claim: Option<&Claim>,
        audit: Option<&AuditRow>,
    ) -> Result<Written, StoreError> {
        let mut attempt = 0;
        loop {
            match self
                .once(key, command, recorded_at, metadata, claim, audit)
                .await
            {
                Err(StoreError::Conflict) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt))).await;
                }
                Ok((written, true)) => return Ok(written),
                // Not stored (a stored answer, a refusal, a failure): the write was still
                // asked for, so its audit row is written on its own; a database that refuses
                // that too has already refused the write.
                outcome => {
                    if let Some(row) = audit {
                        if let Err(e) = audit_many(&self.pool, std::slice::from_ref(row)).await {
                            if outcome.is_ok() {
                                return Err(e);
                            }
                        }
                    }
                    return outcome.map(|(written, _)| written);
                }
            }
        }
    }

    async fn once(
        &self,
        key: &str,
        command: &Command,
        recorded_at: DateTime<Utc>,
        metadata: &HashMap<String, String>,
        claim: Option<&Claim>,
        audit: Option<&AuditRow>,
    ) -> Result<(Written, bool), StoreError> {
        let mut tx = self.begin().await?;
        match self
            .inside(&mut tx, key, command, recorded_at, metadata, claim)
            .await
        {
            // The write and its audit row commit together.
            Ok((written, true)) => {
                if let Some(row) = audit {
                    if let Err(e) = audit_many_in(&mut *tx, std::slice::from_ref(row)).await {
                        let _ = tx.rollback().await;
                        return Err(e);
                    }
                }
                tx.commit().await?;
                Ok((written, true))
            }
            Ok((written, false)) => {
                tx.rollback().await?;
                Ok((written, audit.is_none()))
            }
            // Rolled back now, not when the connection is next used: until then the
            // journey's turn (its snapshot row) would stay taken for every other process.
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// The body of [`Recorder::once`]: what was written, and whether to commit it.
    async fn inside(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        key: &str,
        command: &Command,
        recorded_at: DateTime<Utc>,
        metadata: &HashMap<String, String>,
        claim: Option<&Claim>,
    ) -> Result<(Written, bool), StoreError> {
        if let Some(claim) = claim {
            if let Some(answer) = take_claim(tx, claim).await? {
                return Ok((answer, false));
            }
        }
        let asks = asks(command);
        let starts = matches!(command, Command::Record(e) if matches!(e.first().map(|e| &e.body), Some(Body::JourneyStarted { .. })));
        let mut journey = match lock(tx, key, &self.master).await? {
            Some(journey) => journey,
            None if starts => fresh(tx, key, &self.master).await?,
            None => return Err(StoreError::Rule(JourneyError::NotStarted)),
        };
        load_newer(tx, &mut journey, &asks).await?;
        let events = decide(&mut journey, command, recorded_at).await?;
        let erase = matches!(events.last(), Some(JourneyEvent::JourneyErased(_)));
        if !events.is_empty() {
            let rows: Vec<SerializedEvent> = events
                .iter()
                .enumerate()
                .map(|(i, event)| {
                    serialize(
                        &journey.journey_id,
                        journey.sequence + i + 1,
                        event,
                        metadata,
                    )
                })
                .collect();
            let state = serde_json::to_string(&journey.state).expect("state serializes");
            append(tx, &journey.journey_id, &rows, &state, journey.snapshot).await?;
            sqlx::query("SELECT project_journeys(ARRAY[$1])")
                .bind(&journey.journey_id)
                .execute(&mut **tx)
                .await?;
        }
        if erase {
            for statement in [
                "DELETE FROM journey_secrets WHERE journey_id = $1",
                "DELETE FROM journey_keys WHERE journey_id = $1",
                "DELETE FROM entry_index WHERE journey_id = $1",
                "DELETE FROM journey_access WHERE journey_id = $1",
                "DELETE FROM report_folders WHERE journey_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(&journey.journey_id)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        if let Some(claim) = claim {
            sqlx::query(
                "UPDATE idempotency_keys SET status = $3, body = $4 WHERE user_id = $1 AND key = $2",
            )
            .bind(claim.user)
            .bind(&claim.key)
            .bind(claim.status as i16)
            .bind(&claim.body)
            .execute(&mut **tx)
            .await?;
        }
        Ok((Written::Done(journey.journey_id), true))
    }
}

/// Inserts `rows` (events of one journey) and the journey's new snapshot `state`, in one
/// statement; `snapshot` is the version the writer loaded (0: none yet).
async fn append(
    tx: &mut Transaction<'_, Postgres>,
    journey_id: &str,
    rows: &[SerializedEvent],
    state: &str,
    snapshot: usize,
) -> Result<(), StoreError> {
    let sequences: Vec<i64> = rows.iter().map(|e| e.sequence as i64).collect();
    let types: Vec<&str> = rows.iter().map(|e| e.event_type.as_str()).collect();
    let versions: Vec<&str> = rows.iter().map(|e| e.event_version.as_str()).collect();
    let payloads: Vec<String> = rows.iter().map(|e| e.payload.to_string()).collect();
    let metadata: Vec<String> = rows.iter().map(|e| e.metadata.to_string()).collect();
    let last = *sequences.last().expect("at least one event");
    let snapshot_statement = if snapshot == 0 {
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
         VALUES ('Journey', $1, $7, $9 + 1, $8::json)"
    } else {
        "UPDATE snapshots SET last_sequence = $7, current_snapshot = $9 + 1, payload = $8::json
          WHERE aggregate_type = 'Journey' AND aggregate_id = $1 AND current_snapshot = $9"
    };
    let written = sqlx::query(&format!(
        "WITH appended AS (
             INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT 'Journey', $1, seq, t, v, p::json, m::json
               FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(seq, t, v, p, m)
             RETURNING {APPENDED_COLUMNS}),
         {INDEX_APPENDED}
         {snapshot_statement}",
        APPENDED_COLUMNS = loaded::APPENDED_COLUMNS,
        INDEX_APPENDED = loaded::INDEX_APPENDED
    ))
    .bind(journey_id)
    .bind(&sequences)
    .bind(&types)
    .bind(&versions)
    .bind(&payloads)
    .bind(&metadata)
    .bind(last)
    .bind(state)
    .bind(snapshot as i64)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if written != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}
