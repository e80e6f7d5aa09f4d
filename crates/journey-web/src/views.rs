//! The pages' templates (minijinja, auto-escaped: `templates/web/`), the words the pages use
//! for entry types, and the timeline's charts (cached per journey and day).

use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use journey_app::JourneyRow;
use journey_charts::{markers, svg, Calendar};
use minijinja::Environment;
use serde::Serialize;
use serde_json::{json, Value};

use super::auth::{self, SignedIn};
use super::error::{PageError, WebError};
use super::AppState;

/// The user and CSRF token every signed-in page's layout shows.
pub(crate) async fn frame(signed: &SignedIn) -> Result<Value, WebError> {
    Ok(json!({
        "user": {
            "username": signed.user.username,
            "display_name": signed.user.display_name,
            "role": signed.user.role.as_str(),
        },
        "csrf": auth::csrf_token(&signed.session).await?,
    }))
}

/// A failed page request: the error page (or, when not signed in, the sign-in page).
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        if matches!(err, WebError::Unauthorized) {
            return Redirect::to("/login").into_response();
        }
        if matches!(err, WebError::EnrolmentRequired) {
            return Redirect::to("/account/second-factor").into_response();
        }
        let status = err.status();
        let page = error_page(status, &err.message());
        let mut response = (status, Html(page)).into_response();
        for (name, value) in err.headers() {
            if let Ok(value) = value.parse() {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in [
            ("layout.html", include_str!("../templates/web/layout.html")),
            ("login.html", include_str!("../templates/web/login.html")),
            ("error.html", include_str!("../templates/web/error.html")),
            (
                "login_code.html",
                include_str!("../templates/web/login_code.html"),
            ),
            (
                "account.html",
                include_str!("../templates/web/account.html"),
            ),
            ("audit.html", include_str!("../templates/web/audit.html")),
            (
                "password.html",
                include_str!("../templates/web/password.html"),
            ),
            (
                "second_factor.html",
                include_str!("../templates/web/second_factor.html"),
            ),
            (
                "journeys.html",
                include_str!("../templates/web/journeys.html"),
            ),
            (
                "timeline.html",
                include_str!("../templates/web/timeline.html"),
            ),
            (
                "retract.html",
                include_str!("../templates/web/retract.html"),
            ),
            (
                "devices.html",
                include_str!("../templates/web/devices.html"),
            ),
            (
                "consent_withdraw.html",
                include_str!("../templates/web/consent_withdraw.html"),
            ),
            (
                "wellbeing.html",
                include_str!("../templates/web/wellbeing.html"),
            ),
            ("admin.html", include_str!("../templates/web/admin.html")),
            (
                "research.html",
                include_str!("../templates/web/research.html"),
            ),
        ] {
            env.add_template(name, text)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env.add_filter("pct", |value: Option<f64>| -> String {
            value.map_or_else(|| "–".to_string(), |v| format!("{:.0}%", v * 100.0))
        });
        env.add_filter("num", |value: Option<f64>| -> String {
            value.map_or_else(|| "–".to_string(), |v| format!("{v:.2}"))
        });
        env
    })
}

/// Renders page `name`.
pub fn render(name: &str, context: minijinja::Value) -> Result<String, WebError> {
    render_sized(0, name, context)
}

/// Renders page `name` into a buffer of `capacity` bytes to start with (a page that holds
/// large charts grows its text once instead of by doubling).
pub fn render_sized(
    capacity: usize,
    name: &str,
    context: minijinja::Value,
) -> Result<String, WebError> {
    let failed = |e: &dyn std::fmt::Display| WebError::Internal(format!("template {name}: {e}"));
    let mut out = Vec::with_capacity(capacity);
    environment()
        .get_template(name)
        .and_then(|t| t.render_captured_to(context, &mut out).map(|_| ()))
        .map_err(|e| failed(&e))?;
    String::from_utf8(out).map_err(|e| failed(&e))
}

/// The page of a failed request.
pub fn error_page(status: StatusCode, message: &str) -> String {
    render(
        "error.html",
        minijinja::context! {
            title => status.canonical_reason().unwrap_or("Error"),
            status => status.as_u16(),
            message,
        },
    )
    .unwrap_or_else(|_| format!("{status}: {message}"))
}

/// The timeline's calendar shows this many months (the progress report the whole journey).
pub const TIMELINE_MONTHS: usize = 12;

/// A journey's figures as a page shows them, with the two timeline charts.
#[derive(Debug, Clone, Serialize)]
pub struct Charts {
    /// The SVG charts as template values made once (safe strings, shared: a page writes them
    /// into its text without copying them first).
    #[serde(skip)]
    pub calendar: minijinja::Value,
    #[serde(skip)]
    pub weekly: minijinja::Value,
    pub coverage: f64,
    pub current_streak: i64,
    pub nap: Option<f64>,
    pub sentences: Vec<String>,
    /// "Is it helping?" in family words.
    pub helping: Vec<String>,
    /// What the care text after a return to use recalls.
    pub care: super::family::Care,
    /// What a counselor should look at first (metrics.md version 2).
    #[serde(skip)]
    pub attention: journey_analytics::Attention,
    /// The charts' text alternatives.
    pub calendar_text: String,
    pub weekly_text: String,
}

impl Charts {
    /// The bytes of the two SVG charts.
    pub fn svg_bytes(&self) -> usize {
        [&self.calendar, &self.weekly]
            .iter()
            .map(|v| v.as_str().map_or(0, str::len))
            .sum()
    }
}

/// The timeline charts and figures of `row` as of `as_of`, computed once per change of the
/// journey (its counts of entries and retracts, its last recording) and day.
pub async fn charts(
    state: &AppState,
    row: &JourneyRow,
    as_of: NaiveDate,
) -> Result<Option<Arc<Charts>>, WebError> {
    let stamp = format!(
        "{}/{}/{:?}/{as_of}",
        row.entries, row.retracted, row.last_recorded
    );
    if let Some((seen, charts)) = state
        .charts
        .lock()
        .expect("chart cache lock")
        .get(&row.journey_id)
    {
        if *seen == stamp {
            return Ok(Some(charts.clone()));
        }
    }
    let Some((input, metrics)) = state.app.journey_metrics(row, as_of).await? else {
        return Ok(None);
    };
    let (input, m) = (&input, &metrics);
    let marks = markers(input, m, as_of);
    let draw = |e: journey_charts::ChartError| WebError::Internal(e.to_string());
    // plotters writes `opacity="1"` (SVG's default) on every element: a tenth of the bytes
    // of a page that families open often.
    let lean = |svg: String| svg.replace(" opacity=\"1\"", "");
    let charts = Arc::new(Charts {
        calendar: minijinja::Value::from_safe_string(lean(
            svg(&Calendar {
                metrics: m,
                markers: &marks,
                last_months: Some(TIMELINE_MONTHS),
            })
            .map_err(draw)?,
        )),
        weekly: minijinja::Value::from_safe_string(lean(
            svg(&journey_charts::TogetherChart { metrics: m }).map_err(draw)?,
        )),
        coverage: m.summary.coverage,
        current_streak: m.milestones.current_no_use_streak,
        nap: m.effect.nap,
        sentences: journey_charts::report::summary_sentences(m),
        helping: super::family::helping(m),
        care: super::family::care(input, m, as_of),
        attention: m.attention.clone(),
        calendar_text: calendar_text(m),
        weekly_text: weekly_text(m),
    });
    let mut cache = state.charts.lock().expect("chart cache lock");
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(row.journey_id.clone(), (stamp, charts.clone()));
    Ok(Some(charts))
}

/// The calendar's text alternative: what it shows, in numbers.
fn calendar_text(m: &journey_analytics::JourneyMetrics) -> String {
    let shown = m.days.len().min(TIMELINE_MONTHS * 31);
    let recent = &m.days[m.days.len() - shown..];
    let count = |s: journey_analytics::Status| recent.iter().filter(|d| **d == s).count();
    use journey_analytics::Status as S;
    format!(
        "Calendar of the last {shown} days, one square a day: {} without use (green), {} with use (orange), {} in detox or residential care, {} nobody wrote down (blank).",
        count(S::NoUse),
        count(S::Use),
        count(S::Controlled),
        count(S::Unknown)
    )
}

/// The timeline's weekly chart's text alternative: what the family did and how the weeks went.
fn weekly_text(m: &journey_analytics::JourneyMetrics) -> String {
    let shown = m.weeks.len().min(journey_charts::TOGETHER_WEEKS);
    let recent: Vec<String> = m
        .weeks
        .iter()
        .rev()
        .take(4)
        .map(|w| {
            let days = match w.pda {
                Some(pda) => format!(
                    "{:.0}% of {} reported days without use",
                    pda * 100.0,
                    w.known_days
                ),
                None => "no day reported".to_string(),
            };
            format!(
                "week of {}: {days}, practice {:.0}%",
                w.start,
                w.practice * 100.0
            )
        })
        .collect();
    format!(
        "Chart of the last {shown} weeks on one date axis: bars for the share of reported days without use, a line for your CRAFT practice (rewards, stepping back, not rescuing, positive messages), treatment shaded. Newest first: {}.",
        recent.join("; ")
    )
}
