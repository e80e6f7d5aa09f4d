//! A journey's progress report for a period as a PDF: what the HTML report says, in the
//! same order, with the same charts.

use chrono::NaiveDate;
use journey_analytics::period::{window, Period};
use journey_analytics::{JourneyInput, JourneyMetrics};

use crate::charts::plural;
use crate::pdf::{Cell, Layout, Paper, HEADING};
use crate::report::{num, pct, period_sentence, reason_text, summary_sentences, Header, CAVEATS};
use crate::{markers, svg, AssociationChart, Calendar, ChartError, PracticeChart, WeeklyChart};

fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        right: false,
    }
}

fn figure(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        right: true,
    }
}

/// The PDF of the report of `metrics` (the whole journey's, as of `as_of`) showing the
/// days from `from` (the journey's start when `None`), laid out for `paper`.
pub fn journey_pdf(
    header: &Header,
    input: &JourneyInput,
    metrics: &JourneyMetrics,
    from: Option<NaiveDate>,
    as_of: NaiveDate,
    paper: Paper,
) -> Result<Vec<u8>, ChartError> {
    let (shown, period) = window(metrics, from.unwrap_or(metrics.start));
    let mut layout = Layout::new(paper)?;
    let title = format!("Progress report: {}", header.key);
    layout.heading(&title, 18.0);
    let substances = if header.substances.is_empty() {
        "not recorded".to_string()
    } else {
        header.substances.join(", ")
    };
    layout.paragraph(
        &format!(
            "From {} to {} · Relationship: {} · Substances: {} · CRAFT started: {} · Coverage: {}",
            period.from,
            period.to,
            header.relationship,
            substances,
            metrics
                .craft_start
                .map_or_else(|| "not yet".to_string(), |d| d.to_string()),
            pct(Some(period.coverage)),
        ),
        9.0,
        false,
        true,
    );

    layout.heading("In short", HEADING);
    if let Some(sentence) = period_sentence(&period) {
        layout.paragraph(&sentence, 9.5, true, false);
    }
    for sentence in summary_sentences(metrics) {
        layout.paragraph(&sentence, 9.5, true, false);
    }

    let mut marks = markers(input, metrics, as_of);
    marks.retain(|m| m.day >= shown.start);
    layout.chart(
        Some("Day by day"),
        &svg(&Calendar {
            metrics: &shown,
            markers: &marks,
            last_months: None,
        })?,
        1.0,
        &format!(
            "One square per day from {} to {}: use, no use, in detox or residential care, or unknown (nobody reported).",
            period.from, period.to
        ),
    )?;
    layout.chart(
        Some("Week by week"),
        &svg(&WeeklyChart { metrics: &shown })?,
        1.0,
        "The line joins the weeks with at least 4 days of use or no use reported; only those weeks enter the comparison of phases.",
    )?;
    layout.chart(
        None,
        &svg(&PracticeChart { metrics: &shown })?,
        1.0,
        "Each panel is one part of CRAFT practice, measured per opportunity: rewards per day without use, stepping back per use day, rescues per use day, positive messages per week. A gap is a week without such an opportunity.",
    )?;
    let association_caption = match reason_text(metrics.association.reason) {
        Some(reason) => format!("Each point is one week's practice and the next week's share of days without use, over the whole journey. No correlation is given: {reason}."),
        None => "Each point is one week's practice and the next week's share of days without use, over the whole journey.".to_string(),
    };
    layout.chart(
        None,
        &svg(&AssociationChart { metrics })?,
        0.65,
        &association_caption,
    )?;

    phases(&mut layout, metrics);
    milestones(&mut layout, metrics, as_of);
    weeks(&mut layout, &shown, &period);

    layout.heading("Reading these numbers", HEADING);
    for (lead, rest) in CAVEATS {
        layout.paragraph(&format!("{lead} {rest}"), 9.0, true, false);
    }
    layout.paragraph(
        "Definitions: metrics version 2. Prepared for the family and its counselor; it contains health information about a person who did not sign up: keep it private.",
        8.0,
        false,
        true,
    );
    let key = header.key.clone();
    let (from, to) = (period.from, period.to);
    layout.render(&title, move |page, pages| {
        format!("Progress report {key}, {from} to {to} · confidential health information · page {page} of {pages}")
    })
}

fn phases(layout: &mut Layout, m: &JourneyMetrics) {
    layout.heading("Comparison of phases (whole journey)", HEADING);
    let e = &m.effect;
    if let Some(reason) = reason_text(e.reason) {
        layout.paragraph(
            &format!(
                "Not computed: {reason} ({} baseline and {} CRAFT weeks with 4+ reported days).",
                e.baseline_weeks, e.craft_weeks
            ),
            9.5,
            false,
            false,
        );
        return;
    }
    let rows = vec![
        vec![cell("NAP"), figure(num(e.nap)), cell("share of (baseline, CRAFT) week pairs where the CRAFT week had more days without use")],
        vec![cell("PND"), figure(pct(e.pnd)), cell("CRAFT weeks above the best baseline week")],
        vec![cell("Tau"), figure(num(e.tau)), cell("from -1 (all worse) to 1 (all better)")],
        vec![cell("Tau-U"), figure(num(e.tau_u)), cell("Tau with any trend already present before CRAFT taken out")],
        vec![cell("mean, baseline weeks"), figure(pct(e.mean_baseline)), cell(plural(e.baseline_weeks, "week"))],
        vec![cell("mean, CRAFT weeks"), figure(pct(e.mean_craft)), cell(plural(e.craft_weeks, "week"))],
    ];
    layout.table(
        &["measure", "value", "what it means"],
        &[2.0, 1.0, 7.0],
        &rows,
    );
}

fn milestones(layout: &mut Layout, m: &JourneyMetrics, as_of: NaiveDate) {
    layout.heading("Milestones (whole journey)", HEADING);
    let ms = &m.milestones;
    let entry = match (ms.days_to_treatment_entry, ms.treatment_entry_censored_days) {
        (Some(days), _) => days.to_string(),
        (None, Some(days)) => format!("not yet ({days} days so far)"),
        _ => "– (no CRAFT start)".to_string(),
    };
    layout.paragraph(
        &format!("Days from CRAFT start to treatment entry: {entry}"),
        9.5,
        true,
        false,
    );
    layout.paragraph(
        &format!(
            "Longest run of days without use: {}; current run: {}",
            plural(ms.longest_no_use_streak as usize, "day"),
            plural(ms.current_no_use_streak as usize, "day")
        ),
        9.5,
        true,
        false,
    );
    if ms.rehab_episodes.is_empty() {
        layout.paragraph(
            &format!("No stay in detox or residential care has ended by {as_of}."),
            9.5,
            false,
            false,
        );
        return;
    }
    let rows: Vec<Vec<Cell>> = ms
        .rehab_episodes
        .iter()
        .map(|e| {
            vec![
                cell(e.modality.clone()),
                cell(e.entered.to_string()),
                cell(e.exited.to_string()),
                cell(e.reason.clone().unwrap_or_else(|| "–".into())),
                figure(
                    e.days_to_first_use
                        .map_or_else(|| "none seen".into(), |d| d.to_string()),
                ),
                figure(e.followed_days.to_string()),
            ]
        })
        .collect();
    layout.table(
        &[
            "detox or residential",
            "entered",
            "left",
            "how it ended",
            "to first use",
            "days followed",
        ],
        &[2.2, 1.6, 1.6, 1.6, 1.4, 1.4],
        &rows,
    );
}

fn weeks(layout: &mut Layout, shown: &JourneyMetrics, period: &Period) {
    layout.heading(
        &format!("Weeks from {} to {}", period.from, period.to),
        HEADING,
    );
    let rows: Vec<Vec<Cell>> = shown
        .weeks
        .iter()
        .map(|w| {
            let star = if w.eligible { "" } else { "*" };
            vec![
                figure(w.week.to_string()),
                cell(w.start.to_string()),
                cell(w.phase.unwrap_or("–")),
                figure(w.use_days.to_string()),
                figure(w.no_use_days.to_string()),
                figure(w.unknown_days.to_string()),
                figure(w.controlled_days.to_string()),
                figure(format!("{}{star}", pct(w.pda))),
                figure(pct(Some(w.coverage))),
                figure(pct(w.reward_rate)),
                figure(pct(w.withdraw_rate)),
                figure(pct(w.rescue_rate)),
                figure(w.positive_communications.to_string()),
                figure(num(Some(w.practice))),
                figure(
                    w.wellbeing
                        .map_or_else(|| "–".into(), |v| format!("{v:.0}")),
                ),
            ]
        })
        .collect();
    layout.table(
        &[
            "week", "from", "phase", "use", "no use", "unkn.", "care", "w/o use", "cover.",
            "rewards", "step b.", "rescues", "pos.", "pract.", "WHO-5",
        ],
        &[
            0.8, 1.6, 1.1, 0.7, 0.8, 0.8, 0.7, 1.0, 0.9, 1.0, 0.9, 1.0, 0.6, 0.8, 0.9,
        ],
        &rows,
    );
    layout.paragraph(
        "* fewer than 4 days with use or no use reported: shown, but left out of the comparison of phases. – : nothing to measure that week. unkn.: unknown days; care: days in detox or residential care; w/o use: share of known days without use; cover.: share of days known; step b.: stepping back per use day; pos.: positive messages; pract.: practice (0-1); WHO-5: the family members' mean wellbeing score (0-100; 50 or less is low), never a diagnosis.",
        7.5,
        false,
        true,
    );
}
