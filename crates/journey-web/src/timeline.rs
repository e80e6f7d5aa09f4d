//! The family's pages: the timeline with the quick entry (kept as typed when it cannot be
//! saved, its problems next to their fields), the day's recap after saving, retraction and
//! the research decision with a confirmation, and the member's own wellbeing check-in.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{Days, NaiveDate};
use journey_app::journeys::PAGE_SIZE;
use journey_app::{journey_key, today, Action, AppError, EntryId, JourneyRow, Listing};
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{self, CsrfForm, PageUser, SignedIn};
use super::error::{PageError, PageForm, WebError};
use super::family::{self, Typed};
use super::views::{self, frame, render};
use super::AppState;

type PageResult = Result<Response, PageError>;

/// The version of the research consent text the page shows.
pub const CONSENT_TEXT_VERSION: &str = "v1";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/journeys/{key}", get(timeline))
        .route("/journeys/{key}/entries", post(quick_entry))
        .route(
            "/journeys/{key}/entries/{entry}/retract",
            get(retract_confirm).post(retract),
        )
        .route("/journeys/{key}/consent", post(consent))
        .route(
            "/journeys/{key}/wellbeing",
            get(wellbeing_page).post(wellbeing_save),
        )
}

#[derive(Deserialize)]
struct TimelineQuery {
    page: Option<String>,
    saved: Option<String>,
    day: Option<String>,
}

/// One row of the entry list.
#[derive(serde::Serialize)]
struct EntryView {
    entry: String,
    on: String,
    label: &'static str,
    details: String,
    by: Option<String>,
    recorded_at: String,
    retracted: bool,
    can_retract: bool,
}

fn entry_view(e: journey_app::TimelineEntry) -> EntryView {
    EntryView {
        label: super::entry_words::label(&e.kind),
        details: super::entry_words::details(&e.kind, &e.fields),
        on: e.on.map(|d| d.to_string()).unwrap_or_default(),
        by: e.by,
        recorded_at: e.recorded_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        can_retract: !e.retracted && e.kind != "journey_started",
        retracted: e.retracted,
        entry: e.entry,
    }
}

/// The entry a URL names; one that cannot exist is not found.
fn entry_id(text: &str) -> Result<EntryId, WebError> {
    EntryId::parse(text).map_err(|_| WebError::NotFound)
}

/// The journey `key` for a family page (a counselor's way in is the progress report).
async fn family_journey(
    state: &AppState,
    signed: &SignedIn,
    key: &str,
    action: Action,
    what: &'static str,
) -> Result<Result<JourneyRow, Response>, PageError> {
    let journey = journey_key(key)?;
    match state
        .app
        .journey(&signed.actor, &journey, action, what)
        .await
    {
        Ok(row) => Ok(Ok(row)),
        Err(AppError::Forbidden(_)) if action == Action::ReadEntries => Ok(Err(Redirect::to(
            &format!("/journeys/{key}/report"),
        )
        .into_response())),
        Err(other) => Err(other.into()),
    }
}

/// What the timeline page shows besides the journey itself.
#[derive(Default)]
struct Extra {
    page: i64,
    saved: Option<String>,
    recap_day: Option<NaiveDate>,
    typed: Option<Typed>,
    problems: family::Problems,
}

async fn timeline(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    Query(query): Query<TimelineQuery>,
) -> PageResult {
    let row = match family_journey(&state, &signed, &key, Action::ReadEntries, "timeline").await? {
        Ok(row) => row,
        Err(redirect) => return Ok(redirect),
    };
    let page: i64 = match query.page.as_deref() {
        None | Some("") => 1,
        Some(text) => text
            .parse()
            .ok()
            .filter(|p| *p >= 1 && *p <= 1_000_000)
            .ok_or_else(|| WebError::BadRequest(format!("page {text:?} is not a page number")))?,
    };
    let recap_day = query
        .day
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let extra = Extra {
        page,
        saved: query.saved,
        recap_day,
        ..Extra::default()
    };
    timeline_page(&state, &signed, &row, extra, StatusCode::OK).await
}

async fn timeline_page(
    state: &AppState,
    signed: &SignedIn,
    row: &JourneyRow,
    extra: Extra,
    status: StatusCode,
) -> Result<Response, PageError> {
    let as_of = today();
    let total = i64::from(row.entries) + i64::from(row.retracted);
    let page = extra.page.max(1);
    let entries: Vec<EntryView> = state
        .app
        .timeline(row, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?
        .into_iter()
        .map(entry_view)
        .collect();
    let charts = views::charts(state, row, as_of).await?;
    let recap = match extra.recap_day {
        Some(day) => Some(family::recap(
            day,
            &state.app.entries(row, Listing::Day(day)).await?,
        )),
        None => None,
    };
    let care = charts.as_ref().map(|c| c.care.clone());
    // The care text: after use is recorded, and while contact is broken or use after a stay
    // in treatment is recent.
    let show_care = recap
        .as_ref()
        .is_some_and(|r| r.use_seen || r.contact_broken)
        || care
            .as_ref()
            .is_some_and(|c| c.after_rehab || c.contact_broken);
    let consent = state.app.consent_state(row).await?.map(|(granted, version, at)| {
        json!({ "granted": granted, "version": version, "on": at.date_naive().to_string() })
    });
    let wellbeing = own_checks(state, signed, row).await?;
    let due = wellbeing
        .last()
        .map(|(on, _)| *on + Days::new(14))
        .filter(|due| *due > as_of);
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let problems: serde_json::Map<String, Value> = extra
        .problems
        .iter()
        .map(|(field, words)| (field.clone(), json!(words)))
        .collect();
    let capacity = charts.as_ref().map_or(0, |c| c.svg_bytes()) + 64 * 1024;
    let page_html = views::render_sized(
        capacity,
        "timeline.html",
        context! {
            title => format!("Journey {}", row.key),
            frame => frame(signed).await?,
            journey => json!({
                "key": row.key,
                "relationship": row.relationship,
                "start": row.start.to_string(),
                "craft_start": row.craft_start.map(|d| d.to_string()),
            }),
            today => as_of.to_string(),
            yesterday => (as_of - Days::new(1)).to_string(),
            charts => charts.as_deref(),
            calendar => charts.as_ref().map(|c| c.calendar.clone()),
            weekly => charts.as_ref().map(|c| c.weekly.clone()),
            calendar_months => views::TIMELINE_MONTHS,
            entries,
            page,
            pages,
            total,
            saved => extra.saved,
            recap,
            care => show_care.then_some(care).flatten(),
            consent,
            wellbeing_due => due.map(|d| d.to_string()),
            typed => extra.typed.unwrap_or_default(),
            problems,
        },
    )?;
    Ok((status, Html(page_html)).into_response())
}

/// A posted form of a family page as typed, after its CSRF check, and the journey it writes
/// to (the write's access check).
async fn posted(
    state: &AppState,
    signed: &SignedIn,
    key: &str,
    pairs: Vec<(String, String)>,
    what: &'static str,
) -> Result<(Typed, JourneyRow), PageError> {
    let typed: Typed = pairs.into_iter().collect();
    auth::check_csrf(
        state,
        &signed.session,
        Some(&signed.actor),
        typed.get("csrf").map_or("", String::as_str),
        "posted",
    )
    .await?;
    let row = state
        .app
        .journey(&signed.actor, &journey_key(key)?, Action::Write, what)
        .await?;
    Ok((typed, row))
}

async fn quick_entry(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> PageResult {
    let (typed, row) = posted(&state, &signed, &key, pairs, "quick entry").await?;
    let problems = match family::objects(&row.key, &signed.user.username, &typed, today()) {
        Ok((day, objects)) => match state.app.record(&signed.actor, &row, &objects).await {
            Ok(ids) => {
                let to = format!("/journeys/{}?saved={}&day={day}#saved", row.key, ids.len());
                return Ok(Redirect::to(&to).into_response());
            }
            Err(AppError::Invalid { field, message }) => vec![family::plain_rule(
                field.as_deref().unwrap_or("body"),
                &message,
                row.start,
            )],
            Err(other) => return Err(other.into()),
        },
        Err(problems) => problems,
    };
    // Kept as typed, the problems next to their fields; nothing was stored.
    let extra = Extra {
        page: 1,
        typed: Some(typed),
        problems,
        ..Extra::default()
    };
    timeline_page(
        &state,
        &signed,
        &row,
        extra,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// "Entered by mistake": what will change, before it changes.
async fn retract_confirm(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path((key, entry)): Path<(String, String)>,
) -> PageResult {
    let row = state
        .app
        .journey(&signed.actor, &journey_key(&key)?, Action::Write, "retract")
        .await?;
    let found = state
        .app
        .entries(&row, Listing::Entry(&entry_id(&entry)?))
        .await?;
    let Some(target) = found.into_iter().next() else {
        return Err(WebError::NotFound.into());
    };
    let counts_for_day = matches!(
        target.kind.as_str(),
        "use_observed" | "clean_day_observed" | "day_status"
    );
    let view = entry_view(target);
    Ok(Html(render(
        "retract.html",
        context! {
            title => "Entered by mistake?",
            frame => frame(&signed).await?,
            key => row.key,
            entry => view,
            counts_for_day,
        },
    )?)
    .into_response())
}

async fn retract(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path((key, entry)): Path<(String, String)>,
    PageForm(form): PageForm<CsrfForm>,
) -> PageResult {
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "retract",
    )
    .await?;
    let row = state
        .app
        .journey(&signed.actor, &journey_key(&key)?, Action::Write, "retract")
        .await?;
    state
        .app
        .retract(
            &signed.actor,
            &row,
            &entry_id(&entry)?,
            "entered by mistake",
        )
        .await?;
    Ok(Redirect::to(&format!("/journeys/{}?saved=retract#saved", row.key)).into_response())
}

#[derive(Deserialize)]
struct ConsentForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    confirm: Option<String>,
}

async fn consent(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    PageForm(form): PageForm<ConsentForm>,
) -> PageResult {
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "consent",
    )
    .await?;
    let row = state
        .app
        .journey(
            &signed.actor,
            &journey_key(&key)?,
            Action::Write,
            "research consent",
        )
        .await?;
    let granted = match form.decision.as_str() {
        "grant" => true,
        "withdraw" => false,
        other => {
            return Err(WebError::Invalid {
                field: "decision".into(),
                message: format!("{other:?} is not grant or withdraw"),
            }
            .into())
        }
    };
    // Withdrawing is asked once more, saying what it changes.
    if !granted && form.confirm.as_deref() != Some("yes") {
        return Ok(Html(render(
            "consent_withdraw.html",
            context! {
                title => "Withdraw from research?",
                frame => frame(&signed).await?,
                key => row.key,
            },
        )?)
        .into_response());
    }
    state
        .app
        .consent(&signed.actor, &row, granted, CONSENT_TEXT_VERSION)
        .await?;
    Ok(Redirect::to(&format!("/journeys/{}?saved=consent#research", row.key)).into_response())
}

/// The signed-in member's own WHO-5 check-ins on `row`, oldest first: (day, score 0-100).
async fn own_checks(
    state: &AppState,
    signed: &SignedIn,
    row: &JourneyRow,
) -> Result<Vec<(NaiveDate, u8)>, PageError> {
    let mine = state
        .app
        .entries(row, Listing::Type("wellbeing_checked"))
        .await?;
    let mut checks: Vec<(NaiveDate, u8)> = mine
        .into_iter()
        .filter(|e| !e.retracted && e.by.as_deref() == Some(signed.user.username.as_str()))
        .filter_map(|e| {
            let items: [u8; 5] = serde_json::from_value(e.fields.get("who5")?.clone()).ok()?;
            Some((e.on?, 4 * items.iter().sum::<u8>()))
        })
        .collect();
    checks.sort();
    Ok(checks)
}

/// The five WHO-5 statements, in item order.
pub const WHO5_ITEMS: [&str; 5] = [
    "I have felt cheerful and in good spirits",
    "I have felt calm and relaxed",
    "I have felt active and vigorous",
    "I woke up feeling fresh and rested",
    "My daily life has been filled with things that interest me",
];

/// The WHO-5 answers, highest first: (value, words).
pub const WHO5_ANSWERS: [(u8, &str); 6] = [
    (5, "All of the time"),
    (4, "Most of the time"),
    (3, "More than half of the time"),
    (2, "Less than half of the time"),
    (1, "Some of the time"),
    (0, "At no time"),
];

/// What the WHO-5 guidance lets a page say about a score and its change (never a diagnosis).
pub fn who5_words(score: u8, previous: Option<u8>) -> Vec<String> {
    let mut words = Vec::new();
    if score <= 28 {
        words.push("This score is low. The WHO-5 guidance suggests talking to a doctor about how you have been feeling. Looking after yourself is part of CRAFT, not a luxury.".to_string());
    } else if score <= 50 {
        words.push("This score points to low wellbeing. Make some time for yourself this week, and think of who could support you: a friend, a family group, a counselor.".to_string());
    } else {
        words.push("This score is above the range the WHO-5 calls low wellbeing. Keep making time for yourself.".to_string());
    }
    if let Some(before) = previous {
        let change = i16::from(score) - i16::from(before);
        if change.abs() >= 10 {
            words.push(format!(
                "That is a real change since your last check-in: {} {} points.",
                if change > 0 { "up" } else { "down" },
                change.abs()
            ));
        }
    }
    words
}

async fn wellbeing_view(
    state: &AppState,
    signed: &SignedIn,
    row: &JourneyRow,
    typed: Typed,
    problem: Option<String>,
    status: StatusCode,
) -> PageResult {
    let checks = own_checks(state, signed, row).await?;
    let latest = checks.last().map(|(on, score)| {
        let previous = checks.len().checked_sub(2).map(|i| checks[i].1);
        json!({ "on": on.to_string(), "score": score, "words": who5_words(*score, previous) })
    });
    let chart = if checks.len() >= 2 {
        let points: Vec<(NaiveDate, f64)> =
            checks.iter().map(|(d, s)| (*d, f64::from(*s))).collect();
        Some(minijinja::Value::from_safe_string(
            journey_charts::svg(&journey_charts::WellbeingChart { points: &points })
                .map_err(|e| WebError::Internal(e.to_string()))?,
        ))
    } else {
        None
    };
    let history: Vec<Value> = checks
        .iter()
        .rev()
        .map(|(on, score)| json!({ "on": on.to_string(), "score": score }))
        .collect();
    let page = render(
        "wellbeing.html",
        context! {
            title => "How are you doing?",
            frame => frame(signed).await?,
            key => row.key,
            today => today().to_string(),
            items => WHO5_ITEMS,
            answers => WHO5_ANSWERS,
            latest,
            chart,
            history,
            typed,
            problem,
        },
    )?;
    Ok((status, Html(page)).into_response())
}

async fn wellbeing_page(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
) -> PageResult {
    let row = match family_journey(&state, &signed, &key, Action::ReadEntries, "wellbeing").await? {
        Ok(row) => row,
        Err(redirect) => return Ok(redirect),
    };
    wellbeing_view(&state, &signed, &row, Typed::new(), None, StatusCode::OK).await
}

async fn wellbeing_save(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> PageResult {
    let (typed, row) = posted(&state, &signed, &key, pairs, "wellbeing check-in").await?;
    let answers: Vec<Option<u8>> = (1..=5)
        .map(|i| {
            typed
                .get(&format!("q{i}"))
                .and_then(|v| v.parse().ok())
                .filter(|v| *v <= 5)
        })
        .collect();
    if answers.iter().any(Option::is_none) {
        let missing: Vec<String> = answers
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_none())
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        let problem = format!(
            "Please answer every statement; still open: {}.",
            missing.join(", ")
        );
        return wellbeing_view(
            &state,
            &signed,
            &row,
            typed,
            Some(problem),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let who5: Vec<u8> = answers.into_iter().flatten().collect();
    let object = json!({
        "journey": row.key,
        "type": "wellbeing_checked",
        "on": today().to_string(),
        "by": signed.user.username,
        "who5": who5,
    });
    state.app.record(&signed.actor, &row, &[object]).await?;
    Ok(Redirect::to(&format!("/journeys/{}/wellbeing#latest", row.key)).into_response())
}
