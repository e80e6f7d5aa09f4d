//! The HTML pages. They work without JavaScript: links and forms, each form with the
//! session's CSRF token, each write answered by a redirect (post/redirect/get).

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, Utc};
use journey_charts::report::cohort_html;
use journey_postgres::accounts::{self, AssignError, Role};
use journey_postgres::projector;
use journey_postgres::read::Scope;
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tower_sessions::Session;

use super::access::{self, Action};
use super::auth::{self, PageUser, SignedIn};
use super::error::{PageError, WebError};
use super::views::{self, render};
use super::AppState;
use crate::today;

type PageResult = Result<Response, PageError>;

/// Times a write that met a concurrent write to its journey is tried again.
const CONFLICT_RETRIES: u64 = 20;

/// Entries per page of the timeline.
pub const PAGE_SIZE: i64 = 50;

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
    match auth::sign_in(&state, &session, form.username.trim(), &form.password).await {
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
    let rows = accounts::visible_journeys(&state.pool, user.user_id).await?;
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
    if user.role == Role::Counselor {
        journey_postgres::research::audit(
            &state.pool,
            &user.username,
            "read_report",
            None,
            json!({ "what": "family list", "journeys": rows.len() }),
        )
        .await?;
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
    let row =
        match access::journey(&state, &signed.user, &key, Action::ReadEntries, "timeline").await {
            Ok(row) => row,
            // A counselor's way into a family is the progress report.
            Err(WebError::Forbidden(_)) => {
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
    let entries = accounts::timeline(
        &state.pool,
        &row.journey_id,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
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

/// The field an interchange error is about: named by the message (`field `x``, `missing
/// field `x``, `unknown field `x``), or the field holding the value of an `unknown variant`.
pub fn field_of(why: &str, object: &Value) -> String {
    let quoted = |marker: &str| {
        why.find(marker)
            .map(|at| &why[at + marker.len()..])
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    if let Some(name) = quoted("field `") {
        return name;
    }
    if let Some(value) = quoted("unknown variant `") {
        let holds = |v: &Value| match v {
            Value::String(s) => *s == value,
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some(value.as_str())),
            _ => false,
        };
        if let Some(map) = object.as_object() {
            if map.get("type").is_some_and(holds) {
                return "type".into();
            }
            if let Some((name, _)) = map.iter().find(|(_, v)| holds(v)) {
                return name.clone();
            }
        }
    }
    if why.starts_with("type ") {
        if let Some(map) = object.as_object() {
            if let Some(name) = why
                .split('`')
                .skip(1)
                .step_by(2)
                .find(|token| map.contains_key(*token))
            {
                return name.to_string();
            }
        }
    }
    "entry".into()
}

/// Checks every object as an interchange line, then records them in order.
pub async fn record_objects(
    state: &AppState,
    objects: &[Value],
    via: &str,
) -> Result<Vec<String>, WebError> {
    let mut lines = Vec::new();
    for object in objects {
        let line = journey_domain::interchange::parse_line(&object.to_string()).map_err(|why| {
            WebError::Invalid {
                field: field_of(&why, object),
                message: why,
            }
        })?;
        lines.push(line);
    }
    let mut ids = Vec::new();
    for mut line in lines {
        if line.entry.entry.is_empty() {
            line.entry.entry = format!("w-{}", uuid::Uuid::new_v4().simple());
        }
        ids.push(line.entry.entry.clone());
        // Another member's write to the same journey in the same moment is a conflict of the
        // event store; the command is replayed on the new state (the same entry id, so it can
        // never be stored twice). Only a lasting conflict reaches the caller (409).
        // Writers in this process take turns per journey (a striped lock), so members
        // writing at once queue instead of conflicting; conflicts with other processes
        // (an import, a second server) are replayed.
        let _turn = state.write_turn(&line.journey).await;
        let mut attempt = 0;
        loop {
            let metadata = HashMap::from([("via".to_string(), via.to_string())]);
            match state
                .recorder
                .record(&line.journey, line.entry.clone(), Utc::now(), metadata)
                .await
            {
                Err(journey_postgres::StoreError::Conflict) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(2 * attempt)).await;
                }
                outcome => {
                    outcome?;
                    break;
                }
            }
        }
    }
    projector::catch_up(&state.pool).await?;
    Ok(ids)
}

async fn quick_entry(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    Form(form): Form<QuickEntry>,
) -> PageResult {
    auth::check_csrf(&signed.session, &form.csrf).await?;
    let row = access::journey(&state, &signed.user, &key, Action::Write, "quick entry").await?;
    let objects = quick_entry_objects(&row.key, &signed.user.username, &form)?;
    let ids = record_objects(&state, &objects, "web").await?;
    Ok(Redirect::to(&format!("/journeys/{}?saved={}", row.key, ids.len())).into_response())
}

async fn retract(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path((key, entry)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    auth::check_csrf(&signed.session, &form.csrf).await?;
    let row = access::journey(&state, &signed.user, &key, Action::Write, "retract").await?;
    let object = json!({
        "journey": row.key,
        "type": "retract",
        "target": entry,
        "reason": "entered by mistake",
        "by": signed.user.username,
    });
    record_objects(&state, &[object], "web").await?;
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
    let row = access::journey(
        &state,
        &signed.user,
        &key,
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
    let metadata = HashMap::from([("via".to_string(), "web".to_string())]);
    state
        .recorder
        .consent(&row.key, granted, "v1", Utc::now(), metadata)
        .await?;
    projector::catch_up(&state.pool).await?;
    Ok(Redirect::to(&format!("/journeys/{}?saved=consent", row.key)).into_response())
}

async fn journey_report(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
) -> PageResult {
    let row = access::journey(
        &state,
        &signed.user,
        &key,
        Action::ReadReport,
        "progress report",
    )
    .await?;
    let page = crate::report::page(&state.pool, &row, today())
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(html(page.html))
}

async fn cohort_report(State(state): State<AppState>, PageUser(signed): PageUser) -> PageResult {
    access::require(&signed.user, Role::Counselor)?;
    let rows = accounts::visible_journeys(&state.pool, signed.user.user_id).await?;
    let mut inputs = Vec::new();
    for row in &rows {
        inputs.extend(crate::metrics::inputs(&state.pool, Scope::Key(&row.key)).await?);
        journey_postgres::research::audit(
            &state.pool,
            &signed.user.username,
            "read_report",
            Some(&row.journey_id),
            json!({ "what": "cohort report" }),
        )
        .await?;
    }
    let report = journey_analytics::metrics(&inputs, today())
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let page = cohort_html(
        &report,
        &format!("Families of {}", signed.user.display_name),
    )
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(html(page))
}

async fn admin(State(state): State<AppState>, PageUser(signed): PageUser) -> PageResult {
    access::require(&signed.user, Role::Admin)?;
    let users: Vec<Value> = accounts::users(&state.pool)
        .await?
        .into_iter()
        .map(|u| json!({ "username": u.username, "display_name": u.display_name, "role": u.role.as_str() }))
        .collect();
    let keys: Vec<String> = journey_postgres::read::journeys(&state.pool, None)
        .await?
        .into_iter()
        .map(|j| j.key)
        .collect();
    let assignments = accounts::assignments(&state.pool).await?;
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
    access::require(&signed.user, Role::Admin)?;
    if form.remove.is_some() {
        accounts::unassign(&state.pool, &form.username, &form.journey).await?;
    } else {
        match accounts::assign(&state.pool, &form.username, &form.journey).await? {
            Ok(()) => {}
            Err(AssignError::NoUser) => {
                return Err(WebError::Invalid {
                    field: "username".into(),
                    message: format!("no user {:?}", form.username),
                }
                .into())
            }
            Err(AssignError::NoJourney) => {
                return Err(WebError::Invalid {
                    field: "journey".into(),
                    message: format!("no journey {:?}", form.journey),
                }
                .into())
            }
            Err(AssignError::Role(role)) => {
                return Err(WebError::Invalid {
                    field: "username".into(),
                    message: format!("a {} is not assigned to journeys", role.as_str()),
                }
                .into())
            }
        }
    }
    journey_postgres::research::audit(
        &state.pool,
        &signed.user.username,
        if form.remove.is_some() {
            "unassign"
        } else {
            "assign"
        },
        journey_postgres::keys::journey_id(&state.pool, &form.journey)
            .await
            .map_err(journey_postgres::StoreError::from)?
            .as_deref(),
        json!({ "user": form.username }),
    )
    .await?;
    Ok(Redirect::to("/admin").into_response())
}
