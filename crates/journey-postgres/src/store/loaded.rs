//! The journey as a writer holds it: locked (its snapshot row), loaded (state, newer
//! events, the entry index rows a command asks about), and the events a command makes on it.
//! The single-command path (`store`) and the group commit (`batch`) share these.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent};
use journey_domain::{
    Body, Entry, EntryLookup, Journey, JourneyCommand, JourneyError, JourneyEvent, MemoryLookup,
    StoredEntry,
};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::Command;
use crate::crypto::{JourneyKey, MasterKey};
use crate::error::StoreError;

/// The `events` row of `event` at `sequence`.
pub(crate) fn serialize(
    aggregate_id: &str,
    sequence: usize,
    event: &JourneyEvent,
    metadata: &HashMap<String, String>,
) -> SerializedEvent {
    SerializedEvent::new(
        aggregate_id.to_string(),
        sequence,
        Journey::TYPE.to_string(),
        event.event_type(),
        event.event_version(),
        serde_json::to_value(event).expect("events always serialize"),
        serde_json::to_value(metadata).expect("metadata always serializes"),
    )
}

/// The aggregate's [`EntryLookup`] over the `entry_index` table.
pub struct PgEntryLookup {
    pool: PgPool,
}

impl PgEntryLookup {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl EntryLookup for PgEntryLookup {
    async fn find(&self, journey_id: &str, entry: &str) -> Result<Option<StoredEntry>, String> {
        let row: Option<(serde_json::Value, bool)> = sqlx::query_as(
            "SELECT content, retracted FROM entry_index WHERE journey_id = $1 AND entry = $2",
        )
        .bind(journey_id)
        .bind(entry)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| e.to_string())?;
        row.map(|(content, retracted)| {
            let entry: Entry = serde_json::from_value(content).map_err(|e| e.to_string())?;
            Ok(StoredEntry { entry, retracted })
        })
        .transpose()
    }
}

/// The journey as locked and loaded by a writer.
pub(crate) struct Loaded {
    pub(crate) journey_id: String,
    pub(crate) state: Journey,
    pub(crate) sequence: usize,
    pub(crate) snapshot: usize,
    pub(crate) secret: Option<JourneyKey>,
    pub(crate) lookup: std::sync::Arc<MemoryLookup>,
}

/// The events `command` makes on the locked `journey`; each entry of a batch sees the ones
/// before it (a duplicate id, a retract target), as lines of a file do.
pub(crate) async fn decide(
    journey: &mut Loaded,
    command: &Command,
    recorded_at: DateTime<Utc>,
) -> Result<Vec<JourneyEvent>, StoreError> {
    let commands: Vec<JourneyCommand> = match command {
        Command::Record(entries) => {
            let secret = journey
                .secret
                .as_ref()
                .ok_or(StoreError::Rule(JourneyError::Erased))?;
            entries
                .iter()
                .map(|entry| JourneyCommand::Record {
                    journey_id: journey.journey_id.clone(),
                    entry: crate::crypto::seal_entry(secret, entry.clone()),
                    recorded_at,
                })
                .collect()
        }
        Command::Consent {
            granted,
            text_version,
        } => vec![JourneyCommand::Consent {
            granted: *granted,
            text_version: text_version.clone(),
            recorded_at,
        }],
        Command::Erase => vec![JourneyCommand::Erase { recorded_at }],
    };
    let services: journey_domain::JourneyServices = journey.lookup.clone();
    let mut events = Vec::new();
    for command in commands {
        let sink = EventSink::default();
        journey
            .state
            .handle(command, &services, &sink)
            .await
            .map_err(|rule| match rule {
                JourneyError::LookupFailed(why) => StoreError::Unavailable(why),
                rule => StoreError::Rule(rule),
            })?;
        let handled = sink.collect().await;
        journey.lookup.record(&journey.journey_id, &handled);
        events.extend(handled);
    }
    Ok(events)
}

/// The entries a record command asks the index about: each entry's id, and a retract's target.
pub(crate) fn asks(command: &Command) -> Vec<String> {
    let Command::Record(entries) = command else {
        return Vec::new();
    };
    let mut asks = Vec::with_capacity(entries.len());
    for entry in entries {
        asks.push(entry.entry.clone());
        if let Body::Retract { target, .. } = &entry.body {
            asks.push(target.clone());
        }
    }
    asks
}

/// A locked journey's id, last sequence, snapshot version, state and wrapped key.
pub(crate) type LockedRow = (String, i64, i64, String, Option<Vec<u8>>);

/// Locks the journey `key` (its snapshot row) and loads its state; `None` when the key
/// names no journey with a snapshot.
pub(crate) async fn lock(
    tx: &mut Transaction<'_, Postgres>,
    key: &str,
    master: &MasterKey,
) -> Result<Option<Loaded>, StoreError> {
    let row: Option<LockedRow> = sqlx::query_as(
        "SELECT k.journey_id, s.last_sequence, s.current_snapshot, s.payload::text, x.wrapped_key
           FROM journey_keys k
           JOIN snapshots s ON s.aggregate_type = 'Journey' AND s.aggregate_id = k.journey_id
           LEFT JOIN journey_secrets x ON x.journey_id = k.journey_id
          WHERE k.key = $1
            FOR UPDATE OF s",
    )
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| loaded(row, master)).transpose()
}

/// The journey of a locked row.
pub(crate) fn loaded(row: LockedRow, master: &MasterKey) -> Result<Loaded, StoreError> {
    let (journey_id, sequence, snapshot, state, wrapped) = row;
    let state: Journey =
        serde_json::from_str(&state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let secret = wrapped
        .map(|w| crate::crypto::unwrap_key(master, &journey_id, &w))
        .transpose()?;
    Ok(Loaded {
        journey_id,
        state,
        sequence: sequence as usize,
        snapshot: snapshot as usize,
        secret,
        lookup: std::sync::Arc::default(),
    })
}

/// A journey for `key`, which names none with a snapshot: a new one (key and secret
/// inserted in `tx`; a writer starting the same key at once makes this fail with a
/// conflict, and the retry finds theirs), or one whose key was reserved without events.
pub(crate) async fn fresh(
    tx: &mut Transaction<'_, Postgres>,
    key: &str,
    master: &MasterKey,
) -> Result<Loaded, StoreError> {
    let reserved: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT k.journey_id, x.wrapped_key FROM journey_keys k
           LEFT JOIN journey_secrets x ON x.journey_id = k.journey_id
          WHERE k.key = $1
            FOR UPDATE OF k",
    )
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    let (journey_id, wrapped, secret) = match reserved {
        Some((id, Some(wrapped))) => {
            let secret = crate::crypto::unwrap_key(master, &id, &wrapped)?;
            (id, None, secret)
        }
        Some((id, None)) => {
            let (wrapped, secret) = crate::crypto::new_key(master, &id);
            (id, Some(wrapped), secret)
        }
        None => {
            let id = Uuid::new_v4().to_string();
            sqlx::query("INSERT INTO journey_keys (key, journey_id) VALUES ($1, $2)")
                .bind(key)
                .bind(&id)
                .execute(&mut **tx)
                .await?;
            let (wrapped, secret) = crate::crypto::new_key(master, &id);
            (id, Some(wrapped), secret)
        }
    };
    if let Some(wrapped) = &wrapped {
        sqlx::query("INSERT INTO journey_secrets (journey_id, wrapped_key) VALUES ($1, $2)")
            .bind(&journey_id)
            .bind(wrapped)
            .execute(&mut **tx)
            .await?;
    }
    Ok(Loaded {
        journey_id,
        state: Journey::default(),
        sequence: 0,
        snapshot: 0,
        secret: Some(secret),
        lookup: std::sync::Arc::default(),
    })
}

/// Applies the events stored after the snapshot (none, unless a writer without snapshots
/// wrote them) and reads the entry index rows of the entries `asks` names.
pub(crate) async fn load_newer(
    tx: &mut Transaction<'_, Postgres>,
    journey: &mut Loaded,
    asks: &[String],
) -> Result<(), StoreError> {
    let (newer, entries): (Vec<String>, Vec<Value>) = sqlx::query_as(
        "SELECT ARRAY(SELECT e.payload::text FROM events e
                       WHERE e.aggregate_type = 'Journey' AND e.aggregate_id = $1
                         AND e.sequence > $2 ORDER BY e.sequence),
                ARRAY(SELECT jsonb_build_array(i.content, i.retracted) FROM entry_index i
                       WHERE i.journey_id = $1 AND i.entry = ANY($3))",
    )
    .bind(&journey.journey_id)
    .bind(journey.sequence as i64)
    .bind(asks)
    .fetch_one(&mut **tx)
    .await?;
    apply_newer(journey, newer, entries)
}

/// Applies `newer` events (payloads) to `journey` and puts the index rows `entries` (pairs
/// of content and retracted) in its lookup.
pub(crate) fn apply_newer(
    journey: &mut Loaded,
    newer: Vec<String>,
    entries: Vec<Value>,
) -> Result<(), StoreError> {
    for payload in newer {
        let event: JourneyEvent =
            serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        journey.state.apply(event);
        journey.sequence += 1;
    }
    for pair in entries {
        let (content, retracted): (Entry, bool) =
            serde_json::from_value(pair).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        journey.lookup.insert(
            &journey.journey_id,
            StoredEntry {
                entry: content,
                retracted,
            },
        );
    }
    Ok(())
}

/// What the `appended` CTE returns for [`INDEX_APPENDED`]: the journey and the recorded
/// entry (parsed once, as jsonb).
pub(crate) const APPENDED_COLUMNS: &str =
    "aggregate_id, payload::jsonb -> 'EntryRecorded' AS recorded";

/// The `entry_index` rows of the events a statement appends, as two data-modifying CTEs
/// over `appended` (the `INSERT INTO events ... RETURNING` [`APPENDED_COLUMNS`] before
/// them): every writer of events keeps the index in the statement that appends them, so no
/// trigger is needed (a distributed store runs none; ARCHITECTURE.md). The sub-statements
/// of one statement see the same snapshot, so a retract whose target comes in the same
/// statement marks it as it is inserted, and one of an earlier target updates its row.
///
/// A retract's target in the same statement is found by a hash join, not a subplan per row:
/// 10,000 events in ~0.25 s, as the trigger took (docs/benchmarks.md).
pub(crate) const INDEX_APPENDED: &str = "
     indexed AS (
         INSERT INTO entry_index (journey_id, entry, content, retracted)
         SELECT a.aggregate_id, a.recorded ->> 'entry', a.recorded - 'recorded_at' - 'episode',
                t.target IS NOT NULL
           FROM appended a
           LEFT JOIN (SELECT DISTINCT aggregate_id, recorded ->> 'target' AS target
                        FROM appended WHERE recorded ->> 'type' = 'retract') t
             ON t.aggregate_id = a.aggregate_id AND t.target = a.recorded ->> 'entry'
          WHERE a.recorded IS NOT NULL),
     retracted AS (
         UPDATE entry_index i SET retracted = true
           FROM appended n
          WHERE n.recorded ->> 'type' = 'retract'
            AND i.journey_id = n.aggregate_id
            AND i.entry = n.recorded ->> 'target')";

/// Inserts `rows` (events of any journeys) in one statement, with their `entry_index` rows.
pub(crate) async fn insert_events(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[&SerializedEvent],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = rows.iter().map(|e| e.aggregate_id.as_str()).collect();
    let sequences: Vec<i64> = rows.iter().map(|e| e.sequence as i64).collect();
    let types: Vec<&str> = rows.iter().map(|e| e.event_type.as_str()).collect();
    let versions: Vec<&str> = rows.iter().map(|e| e.event_version.as_str()).collect();
    let payloads: Vec<String> = rows.iter().map(|e| e.payload.to_string()).collect();
    let metadata: Vec<String> = rows.iter().map(|e| e.metadata.to_string()).collect();
    sqlx::query(&format!(
        "WITH appended AS (
             INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT 'Journey', id, seq, t, v, p::json, m::json
               FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(id, seq, t, v, p, m)
             RETURNING {APPENDED_COLUMNS}),
         {INDEX_APPENDED}
         SELECT count(*) FROM appended"
    ))
    .bind(&ids)
    .bind(&sequences)
    .bind(&types)
    .bind(&versions)
    .bind(&payloads)
    .bind(&metadata)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
