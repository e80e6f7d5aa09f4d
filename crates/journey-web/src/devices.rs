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

/// What the browser says it is, in words ("Chrome 120 on Android"), for the lists of
/// devices and sessions (the woothee crate reads the User-Agent; the raw string is kept
/// nowhere).
pub fn description(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    describe(agent)
}

fn describe(agent: &str) -> String {
    const UNKNOWN: &str = "UNKNOWN";
    if agent.trim().is_empty() {
        return "a program that did not say what it is".into();
    }
    let Some(found) = woothee::parser::Parser::new().parse(agent) else {
        return "a browser or program this app does not recognize".into();
    };
    let major = found.version.split('.').next().unwrap_or("");
    let browser = match (found.name, major) {
        (UNKNOWN, _) => "a browser".to_string(),
        (name, "" | UNKNOWN) => name.to_string(),
        (name, major) => format!("{name} {major}"),
    };
    match found.os {
        UNKNOWN => browser,
        os => format!("{browser} on {os}"),
    }
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
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "forget",
    )
    .await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| super::error::WebError::NotFound)?;
    state
        .app
        .forget_device(&signed.user, Some(id), None)
        .await?;
    Ok(Redirect::to("/devices").into_response())
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_user_agent_is_said_in_words() {
        let phone = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
        assert_eq!(describe(phone), "Chrome 120 on Android");
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15";
        assert_eq!(describe(mac), "Safari 17 on Mac OSX");
        assert_eq!(describe(""), "a program that did not say what it is");
    }
}
