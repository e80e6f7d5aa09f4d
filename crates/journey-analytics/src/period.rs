//! A report of a chosen period: the metrics of the whole journey as of the period's last
//! day, shown from its first day. The day statuses, weeks and phases are those of the
//! whole journey (a week is anchored on the CRAFT start, whatever the period); only what is
//! shown is cut to the period, and the period's own day counts are added.

use chrono::NaiveDate;
use serde::Serialize;

use crate::{JourneyMetrics, Status};

/// The day counts of a period (as the summary counts the whole journey's days).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Whether the period begins after the journey's first day.
    pub partial: bool,
    pub days: i64,
    pub use_days: i64,
    pub no_use_days: i64,
    pub unknown_days: i64,
    pub controlled_days: i64,
    pub known_days: i64,
    /// `no_use_days / known_days`; `None` when no day of the period is known.
    pub pda: Option<f64>,
    /// `known_days / days`.
    pub coverage: f64,
}

/// The metrics `m` (as of its last day) as a report of the days from `from` shows them:
/// the days from `from` (`start` becomes `from`), the weeks that have a day on or after it
/// (whole), the treatment episodes not over before it; everything else (summary, effect,
/// association, milestones, attention) stays the whole journey's. A `from` on or before
/// the journey's start shows it all; one after its last day shows its last day.
pub fn window(m: &JourneyMetrics, from: NaiveDate) -> (JourneyMetrics, Period) {
    let last = m.start + chrono::Days::new(m.days.len().saturating_sub(1) as u64);
    let from = from.clamp(m.start, last);
    let skip = (from - m.start).num_days() as usize;
    let mut shown = m.clone();
    shown.start = from;
    shown.days = m.days[skip.min(m.days.len())..].to_vec();
    shown
        .weeks
        .retain(|w| w.start + chrono::Days::new(6) >= from);
    shown
        .treatment
        .retain(|t| t.exited.is_none_or(|exited| exited >= from));
    let count = |status: Status| shown.days.iter().filter(|d| **d == status).count() as i64;
    let (use_days, no_use_days) = (count(Status::Use), count(Status::NoUse));
    let known_days = use_days + no_use_days;
    let days = shown.days.len() as i64;
    let period = Period {
        from,
        to: last,
        partial: from > m.start,
        days,
        use_days,
        no_use_days,
        unknown_days: count(Status::Unknown),
        controlled_days: count(Status::Controlled),
        known_days,
        pda: (known_days > 0).then(|| no_use_days as f64 / known_days as f64),
        coverage: if days > 0 {
            known_days as f64 / days as f64
        } else {
            0.0
        },
    };
    (shown, period)
}
