//! A person's sessions and password: `GET /api/v1/sessions`, `DELETE /api/v1/sessions/{id}`,
//! the page `/account` (sessions, each with "End"), `/account/password` (which ends every
//! other session), and the admin's "End all sessions" of someone.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use journey_app::{AppError, Role, Username, Via};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{self, ApiUser, CsrfForm, PageUser, SignedIn};
use super::error::ErrorBody;
use super::error::{ApiError, PageError, PageForm, WebError};
use super::views::{frame, render};
use super::AppState;

type PageResult = Result<Response, PageError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(page))
        .route("/account/sessions/{id}/end", post(end_page))
        .route("/account/password", get(password_page).post(password))
        .route("/admin/sessions/end", post(admin_end))
        .route("/admin/audit", get(audit))
}

/// One of the caller's sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    /// What `DELETE /api/v1/sessions/{id}` takes.
    id: Uuid,
    /// When it was signed in (UTC).
    created: DateTime<Utc>,
    /// When it was last used (UTC; marked at most once a minute).
    last_seen: DateTime<Utc>,
    /// The device, from its User-Agent, in words ("Chrome 120 on Android").
    device: String,
    /// web (the pages) or api.
    via: String,
    /// The session of this request.
    current: bool,
}

async fn listed(state: &AppState, signed: &SignedIn) -> Result<Vec<SessionInfo>, WebError> {
    let rows = state
        .app
        .sessions(
            &signed.user,
            state.options.idle_minutes,
            state.options.absolute_hours,
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| SessionInfo {
            current: r.session_id == signed.session_id,
            id: r.session_id,
            created: r.created_at,
            last_seen: r.last_seen,
            device: r.device,
            via: r.via,
        })
        .collect())
}

/// The caller's sessions that have not ended or timed out, last used first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "session",
    responses(
        (status = 200, body = Vec<SessionInfo>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn list_sessions(
    State(state): State<AppState>,
    ApiUser(signed): ApiUser,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(listed(&state, &signed).await?))
}

/// Ends one of the caller's sessions (this one too: then the cookie is emptied). Every app
/// process refuses it within a second.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "session",
    params(("id" = Uuid, Path, description = "A session's id from GET /api/v1/sessions")),
    responses(
        (status = 204, description = "Ended"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn end_session(
    State(state): State<AppState>,
    ApiUser(signed): ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| WebError::BadRequest(format!("{id:?} is not a session id")))?;
    end(&state, &signed, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn end(state: &AppState, signed: &SignedIn, id: Uuid) -> Result<(), WebError> {
    if !state.app.end_session(&signed.actor, id).await? {
        return Err(WebError::NotFound);
    }
    state.sessions.invalidate(&id);
    if id == signed.session_id {
        signed.session.flush().await?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
    ended: Option<u64>,
}

async fn page(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    axum::extract::Query(query): axum::extract::Query<Done>,
) -> PageResult {
    let sessions: Vec<serde_json::Value> = listed(&state, &signed)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id, "device": s.device, "via": s.via, "current": s.current,
                "created": s.created.format("%Y-%m-%d %H:%M UTC").to_string(),
                "last_seen": s.last_seen.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
        })
        .collect();
    let page = render(
        "account.html",
        context! {
            title => "Your account",
            frame => frame(&signed).await?,
            sessions,
            second_factor => signed.user.second_factor,
            done => query.done,
            ended => query.ended,
        },
    )?;
    Ok(Html(page).into_response())
}

async fn end_page(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> PageResult {
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "end_page",
    )
    .await?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound)?;
    end(&state, &signed, id).await?;
    if id == signed.session_id {
        return Ok(Redirect::to("/login").into_response());
    }
    Ok(Redirect::to("/account?done=ended").into_response())
}

fn password_form(
    signed_frame: serde_json::Value,
    error: Option<(&str, String)>,
) -> Result<Response, WebError> {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (field, message) = match error {
        Some((field, message)) => (Some(field), Some(message)),
        None => (None, None),
    };
    let page = render(
        "password.html",
        context! { title => "Change your password", frame => signed_frame, field, message },
    )?;
    Ok((status, Html(page)).into_response())
}

async fn password_page(PageUser(signed): PageUser) -> PageResult {
    Ok(password_form(frame(&signed).await?, None)?)
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    repeat: String,
}

async fn password(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    PageForm(form): PageForm<PasswordForm>,
) -> PageResult {
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "password",
    )
    .await?;
    let frame = frame(&signed).await?;
    if form.new != form.repeat {
        let why = "The two new passwords are not the same.".to_string();
        return Ok(password_form(frame, Some(("repeat", why)))?);
    }
    let changed = state
        .app
        .change_password(
            &signed.user,
            &form.current,
            &form.new,
            Some(signed.session_id),
            Via::Web,
        )
        .await;
    match changed {
        Ok(ended) => {
            state.sessions.invalidate_all();
            let query =
                serde_urlencoded::to_string([("done", "password"), ("ended", &ended.to_string())])
                    .map_err(|e| WebError::Internal(e.to_string()))?;
            Ok(Redirect::to(&format!("/account?{query}")).into_response())
        }
        Err(journey_app::AppError::Invalid { field, message }) => {
            let field = if field.as_deref() == Some("current") {
                "current"
            } else {
                "new"
            };
            Ok(password_form(frame, Some((field, message)))?)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct EndAllForm {
    csrf: String,
    username: String,
}

async fn admin_end(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    PageForm(form): PageForm<EndAllForm>,
) -> PageResult {
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "admin_end",
    )
    .await?;
    state
        .app
        .require(&signed.actor, Role::Admin, "end_sessions_page")
        .await?;
    let ended = state
        .app
        .end_sessions_of(
            &signed.actor,
            &Username::parse(&form.username).map_err(AppError::from)?,
        )
        .await?;
    state.sessions.invalidate_all();
    let query = serde_urlencoded::to_string([
        ("done", "sessions"),
        ("user", form.username.as_str()),
        ("ended", &ended.to_string()),
    ])
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(Redirect::to(&format!("/admin?{query}")).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    user: Option<String>,
    day: Option<String>,
}

/// The admin's audit page: the newest 200 rows, by person and day (UTC).
async fn audit(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    axum::extract::Query(query): axum::extract::Query<AuditQuery>,
) -> PageResult {
    state
        .app
        .require(&signed.actor, Role::Admin, "audit_page")
        .await?;
    const LIMIT: i64 = 200;
    let user = query.user.filter(|u| !u.trim().is_empty());
    let day = super::reports::day("day", query.day.as_deref())?;
    let rows: Vec<serde_json::Value> = state
        .app
        .audit_rows(&signed.actor, user.as_deref(), day, LIMIT)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "at": r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                "actor": r.actor, "action": r.action, "journey": r.journey,
                "detail": r.detail.to_string(),
            })
        })
        .collect();
    let page = render(
        "audit.html",
        context! {
            title => "Audit log",
            frame => frame(&signed).await?,
            rows,
            user,
            day => day.map(|d| d.to_string()),
            limit => LIMIT,
        },
    )?;
    Ok(Html(page).into_response())
}
