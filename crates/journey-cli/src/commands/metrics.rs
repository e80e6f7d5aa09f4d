//! `journey metrics`: the figures of shared/spec/metrics.md, as JSON or a terminal table,
//! written a journey at a time (journey-app computes them a chunk of journeys at a time), so
//! neither the figures nor the output are held for the whole cohort.

use std::io::Write;

use chrono::NaiveDate;
use journey_analytics::{Cohort, JourneyMetrics, Report};
use journey_app::{today, Actor, App, AppError};

/// Output formats.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
}

fn output(e: std::io::Error) -> AppError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // The reader stopped reading (`journey metrics | head`): nothing is wrong.
        std::process::exit(0);
    }
    AppError::Internal(format!("standard output: {e}"))
}

/// `text` (pretty JSON) with every line but the first indented by `indent` spaces.
fn indented(text: &str, indent: usize) -> String {
    text.replace('\n', &format!("\n{}", " ".repeat(indent)))
}

pub async fn run(
    app: &App,
    me: &Actor,
    only: Option<&journey_app::JourneyKey>,
    as_of: Option<NaiveDate>,
    format: Format,
    chunk: usize,
) -> Result<(), AppError> {
    let as_of = as_of.unwrap_or_else(today);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut first = true;
    match format {
        Format::Json => {
            write!(out, "{{\n  \"as_of\": \"{as_of}\",\n  \"journeys\": [").map_err(output)?
        }
        Format::Table => out.write_all(header(as_of).as_bytes()).map_err(output)?,
    }
    let cohort = app
        .metrics_each(me, only, as_of, chunk, |m| {
            let text = match format {
                Format::Json => {
                    let json = serde_json::to_string_pretty(m).expect("metrics serialize");
                    format!(
                        "{}\n    {}",
                        if first { "" } else { "," },
                        indented(&json, 4)
                    )
                }
                Format::Table => row(m),
            };
            first = false;
            out.write_all(text.as_bytes()).map_err(output)
        })
        .await?;
    let end = match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&cohort).expect("the cohort serializes");
            format!("\n  ],\n  \"cohort\": {}\n}}\n", indented(&json, 2))
        }
        Format::Table => footer(&cohort),
    };
    out.write_all(end.as_bytes()).map_err(output)?;
    out.flush().map_err(output)
}

fn percent(value: Option<f64>) -> String {
    value
        .map(|v| format!("{:.0}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn header(as_of: NaiveDate) -> String {
    format!(
        "as of {}\n{:<20} {:>8} {:>16} {:>6} {:>10} {:>8}\n",
        as_of, "journey", "coverage", "PDA base->CRAFT", "NAP", "to treat.", "streak"
    )
}

/// One journey's line of the table.
fn row(j: &JourneyMetrics) -> String {
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
    format!(
        "{:<20} {:>8} {:>16} {:>6} {:>10} {:>8}\n",
        j.journey,
        percent(Some(j.summary.coverage)),
        pda,
        nap,
        treatment,
        j.milestones.current_no_use_streak
    )
}

fn footer(c: &Cohort) -> String {
    let mut out = format!(
        "cohort: {} journeys, {} with a CRAFT start",
        c.journeys, c.with_craft_start
    );
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

/// A readable summary: one line per journey, then the cohort.
pub fn table(report: &Report) -> String {
    let mut out = header(report.as_of);
    for j in &report.journeys {
        out.push_str(&row(j));
    }
    out.push_str(&footer(&report.cohort));
    out
}
