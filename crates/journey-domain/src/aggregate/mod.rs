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
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::entry::{Body, Entry, Modality};

mod commands;
mod errors;
mod events;

pub use commands::JourneyCommand;
pub use errors::JourneyError;
pub use events::{Erased, JourneyEvent, Recorded, RelapseAfterRehab, ResearchConsent};

/// The aggregate type name stored in the `events` table.
pub const AGGREGATE_TYPE: &str = "Journey";

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
