//! `journey metrics`: the figures of shared/spec/metrics.md, as JSON or a terminal table.

use chrono::NaiveDate;
use journey_analytics::{EntryInput, JourneyInput, Report};
use journey_postgres::read::{self, Scope};
use journey_postgres::{projector, PgPool};

use crate::{Failure, Outcome};

/// Output formats.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
}

/// The report of the stored journeys (or of `only`) as of `as_of`.
pub async fn report(
    pool: &PgPool,
    only: Option<&str>,
    as_of: NaiveDate,
) -> Result<Report, Failure> {
    projector::catch_up(pool).await?;
    let journeys = inputs(pool, Scope::only(only)).await?;
    journey_analytics::metrics(&journeys, as_of).map_err(|e| Failure::System(e.to_string()))
}

/// The analytics input of the journeys of `scope`, read from `metric_input`.
pub async fn inputs(pool: &PgPool, scope: Scope<'_>) -> Result<Vec<JourneyInput>, Failure> {
    Ok(to_inputs(read::metric_rows(pool, scope).await?))
}

/// The analytics input of metric rows by journey key.
pub fn to_inputs(rows: Vec<(String, Vec<read::MetricRow>)>) -> Vec<JourneyInput> {
    rows.into_iter()
        .map(|(key, rows)| JourneyInput {
            key,
            entries: rows
                .into_iter()
                .map(|row| EntryInput {
                    entry: row.entry,
                    kind: row.kind,
                    on: row.on,
                    retracted: row.retracted,
                    status: row.status,
                    modality: row.modality,
                    reason: row.reason,
                    episode: row.episode,
                    for_safety: row.for_safety,
                })
                .collect(),
        })
        .collect()
}

fn percent(value: Option<f64>) -> String {
    value
        .map(|v| format!("{:.0}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// A readable summary: one line per journey, then the cohort.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "as of {}\n{:<20} {:>8} {:>16} {:>6} {:>10} {:>8}\n",
        report.as_of, "journey", "coverage", "PDA base->CRAFT", "NAP", "to treat.", "streak"
    );
    for j in &report.journeys {
        let pda = format!(
            "{} -> {}",
            percent(j.summary.pda_baseline),
            percent(j.summary.pda_craft)
        );
        let nap = j
            .effect
            .nap
            .map(|n| format!("{n:.2}"))
            .unwrap_or_else(|| "-".into());
        let treatment = match (
            j.milestones.days_to_treatment_entry,
            j.milestones.treatment_entry_censored_days,
        ) {
            (Some(days), _) => format!("{days} d"),
            (None, Some(days)) => format!(">{days} d"),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<20} {:>8} {:>16} {:>6} {:>10} {:>8}\n",
            j.journey,
            percent(Some(j.summary.coverage)),
            pda,
            nap,
            treatment,
            j.milestones.current_no_use_streak
        ));
    }
    let c = &report.cohort;
    out.push_str(&format!(
        "cohort: {} journeys, {} with a CRAFT start",
        c.journeys, c.with_craft_start
    ));
    for t in &c.treatment_entry {
        out.push_str(&format!(
            "; entered treatment by {} days: {}/{}",
            t.horizon_days, t.entered, t.eligible
        ));
    }
    let median = c
        .km_median_days_to_entry
        .map(|d| format!("{d} days"))
        .unwrap_or_else(|| "not reached".into());
    out.push_str(&format!(
        "; Kaplan-Meier median time to treatment entry: {median}\n"
    ));
    out
}

pub async fn run(pool: &PgPool, only: Option<&str>, as_of: NaiveDate, format: Format) -> Outcome {
    if let Some(key) = only {
        if read::journeys(pool, Some(key)).await?.is_empty() {
            return Err(Failure::BadInput(format!("no journey with key {key:?}")));
        }
    }
    let report = report(pool, only, as_of).await?;
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serializes")
        ),
        Format::Table => print!("{}", table(&report)),
    }
    Ok(())
}
