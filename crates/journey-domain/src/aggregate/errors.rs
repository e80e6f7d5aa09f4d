//! The rules a command can break.

use chrono::NaiveDate;

/// Every rule of the interchange spec that a command can break. Nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JourneyError {
    /// Every line of a journey comes after its `journey_started`.
    #[error("journey not started: `journey_started` must come before every other line")]
    NotStarted,
    /// `journey_started` once per journey.
    #[error("journey already started on {0}")]
    AlreadyStarted(NaiveDate),
    /// `craft_started` at most once, unless retracted.
    #[error("CRAFT already started on {0} (retract that entry first)")]
    CraftAlreadyStarted(NaiveDate),
    /// `on` may not lie before the journey's start.
    #[error("day {on} is before the journey's start {start}")]
    BeforeStart { on: NaiveDate, start: NaiveDate },
    /// `on` may be at most one day after the day of recording.
    #[error("day {on} is more than one day after today ({today})")]
    InTheFuture { on: NaiveDate, today: NaiveDate },
    /// One open treatment episode at a time.
    #[error("a treatment episode is already open since {since} (entry {entry})")]
    EpisodeOpen { since: NaiveDate, entry: String },
    /// An exit needs an open episode.
    #[error("treatment_exited with no treatment episode open")]
    NoOpenEpisode,
    /// An exit cannot precede its entry.
    #[error("treatment_exited on {exited} is before its treatment_entered on {entered}")]
    ExitBeforeEntry {
        entered: NaiveDate,
        exited: NaiveDate,
    },
    /// Entry ids are unique within a journey (the very same entry again is not an error).
    #[error("duplicate entry id {0:?} with different content")]
    DuplicateEntry(String),
    /// A retract names an entry stored earlier in the same journey.
    #[error("retract target {0:?} is not an entry of this journey")]
    UnknownTarget(String),
    /// An entry is retracted at most once.
    #[error("retract target {0:?} is already retracted")]
    AlreadyRetracted(String),
    /// `journey_started` cannot be retracted.
    #[error("journey_started cannot be retracted")]
    StartNotRetractable,
    /// A retract is final: it cannot itself be retracted.
    #[error("retract target {0:?} is a retract, which cannot be retracted")]
    RetractNotRetractable(String),
    /// A `treatment_entered` with an exit that is not retracted stays.
    #[error("treatment_entered {target:?} has an exit ({exit:?}): retract the exit first")]
    EpisodeHasExit { target: String, exit: String },
    /// The entry store could not answer.
    #[error("entry lookup failed: {0}")]
    LookupFailed(String),
    /// A consent names the version of the text agreed to.
    #[error("consent needs the version of the consent text (1-64 characters), got {0:?}")]
    BadConsentVersion(String),
    /// An erased journey takes nothing more.
    #[error("the journey was erased")]
    Erased,
}

impl JourneyError {
    /// The field of the line the rule is about (`type` when it is about the line as a
    /// whole), for errors that name the field (interchange.md: line, field, value).
    pub fn field(&self) -> &'static str {
        match self {
            JourneyError::BeforeStart { .. }
            | JourneyError::InTheFuture { .. }
            | JourneyError::ExitBeforeEntry { .. } => "on",
            JourneyError::UnknownTarget(_)
            | JourneyError::AlreadyRetracted(_)
            | JourneyError::StartNotRetractable
            | JourneyError::RetractNotRetractable(_)
            | JourneyError::EpisodeHasExit { .. } => "target",
            JourneyError::DuplicateEntry(_) => "entry",
            JourneyError::BadConsentVersion(_) => "text_version",
            JourneyError::NotStarted
            | JourneyError::AlreadyStarted(_)
            | JourneyError::CraftAlreadyStarted(_)
            | JourneyError::EpisodeOpen { .. }
            | JourneyError::NoOpenEpisode
            | JourneyError::LookupFailed(_)
            | JourneyError::Erased => "type",
        }
    }
}
