//! The journeys an import writes to: loaded once each, when a block first names them.

use std::collections::{HashMap, HashSet};

use cqrs_es::persist::SerializedEvent;
use cqrs_es::Aggregate;
use journey_domain::interchange::Line;
use journey_domain::Journey;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::StoreError;

/// A journey as the import holds it while checking lines.
pub(super) struct Pending {
    pub key: String,
    pub id: String,
    pub new: bool,
    pub state: Journey,
    pub sequence: usize,
    pub snapshot: usize,
    /// Checked events not yet sent to the database (at most a block's).
    pub events: Vec<SerializedEvent>,
    /// Events of this journey were sent in this import's transaction.
    pub written: bool,
    /// A journey key made by this import, wrapped: stored with its first events.
    pub wrapped: Option<Vec<u8>>,
}

/// Loads (or creates, in memory) the journeys of `block` not loaded yet, from their
/// snapshots and the events after them, with their keys: a new journey's key is made here
/// and stored with its first events (an import that stores nothing leaves no key behind).
///
/// A stored journey's snapshot row is locked (`FOR UPDATE`, in id order) in the import's
/// transaction before it is read, as every writer takes its turn: a family's write to it
/// waits for the import instead of making the import fail at its end, and nothing the
/// import read changes under it. (Imports take turns with each other: see `import_in`.)
pub(super) async fn load_journeys(
    pool: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    master: &crate::crypto::MasterKey,
    block: &[(usize, Line)],
    journeys: &mut HashMap<String, Pending>,
    secrets: &mut HashMap<String, crate::crypto::JourneyKey>,
) -> Result<(), StoreError> {
    let keys: Vec<String> = block
        .iter()
        .map(|(_, line)| &line.journey)
        .filter(|key| !journeys.contains_key(*key))
        .cloned()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let known: Vec<(String, String)> =
        sqlx::query_as("SELECT key, journey_id FROM journey_keys WHERE key = ANY($1)")
            .bind(&keys)
            .fetch_all(&mut **tx)
            .await?;
    let known: HashMap<String, String> = known.into_iter().collect();
    let ids: Vec<String> = known.values().cloned().collect();
    let snapshots: Vec<(String, i64, i64, serde_json::Value)> = sqlx::query_as(
        "SELECT aggregate_id, last_sequence, current_snapshot, payload FROM snapshots
          WHERE aggregate_type = 'Journey' AND aggregate_id = ANY($1)
          ORDER BY aggregate_id
            FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    let mut snapshots: HashMap<String, (i64, i64, serde_json::Value)> = snapshots
        .into_iter()
        .map(|(id, seq, snap, state)| (id, (seq, snap, state)))
        .collect();
    let mut loaded = HashMap::new();
    for key in keys {
        let pending = match known.get(&key) {
            Some(id) => {
                let (sequence, snapshot, state) =
                    snapshots
                        .remove(id)
                        .unwrap_or((0, 0, serde_json::Value::Null));
                let state = if state.is_null() {
                    Journey::default()
                } else {
                    serde_json::from_value(state).map_err(|e| StoreError::Corrupt(e.to_string()))?
                };
                Pending {
                    key: key.clone(),
                    id: id.clone(),
                    new: false,
                    state,
                    sequence: sequence as usize,
                    snapshot: snapshot as usize,
                    events: Vec::new(),
                    written: false,
                    wrapped: None,
                }
            }
            None => Pending {
                key: key.clone(),
                id: Uuid::new_v4().to_string(),
                new: true,
                state: Journey::default(),
                sequence: 0,
                snapshot: 0,
                events: Vec::new(),
                written: false,
                wrapped: None,
            },
        };
        loaded.insert(key, pending);
    }
    apply_newer_events(tx, &mut loaded).await?;
    // Handles and note text are sealed with each journey's key before the aggregate sees
    // them, exactly as `Recorder::record` does (crypto.rs).
    secrets.extend(crate::crypto::keys(pool, master, &ids, false).await?);
    for pending in loaded.values_mut() {
        if !secrets.contains_key(&pending.id) && (pending.new || !pending.state.erased) {
            let (wrapped, secret) = crate::crypto::new_key(master, &pending.id);
            pending.wrapped = Some(wrapped);
            secrets.insert(pending.id.clone(), secret);
        }
    }
    journeys.extend(loaded);
    Ok(())
}

/// Events written without a snapshot update (e.g. by plain postgres-es) are applied on top.
async fn apply_newer_events(
    tx: &mut Transaction<'_, Postgres>,
    journeys: &mut HashMap<String, Pending>,
) -> Result<(), StoreError> {
    let (ids, sequences): (Vec<String>, Vec<i64>) = journeys
        .values()
        .filter(|p| !p.new)
        .map(|p| (p.id.clone(), p.sequence as i64))
        .unzip();
    let rows: Vec<(String, i64, serde_json::Value)> = sqlx::query_as(
        "SELECT e.aggregate_id, e.sequence, e.payload::jsonb
           FROM unnest($1::text[], $2::bigint[]) AS s(id, seq)
           JOIN events e ON e.aggregate_type = 'Journey' AND e.aggregate_id = s.id AND e.sequence > s.seq
          ORDER BY e.aggregate_id, e.sequence",
    )
    .bind(&ids)
    .bind(&sequences)
    .fetch_all(&mut **tx)
    .await?;
    let by_id: HashMap<String, String> = journeys
        .iter()
        .map(|(key, p)| (p.id.clone(), key.clone()))
        .collect();
    for (id, sequence, payload) in rows {
        let pending = journeys.get_mut(&by_id[&id]).expect("loaded above");
        let event =
            serde_json::from_value(payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        pending.state.apply(event);
        pending.sequence = sequence as usize;
    }
    Ok(())
}
