//! The events a journey stores. Names and fields are frozen.

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::entry::{Entry, Modality};

/// A stored event. Names and fields are frozen (golden tests in `tests/golden_events.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JourneyEvent {
    /// An entry as the family reported it; `event_type` is the entry's own name
    /// (`UseObserved`, `EntryRetracted`, ...).
    EntryRecorded(Recorded),
    /// Derived: the first use recorded after an exit from detox or residential care.
    RelapseAfterRehab(RelapseAfterRehab),
    /// The family granted or withdrew consent to research use of the anonymized data.
    ResearchConsent(ResearchConsent),
    /// The journey was erased: its key is destroyed and its read rows purged.
    JourneyErased(Erased),
}

/// When a journey was erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erased {
    pub recorded_at: DateTime<Utc>,
}

/// A consent decision; the latest one counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResearchConsent {
    pub granted: bool,
    pub text_version: String,
    pub recorded_at: DateTime<Utc>,
}

/// An entry with the time it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub recorded_at: DateTime<Utc>,
    /// For `treatment_exited`: the `entry` id of the `treatment_entered` it closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<String>,
    #[serde(flatten)]
    pub entry: Entry,
}

/// "Rehab was great, but he came home and stumbled."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelapseAfterRehab {
    /// The `entry` id of the episode's `treatment_entered`.
    pub episode: String,
    pub modality: Modality,
    pub exited: NaiveDate,
    /// The `entry` id of the use that was recorded.
    pub use_entry: String,
    pub on: NaiveDate,
    pub days_since_exit: i64,
}

impl DomainEvent for JourneyEvent {
    fn event_type(&self) -> String {
        match self {
            JourneyEvent::EntryRecorded(recorded) => recorded.entry.body.event_name().into(),
            JourneyEvent::RelapseAfterRehab(_) => "RelapseAfterRehab".into(),
            JourneyEvent::ResearchConsent(c) if c.granted => "ResearchConsentGranted".into(),
            JourneyEvent::ResearchConsent(_) => "ResearchConsentWithdrawn".into(),
            JourneyEvent::JourneyErased(_) => "JourneyErased".into(),
        }
    }

    fn event_version(&self) -> String {
        "1".into()
    }
}
