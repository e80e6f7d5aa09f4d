//! "Remember this device" in the web app: the cookie, the sign-in it gives, and the page
//! where a family member lists and forgets their remembered devices.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use journey_app::devices::REMEMBER_DAYS;
use minijinja::context;
use tower_sessions::cookie::{Cookie, SameSite};

use super::auth::{self, CsrfForm, PageUser};
use super::error::{PageError, PageForm};
use super::views::{frame, render};
use super::AppState;

/// The cookie that holds a remembered device's token.
pub const COOKIE: &str = "journey_device";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/devices", get(page))
        .route("/devices/{id}/forget", post(forget))
}

/// The device token the request carries, if any.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What the browser says it is, for the member's list of devices.
pub fn description(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("a browser that did not say what it is")
        .to_string()
}

/// The `Set-Cookie` value that keeps `token` on the device (empty: forget it).
pub fn set_cookie(token: &str, secure: bool) -> String {
    let mut cookie = Cookie::build((COOKIE, token.to_string()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    let days = if token.is_empty() {
        0
    } else {
        i64::from(REMEMBER_DAYS)
    };
    cookie.set_max_age(tower_sessions::cookie::time::Duration::days(days));
    cookie.to_string()
}

async fn page(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
) -> Result<Response, PageError> {
    let devices = state.app.devices(&signed.user).await?;
    let rows: Vec<serde_json::Value> = devices
        .iter()
        .map(|d| {
            serde_json::json!({
                "id": d.device_id.to_string(),
                "description": d.description,
                "since": d.created_at.format("%Y-%m-%d").to_string(),
                "last_used": d.last_used.format("%Y-%m-%d %H:%M UTC").to_string(),
                "until": d.expires_at.format("%Y-%m-%d").to_string(),
            })
        })
        .collect();
    Ok(Html(render(
        "devices.html",
        context! {
            title => "Devices you stay signed in on",
            frame => frame(&signed).await?,
            devices => rows,
            days => REMEMBER_DAYS,
            family => signed.user.role == journey_app::Role::Family,
        },
    )?)
    .into_response())
}

async fn forget(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&signed.session, &form.csrf).await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| super::error::WebError::NotFound)?;
    state
        .app
        .forget_device(&signed.user, Some(id), None)
        .await?;
    Ok(Redirect::to("/devices").into_response())
}
