//! Sign-in and sign-out, the signed-in user, and CSRF tokens.
//!
//! - Passwords are checked by journey-app (Argon2id on a blocking thread; an unknown
//!   username takes as long as a wrong password).
//! - Sign-in attempts are limited per username, counted in the database by every process:
//!   `Options::logins_per_minute`.
//! - Sessions are server-side (tower-sessions, stored in PostgreSQL and read from it on every
//!   request, so a sign-out in one app process holds in every other at once). Sign-in cycles the
//!   session id; sign-out deletes the session; a session ends after `idle_minutes` unused
//!   and `absolute_hours` after sign-in (both checked here on every request; activity is
//!   saved at most once a minute, which also renews the store's and the cookie's expiry).
//! - Every form carries the session's CSRF token; the API takes only `application/json`
//!   bodies, which a cross-site form cannot send, and the cookie is `SameSite=Strict`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use journey_app::{Actor, User, Via};
use rand::RngCore;
use subtle::ConstantTimeEq;
use tower_sessions::Session;
use uuid::Uuid;

use super::error::{ApiError, PageError, WebError};
use super::AppState;

const USER_ID: &str = "user_id";
const SIGNED_IN_AT: &str = "signed_in_at";
const LAST_SEEN: &str = "last_seen";
const CSRF: &str = "csrf";

/// Checks `username` and `password`; on success the session gets a new id, the user and the
/// time of sign-in, and a fresh CSRF token.
pub async fn sign_in(
    state: &AppState,
    via: Via,
    session: &Session,
    username: &str,
    password: &str,
) -> Result<User, WebError> {
    if let Some(wait) = state
        .app
        .sign_in_attempt(username, state.options.logins_per_minute.max(1))
        .await?
    {
        return Err(WebError::TooMany(wait));
    }
    let Some(user) = state.app.authenticate(username, password).await? else {
        return Err(WebError::Unauthorized);
    };
    start(session, &user).await?;
    state.app.audit_sign_in(&user, via).await?;
    Ok(user)
}

/// A new session for `user`: a new id, the user, the time of sign-in, a fresh CSRF token.
async fn start(session: &Session, user: &User) -> Result<(), WebError> {
    session.cycle_id().await?;
    session.insert(USER_ID, user.user_id).await?;
    session.insert(SIGNED_IN_AT, Utc::now().timestamp()).await?;
    session.insert(LAST_SEEN, Utc::now().timestamp()).await?;
    session.insert(CSRF, new_token()).await?;
    Ok(())
}

/// A form that carries only the session's CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Ends the session: deleted from the store, the cookie emptied.
pub async fn sign_out(session: &Session) -> Result<(), WebError> {
    session.flush().await?;
    Ok(())
}

/// A new random token (256 bits, hex): CSRF tokens and remembered devices' tokens.
pub fn new_token() -> String {
    let mut random = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut random);
    journey_app::accounts::hex(&random)
}

/// The session's CSRF token, created when the session has none.
pub async fn csrf_token(session: &Session) -> Result<String, WebError> {
    if let Some(token) = session.get::<String>(CSRF).await? {
        return Ok(token);
    }
    let token = new_token();
    session.insert(CSRF, token.clone()).await?;
    Ok(token)
}

/// Checks a form's CSRF token against the session's.
pub async fn check_csrf(session: &Session, sent: &str) -> Result<(), WebError> {
    let Some(token) = session.get::<String>(CSRF).await? else {
        return Err(WebError::Csrf);
    };
    if bool::from(token.as_bytes().ct_eq(sent.as_bytes())) {
        Ok(())
    } else {
        Err(WebError::Csrf)
    }
}

/// The signed-in user, as the actor of the use cases, and their session.
pub struct SignedIn {
    pub user: User,
    pub actor: Actor,
    pub session: Session,
}

async fn current(parts: &mut Parts, state: &AppState, via: Via) -> Result<SignedIn, WebError> {
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, why)| WebError::Internal(why.to_string()))?;
    let Some(id) = session.get::<Uuid>(USER_ID).await? else {
        // A family member's remembered device starts a new session (never through the API).
        if via == Via::Web {
            if let Some(token) = super::devices::token(&parts.headers) {
                if let Some(user) = state.app.remembered_user(&token).await? {
                    start(&session, &user).await?;
                    state.app.audit_sign_in(&user, via).await?;
                    return Ok(SignedIn {
                        actor: Actor::user(user.clone(), via),
                        user,
                        session,
                    });
                }
            }
        }
        return Err(WebError::Unauthorized);
    };
    let now = Utc::now().timestamp();
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await?.unwrap_or(0);
    let last_seen = session.get::<i64>(LAST_SEEN).await?.unwrap_or(signed_in_at);
    if now - signed_in_at >= state.options.absolute_hours * 3600
        || now - last_seen >= state.options.idle_minutes * 60
    {
        session.flush().await?;
        return Err(WebError::Unauthorized);
    }
    // The store's expiry (and the cookie's) move on only when the session is saved: mark
    // activity at most once a minute, so a busy session lives on without a write per request.
    if now - last_seen >= 60 {
        session.insert(LAST_SEEN, now).await?;
    }
    let user = match state.users.get(&id) {
        Some(user) => user,
        None => {
            let Some(user) = state.app.user_by_id(id).await? else {
                session.flush().await?;
                return Err(WebError::Unauthorized);
            };
            state.users.insert(id, user.clone());
            user
        }
    };
    Ok(SignedIn {
        actor: Actor::user(user.clone(), via),
        user,
        session,
    })
}

/// The signed-in user of a page (not signed in: redirect to the sign-in page).
pub struct PageUser(pub SignedIn);

impl FromRequestParts<AppState> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageUser(current(parts, state, Via::Web).await?))
    }
}

/// The signed-in user of an API call (not signed in: 401).
pub struct ApiUser(pub SignedIn);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ApiUser(current(parts, state, Via::Api).await?))
    }
}
