//! The commands the journey takes.

use chrono::{DateTime, Utc};

use crate::entry::Entry;

/// The commands: record one entry (any line type of the interchange spec, `retract`
/// included) on the journey whose internal id is `journey_id`; or grant or withdraw the
/// family's consent to anonymized research use (not an interchange line: it is the family's
/// decision about the data, not an observation).
#[derive(Debug, Clone, PartialEq)]
pub enum JourneyCommand {
    Record {
        journey_id: String,
        entry: Entry,
        recorded_at: DateTime<Utc>,
    },
    Consent {
        granted: bool,
        /// The version of the consent text the family agreed to (or withdrew from).
        text_version: String,
        recorded_at: DateTime<Utc>,
    },
    /// The family's data is to be erased: the journey takes no command after this.
    Erase { recorded_at: DateTime<Utc> },
}
