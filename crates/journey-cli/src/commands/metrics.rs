//! `journey metrics`: the figures of shared/spec/metrics.md, as JSON or a terminal table.

use chrono::NaiveDate;
use journey_analytics::Report;
use journey_app::{today, Actor, App, AppError};

/// Output formats.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
}

pub async fn run(
    app: &App,
    me: &Actor,
    only: Option<&str>,
    as_of: Option<NaiveDate>,
    format: Format,
) -> Result<(), AppError> {
    let report = app.metrics(me, only, as_of.unwrap_or_else(today)).await?;
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serializes")
        ),
        Format::Table => print!("{}", table(&report)),
    }
    Ok(())
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
