//! The `Journey` aggregate: one Loved One followed by one family.
//!
//! Its state is kept small on purpose (set-up, CRAFT start, treatment episodes, counts): it is
//! snapshotted after every command, and the cost of an append must not grow with history.
//! What it needs to know about single earlier entries (does this id exist, is it the same
//! line, is it retracted) it asks the [`EntryLookup`] service, which the store keeps in the
//! same transaction as the events.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::entry::{Body, Entry, Modality};

/// The aggregate type name stored in the `events` table.
pub const AGGREGATE_TYPE: &str = "Journey";

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

/// An earlier entry of a journey, as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    pub entry: Entry,
    pub retracted: bool,
}

/// The service the aggregate asks about single earlier entries of a journey.
#[async_trait]
pub trait EntryLookup: Send + Sync {
    /// The entry with id `entry` of the journey `journey_id`, if any.
    async fn find(&self, journey_id: &str, entry: &str) -> Result<Option<StoredEntry>, String>;
}

/// The aggregate's services.
pub type JourneyServices = Arc<dyn EntryLookup>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub entry: String,
    pub on: NaiveDate,
}

/// One treatment episode, opened by a `treatment_entered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub entry: String,
    pub entered: NaiveDate,
    pub modality: Modality,
    pub exit: Option<Mark>,
    pub retracted: bool,
    pub relapse_recorded: bool,
}

/// The aggregate's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journey {
    pub started: Option<Mark>,
    pub craft: Option<Mark>,
    pub episodes: Vec<Episode>,
    /// Entries recorded (retracts included).
    pub entries: u64,
    /// The latest research consent decision: (granted, text version). Snapshots saved
    /// before it existed read as `None`.
    #[serde(default)]
    pub consent: Option<(bool, String)>,
    /// Erased: no command is taken any more.
    #[serde(default)]
    pub erased: bool,
}

impl Journey {
    fn open_episode(&self) -> Option<&Episode> {
        self.episodes
            .iter()
            .find(|episode| !episode.retracted && episode.exit.is_none())
    }

    /// The rehab episode whose first use after its exit is `on`, if this use is the first.
    fn relapse_of(&self, on: NaiveDate) -> Option<&Episode> {
        let latest = self
            .episodes
            .iter()
            .filter(|e| !e.retracted && e.modality.is_rehab())
            .filter(|e| e.exit.as_ref().is_some_and(|exit| exit.on <= on))
            .max_by_key(|e| e.exit.as_ref().map(|exit| exit.on))?;
        (!latest.relapse_recorded).then_some(latest)
    }

    fn check_day(&self, on: NaiveDate, recorded_at: DateTime<Utc>) -> Result<(), JourneyError> {
        if let Some(start) = &self.started {
            if on < start.on {
                return Err(JourneyError::BeforeStart {
                    on,
                    start: start.on,
                });
            }
        }
        let today = recorded_at.date_naive();
        if on > today + Days::new(1) {
            return Err(JourneyError::InTheFuture { on, today });
        }
        Ok(())
    }

    fn check_rules(&self, entry: &Entry) -> Result<Option<String>, JourneyError> {
        match (&self.started, &entry.body) {
            (None, Body::JourneyStarted { .. }) => {}
            (None, _) => return Err(JourneyError::NotStarted),
            (Some(start), Body::JourneyStarted { .. }) => {
                return Err(JourneyError::AlreadyStarted(start.on))
            }
            _ => {}
        }
        let on = entry.on;
        match &entry.body {
            Body::CraftStarted {} => {
                if let Some(craft) = &self.craft {
                    return Err(JourneyError::CraftAlreadyStarted(craft.on));
                }
            }
            Body::TreatmentEntered { .. } => {
                if let Some(open) = self.open_episode() {
                    return Err(JourneyError::EpisodeOpen {
                        since: open.entered,
                        entry: open.entry.clone(),
                    });
                }
            }
            Body::TreatmentExited { .. } => {
                let open = self.open_episode().ok_or(JourneyError::NoOpenEpisode)?;
                let exited = on.expect("a parsed exit has a day");
                if exited < open.entered {
                    return Err(JourneyError::ExitBeforeEntry {
                        entered: open.entered,
                        exited,
                    });
                }
                return Ok(Some(open.entry.clone()));
            }
            _ => {}
        }
        Ok(None)
    }

    async fn check_retract(
        &self,
        journey_id: &str,
        target: &str,
        services: &JourneyServices,
    ) -> Result<(), JourneyError> {
        let stored = services
            .find(journey_id, target)
            .await
            .map_err(JourneyError::LookupFailed)?
            .ok_or_else(|| JourneyError::UnknownTarget(target.into()))?;
        if stored.retracted {
            return Err(JourneyError::AlreadyRetracted(target.into()));
        }
        match &stored.entry.body {
            Body::JourneyStarted { .. } => Err(JourneyError::StartNotRetractable),
            Body::Retract { .. } => Err(JourneyError::RetractNotRetractable(target.into())),
            Body::TreatmentEntered { .. } => {
                let exit = self
                    .episodes
                    .iter()
                    .find(|episode| episode.entry == target)
                    .and_then(|episode| episode.exit.as_ref());
                match exit {
                    Some(exit) => Err(JourneyError::EpisodeHasExit {
                        target: target.into(),
                        exit: exit.entry.clone(),
                    }),
                    None => Ok(()),
                }
            }
            Body::TreatmentExited { .. } => match self.open_episode() {
                // Retracting an exit reopens its episode: only one may be open.
                Some(open) => Err(JourneyError::EpisodeOpen {
                    since: open.entered,
                    entry: open.entry.clone(),
                }),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

impl Aggregate for Journey {
    const TYPE: &'static str = AGGREGATE_TYPE;
    type Command = JourneyCommand;
    type Event = JourneyEvent;
    type Error = JourneyError;
    type Services = JourneyServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if self.erased {
            return Err(JourneyError::Erased);
        }
        let (journey_id, entry, recorded_at) = match command {
            JourneyCommand::Erase { recorded_at } => {
                if self.started.is_none() {
                    return Err(JourneyError::NotStarted);
                }
                sink.write(JourneyEvent::JourneyErased(Erased { recorded_at }), self)
                    .await;
                return Ok(());
            }
            JourneyCommand::Record {
                journey_id,
                entry,
                recorded_at,
            } => (journey_id, entry, recorded_at),
            JourneyCommand::Consent {
                granted,
                text_version,
                recorded_at,
            } => {
                if self.started.is_none() {
                    return Err(JourneyError::NotStarted);
                }
                if text_version.is_empty() || text_version.chars().count() > 64 {
                    return Err(JourneyError::BadConsentVersion(text_version));
                }
                if self.consent.as_ref() == Some(&(granted, text_version.clone())) {
                    return Ok(()); // the same decision again changes nothing
                }
                let consent = ResearchConsent {
                    granted,
                    text_version,
                    recorded_at,
                };
                sink.write(JourneyEvent::ResearchConsent(consent), self)
                    .await;
                return Ok(());
            }
        };
        let existing = services
            .find(&journey_id, &entry.entry)
            .await
            .map_err(JourneyError::LookupFailed)?;
        if let Some(stored) = existing {
            return if stored.entry == entry {
                Ok(())
            } else {
                Err(JourneyError::DuplicateEntry(entry.entry))
            };
        }
        let episode = self.check_rules(&entry)?;
        if let Some(on) = entry.on {
            self.check_day(on, recorded_at)?;
        }
        if let Body::Retract { target, .. } = &entry.body {
            self.check_retract(&journey_id, target, services).await?;
        }
        let relapse = match entry.on {
            Some(on) if entry.body.is_use() => self.relapse_of(on).map(|episode| {
                let exited = episode.exit.as_ref().expect("a relapse follows an exit").on;
                RelapseAfterRehab {
                    episode: episode.entry.clone(),
                    modality: episode.modality,
                    exited,
                    use_entry: entry.entry.clone(),
                    on,
                    days_since_exit: (on - exited).num_days(),
                }
            }),
            _ => None,
        };
        let recorded = Recorded {
            recorded_at,
            episode,
            entry,
        };
        sink.write(JourneyEvent::EntryRecorded(recorded), self)
            .await;
        if let Some(relapse) = relapse {
            sink.write(JourneyEvent::RelapseAfterRehab(relapse), self)
                .await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            JourneyEvent::EntryRecorded(recorded) => self.apply_entry(recorded.entry),
            JourneyEvent::ResearchConsent(consent) => {
                self.consent = Some((consent.granted, consent.text_version));
            }
            JourneyEvent::JourneyErased(_) => self.erased = true,
            JourneyEvent::RelapseAfterRehab(relapse) => {
                if let Some(episode) = self
                    .episodes
                    .iter_mut()
                    .find(|e| e.entry == relapse.episode)
                {
                    episode.relapse_recorded = true;
                }
            }
        }
    }
}

impl Journey {
    fn apply_entry(&mut self, entry: Entry) {
        self.entries += 1;
        let mark = |on: Option<NaiveDate>| Mark {
            entry: entry.entry.clone(),
            on: on.expect("every entry but a retract has a day"),
        };
        match &entry.body {
            Body::JourneyStarted { .. } => self.started = Some(mark(entry.on)),
            Body::CraftStarted {} => self.craft = Some(mark(entry.on)),
            Body::TreatmentEntered { modality } => self.episodes.push(Episode {
                entry: entry.entry.clone(),
                entered: entry.on.expect("an entry has a day"),
                modality: *modality,
                exit: None,
                retracted: false,
                relapse_recorded: false,
            }),
            Body::TreatmentExited { .. } => {
                let exit = mark(entry.on);
                if let Some(open) = self
                    .episodes
                    .iter_mut()
                    .find(|e| !e.retracted && e.exit.is_none())
                {
                    open.exit = Some(exit);
                }
            }
            Body::Retract { target, .. } => {
                if self
                    .craft
                    .as_ref()
                    .is_some_and(|craft| &craft.entry == target)
                {
                    self.craft = None;
                }
                for episode in &mut self.episodes {
                    if &episode.entry == target {
                        episode.retracted = true;
                    }
                    if episode
                        .exit
                        .as_ref()
                        .is_some_and(|exit| &exit.entry == target)
                    {
                        episode.exit = None;
                    }
                }
            }
            _ => {}
        }
    }
}
