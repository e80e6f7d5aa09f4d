//! One journey: day statuses, weeks, phase comparison, association, milestones, summary.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::daily::{day_number, DayFacts};
use crate::stats;
use crate::{Association, JourneyInput, JourneyMetrics};

/// The status of one day (metrics.md, "Day status").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Use,
    Controlled,
    NoUse,
    Unknown,
}

/// The `summary` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub days: i64,
    pub use_days: i64,
    pub no_use_days: i64,
    pub unknown_days: i64,
    pub controlled_days: i64,
    pub known_days: i64,
    pub pda: Option<f64>,
    pub coverage: f64,
    pub pda_baseline: Option<f64>,
    pub pda_craft: Option<f64>,
    pub entries: usize,
    pub retracted: usize,
    pub wellbeing_checks: usize,
    pub wellbeing_first: Option<f64>,
    pub wellbeing_latest: Option<f64>,
    pub wellbeing_change: Option<f64>,
}

/// One row of `weeks`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Week {
    pub week: i64,
    pub start: NaiveDate,
    pub phase: Option<&'static str>,
    pub days: i64,
    pub use_days: i64,
    pub no_use_days: i64,
    pub unknown_days: i64,
    pub controlled_days: i64,
    pub known_days: i64,
    pub pda: Option<f64>,
    pub coverage: f64,
    pub eligible: bool,
    pub reward_rate: Option<f64>,
    pub withdraw_rate: Option<f64>,
    pub rescue_rate: Option<f64>,
    pub reward_on_use_days: i64,
    pub positive_communications: i64,
    pub self_care_days: i64,
    pub practice: f64,
    pub wellbeing: Option<f64>,
}

/// The `effect` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    pub baseline_weeks: usize,
    pub craft_weeks: usize,
    pub nap: Option<f64>,
    pub pnd: Option<f64>,
    pub tau: Option<f64>,
    pub tau_u: Option<f64>,
    pub mean_baseline: Option<f64>,
    pub mean_craft: Option<f64>,
    pub reason: Option<&'static str>,
}

/// One detox or residential episode exited on or before `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    pub entered: NaiveDate,
    pub exited: NaiveDate,
    pub modality: String,
    pub reason: Option<String>,
    pub days_to_first_use: Option<i64>,
    pub followed_days: i64,
}

/// The `milestones` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Milestones {
    pub days_to_treatment_entry: Option<i64>,
    pub treatment_entry_censored_days: Option<i64>,
    pub longest_no_use_streak: i64,
    pub current_no_use_streak: i64,
    pub rehab_episodes: Vec<Episode>,
}

/// A treatment episode: entered, its exit if any (both dated on or before `as_of`).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub entered: NaiveDate,
    pub exited: Option<NaiveDate>,
    pub modality: String,
    pub reason: Option<String>,
}

fn is_rehab(modality: &str) -> bool {
    modality == "detox" || modality == "residential"
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn episodes(input: &JourneyInput, as_of: NaiveDate) -> Vec<Span> {
    let counts = |e: &&crate::EntryInput| !e.retracted && e.on.is_some_and(|on| on <= as_of);
    let mut spans: Vec<(String, Span)> = input
        .entries
        .iter()
        .filter(counts)
        .filter(|e| e.kind == "treatment_entered")
        .map(|e| {
            let span = Span {
                entered: e.on.expect("filtered"),
                exited: None,
                modality: e.modality.clone().unwrap_or_default(),
                reason: None,
            };
            (e.entry.clone(), span)
        })
        .collect();
    for exit in input
        .entries
        .iter()
        .filter(counts)
        .filter(|e| e.kind == "treatment_exited")
    {
        if let Some((_, span)) = spans
            .iter_mut()
            .find(|(id, _)| exit.episode.as_deref() == Some(id))
        {
            span.exited = exit.on;
            span.reason = exit.reason.clone();
        }
    }
    let mut spans: Vec<Span> = spans.into_iter().map(|(_, span)| span).collect();
    spans.sort_by_key(|s| s.entered);
    spans
}

/// The statuses of the days `start..=as_of`.
fn statuses(start: NaiveDate, as_of: NaiveDate, facts: &[DayFacts], spans: &[Span]) -> Vec<Status> {
    let days = (as_of - start).num_days() + 1;
    (0..days)
        .map(|offset| {
            let day = start + Days::new(offset as u64);
            let fact = facts[offset as usize];
            let controlled = spans
                .iter()
                .filter(|s| is_rehab(&s.modality))
                .any(|s| s.entered <= day && s.exited.is_none_or(|exit| exit > day));
            if fact.uses > 0 {
                Status::Use
            } else if controlled {
                Status::Controlled
            } else if fact.no_uses > 0 {
                Status::NoUse
            } else {
                Status::Unknown
            }
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    days: i64,
    uses: i64,
    no_uses: i64,
    unknown: i64,
    controlled: i64,
    rewarded_no_use: i64,
    withdrawn_use: i64,
    rescued_use: i64,
    rewarded_use: i64,
    positive: i64,
    self_care: i64,
}

impl Tally {
    fn add(&mut self, status: Status, fact: DayFacts) {
        self.days += 1;
        match status {
            Status::Use => {
                self.uses += 1;
                self.withdrawn_use += i64::from(fact.withdrawals > 0);
                self.rescued_use += i64::from(fact.rescues > 0);
                self.rewarded_use += i64::from(fact.rewards > 0);
            }
            Status::NoUse => {
                self.no_uses += 1;
                self.rewarded_no_use += i64::from(fact.rewards > 0);
            }
            Status::Unknown => self.unknown += 1,
            Status::Controlled => self.controlled += 1,
        }
        self.positive += fact.positive;
        self.self_care += i64::from(fact.self_care > 0);
    }

    fn known(&self) -> i64 {
        self.uses + self.no_uses
    }
}

fn week_row(week: i64, start: NaiveDate, phase: Option<&'static str>, t: &Tally) -> Week {
    let known = t.known();
    let reward_rate = ratio(t.rewarded_no_use, t.no_uses);
    let withdraw_rate = ratio(t.withdrawn_use, t.uses);
    let rescue_rate = ratio(t.rescued_use, t.uses);
    let communication = (t.positive as f64 / 3.0).min(1.0);
    let parts: Vec<f64> = [
        reward_rate,
        withdraw_rate,
        rescue_rate.map(|r| 1.0 - r),
        Some(communication),
    ]
    .into_iter()
    .flatten()
    .collect();
    Week {
        week,
        start,
        phase,
        days: t.days,
        use_days: t.uses,
        no_use_days: t.no_uses,
        unknown_days: t.unknown,
        controlled_days: t.controlled,
        known_days: known,
        pda: ratio(t.no_uses, known),
        coverage: known as f64 / t.days as f64,
        eligible: known >= 4,
        reward_rate,
        withdraw_rate,
        rescue_rate,
        reward_on_use_days: t.rewarded_use,
        positive_communications: t.positive,
        self_care_days: t.self_care,
        practice: stats::mean(&parts),
        wellbeing: None,
    }
}

fn effect(weeks: &[Week], craft: Option<NaiveDate>) -> Effect {
    let pick = |phase: &str| -> Vec<f64> {
        weeks
            .iter()
            .filter(|w| w.eligible && w.phase == Some(phase))
            .filter_map(|w| w.pda)
            .collect()
    };
    let (a, b) = (pick("baseline"), pick("craft"));
    let mut effect = Effect {
        baseline_weeks: a.len(),
        craft_weeks: b.len(),
        nap: None,
        pnd: None,
        tau: None,
        tau_u: None,
        mean_baseline: None,
        mean_craft: None,
        reason: None,
    };
    if craft.is_none() {
        effect.reason = Some("no_craft_start");
    } else if a.len() < 3 || b.len() < 3 {
        effect.reason = Some("too_few_weeks");
    } else {
        effect.nap = Some(stats::nap(&a, &b));
        effect.pnd = Some(stats::pnd(&a, &b));
        effect.tau = Some(stats::tau(&a, &b));
        effect.tau_u = Some(stats::tau_u(&a, &b));
        effect.mean_baseline = Some(stats::mean(&a));
        effect.mean_craft = Some(stats::mean(&b));
    }
    effect
}

fn association(weeks: &[Week]) -> Association {
    let by_week: HashMap<i64, &Week> = weeks.iter().map(|w| (w.week, w)).collect();
    let (practice, pda): (Vec<f64>, Vec<f64>) = weeks
        .iter()
        .filter_map(|w| {
            let next = by_week.get(&(w.week + 1)).filter(|n| n.eligible)?;
            Some((w.practice, next.pda?))
        })
        .unzip();
    let constant = |v: &[f64]| v.iter().all(|x| *x == v[0]);
    let (rho, reason) = if practice.len() < 8 {
        (None, Some("too_few_pairs"))
    } else if constant(&practice) || constant(&pda) {
        (None, Some("constant_series"))
    } else {
        (Some(stats::spearman(&practice, &pda)), None)
    };
    Association {
        pairs: practice.len(),
        spearman_rho: rho,
        reason,
    }
}

/// Longest run of no-use days (controlled passed over) and the current run.
fn streaks(statuses: &[Status]) -> (i64, i64) {
    let mut longest = 0;
    let mut run = 0;
    for status in statuses {
        match status {
            Status::NoUse => {
                run += 1;
                longest = longest.max(run);
            }
            Status::Controlled => {}
            Status::Use | Status::Unknown => run = 0,
        }
    }
    let last_known = statuses
        .iter()
        .rposition(|s| matches!(s, Status::Use | Status::NoUse));
    let current = match last_known {
        Some(i) if statuses[i] == Status::NoUse => {
            let mut count = 0;
            for status in statuses[..=i].iter().rev() {
                match status {
                    Status::NoUse => count += 1,
                    Status::Controlled => {}
                    Status::Use | Status::Unknown => break,
                }
            }
            count
        }
        _ => 0,
    };
    (longest, current)
}

/// The metrics of one journey, or `None` when it starts after `as_of` (or never started).
pub fn compute(
    input: &JourneyInput,
    facts: &[(i32, DayFacts)],
    as_of: NaiveDate,
) -> Option<JourneyMetrics> {
    let counts = |e: &&crate::EntryInput| !e.retracted && e.on.is_some_and(|on| on <= as_of);
    let start = input
        .entries
        .iter()
        .find(|e| e.kind == "journey_started" && !e.retracted)?
        .on?;
    if start > as_of {
        return None;
    }
    let craft = input
        .entries
        .iter()
        .filter(counts)
        .filter(|e| e.kind == "craft_started")
        .filter_map(|e| e.on)
        .min();
    let spans = episodes(input, as_of);
    // Dense facts: one per day from start to as_of.
    let first = day_number(start);
    let mut dense = vec![DayFacts::default(); ((as_of - start).num_days() + 1) as usize];
    for (day, fact) in facts {
        if let Some(slot) = usize::try_from(day - first)
            .ok()
            .and_then(|i| dense.get_mut(i))
        {
            *slot = *fact;
        }
    }
    let facts = dense;
    let statuses = statuses(start, as_of, &facts, &spans);
    let anchor = craft.unwrap_or(start);
    let mut tallies: BTreeMap<i64, Tally> = BTreeMap::new();
    let (mut whole, mut before, mut after) = (Tally::default(), Tally::default(), Tally::default());
    for (offset, status) in statuses.iter().enumerate() {
        let day = start + Days::new(offset as u64);
        let fact = facts[offset];
        let week = (day - anchor).num_days().div_euclid(7);
        tallies.entry(week).or_default().add(*status, fact);
        whole.add(*status, fact);
        match craft {
            Some(c) if day < c => before.add(*status, fact),
            Some(_) => after.add(*status, fact),
            None => {}
        }
    }
    // WHO-5 checks that count, as (day, percentage score).
    let checks: Vec<(NaiveDate, f64)> = input
        .entries
        .iter()
        .filter(counts)
        .filter(|e| e.kind == "wellbeing_checked")
        .filter_map(|e| Some((e.on?, f64::from(e.score?))))
        .collect();
    let mut week_scores: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (on, score) in checks.iter().filter(|(on, _)| *on >= start) {
        let week = (*on - anchor).num_days().div_euclid(7);
        week_scores.entry(week).or_default().push(*score);
    }
    let weeks: Vec<Week> = tallies
        .iter()
        .map(|(&w, tally)| {
            let phase = craft.map(|_| if w < 0 { "baseline" } else { "craft" });
            let mut row = week_row(w, anchor + chrono::TimeDelta::days(7 * w), phase, tally);
            row.wellbeing = week_scores.get(&w).map(|scores| stats::mean(scores));
            row
        })
        .collect();
    let first_entry = craft.and_then(|c| spans.iter().map(|s| s.entered).filter(|d| *d >= c).min());
    let (longest, current) = streaks(&statuses);
    let treatment = spans.clone();
    let rehab_episodes = spans
        .iter()
        .filter(|s| is_rehab(&s.modality))
        .filter_map(|s| {
            let exited = s.exited?;
            let first_use = statuses
                .iter()
                .enumerate()
                .map(|(offset, status)| (start + Days::new(offset as u64), status))
                .find(|(day, status)| *day >= exited && **status == Status::Use)
                .map(|(day, _)| (day - exited).num_days());
            Some(Episode {
                entered: s.entered,
                exited,
                modality: s.modality.clone(),
                reason: s.reason.clone(),
                days_to_first_use: first_use,
                followed_days: (as_of - exited).num_days(),
            })
        })
        .collect();
    let milestones = Milestones {
        days_to_treatment_entry: first_entry
            .zip(craft)
            .map(|(entered, c)| (entered - c).num_days()),
        treatment_entry_censored_days: match (craft, first_entry) {
            (Some(c), None) => Some((as_of - c).num_days()),
            _ => None,
        },
        longest_no_use_streak: longest,
        current_no_use_streak: current,
        rehab_episodes,
    };
    let summary = Summary {
        days: whole.days,
        use_days: whole.uses,
        no_use_days: whole.no_uses,
        unknown_days: whole.unknown,
        controlled_days: whole.controlled,
        known_days: whole.known(),
        pda: ratio(whole.no_uses, whole.known()),
        coverage: whole.known() as f64 / whole.days as f64,
        pda_baseline: craft.and_then(|_| ratio(before.no_uses, before.known())),
        pda_craft: craft.and_then(|_| ratio(after.no_uses, after.known())),
        entries: input
            .entries
            .iter()
            .filter(counts)
            .filter(|e| e.kind != "retract")
            .count(),
        retracted: input.entries.iter().filter(|e| e.retracted).count(),
        wellbeing_checks: 0,
        wellbeing_first: None,
        wellbeing_latest: None,
        wellbeing_change: None,
    };
    let summary = crate::attention::with_wellbeing(summary, &checks);
    let attention =
        crate::attention::attention(input, as_of, start, &statuses, &spans, &milestones);
    let effect = effect(&weeks, craft);
    let association = association(&weeks);
    Some(JourneyMetrics {
        journey: input.key.clone(),
        start,
        craft_start: craft,
        summary,
        weeks,
        effect,
        association,
        milestones,
        attention,
        days: statuses,
        treatment,
    })
}
