//! The HTML pages. They work without JavaScript: links and forms, each form with the
//! session's CSRF token, each write answered by a redirect (post/redirect/get).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use journey_app::{today, AppError, JourneyKey, Role, Username, Via};
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::Session;

use super::auth::{self, CsrfForm, PageUser};
use super::error::{PageError, PageForm, WebError};
use super::views::{self, frame, render};
use super::AppState;

type PageResult = Result<Response, PageError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/journeys", get(journeys))
        .merge(super::timeline::router())
        .merge(super::devices::router())
        .merge(super::second_factor::router())
        .merge(super::sessions::router())
        .merge(super::reports::router())
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
    /// "Remember this device" (family members only).
    #[serde(default)]
    remember: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    headers: axum::http::HeaderMap,
    PageForm(form): PageForm<LoginForm>,
) -> PageResult {
    auth::check_csrf(&state, &session, None, &form.csrf, "login").await?;
    match auth::sign_in(
        &state,
        Via::Web,
        (&session, &headers),
        form.username.trim(),
        &form.password,
        None,
    )
    .await
    {
        Ok(auth::SignIn::Done(user)) => {
            auth::signed_in(&state, &headers, &user, form.remember.is_some()).await
        }
        Ok(auth::SignIn::NeedsCode(user)) => {
            auth::wait_for_code(&session, &user, form.remember.is_some()).await?;
            Ok(Redirect::to("/login/code").into_response())
        }
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

/// Signs out; on a remembered device, forgets the device too (signing out means it).
async fn logout(
    State(state): State<AppState>,
    session: Session,
    headers: axum::http::HeaderMap,
    PageForm(form): PageForm<CsrfForm>,
) -> PageResult {
    auth::check_csrf(&state, &session, None, &form.csrf, "logout").await?;
    let user = auth::sign_out(&state, &session, Via::Web).await?;
    if let (Some(user), Some(token)) = (user, super::device_cookie::token(&headers)) {
        state.app.forget_device(&user, None, Some(&token)).await?;
        let cookie = super::device_cookie::set_cookie("", state.options.secure_cookies);
        return Ok((
            [(axum::http::header::SET_COOKIE, cookie)],
            Redirect::to("/login"),
        )
            .into_response());
    }
    Ok(Redirect::to("/login").into_response())
}

/// A row of the counselor's list.
#[derive(serde::Serialize)]
struct FamilyRow {
    key: String,
    relationship: String,
    start: String,
    /// The latest day anything was recorded for (not when it was typed).
    last_entry: String,
    coverage: Option<f64>,
    current_streak: Option<i64>,
    nap: Option<f64>,
    pda_last_28: Option<f64>,
    need: u32,
    reasons: Vec<super::attention::Reason>,
}

#[derive(Deserialize)]
struct ListQuery {
    sort: Option<String>,
}

async fn journeys(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
) -> PageResult {
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
        let attention = charts.as_ref().map(|c| c.attention.clone());
        let (need, reasons) = attention
            .as_ref()
            .map(super::attention::reasons)
            .unwrap_or_default();
        let last_day = attention
            .as_ref()
            .map(|a| as_of - chrono::Days::new(a.days_since_last_entry.max(0) as u64));
        families.push(FamilyRow {
            key: row.key.to_string(),
            relationship: row.relationship.clone(),
            start: row.start.to_string(),
            last_entry: last_day.map_or_else(|| "–".into(), |d| d.to_string()),
            coverage: charts.as_ref().map(|c| c.coverage),
            current_streak: charts.as_ref().map(|c| c.current_streak),
            nap: charts.as_ref().and_then(|c| c.nap),
            pda_last_28: attention.as_ref().and_then(|a| a.pda_last_28),
            need,
            reasons,
        });
    }
    // Who needs attention first (then the longest silence); or as the counselor sorts.
    let sort = query.sort.unwrap_or_else(|| "need".into());
    match sort.as_str() {
        "key" => families.sort_by(|a, b| a.key.cmp(&b.key)),
        "last" => families.sort_by(|a, b| a.last_entry.cmp(&b.last_entry)),
        "pda" => families.sort_by(|a, b| {
            a.pda_last_28
                .partial_cmp(&b.pda_last_28)
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        _ => families.sort_by(|a, b| b.need.cmp(&a.need).then(a.last_entry.cmp(&b.last_entry))),
    }
    Ok(html(render(
        "journeys.html",
        context! {
            title => "Journeys",
            frame => frame(&signed).await?,
            families,
            sort,
            counselor => user.role == Role::Counselor,
        },
    )?))
}

async fn cohort_report(State(state): State<AppState>, PageUser(signed): PageUser) -> PageResult {
    state
        .app
        .require(&signed.actor, Role::Counselor, "cohort_report")
        .await?;
    let title = format!("Families of {}", signed.user.display_name);
    let page = state
        .app
        .cohort_page(&signed.actor, today(), &title, true)
        .await?;
    Ok(html(page))
}

#[derive(Deserialize)]
struct AdminQuery {
    done: Option<String>,
    user: Option<String>,
    journey: Option<String>,
    ended: Option<u64>,
}

async fn admin(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    axum::extract::Query(query): axum::extract::Query<AdminQuery>,
) -> PageResult {
    state
        .app
        .require(&signed.actor, Role::Admin, "admin_page")
        .await?;
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
            done => query.done,
            done_user => query.user,
            done_journey => query.journey,
            ended => query.ended,
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
    PageForm(form): PageForm<AssignForm>,
) -> PageResult {
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "admin_assign",
    )
    .await?;
    let username = Username::parse(&form.username).map_err(AppError::from)?;
    let journey = JourneyKey::parse(&form.journey).map_err(AppError::from)?;
    let done = if form.remove.is_some() {
        let removed = state
            .app
            .unassign(&signed.actor, &username, &journey)
            .await?;
        if removed {
            "removed"
        } else {
            "absent"
        }
    } else {
        let added = state.app.assign(&signed.actor, &username, &journey).await?;
        if added {
            "assigned"
        } else {
            "already"
        }
    };
    let query = serde_urlencoded::to_string([
        ("done", done),
        ("user", form.username.as_str()),
        ("journey", form.journey.as_str()),
    ])
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(Redirect::to(&format!("/admin?{query}")).into_response())
}
