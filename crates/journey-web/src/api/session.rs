//! `/api/v1/session`: sign in and out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use journey_app::Via;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use utoipa::ToSchema;

use super::{parse_body, ErrorBody};
use crate::auth;
use crate::error::{ApiError, WebError};
use crate::AppState;

/// Credentials. An account with a second factor sends `totp` too: the 6-digit code from its
/// authenticator app (each code is accepted once), or one of its recovery codes.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    username: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

/// Who is signed in.
#[derive(Serialize, ToSchema)]
pub struct Me {
    username: String,
    display_name: String,
    /// family, counselor, researcher or admin
    role: String,
}

/// Sign in: the answer sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = Me),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Wrong username or password (`unauthorized`), no `totp` for an account with a second factor (`second_factor_required`), or a wrong or used code (`second_factor_refused`)", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub(super) async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Me>, ApiError> {
    let credentials: Credentials = parse_body(&headers, &body)?;
    let user = match auth::sign_in(
        &state,
        Via::Api,
        (&session, &headers),
        &credentials.username,
        &credentials.password,
        credentials.totp.as_deref(),
    )
    .await?
    {
        auth::SignIn::Done(user) => user,
        auth::SignIn::NeedsCode(_) => return Err(WebError::SecondFactorRequired.into()),
    };
    Ok(Json(Me {
        username: user.username,
        display_name: user.display_name,
        role: user.role.as_str().into(),
    }))
}

/// Sign out: the session is deleted.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "Signed out"), (status = 503, body = ErrorBody)))]
pub(super) async fn sign_out(
    State(state): State<AppState>,
    session: Session,
) -> Result<StatusCode, ApiError> {
    auth::sign_out(&state, &session, Via::Api).await?;
    Ok(StatusCode::NO_CONTENT)
}
