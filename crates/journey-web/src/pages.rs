//! The HTML pages. They work without JavaScript: links and forms, each form with the
//! session's CSRF token, each write answered by a redirect (post/redirect/get).

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use journey_app::journeys::PAGE_SIZE;
use journey_app::{today, Action, Role, Via};
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tower_sessions::Session;

use super::auth::{self, PageUser};
use super::error::{PageError, WebError};
use super::views::{self, frame, render};
use super::AppState;

type PageResult = Result<Response, PageError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/journeys", get(journeys))
        .route("/journeys/{key}", get(timeline))
        .route("/journeys/{key}/entries", post(quick_entry))
        .route("/journeys/{key}/entries/{entry}/retract", post(retract))
        .route("/journeys/{key}/consent", post(consent))
        .route("/journeys/{key}/report", get(journey_report))
        .route("/cohort/report", get(cohort_report))
        .route("/admin", get(admin))
        .route("/admin/assign", post(admin_assign))
        .route("/research", get(super::research::page))
        .route("/research/export", post(super::research::export))
}

fn html(page: String) -> Response {
    Html(page).into_response()
}

async fn home(session: Session) -> Response {
    match session.get::<uuid::Uuid>("user_id").await {
        Ok(Some(_)) => Redirect::to("/journeys").into_response(),
        _ => Redirect::to("/login").into_response(),
    }
}

async fn login_page(session: Session) -> PageResult {
    let csrf = auth::csrf_token(&session).await?;
    Ok(html(render(
        "login.html",
        context! { title => "Sign in", csrf, error => None::<String> },
    )?))
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    username: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> PageResult {
    auth::check_csrf(&session, &form.csrf).await?;
    match auth::sign_in(
        &state,
        Via::Web,
        &session,
        form.username.trim(),
        &form.password,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/journeys").into_response()),
        Err(WebError::Unauthorized) | Err(WebError::TooMany(_)) => {
            let csrf = auth::csrf_token(&session).await?;
            let page = render(
                "login.html",
                context! {
                    title => "Sign in",
                    csrf,
                    error => "The username or the password is wrong, or there were too many attempts; wait a minute and try again.",
                    username => form.username,
                },
            )?;
            Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(session: Session, Form(form): Form<CsrfForm>) -> PageResult {
    auth::check_csrf(&session, &form.csrf).await?;
    auth::sign_out(&session).await?;
    Ok(Redirect::to("/login").into_response())
}

/// A row of the counselor's list.
#[derive(serde::Serialize)]
struct FamilyRow {
    key: String,
    relationship: String,
    start: String,
    last_entry: String,
    coverage: Option<f64>,
    current_streak: Option<i64>,
    nap: Option<f64>,
}

async fn journeys(State(state): State<AppState>, PageUser(signed): PageUser) -> PageResult {
    let user = &signed.user;
    match user.role {
        Role::Researcher => return Ok(Redirect::to("/research").into_response()),
        Role::Admin => return Ok(Redirect::to("/admin").into_response()),
        Role::Family | Role::Counselor => {}
    }
    let rows = state
        .app
        .visible_journeys(&signed.actor, "family list")
        .await?;
    let as_of = today();
    let mut families = Vec::new();
    for row in &rows {
        let charts = if user.role == Role::Counselor {
            views::charts(&state, row, as_of).await?
        } else {
            None
        };
        families.push(FamilyRow {
            key: row.key.clone(),
            relationship: row.relationship.clone(),
            start: row.start.to_string(),
            last_entry: row
                .last_recorded
                .map(|t| t.date_naive().to_string())
                .unwrap_or_else(|| "–".into()),
            coverage: charts.as_ref().map(|c| c.coverage),
            current_streak: charts.as_ref().map(|c| c.current_streak),
            nap: charts.as_ref().and_then(|c| c.nap),
        });
    }
    Ok(html(render(
        "journeys.html",
        context! {
            title => "Journeys",
            frame => frame(&signed).await?,
            families,
            counselor => user.role == Role::Counselor,
        },
    )?))
}

#[derive(Deserialize)]
struct TimelineQuery {
    page: Option<String>,
    saved: Option<String>,
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

async fn timeline(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    Query(query): Query<TimelineQuery>,
) -> PageResult {
    let row = match state
        .app
        .journey(&signed.actor, &key, Action::ReadEntries, "timeline")
        .await
    {
        Ok(row) => row,
        // A counselor's way into a family is the progress report.
        Err(journey_app::AppError::Forbidden(_)) => {
            return Ok(Redirect::to(&format!("/journeys/{key}/report")).into_response())
        }
        Err(other) => return Err(other.into()),
    };
    let page: i64 = match query.page.as_deref() {
        None | Some("") => 1,
        Some(text) => text
            .parse()
            .ok()
            .filter(|p| *p >= 1 && *p <= 1_000_000)
            .ok_or_else(|| WebError::BadRequest(format!("page {text:?} is not a page number")))?,
    };
    let total = i64::from(row.entries) + i64::from(row.retracted);
    let entries = state
        .app
        .timeline(&row, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let as_of = today();
    let charts = views::charts(&state, &row, as_of).await?;
    let entries: Vec<EntryView> = entries
        .into_iter()
        .map(|e| EntryView {
            label: views::label(&e.kind),
            details: views::details(&e.kind, &e.fields),
            on: e.on.map(|d| d.to_string()).unwrap_or_default(),
            by: e.by,
            recorded_at: e.recorded_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            can_retract: !e.retracted && e.kind != "journey_started",
            retracted: e.retracted,
            entry: e.entry,
        })
        .collect();
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // The charts, the form and a page of entries.
    let capacity = charts.as_ref().map_or(0, |c| c.svg_bytes()) + 64 * 1024;
    Ok(html(views::render_sized(
        capacity,
        "timeline.html",
        context! {
            title => format!("Journey {}", row.key),
            frame => frame(&signed).await?,
            journey => json!({
                "key": row.key,
                "relationship": row.relationship,
                "start": row.start.to_string(),
                "craft_start": row.craft_start.map(|d| d.to_string()),
            }),
            today => as_of.to_string(),
            charts => charts.as_deref(),
            calendar => charts.as_ref().map(|c| c.calendar.clone()),
            weekly => charts.as_ref().map(|c| c.weekly.clone()),
            calendar_months => views::TIMELINE_MONTHS,
            entries,
            page,
            pages,
            total,
            saved => query.saved,
        },
    )?))
}

/// The quick-entry form: what I saw, what I did, a note; every part optional.
#[derive(Deserialize, Default)]
pub struct QuickEntry {
    csrf: String,
    on: String,
    #[serde(default)]
    saw: String,
    #[serde(flatten)]
    did: HashMap<String, String>,
}

/// What the "what I did" checkboxes record (form name = entry type).
pub const ACTIONS: [&str; 10] = [
    "reward_given",
    "reward_withdrawn",
    "stepped_away",
    "natural_consequence_allowed",
    "rescued",
    "positive_communication",
    "treatment_suggested",
    "treatment_enabled",
    "safety_check",
    "self_care",
];

/// The interchange objects a quick entry stands for; the errors name the form field.
pub fn quick_entry_objects(key: &str, by: &str, form: &QuickEntry) -> Result<Vec<Value>, WebError> {
    let on = form.on.trim();
    if NaiveDate::parse_from_str(on, "%Y-%m-%d").is_err() {
        return Err(WebError::Invalid {
            field: "on".into(),
            message: format!("{on:?} is not a day (YYYY-MM-DD)"),
        });
    }
    let object = |kind: &str, extra: Value| -> Value {
        let mut map = Map::new();
        map.insert("journey".into(), json!(key));
        map.insert("type".into(), json!(kind));
        map.insert("on".into(), json!(on));
        map.insert("by".into(), json!(by));
        map.insert(
            "entry".into(),
            json!(format!("w-{}", uuid::Uuid::new_v4().simple())),
        );
        if let Value::Object(extra) = extra {
            map.extend(extra);
        }
        Value::Object(map)
    };
    let mut out = Vec::new();
    match form.saw.as_str() {
        "" => {}
        "use" => out.push(object("use_observed", json!({}))),
        "no_use" => out.push(object("clean_day_observed", json!({}))),
        "unsure" => out.push(object("day_status", json!({ "status": "unknown" }))),
        "no_answer" => out.push(object("check_in", json!({ "kept": false }))),
        other => {
            return Err(WebError::Invalid {
                field: "saw".into(),
                message: format!("{other:?} is not one of use, no_use, unsure, no_answer"),
            })
        }
    }
    let field = |name: &str| {
        form.did
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    for kind in ACTIONS {
        if field(kind).is_none() {
            continue;
        }
        let extra = match kind {
            "rescued" => json!({ "for_safety": field("for_safety").is_some() }),
            "treatment_suggested" => {
                json!({ "response": field("response").unwrap_or("no_response") })
            }
            "self_care" => match field("minutes") {
                None => json!({}),
                Some(text) => {
                    let minutes: u16 = text.parse().map_err(|_| WebError::Invalid {
                        field: "minutes".into(),
                        message: format!("{text:?} is not a number of minutes (0-1440)"),
                    })?;
                    json!({ "minutes": minutes })
                }
            },
            _ => json!({}),
        };
        out.push(object(kind, extra));
    }
    if let Some(note) = field("note") {
        out.push(object("note", json!({ "text": note })));
    }
    if out.is_empty() {
        return Err(WebError::Invalid {
            field: "saw".into(),
            message: "nothing to save: choose what you saw, what you did, or write a note".into(),
        });
    }
    Ok(out)
}

async fn quick_entry(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    Form(form): Form<QuickEntry>,
) -> PageResult {
    auth::check_csrf(&signed.session, &form.csrf).await?;
    let row = state
        .app
        .journey(&signed.actor, &key, Action::Write, "quick entry")
        .await?;
    let objects = quick_entry_objects(&row.key, &signed.user.username, &form)?;
    let ids = state.app.record(&signed.actor, &row, &objects).await?;
    Ok(Redirect::to(&format!("/journeys/{}?saved={}", row.key, ids.len())).into_response())
}

async fn retract(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path((key, entry)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    auth::check_csrf(&signed.session, &form.csrf).await?;
    let row = state
        .app
        .journey(&signed.actor, &key, Action::Write, "retract")
        .await?;
    state
        .app
        .retract(&signed.actor, &row, &entry, "entered by mistake")
        .await?;
    Ok(Redirect::to(&format!("/journeys/{}?saved=retract", row.key)).into_response())
}

#[derive(Deserialize)]
struct ConsentForm {
    csrf: String,
    decision: String,
}

async fn consent(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    Form(form): Form<ConsentForm>,
) -> PageResult {
    auth::check_csrf(&signed.session, &form.csrf).await?;
    let row = state
        .app
        .journey(&signed.actor, &key, Action::Write, "research consent")
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
    state
        .app
        .consent(&signed.actor, &row, granted, "v1")
        .await?;
    Ok(Redirect::to(&format!("/journeys/{}?saved=consent", row.key)).into_response())
}

async fn journey_report(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
) -> PageResult {
    let row = state
        .app
        .journey(&signed.actor, &key, Action::ReadReport, "progress report")
        .await?;
    let page = state
        .app
        .report_page(&row, today())
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(html(page.html))
}

async fn cohort_report(State(state): State<AppState>, PageUser(signed): PageUser) -> PageResult {
    signed.actor.require(Role::Counselor)?;
    let title = format!("Families of {}", signed.user.display_name);
    let page = state
        .app
        .cohort_page(&signed.actor, today(), &title)
        .await?;
    Ok(html(page))
}

async fn admin(State(state): State<AppState>, PageUser(signed): PageUser) -> PageResult {
    signed.actor.require(Role::Admin)?;
    let users: Vec<Value> = state
        .app
        .users()
        .await?
        .into_iter()
        .map(|u| json!({ "username": u.username, "display_name": u.display_name, "role": u.role.as_str() }))
        .collect();
    let keys = state.app.journey_keys().await?;
    let assignments = state.app.assignments().await?;
    Ok(html(render(
        "admin.html",
        context! {
            title => "People and journeys",
            frame => frame(&signed).await?,
            users,
            keys,
            assignments,
        },
    )?))
}

#[derive(Deserialize)]
struct AssignForm {
    csrf: String,
    username: String,
    journey: String,
    #[serde(default)]
    remove: Option<String>,
}

async fn admin_assign(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Form(form): Form<AssignForm>,
) -> PageResult {
    auth::check_csrf(&signed.session, &form.csrf).await?;
    if form.remove.is_some() {
        state
            .app
            .unassign(&signed.actor, &form.username, &form.journey)
            .await?;
    } else {
        state
            .app
            .assign(&signed.actor, &form.username, &form.journey)
            .await?;
    }
    Ok(Redirect::to("/admin").into_response())
}
