//! Journey metrics, exactly as `shared/spec/metrics.md` defines them.
//!
//! Plain structs in and out; polars stays inside. The per-day facts of every journey of the
//! cohort are aggregated in one polars pass (`daily.rs`); day statuses, weeks and the small
//! per-journey statistics are plain Rust (`journey.rs`, `stats.rs`).

mod attention;
mod daily;
mod journey;
pub mod period;
pub mod stats;
pub mod tables;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;

pub use attention::Attention;
pub use journey::{Effect, Episode, Milestones, Span, Status, Summary, Week};

/// One stored entry of a journey, as the analytics need it (`Default`: no entry id, type or
/// day, not retracted, no type-specific field).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntryInput {
    pub entry: String,
    /// The interchange `type`.
    pub kind: String,
    /// `None` only for `retract`.
    pub on: Option<NaiveDate>,
    pub retracted: bool,
    /// `day_status`: its `status`.
    pub status: Option<String>,
    /// `treatment_entered`: its `modality`.
    pub modality: Option<String>,
    /// `treatment_exited`: its `reason`.
    pub reason: Option<String>,
    /// `treatment_exited`: the `entry` id of the `treatment_entered` it closes.
    pub episode: Option<String>,
    /// `rescued`: `for_safety`.
    pub for_safety: bool,
    /// `safety_check`: its `found`; `treatment_suggested`: its `response`.
    pub detail: Option<String>,
    /// `wellbeing_checked`: the WHO-5 percentage score (4 x the sum of the items, 0-100).
    pub score: Option<u8>,
}

/// One journey's entries (retracts and retracted entries included), in any order: no figure
/// depends on it.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyInput {
    pub key: String,
    pub entries: Vec<EntryInput>,
}

/// The `association` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Association {
    pub pairs: usize,
    pub spearman_rho: Option<f64>,
    pub reason: Option<&'static str>,
}

/// The metrics of one journey.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JourneyMetrics {
    pub journey: String,
    pub start: NaiveDate,
    pub craft_start: Option<NaiveDate>,
    pub summary: Summary,
    pub weeks: Vec<Week>,
    pub effect: Effect,
    pub association: Association,
    pub milestones: Milestones,
    pub attention: Attention,
    /// The status of each day from `start` to `as_of` (for charts; not in the JSON).
    #[serde(skip)]
    pub days: Vec<Status>,
    /// Every treatment episode entered by `as_of`, open ones included (for charts).
    #[serde(skip)]
    pub treatment: Vec<Span>,
}

/// Treatment entry by a horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreatmentEntry {
    pub horizon_days: i64,
    pub eligible: usize,
    pub entered: usize,
    pub rate: Option<f64>,
}

/// The `cohort` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    pub journeys: usize,
    pub with_craft_start: usize,
    pub treatment_entry: Vec<TreatmentEntry>,
    pub km_median_days_to_entry: Option<i64>,
}

/// What `journey metrics --format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub as_of: NaiveDate,
    pub journeys: Vec<JourneyMetrics>,
    pub cohort: Cohort,
}

/// Errors of the analytics.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// polars failed (a bug, or memory).
    #[error("polars: {0}")]
    Polars(String),
}

/// The horizons of the cohort's treatment-entry rates, in days.
pub const HORIZONS_DAYS: [i64; 3] = [90, 180, 365];

/// Computes the report of `journeys` as it stood on `as_of`, in key order. Journeys that
/// start after `as_of` (or have no `journey_started`) are left out.
pub fn metrics(journeys: &[JourneyInput], as_of: NaiveDate) -> Result<Report, AnalyticsError> {
    let mut sorted: Vec<&JourneyInput> = journeys.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let days = daily::aggregate(&sorted, as_of)?;
    // The journeys are independent: computed on every core, kept in key order.
    let out: Vec<JourneyMetrics> = sorted
        .par_iter()
        .zip(days.par_iter())
        .filter_map(|(input, facts)| journey::compute(input, facts, as_of))
        .collect();
    let cohort = cohort(&out, as_of);
    Ok(Report {
        as_of,
        journeys: out,
        cohort,
    })
}

fn cohort(journeys: &[JourneyMetrics], as_of: NaiveDate) -> Cohort {
    let facts: Vec<CohortFacts> = journeys.iter().map(CohortFacts::of).collect();
    cohort_of(&facts, as_of)
}

/// What the cohort's figures need of one journey: a cohort of any size is computed from
/// these few numbers per journey, without holding the journeys' metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CohortFacts {
    pub craft_start: Option<NaiveDate>,
    pub days_to_treatment_entry: Option<i64>,
    pub treatment_entry_censored_days: Option<i64>,
}

impl CohortFacts {
    pub fn of(journey: &JourneyMetrics) -> CohortFacts {
        CohortFacts {
            craft_start: journey.craft_start,
            days_to_treatment_entry: journey.milestones.days_to_treatment_entry,
            treatment_entry_censored_days: journey.milestones.treatment_entry_censored_days,
        }
    }
}

/// The `cohort` object of the journeys whose facts are `facts`, as of `as_of`.
pub fn cohort_of(facts: &[CohortFacts], as_of: NaiveDate) -> Cohort {
    let with_craft: Vec<(&CohortFacts, NaiveDate)> = facts
        .iter()
        .filter_map(|j| Some((j, j.craft_start?)))
        .collect();
    let treatment_entry = HORIZONS_DAYS
        .iter()
        .map(|&horizon| {
            let eligible: Vec<&CohortFacts> = with_craft
                .iter()
                .filter(|(_, craft)| (as_of - *craft).num_days() >= horizon)
                .map(|(j, _)| *j)
                .collect();
            let entered = eligible
                .iter()
                .filter(|j| j.days_to_treatment_entry.is_some_and(|d| d <= horizon))
                .count();
            TreatmentEntry {
                horizon_days: horizon,
                eligible: eligible.len(),
                entered,
                rate: (!eligible.is_empty()).then(|| entered as f64 / eligible.len() as f64),
            }
        })
        .collect();
    let times = observations(facts);
    Cohort {
        journeys: facts.len(),
        with_craft_start: with_craft.len(),
        treatment_entry,
        km_median_days_to_entry: stats::km_median(&times),
    }
}

fn observations(facts: &[CohortFacts]) -> Vec<(i64, bool)> {
    facts
        .iter()
        .filter(|j| j.craft_start.is_some())
        .filter_map(
            |j| match (j.days_to_treatment_entry, j.treatment_entry_censored_days) {
                (Some(days), _) => Some((days, true)),
                (None, Some(censored)) => Some((censored, false)),
                (None, None) => None,
            },
        )
        .collect()
}

/// The Kaplan-Meier observations of the journeys with a CRAFT start: `(days, entered)`, days
/// to treatment entry when `entered`, else the days censored at.
pub fn time_to_treatment(journeys: &[JourneyMetrics]) -> Vec<(i64, bool)> {
    let facts: Vec<CohortFacts> = journeys.iter().map(CohortFacts::of).collect();
    observations(&facts)
}
