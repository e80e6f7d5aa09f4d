//! Self-contained HTML progress reports: the charts inlined as SVG, a plain-language summary,
//! the weeks, the milestones and the caveats. Rendered with minijinja; every value that came
//! from users (keys, handles) is HTML-escaped by the templates' auto-escaping.

use chrono::NaiveDate;
use journey_analytics::period::{window, Period};
use journey_analytics::{JourneyInput, JourneyMetrics, Report};

use minijinja::{context, Environment};
use serde::Serialize;

use crate::charts::plural;
use crate::{
    markers, svg, AssociationChart, Calendar, ChartError, CohortChart, PracticeChart, WeeklyChart,
};

/// What a journey's report shows about the journey besides its metrics.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub key: String,
    pub relationship: String,
    pub substances: Vec<String>,
    /// Where the web app's page links back to (`None` in a file).
    pub back: Option<String>,
    /// The web app's path of this report (`None` in a file): the period form sends to it,
    /// and `<path>.pdf` is its PDF.
    pub path: Option<String>,
}

/// What every report says about reading its numbers: a lead in bold, then the rest.
pub const CAVEATS: [(&str, &str); 5] = [
    ("Unknown days are unknown.", "A day nobody wrote down is not counted as a good day or a bad day; every percentage is over the days someone reported on, and the coverage says how many those were."),
    ("Days in detox or residential care", "are counted apart and left out of every percentage: use there is not a choice the family can influence in the same way."),
    ("\"Lines up with\", not \"caused\".", "A week after stronger practice that had more days without use is a pattern, not proof; many things change at the same time."),
    ("Before and after.", "The comparison of phases is a before-and-after design in one family: it cannot rule out other causes, such as a new job, a court date or the season."),
    ("Practice is counted per opportunity", "(rewards per day without use, stepping back per use day), so it does not rise just because there were more good days."),
];

/// The sentence that opens the report of a period that begins after the journey's start.
pub fn period_sentence(period: &Period) -> Option<String> {
    period.partial.then(|| {
        let without = match period.pda {
            Some(pda) => format!(", and {} of those were without use", percent(pda)),
            None => String::new(),
        };
        format!(
            "This report shows {} to {}: use or no use was reported for {} of its {} days ({} coverage){without}. The other sentences, the comparison of phases and the milestones are for the whole journey up to {}.",
            period.from,
            period.to,
            period.known_days,
            period.days,
            percent(period.coverage),
            period.to
        )
    })
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Names end in .html: minijinja escapes every interpolated value unless marked safe.
    env.add_template("base.html", include_str!("../templates/base.html"))
        .expect("the base template parses");
    env.add_template("journey.html", include_str!("../templates/journey.html"))
        .expect("the journey template parses");
    env.add_template("cohort.html", include_str!("../templates/cohort.html"))
        .expect("the cohort template parses");
    env.add_filter("pct", pct);
    env.add_filter("num", num);
    env
}

/// A share as a whole percentage, or "–" when there is none (the reports' `pct`).
pub(crate) fn pct(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{:.0}%", v * 100.0))
}

/// A statistic to two decimals, or "–" when there is none (the reports' `num`).
pub(crate) fn num(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.2}"))
}

fn percent(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// The plain-language sentences at the top of a journey's report.
pub fn summary_sentences(m: &JourneyMetrics) -> Vec<String> {
    let s = &m.summary;
    let mut out = vec![format!(
        "Use or no use was reported for {} of the {} days ({} coverage). Days nobody reported on are counted as unknown, never as days without use.",
        s.known_days,
        s.days,
        percent(s.coverage)
    )];
    match (m.craft_start, s.pda_baseline, s.pda_craft) {
        (None, _, _) => out.push(
            "No CRAFT start is recorded yet, so there is no before and after to compare."
                .to_string(),
        ),
        (Some(_), Some(before), Some(since)) => out.push(format!(
            "Of the days someone reported on, {} were without use before CRAFT started and {} since.",
            percent(before),
            percent(since)
        )),
        (Some(_), None, Some(since)) => out.push(format!(
            "Of the days someone reported on since CRAFT started, {} were without use; no day before CRAFT started was reported on, so there is no baseline to compare with.",
            percent(since)
        )),
        (Some(_), Some(before), None) => out.push(format!(
            "Of the days someone reported on before CRAFT started, {} were without use; no day since was reported on yet.",
            percent(before)
        )),
        (Some(_), None, None) => out.push(
            "No day was reported on as use or no use yet, before or since CRAFT started.".to_string(),
        ),
    }
    let e = &m.effect;
    match (e.nap, e.reason) {
        (Some(nap), _) => out.push(format!(
            "In {} of comparisons a CRAFT-phase week had more days without use than a baseline week (NAP = {nap:.2}; {} baseline and {} CRAFT weeks with at least 4 reported days).",
            percent(nap),
            e.baseline_weeks,
            e.craft_weeks
        )),
        (None, Some("no_craft_start")) => {}
        (None, _) => out.push(format!(
            "The phases cannot be compared yet: it takes 3 weeks with at least 4 reported days in each phase; so far: {} before CRAFT and {} since.",
            plural(e.baseline_weeks, "week"),
            plural(e.craft_weeks, "week")
        )),
    }
    let a = &m.association;
    match (a.spearman_rho, a.reason) {
        (Some(rho), _) => {
            let trend = if rho >= 0.1 {
                "weeks after stronger practice tended to have more days without use"
            } else if rho <= -0.1 {
                "weeks after stronger practice tended to have fewer days without use"
            } else {
                "the strength of practice and the following week showed no clear pattern"
            };
            out.push(format!(
                "{trend} (rho = {rho:.2}, {}).",
                plural(a.pairs, "pair")
            ));
        }
        (None, Some("constant_series")) => out.push(format!(
            "Practice and the following week cannot be related: one of them did not vary ({}).",
            plural(a.pairs, "pair")
        )),
        (None, _) => out.push(format!(
            "Practice and the following week cannot be related yet: {} of weeks so far, 8 needed.",
            plural(a.pairs, "pair")
        )),
    }
    let ms = &m.milestones;
    match (ms.days_to_treatment_entry, ms.treatment_entry_censored_days) {
        (Some(days), _) => out.push(format!(
            "Entered treatment {days} days after CRAFT started."
        )),
        (None, Some(days)) => out.push(format!(
            "Has not entered treatment in the {days} days since CRAFT started."
        )),
        _ => {}
    }
    out.push(format!(
        "Longest run of days without use: {}; the current run: {}.",
        plural(ms.longest_no_use_streak as usize, "day"),
        plural(ms.current_no_use_streak as usize, "day")
    ));
    // Capitalise the first letter of each sentence.
    out.into_iter()
        .map(|s| {
            let mut chars = s.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub(crate) fn reason_text(reason: Option<&str>) -> Option<&'static str> {
    match reason? {
        "no_craft_start" => Some("no CRAFT start is recorded"),
        "too_few_weeks" => Some("fewer than 3 weeks with 4+ reported days in a phase"),
        "too_few_pairs" => Some("fewer than 8 pairs of weeks"),
        "constant_series" => Some("one series does not vary"),
        _ => Some("not enough data"),
    }
}

/// The four charts of a journey's report as PNG files in `folder` (`<prefix>-calendar.png`,
/// `-weekly`, `-practice`, `-association`), for e-mail or a PDF; returns their paths.
pub fn journey_pngs(
    input: &JourneyInput,
    metrics: &JourneyMetrics,
    as_of: NaiveDate,
    folder: &std::path::Path,
    prefix: &str,
) -> Result<Vec<std::path::PathBuf>, ChartError> {
    let marks = markers(input, metrics, as_of);
    let path = |name: &str| folder.join(format!("{prefix}-{name}.png"));
    let paths = vec![
        path("calendar"),
        path("weekly"),
        path("practice"),
        path("association"),
    ];
    crate::png(
        &Calendar {
            metrics,
            markers: &marks,
            last_months: None,
        },
        &paths[0],
    )?;
    crate::png(&WeeklyChart { metrics }, &paths[1])?;
    crate::png(&PracticeChart { metrics }, &paths[2])?;
    crate::png(&AssociationChart { metrics }, &paths[3])?;
    Ok(paths)
}

/// The HTML progress report of one journey as of `as_of` (`metrics`: the whole journey's),
/// showing the days from `from` (the journey's start when `None`).
pub fn journey_html(
    header: &Header,
    input: &JourneyInput,
    metrics: &JourneyMetrics,
    from: Option<NaiveDate>,
    as_of: NaiveDate,
) -> Result<String, ChartError> {
    let (shown, period) = window(metrics, from.unwrap_or(metrics.start));
    let mut marks = markers(input, metrics, as_of);
    marks.retain(|m| m.day >= shown.start);
    let calendar = svg(&Calendar {
        metrics: &shown,
        markers: &marks,
        last_months: None,
    })?;
    let weekly = svg(&WeeklyChart { metrics: &shown })?;
    let practice = svg(&PracticeChart { metrics: &shown })?;
    let association = svg(&AssociationChart { metrics })?;
    let mut sentences: Vec<String> = period_sentence(&period).into_iter().collect();
    sentences.extend(summary_sentences(metrics));
    render(
        "journey.html",
        context! {
            header,
            as_of => as_of.to_string(),
            m => metrics,
            weeks => &shown.weeks,
            period => &period,
            caveats => CAVEATS,
            sentences,
            effect_reason => reason_text(metrics.effect.reason),
            association_reason => reason_text(metrics.association.reason),
            calendar => minijinja::Value::from_safe_string(calendar),
            weekly => minijinja::Value::from_safe_string(weekly),
            practice => minijinja::Value::from_safe_string(practice),
            association => minijinja::Value::from_safe_string(association),
        },
    )
}

/// The HTML cohort report: chart 5 and one row per journey.
/// The cohort report; with `links` (the web app's page), each family's row links to its
/// progress report.
pub fn cohort_html(report: &Report, title: &str, links: bool) -> Result<String, ChartError> {
    let chart = svg(&CohortChart { report })?;
    render(
        "cohort.html",
        context! {
            title,
            links,
            as_of => report.as_of.to_string(),
            report,
            chart => minijinja::Value::from_safe_string(chart),
        },
    )
}

/// Renders template `name` with `context`.
fn render(name: &str, context: minijinja::Value) -> Result<String, ChartError> {
    environment()
        .get_template(name)
        .and_then(|template| template.render(context))
        .map_err(|e| ChartError::Template(e.to_string()))
}
