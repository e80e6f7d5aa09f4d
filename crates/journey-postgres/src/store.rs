//! The event store: cqrs-es over postgres-es's `events` table, with a snapshot that is correct.
//!
//! postgres-es 0.5's own snapshot mode applies new events twice (traps.md). This store loads
//! the snapshot and only the newer events, lets the aggregate handle the command (the
//! `EventSink` applies each event once, at once), and saves the resulting state as the new
//! snapshot in the same transaction as the events (`PersistedEventRepository::persist`). The
//! state is small, so an append costs the same on a journey of 10 or 5,000 entries.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::{
    Aggregate, AggregateContext, AggregateError, CqrsFramework, DomainEvent, EventEnvelope,
    EventStore,
};
use journey_domain::{
    Body, Entry, EntryLookup, Journey, JourneyCommand, JourneyError, JourneyEvent, StoredEntry,
};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

use crate::error::StoreError;

/// The aggregate as loaded: state, the sequence it reflects and its snapshot's version.
pub struct JourneyContext {
    aggregate_id: String,
    aggregate: Journey,
    current_sequence: usize,
    current_snapshot: usize,
}

impl AggregateContext<Journey> for JourneyContext {
    fn aggregate(&mut self) -> &mut Journey {
        &mut self.aggregate
    }
}

/// A cqrs-es `EventStore` for `Journey` with a correct snapshot per aggregate.
pub struct JourneyStore {
    repo: PostgresEventRepository,
    pool: PgPool,
}

impl JourneyStore {
    pub fn new(pool: PgPool) -> Self {
        Self {
            repo: PostgresEventRepository::new(pool.clone()),
            pool,
        }
    }

    /// Stores `rows` and the snapshot in one transaction, or nothing. postgres-es 0.5's own
    /// `persist` commits the events before it checks the snapshot's version, so a writer that
    /// lost the race left its events stored, the snapshot behind, and was told "conflict";
    /// here a version mismatch rolls everything back.
    async fn persist(
        &self,
        rows: &[SerializedEvent],
        (aggregate_id, state, version): (String, serde_json::Value, usize),
    ) -> Result<(), AggregateError<JourneyError>> {
        fn failed(e: sqlx::Error) -> AggregateError<JourneyError> {
            match &e {
                sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                    AggregateError::AggregateConflict
                }
                _ => AggregateError::DatabaseConnectionError(Box::new(e)),
            }
        }
        let mut tx = self.pool.begin().await.map_err(failed)?;
        for row in rows {
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&row.aggregate_type)
            .bind(&row.aggregate_id)
            .bind(row.sequence as i64)
            .bind(&row.event_type)
            .bind(&row.event_version)
            .bind(&row.payload)
            .bind(&row.metadata)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        }
        let last_sequence = rows.last().map_or(0, |r| r.sequence) as i64;
        let written = if version == 1 {
            sqlx::query(
                "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(Journey::TYPE)
            .bind(&aggregate_id)
            .bind(last_sequence)
            .bind(version as i64)
            .bind(&state)
            .execute(&mut *tx)
            .await
            .map_err(failed)?
        } else {
            sqlx::query(
                "UPDATE snapshots SET last_sequence = $3, current_snapshot = $4, payload = $5
                  WHERE aggregate_type = $1 AND aggregate_id = $2 AND current_snapshot = $6",
            )
            .bind(Journey::TYPE)
            .bind(&aggregate_id)
            .bind(last_sequence)
            .bind(version as i64)
            .bind(&state)
            .bind(version as i64 - 1)
            .execute(&mut *tx)
            .await
            .map_err(failed)?
        };
        if written.rows_affected() != 1 {
            tx.rollback().await.map_err(failed)?;
            return Err(AggregateError::AggregateConflict);
        }
        tx.commit().await.map_err(failed)
    }
}

fn deserialize(event: &SerializedEvent) -> Result<JourneyEvent, PersistenceError> {
    Ok(serde_json::from_value(event.payload.clone())?)
}

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

impl EventStore<Journey> for JourneyStore {
    type AC = JourneyContext;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<Journey>>, AggregateError<JourneyError>> {
        let rows = self.repo.get_events::<Journey>(aggregate_id).await?;
        rows.iter()
            .map(|row| {
                Ok(EventEnvelope {
                    aggregate_id: row.aggregate_id.clone(),
                    sequence: row.sequence,
                    payload: deserialize(row)?,
                    metadata: serde_json::from_value(row.metadata.clone())
                        .map_err(PersistenceError::from)?,
                })
            })
            .collect::<Result<_, PersistenceError>>()
            .map_err(AggregateError::from)
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<JourneyContext, AggregateError<JourneyError>> {
        let mut context = match self.repo.get_snapshot::<Journey>(aggregate_id).await? {
            Some(snapshot) => JourneyContext {
                aggregate_id: aggregate_id.to_string(),
                aggregate: serde_json::from_value(snapshot.aggregate)?,
                current_sequence: snapshot.current_sequence,
                current_snapshot: snapshot.current_snapshot,
            },
            None => JourneyContext {
                aggregate_id: aggregate_id.to_string(),
                aggregate: Journey::default(),
                current_sequence: 0,
                current_snapshot: 0,
            },
        };
        let newer = self
            .repo
            .get_last_events::<Journey>(aggregate_id, context.current_sequence)
            .await?;
        for row in &newer {
            context.aggregate.apply(deserialize(row)?);
            context.current_sequence = row.sequence;
        }
        Ok(context)
    }

    async fn commit(
        &self,
        events: Vec<JourneyEvent>,
        context: JourneyContext,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<Journey>>, AggregateError<JourneyError>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<SerializedEvent> = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                serialize(
                    &context.aggregate_id,
                    context.current_sequence + i + 1,
                    event,
                    &metadata,
                )
            })
            .collect();
        // The aggregate already holds the new events (EventSink::write applied them).
        let state = serde_json::to_value(&context.aggregate)?;
        let snapshot = (
            context.aggregate_id.clone(),
            state,
            context.current_snapshot + 1,
        );
        self.persist(&rows, snapshot).await?;
        Ok(events
            .into_iter()
            .zip(rows)
            .map(|(payload, row)| EventEnvelope {
                aggregate_id: row.aggregate_id,
                sequence: row.sequence,
                payload,
                metadata: metadata.clone(),
            })
            .collect())
    }
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

/// Records single entries: the path the web app and `journey record` use.
pub struct Recorder {
    pool: PgPool,
    master: crate::crypto::MasterKey,
    cqrs: CqrsFramework<Journey, JourneyStore>,
}

impl Recorder {
    pub fn new(pool: PgPool, master: crate::crypto::MasterKey) -> Self {
        let lookup: Arc<dyn EntryLookup> = Arc::new(PgEntryLookup::new(pool.clone()));
        let cqrs = CqrsFramework::new(JourneyStore::new(pool.clone()), Vec::new(), lookup);
        Self { pool, master, cqrs }
    }

    /// Records `entry` on the journey with key `key`. An entry already stored with the same
    /// id and content stores nothing. Returns the journey's internal id.
    pub async fn record(
        &self,
        key: &str,
        entry: Entry,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
    ) -> Result<String, StoreError> {
        let journey_id = match crate::keys::journey_id(&self.pool, key).await? {
            Some(id) => id,
            None if matches!(entry.body, Body::JourneyStarted { .. }) => {
                crate::keys::reserve(&self.pool, key).await?
            }
            None => return Err(StoreError::Rule(JourneyError::NotStarted)),
        };
        // Handles and note text are sealed before the aggregate sees them (crypto.rs).
        let keys = crate::crypto::keys(
            &self.pool,
            &self.master,
            std::slice::from_ref(&journey_id),
            true,
        )
        .await?;
        let key = keys
            .get(&journey_id)
            .ok_or(StoreError::Rule(JourneyError::Erased))?;
        let command = JourneyCommand::Record {
            journey_id: journey_id.clone(),
            entry: crate::crypto::seal_entry(key, entry),
            recorded_at,
        };
        self.cqrs
            .execute_with_metadata(&journey_id, command, metadata)
            .await
            .map_err(StoreError::from)?;
        Ok(journey_id)
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
        let journey_id = crate::keys::journey_id(&self.pool, key)
            .await?
            .ok_or(StoreError::Rule(JourneyError::NotStarted))?;
        let command = JourneyCommand::Consent {
            granted,
            text_version: text_version.to_string(),
            recorded_at,
        };
        self.cqrs
            .execute_with_metadata(&journey_id, command, metadata)
            .await
            .map_err(StoreError::from)
    }

    /// Erases the journey `key`: appends `JourneyErased` (the journey takes nothing more),
    /// destroys its key (handles and note text can never be read again), forgets its key
    /// name, assignments and entry index, and has the projector purge its read rows (the
    /// event is replayed by `rebuild`, so they stay purged). Events are never deleted.
    /// Returns the internal id, or `None` when there is no journey `key`.
    pub async fn erase(
        &self,
        key: &str,
        recorded_at: DateTime<Utc>,
        metadata: HashMap<String, String>,
    ) -> Result<Option<String>, StoreError> {
        let Some(journey_id) = crate::keys::journey_id(&self.pool, key).await? else {
            return Ok(None);
        };
        self.cqrs
            .execute_with_metadata(&journey_id, JourneyCommand::Erase { recorded_at }, metadata)
            .await
            .map_err(StoreError::from)?;
        let mut tx = self.pool.begin().await?;
        for statement in [
            "DELETE FROM journey_secrets WHERE journey_id = $1",
            "DELETE FROM journey_keys WHERE journey_id = $1",
            "DELETE FROM entry_index WHERE journey_id = $1",
            "DELETE FROM journey_access WHERE journey_id = $1",
        ] {
            sqlx::query(statement)
                .bind(&journey_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        crate::projector::catch_up(&self.pool).await?;
        Ok(Some(journey_id))
    }
}
