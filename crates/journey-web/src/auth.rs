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
//! - An account with a second factor signs in with its code too: the API in one request
//!   (`totp`), pages in two steps (the password's step leaves only a pending user in the
//!   session, for [`PENDING_MINUTES`]). Every code counts against the same attempt limit.
//!   Counselors, researchers and admins without one reach nothing but the enrolment page
//!   (`second_factor.rs`) and sign-out.
//! - Every form carries the session's CSRF token; the API takes only `application/json`
//!   bodies, which a cross-site form cannot send, and the cookie is `SameSite=Strict`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use journey_app::{Actor, Role, User, Via};
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
/// The account's session row (`user_sessions`): no row, no session.
const SESSION_ID: &str = "session_id";
const PENDING_USER: &str = "pending_user";
const PENDING_AT: &str = "pending_at";
const PENDING_REMEMBER: &str = "pending_remember";
/// Minutes a right password waits for its second factor on the pages.
pub const PENDING_MINUTES: i64 = 5;

/// How a sign-in went.
pub enum SignIn {
    /// Signed in.
    Done(User),
    /// The password was right; the account's second factor is still to come.
    NeedsCode(User),
}

async fn count_attempt(state: &AppState, username: &str) -> Result<(), WebError> {
    match state
        .app
        .sign_in_attempt(username, state.options.logins_per_minute.max(1))
        .await?
    {
        Some(wait) => Err(WebError::TooMany(wait)),
        None => Ok(()),
    }
}

/// Checks `username` and `password` (and, for an account with a second factor, `code`: a
/// code from the authenticator app or a recovery code); on success the session gets a new
/// id, the user and the time of sign-in, and a fresh CSRF token.
pub async fn sign_in(
    state: &AppState,
    via: Via,
    (session, headers): (&Session, &HeaderMap),
    username: &str,
    password: &str,
    code: Option<&str>,
) -> Result<SignIn, WebError> {
    count_attempt(state, username).await?;
    let Some(user) = state.app.authenticate(username, password).await? else {
        state.app.audit_failed_sign_in(username, via).await?;
        return Err(WebError::Unauthorized);
    };
    if user.second_factor {
        let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
            return Ok(SignIn::NeedsCode(user));
        };
        if !state.app.check_second_factor(&user, code, via).await? {
            return Err(WebError::SecondFactorRefused);
        }
    }
    start(state, session, headers, &user, via).await?;
    Ok(SignIn::Done(user))
}

/// Pages: the password of `user` was right and their code is to come. The session (with a
/// new id) holds only the pending user, when, and whether to remember the device.
pub async fn wait_for_code(session: &Session, user: &User, remember: bool) -> Result<(), WebError> {
    session.cycle_id().await?;
    session.insert(PENDING_USER, user.user_id).await?;
    session.insert(PENDING_AT, Utc::now().timestamp()).await?;
    session.insert(PENDING_REMEMBER, remember).await?;
    Ok(())
}

/// Whether the session waits for a second factor (a right password, minutes ago).
pub async fn pending(session: &Session) -> Result<bool, WebError> {
    let at = session.get::<i64>(PENDING_AT).await?.unwrap_or(0);
    Ok(session.get::<Uuid>(PENDING_USER).await?.is_some()
        && Utc::now().timestamp() - at < PENDING_MINUTES * 60)
}

/// Pages, second step: the pending user's `code`. Signed in: the user, and whether they
/// asked to be remembered on this device.
pub async fn second_step(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    code: &str,
) -> Result<(User, bool), WebError> {
    let Some(id) = session.get::<Uuid>(PENDING_USER).await? else {
        return Err(WebError::Unauthorized);
    };
    if !pending(session).await? {
        session.flush().await?;
        return Err(WebError::Unauthorized);
    }
    let Some(user) = state.app.user_by_id(id).await? else {
        session.flush().await?;
        return Err(WebError::Unauthorized);
    };
    count_attempt(state, &user.username).await?;
    if !state.app.check_second_factor(&user, code, Via::Web).await? {
        return Err(WebError::SecondFactorRefused);
    }
    let remember = session
        .get::<bool>(PENDING_REMEMBER)
        .await?
        .unwrap_or(false);
    for key in [PENDING_USER, PENDING_AT, PENDING_REMEMBER] {
        session.remove_value(key).await?;
    }
    start(state, session, headers, &user, Via::Web).await?;
    Ok((user, remember))
}

/// A new session for `user`: a new id, the user, the time of sign-in, a fresh CSRF token,
/// and its row in `user_sessions` (the device in words). Audited as a sign-in.
async fn start(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    user: &User,
    via: Via,
) -> Result<(), WebError> {
    let device = super::device_cookie::description(headers);
    let id = state.app.open_session(user, &device, via).await?;
    session.cycle_id().await?;
    session.insert(SESSION_ID, id).await?;
    session.insert(USER_ID, user.user_id).await?;
    session.insert(SIGNED_IN_AT, Utc::now().timestamp()).await?;
    session.insert(LAST_SEEN, Utc::now().timestamp()).await?;
    session.insert(CSRF, new_token()).await?;
    state.app.audit_sign_in(user, via).await?;
    Ok(())
}

/// A form that carries only the session's CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Ends the session: its row and the store's record deleted, the cookie emptied. The
/// signed-in user, if there was one.
pub async fn sign_out(
    state: &AppState,
    session: &Session,
    via: Via,
) -> Result<Option<User>, WebError> {
    let user = match session.get::<Uuid>(USER_ID).await? {
        Some(id) => state.app.user_by_id(id).await?,
        None => None,
    };
    if let Some(user) = &user {
        let id = session.get::<Uuid>(SESSION_ID).await?;
        state.app.sign_out(user, id, via).await?;
        if let Some(id) = id {
            state.sessions.invalidate(&id);
        }
    }
    session.flush().await?;
    Ok(user)
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

/// Checks a form's CSRF token against the session's; a refusal of the form `what`, sent by
/// `actor` (or by someone not signed in), is written to the audit log.
pub async fn check_csrf(
    state: &AppState,
    session: &Session,
    actor: Option<&Actor>,
    sent: &str,
    what: &str,
) -> Result<(), WebError> {
    let token = session.get::<String>(CSRF).await?;
    if token.is_some_and(|token| bool::from(token.as_bytes().ct_eq(sent.as_bytes()))) {
        return Ok(());
    }
    state.app.audit_csrf_refused(actor, what, Via::Web).await?;
    Err(WebError::Csrf)
}

/// The signed-in user, as the actor of the use cases, and their session (with the id of its
/// row in `user_sessions`).
pub struct SignedIn {
    pub user: User,
    pub actor: Actor,
    pub session: Session,
    pub session_id: Uuid,
}

/// The signed-in user; an account that must have a second factor and has none yet gets
/// [`WebError::EnrolmentRequired`] unless `enrolling` (the enrolment page itself).
async fn current(
    parts: &mut Parts,
    state: &AppState,
    via: Via,
    enrolling: bool,
) -> Result<SignedIn, WebError> {
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, why)| WebError::Internal(why.to_string()))?;
    let Some(id) = session.get::<Uuid>(USER_ID).await? else {
        // A family member's remembered device starts a new session (never through the API).
        if via == Via::Web {
            if let Some(token) = super::device_cookie::token(&parts.headers) {
                if let Some(user) = state.app.remembered_user(&token).await? {
                    start(state, &session, &parts.headers, &user, via).await?;
                    let session_id = session.get::<Uuid>(SESSION_ID).await?.unwrap_or_default();
                    return Ok(SignedIn {
                        actor: Actor::user(user.clone(), via),
                        user,
                        session,
                        session_id,
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
    // The session's row: an ended session (by its user, an admin, a password change, in any
    // process) has none. Known rows are kept a second in memory.
    let Some(session_id) = session.get::<Uuid>(SESSION_ID).await? else {
        session.flush().await?;
        return Err(WebError::Unauthorized);
    };
    // The session's row and the user come in one statement when either is not in memory.
    let user = match (state.sessions.get(&session_id), state.users.get(&id)) {
        (Some(owner), Some(user)) if owner == id => user,
        _ => match state.app.session_user(session_id).await? {
            Some(user) if user.user_id == id => {
                state.sessions.insert(session_id, id);
                state.users.insert(id, user.clone());
                user
            }
            _ => {
                session.flush().await?;
                return Err(WebError::Unauthorized);
            }
        },
    };
    // The store's expiry (and the cookie's) move on only when the session is saved: mark
    // activity at most once a minute, so a busy session lives on without a write per request.
    if now - last_seen >= 60 {
        session.insert(LAST_SEEN, now).await?;
        state.app.touch_session(session_id).await?;
    }
    if user.needs_second_factor() && !enrolling {
        return Err(WebError::EnrolmentRequired);
    }
    Ok(SignedIn {
        actor: Actor::user(user.clone(), via),
        user,
        session,
        session_id,
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
        Ok(PageUser(current(parts, state, Via::Web, false).await?))
    }
}

/// The signed-in user of the second-factor page: also one who must enrol and has not yet.
pub struct EnrollingUser(pub SignedIn);

impl FromRequestParts<AppState> for EnrollingUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(EnrollingUser(current(parts, state, Via::Web, true).await?))
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
        Ok(ApiUser(current(parts, state, Via::Api, false).await?))
    }
}

/// Where a sign-in goes on to: the journeys page, remembering the device when a family
/// member asked for it.
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    user: &journey_app::User,
    remember: bool,
) -> Result<Response, PageError> {
    if !(remember && user.role == Role::Family) {
        return Ok(Redirect::to("/journeys").into_response());
    }
    let token = new_token();
    let description = super::device_cookie::description(headers);
    state
        .app
        .remember_device(user, &token, &description)
        .await?;
    let cookie = super::device_cookie::set_cookie(&token, state.options.secure_cookies);
    Ok((
        [(axum::http::header::SET_COOKIE, cookie)],
        Redirect::to("/journeys"),
    )
        .into_response())
}
