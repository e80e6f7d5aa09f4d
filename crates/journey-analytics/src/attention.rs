//! Version 2 of metrics.md: the summary's wellbeing and the journey's `attention`.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::journey::{Milestones, Span, Status, Summary};
use crate::stats;
use crate::JourneyInput;

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The `attention` object: what a counselor should look at first (metrics.md version 2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attention {
    pub days_since_last_entry: i64,
    pub days_since_last_status: Option<i64>,
    pub recent_use_after_rehab: bool,
    pub contact_broken: bool,
    pub safety_concern: bool,
    pub treatment_window_open: bool,
    pub pda_last_28: Option<f64>,
    pub pda_prior_28: Option<f64>,
}

/// The summary's `wellbeing_*` fields from the counted checks `(day, percentage score)`.
pub(crate) fn with_wellbeing(mut summary: Summary, checks: &[(NaiveDate, f64)]) -> Summary {
    let on_day = |day: NaiveDate| -> f64 {
        let scores: Vec<f64> = checks
            .iter()
            .filter(|(on, _)| *on == day)
            .map(|(_, score)| *score)
            .collect();
        stats::mean(&scores)
    };
    summary.wellbeing_checks = checks.len();
    let first = checks.iter().map(|(on, _)| *on).min();
    let latest = checks.iter().map(|(on, _)| *on).max();
    summary.wellbeing_first = first.map(on_day);
    summary.wellbeing_latest = latest.map(on_day);
    summary.wellbeing_change = match (first, latest) {
        (Some(f), Some(l)) if f != l => Some(on_day(l) - on_day(f)),
        _ => None,
    };
    summary
}

/// The `attention` object as of `as_of`, over the counted entries.
pub(crate) fn attention(
    input: &JourneyInput,
    as_of: NaiveDate,
    start: NaiveDate,
    statuses: &[Status],
    spans: &[Span],
    milestones: &Milestones,
) -> Attention {
    let counted: Vec<(&crate::EntryInput, NaiveDate)> = input
        .entries
        .iter()
        .filter(|e| !e.retracted)
        .filter_map(|e| Some((e, e.on.filter(|on| *on <= as_of)?)))
        .collect();
    let ago = |day: NaiveDate| (as_of - day).num_days();
    let day_at = |offset: usize| start + Days::new(offset as u64);
    let last_entry = counted.iter().map(|(_, on)| *on).max().unwrap_or(start);
    let last_status = statuses
        .iter()
        .rposition(|s| matches!(s, Status::Use | Status::NoUse))
        .map(day_at);
    let recent_use_after_rehab = milestones.rehab_episodes.iter().any(|episode| {
        episode
            .days_to_first_use
            .is_some_and(|days| ago(episode.exited + Days::new(days as u64)) <= 13)
    });
    // On one day a restore counts as the later of the two.
    let contact_broken = counted
        .iter()
        .filter_map(|(e, on)| match e.kind.as_str() {
            "communication_broken" => Some((*on, 0, true)),
            "communication_restored" => Some((*on, 1, false)),
            _ => None,
        })
        .max_by_key(|(on, rank, _)| (*on, *rank))
        .is_some_and(|(_, _, broken)| broken);
    let detail_is = |e: &crate::EntryInput, values: &[&str]| {
        e.detail.as_deref().is_some_and(|d| values.contains(&d))
    };
    let safety_concern = counted.iter().any(|(e, on)| {
        e.kind == "safety_check" && detail_is(e, &["unsafe", "not_found"]) && ago(*on) <= 6
    });
    let treatment_window_open = counted.iter().any(|(e, on)| {
        e.kind == "treatment_suggested"
            && detail_is(e, &["accepted"])
            && ago(*on) <= 13
            && !spans.iter().any(|s| s.entered >= *on)
    });
    // pda over the days of [from, to] that lie in [start, as_of].
    let pda_between = |from: NaiveDate, to: NaiveDate| -> Option<f64> {
        let (mut no_use, mut known) = (0i64, 0i64);
        for (offset, status) in statuses.iter().enumerate() {
            let day = day_at(offset);
            if day < from || day > to {
                continue;
            }
            match status {
                Status::NoUse => (no_use, known) = (no_use + 1, known + 1),
                Status::Use => known += 1,
                Status::Controlled | Status::Unknown => {}
            }
        }
        ratio(no_use, known)
    };
    let back = |days: u64| as_of - Days::new(days);
    Attention {
        days_since_last_entry: ago(last_entry),
        days_since_last_status: last_status.map(ago),
        recent_use_after_rehab,
        contact_broken,
        safety_concern,
        treatment_window_open,
        pda_last_28: pda_between(back(27), as_of),
        pda_prior_28: pda_between(back(55), back(28)),
    }
}
