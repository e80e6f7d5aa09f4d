//! Group commit: the entries many families record at the same moment are written by one
//! transaction, with one lock statement, one insert of all their events, one of their snapshots, one
//! projection call and one commit (one wait for the disk), instead of one of each per write.
//! A family still sees its own write on its next page: the batch commits before any of its
//! writers is answered.
//!
//! A few writer tasks (a quarter of the pool's connections: fewer writers make larger
//! batches, measured faster under `bench writes` on two cores) take what is queued, at most
//! [`MAX_BATCH`] writes, and run them together; a write that arrives alone runs alone, with
//! no wait. Within a batch:
//! - each journey appears once (a second write to it waits for the next batch), and so does
//!   each idempotency key;
//! - the journeys' snapshot rows are locked with `SKIP LOCKED`: a journey another writer
//!   holds (in this process or another) is left to run on its own, where it waits its turn,
//!   so one held journey never holds back the others, and batches never deadlock;
//! - a write that breaks a rule is refused alone: nothing of it was sent to the database;
//! - a write to a key with no journey yet (its `journey_started`) runs on its own, as does
//!   every write of a batch the database refused (a conflict, a failure): the batch rolled
//!   back whole, so each runs again as if it had come alone, and is stored once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use journey_domain::Entry;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use super::claims::Claim;
use super::loaded::{self, Loaded, LockedRow};
use super::{Command, Recorder, Written};
use crate::crypto::MasterKey;
use crate::error::StoreError;
use crate::research::{audit_many_in, AuditRow};

/// The most writes one batch holds (`project_journeys` treats a call of more journeys as a
/// bulk one: migration 0014).
pub const MAX_BATCH: usize = 64;

/// Writes queued beyond those being written. A write that finds the queue full waits for
/// room at most [`QUEUE_WAIT`], then is refused as "unavailable" (HTTP 503 with
/// Retry-After): the process never holds an unbounded queue of writes.
pub const QUEUE: usize = 4 * MAX_BATCH;

/// How long a write waits for room in a full queue (as long as for a pooled connection).
pub const QUEUE_WAIT: std::time::Duration =
    std::time::Duration::from_millis(crate::db::ACQUIRE_TIMEOUT_MS);

/// Why a write was not queued.
pub(crate) enum NotQueued {
    /// No writer task can take it (their runtime ended): it runs alone.
    NoWriter,
    /// The queue stayed full for [`QUEUE_WAIT`].
    Full,
}

/// One write waiting for its batch.
pub(crate) struct Job {
    pub(crate) key: String,
    pub(crate) entries: Vec<Entry>,
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) metadata: HashMap<String, String>,
    pub(crate) claim: Option<Claim>,
    /// The write's audit row, committed with the batch (or with the write run alone).
    pub(crate) audit: Option<AuditRow>,
    pub(crate) reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// The queue of the writer tasks, started on first use (inside the runtime that uses it).
#[derive(Default)]
pub(crate) struct Batcher {
    queue: OnceLock<mpsc::Sender<Job>>,
    counts: Arc<Counts>,
}

/// How many batches committed writes, and how many (for benchmarks and tests).
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) batches: AtomicU64,
    pub(crate) writes: AtomicU64,
}

/// A claim found taken: user, key, the request's hash, and its answer.
type StoredClaim = (Uuid, String, Vec<u8>, Option<i16>, Option<Value>);

/// A journey's wrapped key (none once erased).
type Wrapped = Option<Vec<u8>>;

/// What a batch decided for one write.
enum Outcome {
    /// Answered (written with the batch, refused, or a stored idempotent answer).
    Answer(Result<Written, StoreError>),
    /// To run on its own (a new journey).
    Alone,
}

impl Batcher {
    /// Queues `job`, waiting at most [`QUEUE_WAIT`] for room.
    pub(crate) async fn submit(&self, owner: &Recorder, job: Job) -> Result<(), NotQueued> {
        let queue = self.queue.get_or_init(|| {
            let (send, receive) = mpsc::channel(QUEUE);
            let receive = Arc::new(Mutex::new(receive));
            let writers = (owner.pool().options().get_max_connections() / 4).max(1);
            for _ in 0..writers {
                let recorder = owner.sibling();
                tokio::spawn(writer(recorder, receive.clone(), self.counts.clone()));
            }
            send
        });
        // A send cancelled while it waits for room has queued nothing.
        match tokio::time::timeout(QUEUE_WAIT, queue.send(job)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(NotQueued::NoWriter),
            Err(_) => Err(NotQueued::Full),
        }
    }

    /// Batches committed so far, and the writes they held.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.counts.batches.load(Ordering::Relaxed),
            self.counts.writes.load(Ordering::Relaxed),
        )
    }
}

/// A writer task: takes what is queued (up to [`MAX_BATCH`]) and writes it together.
async fn writer(recorder: Recorder, queue: Arc<Mutex<mpsc::Receiver<Job>>>, counts: Arc<Counts>) {
    let mut waiting: Vec<Job> = Vec::new();
    loop {
        // A writer with writes left over does not wait for the queue (another writer may be
        // waiting on it, empty): it takes what is there, if it can, and writes.
        let taken = if waiting.is_empty() {
            let mut queue = queue.lock().await;
            match queue.recv().await {
                Some(job) => waiting.push(job),
                None => return,
            }
            Some(queue)
        } else {
            queue.try_lock().ok()
        };
        if let Some(mut queue) = taken {
            while waiting.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => waiting.push(job),
                    Err(_) => break,
                }
            }
        }
        // One write per journey and per idempotency key; the rest waits for the next batch.
        let mut journeys = HashSet::new();
        let mut claims = HashSet::new();
        let (batch, later): (Vec<Job>, Vec<Job>) = waiting.drain(..).partition(|job| {
            let claim = job.claim.as_ref().map(|c| (c.user, c.key.clone()));
            let fresh_claim = claim.as_ref().is_none_or(|c| !claims.contains(c));
            if fresh_claim && journeys.insert(job.key.clone()) {
                claims.extend(claim);
                true
            } else {
                false
            }
        });
        waiting = later;
        write(&recorder, batch, &counts).await;
    }
}

/// Writes `batch` in one transaction and answers each write.
async fn write(recorder: &Recorder, batch: Vec<Job>, counts: &Counts) {
    let outcomes = match together(recorder, &batch).await {
        Ok(outcomes) => {
            let written = outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Answer(Ok(Written::Done(_)))))
                .count();
            if written > 0 {
                counts.batches.fetch_add(1, Ordering::Relaxed);
                counts.writes.fetch_add(written as u64, Ordering::Relaxed);
            }
            outcomes
        }
        // Rolled back whole: each runs again on its own.
        Err(_) => batch.iter().map(|_| Outcome::Alone).collect(),
    };
    for (job, outcome) in batch.into_iter().zip(outcomes) {
        match outcome {
            Outcome::Answer(answer) => {
                let _ = job.reply.send(answer);
            }
            Outcome::Alone => {
                let alone = recorder.sibling();
                tokio::spawn(async move {
                    let command = Command::Record(job.entries);
                    let answer = alone
                        .run_alone(
                            &job.key,
                            &command,
                            job.recorded_at,
                            &job.metadata,
                            job.claim.as_ref(),
                            job.audit.as_ref(),
                        )
                        .await;
                    let _ = job.reply.send(answer);
                });
            }
        }
    }
}

/// The batch's transaction: what each write gets, or the error that rolled all back.
async fn together(recorder: &Recorder, batch: &[Job]) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = recorder.begin().await?;
    match inside(&mut tx, recorder.master(), batch).await {
        Ok((outcomes, written)) => {
            tx.commit().await?;
            Ok(outcomes
                .into_iter()
                .zip(written)
                .map(|(outcome, id)| match (outcome, id) {
                    (_, Some(id)) => Outcome::Answer(Ok(Written::Done(id))),
                    (Some(outcome), None) => outcome,
                    (None, None) => unreachable!("every write decided"),
                })
                .collect())
        }
        // Rolled back now, not when the connection is next used: until then the journeys'
        // turns (their snapshot rows) would stay taken for every other writer.
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The body of [`together`]: each write's outcome when not written, and the journey id of
/// each written one (answered once the batch commits).
async fn inside(
    tx: &mut Transaction<'_, Postgres>,
    master: &MasterKey,
    batch: &[Job],
) -> Result<(Vec<Option<Outcome>>, Vec<Option<String>>), StoreError> {
    let mut outcomes: Vec<Option<Outcome>> = batch.iter().map(|_| None).collect();
    for (i, answer) in claim_all(tx, batch).await? {
        outcomes[i] = Some(Outcome::Answer(Ok(answer)));
    }
    let keys: Vec<&str> = (0..batch.len())
        .filter(|&i| outcomes[i].is_none())
        .map(|i| batch[i].key.as_str())
        .collect();
    let mut locked = lock_all(tx, &keys, master).await?;
    // A journey this batch could not lock (another writer holds it, or there is none yet)
    // runs alone: it waits its turn there without holding the batch back.
    for (i, job) in batch.iter().enumerate() {
        if outcomes[i].is_none() && !locked.contains_key(&job.key) {
            outcomes[i] = Some(Outcome::Alone);
        }
    }
    let commands: Vec<Command> = batch
        .iter()
        .map(|job| Command::Record(job.entries.clone()))
        .collect();
    let asks: HashMap<&str, Vec<String>> = batch
        .iter()
        .zip(&commands)
        .map(|(job, command)| (job.key.as_str(), loaded::asks(command)))
        .collect();
    load_all(tx, &mut locked, &asks).await?;
    let mut rows: Vec<SerializedEvent> = Vec::new();
    let mut written: Vec<Option<String>> = batch.iter().map(|_| None).collect();
    let mut changed: Vec<&str> = Vec::new();
    for (i, job) in batch.iter().enumerate() {
        if outcomes[i].is_some() {
            continue;
        }
        let journey = locked.get_mut(&job.key).expect("locked above");
        match loaded::decide(journey, &commands[i], job.recorded_at).await {
            Err(refused) => outcomes[i] = Some(Outcome::Answer(Err(refused))),
            Ok(events) => {
                for (n, event) in events.iter().enumerate() {
                    let sequence = journey.sequence + n + 1;
                    rows.push(loaded::serialize(
                        &journey.journey_id,
                        sequence,
                        event,
                        &job.metadata,
                    ));
                }
                journey.sequence += events.len();
                if !events.is_empty() {
                    changed.push(job.key.as_str());
                }
                written[i] = Some(journey.journey_id.clone());
            }
        }
    }
    if !changed.is_empty() {
        let journeys: Vec<&Loaded> = changed.iter().map(|key| &locked[*key]).collect();
        append_all(tx, &rows, &journeys).await?;
        let ids: Vec<&str> = journeys.iter().map(|j| j.journey_id.as_str()).collect();
        sqlx::query("SELECT project_journeys($1)")
            .bind(&ids)
            .execute(&mut **tx)
            .await?;
    }
    // A written write's claim gets its answer; the claim of one that was not (refused, or
    // to run alone) is let go, so no claim ever commits without an answer.
    let mut answers: Vec<&Claim> = Vec::new();
    let mut released: Vec<&Claim> = Vec::new();
    for (i, job) in batch.iter().enumerate() {
        match (&job.claim, &outcomes[i]) {
            (None, _) | (_, Some(Outcome::Answer(Ok(_)))) => {}
            (Some(claim), _) if written[i].is_some() => answers.push(claim),
            (Some(claim), _) => released.push(claim),
        }
    }
    if !answers.is_empty() {
        answer_all(tx, &answers).await?;
    }
    if !released.is_empty() {
        release_all(tx, &released).await?;
    }
    // The audit rows of every write this batch answers (written, refused or replayed) commit
    // with it; a write that runs alone takes its row along.
    let audits: Vec<AuditRow> = batch
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| !matches!(outcome, Some(Outcome::Alone)))
        .filter_map(|(job, _)| job.audit.clone())
        .collect();
    audit_many_in(&mut **tx, &audits).await?;
    Ok((outcomes, written))
}

/// Claims the batch's idempotency keys in one statement (in the order of user and key, as
/// every batch takes them); the writes (by index) whose key was claimed before, with what
/// to answer them.
async fn claim_all(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[Job],
) -> Result<Vec<(usize, Written)>, StoreError> {
    let claimed: Vec<(usize, &Claim)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, job)| job.claim.as_ref().map(|c| (i, c)))
        .collect();
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<Uuid> = claimed.iter().map(|(_, c)| c.user).collect();
    let keys: Vec<&str> = claimed.iter().map(|(_, c)| c.key.as_str()).collect();
    let hashes: Vec<&[u8]> = claimed.iter().map(|(_, c)| c.hash.as_slice()).collect();
    let stored: Vec<StoredClaim> = sqlx::query_as(
        "WITH asked AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS a(user_id, key, hash)),
         claimed AS (
             INSERT INTO idempotency_keys (user_id, key, request_hash)
             SELECT user_id, key, hash FROM asked ORDER BY user_id, key
             ON CONFLICT DO NOTHING RETURNING user_id, key)
         SELECT k.user_id, k.key, k.request_hash, k.status, k.body
           FROM asked a JOIN idempotency_keys k ON k.user_id = a.user_id AND k.key = a.key
          WHERE NOT EXISTS (SELECT 1 FROM claimed c WHERE c.user_id = a.user_id AND c.key = a.key)",
    )
    .bind(&users)
    .bind(&keys)
    .bind(&hashes)
    .fetch_all(&mut **tx)
    .await?;
    let mut answered = Vec::new();
    for (user, key, hash, status, body) in stored {
        let Some(&(i, claim)) = claimed.iter().find(|(_, c)| c.user == user && c.key == key) else {
            continue;
        };
        let answer = match (status, body) {
            _ if hash != claim.hash => Written::Mismatch,
            (Some(status), Some(body)) => Written::Replayed(status as u16, body),
            // An answer-less claim cannot commit; one from before migration 0007 claims nothing.
            _ => continue,
        };
        answered.push((i, answer));
    }
    Ok(answered)
}

/// Locks the journeys of `keys` that no other writer holds (their snapshot rows) and loads
/// them, by key; a key with no journey, or whose journey is held, is left out.
async fn lock_all(
    tx: &mut Transaction<'_, Postgres>,
    keys: &[&str],
    master: &MasterKey,
) -> Result<HashMap<String, Loaded>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, i64, i64, String, Wrapped)> = sqlx::query_as(
        "SELECT k.key, k.journey_id, s.last_sequence, s.current_snapshot, s.payload::text, x.wrapped_key
           FROM journey_keys k
           JOIN snapshots s ON s.aggregate_type = 'Journey' AND s.aggregate_id = k.journey_id
           LEFT JOIN journey_secrets x ON x.journey_id = k.journey_id
          WHERE k.key = ANY($1)
            FOR UPDATE OF s SKIP LOCKED",
    )
    .bind(keys)
    .fetch_all(&mut **tx)
    .await?;
    let mut locked = HashMap::with_capacity(rows.len());
    for (key, id, sequence, snapshot, state, wrapped) in rows {
        let row: LockedRow = (id, sequence, snapshot, state, wrapped);
        locked.insert(key, loaded::loaded(row, master)?);
    }
    Ok(locked)
}

/// Applies each locked journey's events newer than its snapshot (none, normally) and reads
/// the index rows its write asks about: one statement for the batch, which looks each asked
/// entry up by the whole primary key (journey, entry), never the journey's other rows.
async fn load_all(
    tx: &mut Transaction<'_, Postgres>,
    locked: &mut HashMap<String, Loaded>,
    asks: &HashMap<&str, Vec<String>>,
) -> Result<(), StoreError> {
    if locked.is_empty() {
        return Ok(());
    }
    let keys: Vec<&String> = locked.keys().collect();
    let ids: Vec<&str> = keys
        .iter()
        .map(|k| locked[*k].journey_id.as_str())
        .collect();
    let sequences: Vec<i64> = keys.iter().map(|k| locked[*k].sequence as i64).collect();
    let wanted: Vec<String> = keys
        .iter()
        .map(|k| serde_json::to_string(&asks[k.as_str()]).expect("strings serialize"))
        .collect();
    let found: Vec<(String, Vec<String>, Vec<Value>)> = sqlx::query_as(
        "SELECT j.id,
                ARRAY(SELECT e.payload::text FROM events e
                       WHERE e.aggregate_type = 'Journey' AND e.aggregate_id = j.id
                         AND e.sequence > j.seq ORDER BY e.sequence),
                ARRAY(SELECT jsonb_build_array(i.content, i.retracted)
                        FROM jsonb_array_elements_text(j.asks::jsonb) AS a(entry)
                       CROSS JOIN LATERAL (
                             SELECT x.content, x.retracted FROM entry_index x
                              WHERE x.journey_id = j.id AND x.entry = a.entry OFFSET 0) i)
           FROM unnest($1::text[], $2::bigint[], $3::text[]) AS j(id, seq, asks)",
    )
    .bind(&ids)
    .bind(&sequences)
    .bind(&wanted)
    .fetch_all(&mut **tx)
    .await?;
    let keys: HashMap<String, String> = locked
        .iter()
        .map(|(key, j)| (j.journey_id.clone(), key.clone()))
        .collect();
    for (id, newer, entries) in found {
        let journey = locked.get_mut(&keys[&id]).expect("asked for it");
        loaded::apply_newer(journey, newer, entries)?;
    }
    Ok(())
}

/// Inserts the batch's events (as import does) and its journeys' new snapshots; a journey
/// whose snapshot moved since it was loaded (a writer that does not lock) is a conflict.
async fn append_all(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[SerializedEvent],
    journeys: &[&Loaded],
) -> Result<(), StoreError> {
    let rows: Vec<&SerializedEvent> = rows.iter().collect();
    loaded::insert_events(tx, &rows).await?;
    let journey_ids: Vec<&str> = journeys.iter().map(|j| j.journey_id.as_str()).collect();
    let lasts: Vec<i64> = journeys.iter().map(|j| j.sequence as i64).collect();
    let states: Vec<String> = journeys
        .iter()
        .map(|j| serde_json::to_string(&j.state).expect("state serializes"))
        .collect();
    let snapshots: Vec<i64> = journeys.iter().map(|j| j.snapshot as i64).collect();
    let updated = sqlx::query(
        "UPDATE snapshots s
            SET last_sequence = n.last, current_snapshot = n.version + 1, payload = n.state::json
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS n(id, last, state, version)
          WHERE s.aggregate_type = 'Journey' AND s.aggregate_id = n.id
            AND s.current_snapshot = n.version",
    )
    .bind(&journey_ids)
    .bind(&lasts)
    .bind(&states)
    .bind(&snapshots)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated != journeys.len() as u64 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Stores the answers of the batch's claimed writes that were written.
async fn answer_all(
    tx: &mut Transaction<'_, Postgres>,
    claims: &[&Claim],
) -> Result<(), StoreError> {
    let users: Vec<Uuid> = claims.iter().map(|c| c.user).collect();
    let keys: Vec<&str> = claims.iter().map(|c| c.key.as_str()).collect();
    let statuses: Vec<i16> = claims.iter().map(|c| c.status as i16).collect();
    let bodies: Vec<&Value> = claims.iter().map(|c| &c.body).collect();
    sqlx::query(
        "UPDATE idempotency_keys k SET status = a.status, body = a.body
           FROM unnest($1::uuid[], $2::text[], $3::smallint[], $4::jsonb[]) AS a(user_id, key, status, body)
          WHERE k.user_id = a.user_id AND k.key = a.key",
    )
    .bind(&users)
    .bind(&keys)
    .bind(&statuses)
    .bind(&bodies)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Lets go of the claims this batch took for writes it did not write.
async fn release_all(
    tx: &mut Transaction<'_, Postgres>,
    claims: &[&Claim],
) -> Result<(), StoreError> {
    let users: Vec<Uuid> = claims.iter().map(|c| c.user).collect();
    let keys: Vec<&str> = claims.iter().map(|c| c.key.as_str()).collect();
    sqlx::query(
        "DELETE FROM idempotency_keys k USING unnest($1::uuid[], $2::text[]) AS a(user_id, key)
          WHERE k.user_id = a.user_id AND k.key = a.key AND k.status IS NULL",
    )
    .bind(&users)
    .bind(&keys)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
