//! "Remember this device" in the web app: the page where a family member lists and
//! forgets their remembered devices (the cookie itself is `device_cookie`).

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use journey_app::devices::REMEMBER_DAYS;
use minijinja::context;

use super::auth::{self, CsrfForm, PageUser};
use super::error::{PageError, PageForm};
use super::views::{frame, render};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/devices", get(page))
        .route("/devices/{id}/forget", post(forget))
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
