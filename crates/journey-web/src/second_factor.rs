//! The pages of second factors: the sign-in's second step (`/login/code`) and enrolment
//! (`/account/second-factor`: a QR code drawn as SVG on the server, no script; the first
//! code from the app turns it on and shows the recovery codes once).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use journey_app::Via;
use minijinja::context;
use serde::Deserialize;
use tower_sessions::Session;

use super::auth::{self, EnrollingUser};
use super::error::{PageError, PageForm, WebError};
use super::views::{frame, render};
use super::AppState;

type PageResult = Result<Response, PageError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/code", get(code_page).post(code))
        .route("/account/second-factor", get(enrol_page).post(enrol))
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: String,
    code: String,
}

fn code_form(csrf: String, error: Option<&str>) -> Result<String, WebError> {
    render(
        "login_code.html",
        context! { title => "Sign-in code", csrf, error, minutes => auth::PENDING_MINUTES },
    )
}

async fn code_page(session: Session) -> PageResult {
    if !auth::pending(&session).await? {
        return Ok(Redirect::to("/login").into_response());
    }
    let csrf = auth::csrf_token(&session).await?;
    Ok(Html(code_form(csrf, None)?).into_response())
}

async fn code(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> PageResult {
    auth::check_csrf(&state, &session, None, &form.csrf, "code").await?;
    match auth::second_step(&state, &session, &headers, &form.code).await {
        Ok((user, remember)) => super::auth::signed_in(&state, &headers, &user, remember).await,
        Err(WebError::Unauthorized) => Ok(Redirect::to("/login").into_response()),
        Err(err @ (WebError::SecondFactorRefused | WebError::TooMany(_))) => {
            let csrf = auth::csrf_token(&session).await?;
            let page = code_form(csrf, Some(&err.message()))?;
            Ok((StatusCode::UNAUTHORIZED, Html(page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The QR code of an `otpauth://` URI, as an inline SVG element.
fn qr_svg(uri: &str) -> Result<String, WebError> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| WebError::Internal(format!("a QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen(
        "<svg",
        r#"<svg role="img" aria-label="QR code of this account's second-factor key""#,
        1,
    ))
}

async fn enrolment_page(
    state: &AppState,
    signed: &auth::SignedIn,
    error: Option<String>,
) -> PageResult {
    let frame = frame(signed).await?;
    let user = &signed.user;
    let Some(enrolment) = state.app.waiting_second_factor(user).await? else {
        let left = state.app.recovery_codes_left(user).await?;
        let page = render(
            "second_factor.html",
            context! { title => "Second factor", frame, enrolled => true, left },
        )?;
        return Ok(Html(page).into_response());
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = render(
        "second_factor.html",
        context! {
            title => "Set up a second factor",
            frame,
            required => user.needs_second_factor(),
            qr => qr_svg(&enrolment.uri)?,
            secret => enrolment.secret,
            error,
        },
    )?;
    Ok((status, Html(page)).into_response())
}

async fn enrol_page(
    State(state): State<AppState>,
    EnrollingUser(signed): EnrollingUser,
) -> PageResult {
    enrolment_page(&state, &signed, None).await
}

async fn enrol(
    State(state): State<AppState>,
    EnrollingUser(signed): EnrollingUser,
    PageForm(form): PageForm<CodeForm>,
) -> PageResult {
    auth::check_csrf(
        &state,
        &signed.session,
        Some(&signed.actor),
        &form.csrf,
        "enrol",
    )
    .await?;
    if signed.user.second_factor {
        return Ok(Redirect::to("/account/second-factor").into_response());
    }
    match state
        .app
        .confirm_second_factor(&signed.user, &form.code, Via::Web)
        .await?
    {
        Some(codes) => {
            state.users.invalidate(&signed.user.user_id);
            let mut user = signed.user.clone();
            user.second_factor = true;
            let signed = auth::SignedIn { user, ..signed };
            let page = render(
                "second_factor.html",
                context! { title => "Recovery codes", frame => frame(&signed).await?, codes },
            )?;
            Ok(Html(page).into_response())
        }
        None => {
            let why = "That is not the code the app shows now. Check that the app's clock is right, and type the newest code.";
            enrolment_page(&state, &signed, Some(why.into())).await
        }
    }
}
