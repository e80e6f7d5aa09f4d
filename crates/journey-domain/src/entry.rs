//! What one entry of a journey says: the `type` of an interchange line and its fields.
//!
//! These types are serialized into stored events: their serde names are frozen
//! (see `tests/golden_events.rs`). Add fields with defaults; never rename.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One entry as the family reported it, without the journey it belongs to.
/// Equality of two `Entry` values is what makes a repeated line idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Unique within the journey.
    pub entry: String,
    /// The day it happened; `None` only for `retract`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<NaiveDate>,
    /// Who reported it (a family member's handle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(flatten)]
    pub body: Body,
}

/// The `type` of an entry with its own fields (the interchange spec's tables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    JourneyStarted {
        relationship: Relationship,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        substances: Vec<Substance>,
    },
    CraftStarted {},
    UseObserved {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        substances: Vec<Substance>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        basis: Option<Basis>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<Confidence>,
    },
    CleanDayObserved {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        basis: Option<Basis>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<Confidence>,
    },
    DayStatus {
        status: DayStatus,
    },
    CheckIn {
        kept: bool,
    },
    CommunicationBroken {},
    CommunicationRestored {},
    TreatmentEntered {
        modality: Modality,
    },
    TreatmentExited {
        reason: ExitReason,
    },
    RewardGiven {},
    RewardWithdrawn {},
    SteppedAway {},
    NaturalConsequenceAllowed {},
    Rescued {
        #[serde(default, skip_serializing_if = "is_false")]
        for_safety: bool,
    },
    PositiveCommunication {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<Channel>,
    },
    TreatmentSuggested {
        response: Response,
    },
    TreatmentEnabled {},
    SafetyCheck {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        found: Option<Found>,
    },
    SelfCare {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u16>,
    },
    Note {
        text: String,
    },
    /// The reporting member's own WHO-5 answers (interchange version 2), in item order:
    /// cheerful, calm, active, rested, interested; each 0-5.
    WellbeingChecked {
        who5: [u8; 5],
    },
    Retract {
        target: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Body {
    /// Every entry type, as the interchange format spells it (`type_name`'s values;
    /// `tests/golden_events.rs` checks the list against a line of every type).
    pub const TYPE_NAMES: [&'static str; 23] = [
        "journey_started",
        "craft_started",
        "use_observed",
        "clean_day_observed",
        "day_status",
        "check_in",
        "communication_broken",
        "communication_restored",
        "treatment_entered",
        "treatment_exited",
        "reward_given",
        "reward_withdrawn",
        "stepped_away",
        "natural_consequence_allowed",
        "rescued",
        "positive_communication",
        "treatment_suggested",
        "treatment_enabled",
        "safety_check",
        "self_care",
        "note",
        "wellbeing_checked",
        "retract",
    ];

    /// The interchange `type` of this body.
    pub fn type_name(&self) -> &'static str {
        match self {
            Body::JourneyStarted { .. } => "journey_started",
            Body::CraftStarted {} => "craft_started",
            Body::UseObserved { .. } => "use_observed",
            Body::CleanDayObserved { .. } => "clean_day_observed",
            Body::DayStatus { .. } => "day_status",
            Body::CheckIn { .. } => "check_in",
            Body::CommunicationBroken {} => "communication_broken",
            Body::CommunicationRestored {} => "communication_restored",
            Body::TreatmentEntered { .. } => "treatment_entered",
            Body::TreatmentExited { .. } => "treatment_exited",
            Body::RewardGiven {} => "reward_given",
            Body::RewardWithdrawn {} => "reward_withdrawn",
            Body::SteppedAway {} => "stepped_away",
            Body::NaturalConsequenceAllowed {} => "natural_consequence_allowed",
            Body::Rescued { .. } => "rescued",
            Body::PositiveCommunication { .. } => "positive_communication",
            Body::TreatmentSuggested { .. } => "treatment_suggested",
            Body::TreatmentEnabled {} => "treatment_enabled",
            Body::SafetyCheck { .. } => "safety_check",
            Body::SelfCare { .. } => "self_care",
            Body::Note { .. } => "note",
            Body::WellbeingChecked { .. } => "wellbeing_checked",
            Body::Retract { .. } => "retract",
        }
    }

    /// The stored event's name (`event_type` column): past tense, CamelCase.
    pub fn event_name(&self) -> &'static str {
        match self {
            Body::JourneyStarted { .. } => "JourneyStarted",
            Body::CraftStarted {} => "CraftStarted",
            Body::UseObserved { .. } => "UseObserved",
            Body::CleanDayObserved { .. } => "CleanDayObserved",
            Body::DayStatus { .. } => "DayStatusRecorded",
            Body::CheckIn { .. } => "CheckInRecorded",
            Body::CommunicationBroken {} => "CommunicationBroken",
            Body::CommunicationRestored {} => "CommunicationRestored",
            Body::TreatmentEntered { .. } => "TreatmentEntered",
            Body::TreatmentExited { .. } => "TreatmentExited",
            Body::RewardGiven {} => "RewardGiven",
            Body::RewardWithdrawn {} => "RewardWithdrawn",
            Body::SteppedAway {} => "SteppedAway",
            Body::NaturalConsequenceAllowed {} => "NaturalConsequenceAllowed",
            Body::Rescued { .. } => "Rescued",
            Body::PositiveCommunication { .. } => "PositiveCommunicationGiven",
            Body::TreatmentSuggested { .. } => "TreatmentSuggested",
            Body::TreatmentEnabled {} => "TreatmentEnabled",
            Body::SafetyCheck { .. } => "SafetyChecked",
            Body::SelfCare { .. } => "SelfCareTaken",
            Body::Note { .. } => "NoteWritten",
            Body::WellbeingChecked { .. } => "WellbeingChecked",
            Body::Retract { .. } => "EntryRetracted",
        }
    }

    /// The WHO-5 percentage score of a `wellbeing_checked` (4 x the sum of its items, 0-100).
    pub fn who5_score(&self) -> Option<u8> {
        match self {
            Body::WellbeingChecked { who5 } => Some(4 * who5.iter().sum::<u8>()),
            _ => None,
        }
    }

    /// True for a use observation (`use_observed` or a `day_status` of `use`).
    pub fn is_use(&self) -> bool {
        matches!(
            self,
            Body::UseObserved { .. }
                | Body::DayStatus {
                    status: DayStatus::Use
                }
        )
    }
}

/// A closed list of values a field takes (`relationship`, `basis`, ...).
pub trait Vocabulary: serde::de::DeserializeOwned {
    /// Every value, as the interchange format spells it.
    const NAMES: &'static [&'static str];
}

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl Vocabulary for $name {
            const NAMES: &'static [&'static str] = &[$($text),+];
        }

        impl $name {
            /// Every value, as the interchange format spells it (a closed set).
            pub const NAMES: &'static [&'static str] = <Self as Vocabulary>::NAMES;

            /// The value as the interchange format spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}

vocabulary!(
    /// Who the family member is to the Loved One.
    Relationship { Parent = "parent", Partner = "partner", Sibling = "sibling", Child = "child", Friend = "friend", Other = "other" }
);
vocabulary!(
    /// A substance class.
    Substance { Alcohol = "alcohol", Cannabis = "cannabis", Opioids = "opioids", Stimulants = "stimulants", Sedatives = "sedatives", Other = "other" }
);
vocabulary!(
    /// How the reporter knows.
    Basis { Witnessed = "witnessed", Told = "told", Signs = "signs", ThirdParty = "third_party", Test = "test" }
);
vocabulary!(
    /// How sure the reporter is.
    Confidence { Low = "low", Medium = "medium", High = "high" }
);
vocabulary!(
    /// A calendar-style status of one day.
    DayStatus { Use = "use", NoUse = "no_use", Unknown = "unknown" }
);
vocabulary!(
    /// The kind of treatment entered.
    Modality { Detox = "detox", Residential = "residential", Outpatient = "outpatient", Medication = "medication", MutualHelp = "mutual_help", Other = "other" }
);
vocabulary!(
    /// Why a treatment episode ended.
    ExitReason { Completed = "completed", LeftEarly = "left_early", Discharged = "discharged", Other = "other" }
);
vocabulary!(
    /// The channel of a positive communication.
    Channel { Text = "text", Call = "call", InPerson = "in_person", Other = "other" }
);
vocabulary!(
    /// The Loved One's answer to a suggestion of treatment.
    Response { Accepted = "accepted", Declined = "declined", Deferred = "deferred", NoResponse = "no_response" }
);
vocabulary!(
    /// The result of a safety check.
    Found { Safe = "safe", Unsafe = "unsafe", NotFound = "not_found" }
);

impl Modality {
    /// Detox and residential care: the days inside are `controlled`.
    pub fn is_rehab(self) -> bool {
        matches!(self, Modality::Detox | Modality::Residential)
    }
}
