//! The tables of the research export for one chunk of subjects: what each row holds (see
//! `dataset.rs` for what the package says about them).

use std::collections::HashMap;

use chrono::NaiveDate;
use journey_analytics::tables::{Table, Values};
use journey_analytics::{JourneyMetrics, Status};
use journey_postgres::research;

/// One subject of the export, with its metrics.
pub struct Subject<'a> {
    pub sid: String,
    pub consent: &'a research::Consented,
    pub metrics: &'a JourneyMetrics,
    pub anchor: NaiveDate,
    pub suppressed: bool,
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Use => "use",
        Status::NoUse => "no_use",
        Status::Controlled => "controlled",
        Status::Unknown => "unknown",
    }
}

/// The five tables' rows of `subjects` (in their order), with their `entries` as of
/// `as_of`.
pub fn tables(
    subjects: &[Subject],
    mut entries_of: HashMap<String, Vec<research::ResearchEntry>>,
    as_of: NaiveDate,
) -> Vec<Table> {
    let rel = |s: &Subject, day: NaiveDate| (day - s.anchor).num_days();
    let mut tables = Vec::new();
    {
        // The quasi-identifiers as exported: suppressed in cells smaller than k.
        let shown = |s: &Subject| {
            if s.suppressed {
                ("suppressed".to_string(), "suppressed".to_string())
            } else {
                let mut substances = s.consent.substances.clone();
                substances.sort();
                (s.consent.relationship.clone(), substances.join(";"))
            }
        };
        let text = |f: &dyn Fn(&Subject) -> String| {
            Values::Text(subjects.iter().map(|s| Some(f(s))).collect())
        };
        tables.push(Table {
            name: "subjects".into(),
            columns: vec![
                ("sid".into(), text(&|s| s.sid.clone())),
                ("relationship".into(), text(&|s| shown(s).0)),
                ("substances".into(), text(&|s| shown(s).1)),
                (
                    "craft_phase".into(),
                    Values::Bool(
                        subjects
                            .iter()
                            .map(|s| Some(s.metrics.craft_start.is_some()))
                            .collect(),
                    ),
                ),
                (
                    "first_rel_day".into(),
                    Values::Int(
                        subjects
                            .iter()
                            .map(|s| Some(rel(s, s.metrics.start)))
                            .collect(),
                    ),
                ),
                (
                    "last_rel_day".into(),
                    Values::Int(subjects.iter().map(|s| Some(rel(s, as_of))).collect()),
                ),
                (
                    "suppressed".into(),
                    Values::Bool(subjects.iter().map(|s| Some(s.suppressed)).collect()),
                ),
            ],
        });
    }
    {
        let (mut sids, mut days, mut statuses) = (Vec::new(), Vec::new(), Vec::new());
        for s in subjects {
            let first = rel(s, s.metrics.start);
            for (offset, status) in s.metrics.days.iter().enumerate() {
                sids.push(Some(s.sid.clone()));
                days.push(Some(first + offset as i64));
                statuses.push(Some(status_name(*status).to_string()));
            }
        }
        tables.push(Table {
            name: "days".into(),
            columns: vec![
                ("sid".into(), Values::Text(sids)),
                ("rel_day".into(), Values::Int(days)),
                ("status".into(), Values::Text(statuses)),
            ],
        });
    }
    {
        let mut sids = Vec::new();
        let mut days = Vec::new();
        let mut kinds = Vec::new();
        let mut text: Vec<Vec<Option<String>>> = vec![Vec::new(); research::TEXT_ATTRIBUTES.len()];
        let (mut kept, mut for_safety, mut minutes) = (Vec::new(), Vec::new(), Vec::new());
        for s in subjects {
            // Moved out, row by row: the entries are held once.
            let rows = entries_of
                .remove(s.consent.journey_id.as_str())
                .unwrap_or_default();
            for e in rows {
                if e.kind == "journey_started" {
                    continue; // its attributes are the quasi-identifiers, in `subjects`
                }
                sids.push(Some(s.sid.clone()));
                days.push(Some(rel(s, e.on)));
                kinds.push(Some(e.kind));
                for ((column, name), value) in
                    text.iter_mut().zip(research::TEXT_ATTRIBUTES).zip(e.text)
                {
                    column.push(if name == "substances" && s.suppressed {
                        None
                    } else {
                        value
                    });
                }
                kept.push(e.kept);
                for_safety.push(e.for_safety);
                minutes.push(e.minutes);
            }
        }
        let mut columns = vec![
            ("sid".to_string(), Values::Text(sids)),
            ("rel_day".to_string(), Values::Int(days)),
            ("type".to_string(), Values::Text(kinds)),
        ];
        for (name, values) in research::TEXT_ATTRIBUTES.iter().zip(text) {
            columns.push((name.to_string(), Values::Text(values)));
        }
        columns.push(("kept".into(), Values::Bool(kept)));
        columns.push(("for_safety".into(), Values::Bool(for_safety)));
        columns.push(("minutes".into(), Values::Int(minutes)));
        tables.push(Table {
            name: "events".into(),
            columns,
        });
    }
    {
        let weeks: Vec<(&Subject, &journey_analytics::Week)> = subjects
            .iter()
            .flat_map(|s| s.metrics.weeks.iter().map(move |w| (s, w)))
            .collect();
        let int = |f: &dyn Fn(&journey_analytics::Week) -> i64| {
            Values::Int(weeks.iter().map(|(_, w)| Some(f(w))).collect())
        };
        let float = |f: &dyn Fn(&journey_analytics::Week) -> Option<f64>| {
            Values::Float(weeks.iter().map(|(_, w)| f(w)).collect())
        };
        tables.push(Table {
            name: "weeks".into(),
            columns: vec![
                (
                    "sid".into(),
                    Values::Text(weeks.iter().map(|(s, _)| Some(s.sid.clone())).collect()),
                ),
                ("week".into(), int(&|w| w.week)),
                ("start_rel_day".into(), int(&|w| 7 * w.week)),
                (
                    "phase".into(),
                    Values::Text(
                        weeks
                            .iter()
                            .map(|(_, w)| w.phase.map(str::to_string))
                            .collect(),
                    ),
                ),
                ("days".into(), int(&|w| w.days)),
                ("use_days".into(), int(&|w| w.use_days)),
                ("no_use_days".into(), int(&|w| w.no_use_days)),
                ("unknown_days".into(), int(&|w| w.unknown_days)),
                ("controlled_days".into(), int(&|w| w.controlled_days)),
                ("known_days".into(), int(&|w| w.known_days)),
                ("pda".into(), float(&|w| w.pda)),
                ("coverage".into(), float(&|w| Some(w.coverage))),
                (
                    "eligible".into(),
                    Values::Bool(weeks.iter().map(|(_, w)| Some(w.eligible)).collect()),
                ),
                ("reward_rate".into(), float(&|w| w.reward_rate)),
                ("withdraw_rate".into(), float(&|w| w.withdraw_rate)),
                ("rescue_rate".into(), float(&|w| w.rescue_rate)),
                ("reward_on_use_days".into(), int(&|w| w.reward_on_use_days)),
                (
                    "positive_communications".into(),
                    int(&|w| w.positive_communications),
                ),
                ("self_care_days".into(), int(&|w| w.self_care_days)),
                ("practice".into(), float(&|w| Some(w.practice))),
                ("wellbeing".into(), float(&|w| w.wellbeing)),
            ],
        });
    }
    {
        let spans: Vec<(&Subject, &journey_analytics::Span)> = subjects
            .iter()
            .flat_map(|s| s.metrics.treatment.iter().map(move |t| (s, t)))
            .collect();
        tables.push(Table {
            name: "treatment_episodes".into(),
            columns: vec![
                (
                    "sid".into(),
                    Values::Text(spans.iter().map(|(s, _)| Some(s.sid.clone())).collect()),
                ),
                (
                    "start_rel_day".into(),
                    Values::Int(spans.iter().map(|(s, t)| Some(rel(s, t.entered))).collect()),
                ),
                (
                    "end_rel_day".into(),
                    Values::Int(
                        spans
                            .iter()
                            .map(|(s, t)| t.exited.map(|d| rel(s, d)))
                            .collect(),
                    ),
                ),
                (
                    "modality".into(),
                    Values::Text(
                        spans
                            .iter()
                            .map(|(_, t)| Some(t.modality.clone()))
                            .collect(),
                    ),
                ),
                (
                    "reason".into(),
                    Values::Text(spans.iter().map(|(_, t)| t.reason.clone()).collect()),
                ),
            ],
        });
    }

    tables
}
