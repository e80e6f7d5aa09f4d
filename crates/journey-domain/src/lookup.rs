//! An in-memory [`EntryLookup`]: the aggregate tests' service, and the overlay a bulk import
//! keeps while it checks a whole file before storing anything.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::aggregate::{EntryLookup, JourneyEvent, StoredEntry};
use crate::entry::Body;

/// Entries by (journey id, entry id).
#[derive(Debug, Default)]
pub struct MemoryLookup {
    entries: Mutex<HashMap<(String, String), StoredEntry>>,
}

impl MemoryLookup {
    /// A lookup that knows the entries of `events`, all of journey `journey_id`.
    pub fn from_events(journey_id: &str, events: &[JourneyEvent]) -> Self {
        let lookup = Self::default();
        lookup.record(journey_id, events);
        lookup
    }

    /// Adds an entry that is already stored elsewhere.
    pub fn insert(&self, journey_id: &str, stored: StoredEntry) {
        let key = (journey_id.to_string(), stored.entry.entry.clone());
        self.entries
            .lock()
            .expect("lookup lock")
            .insert(key, stored);
    }

    /// Learns the entries (and retractions) of newly recorded events.
    pub fn record(&self, journey_id: &str, events: &[JourneyEvent]) {
        let mut entries = self.entries.lock().expect("lookup lock");
        for event in events {
            let JourneyEvent::EntryRecorded(recorded) = event else {
                continue;
            };
            if let Body::Retract { target, .. } = &recorded.entry.body {
                if let Some(stored) = entries.get_mut(&(journey_id.to_string(), target.clone())) {
                    stored.retracted = true;
                }
            }
            entries.insert(
                (journey_id.to_string(), recorded.entry.entry.clone()),
                StoredEntry {
                    entry: recorded.entry.clone(),
                    retracted: false,
                },
            );
        }
    }
}

#[async_trait]
impl EntryLookup for MemoryLookup {
    async fn find(&self, journey_id: &str, entry: &str) -> Result<Option<StoredEntry>, String> {
        let entries = self.entries.lock().expect("lookup lock");
        Ok(entries
            .get(&(journey_id.to_string(), entry.to_string()))
            .cloned())
    }
}
