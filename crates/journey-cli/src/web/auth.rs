//! Passwords (Argon2id), sign-in and sign-out, the signed-in user, and CSRF tokens.
//!
//! - A password is hashed with the argon2 crate's defaults (Argon2id, 19 MiB, t=2), on a
//!   blocking thread: ~50 ms here. An unknown username is checked against a dummy hash so that
//!   it takes as long as a wrong password.
//! - Sign-in attempts are limited per username (governor): `Options::logins_per_minute`.
//! - Sessions are server-side (tower-sessions, stored in PostgreSQL). Sign-in cycles the
//!   session id; sign-out deletes the session; a session ends after `idle_minutes` unused
//!   and `absolute_hours` after sign-in (both checked here on every request; activity is
//!   saved at most once a minute, which also renews the store's and the cookie's expiry).
//! - Every form carries the session's CSRF token; the API takes only `application/json`
//!   bodies, which a cross-site form cannot send, and the cookie is `SameSite=Strict`.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use journey_postgres::accounts::{self, User};
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

/// The PHC string of `password` hashed with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    // A random salt from the operating system (argon2's `getrandom` feature).
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| format!("hashing the password: {e}"))
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches in practice, checked for unknown usernames.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut random);
        hash_password(&hex(&random)).expect("hashing a random password")
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random password for demo accounts: 16 characters of a-z 2-9 (no look-alikes).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut random = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut random);
    random
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Checks `username` and `password`; on success the session gets a new id, the user and the
/// time of sign-in, and a fresh CSRF token.
pub async fn sign_in(
    state: &AppState,
    session: &Session,
    username: &str,
    password: &str,
) -> Result<User, WebError> {
    let limit_key = username.to_lowercase();
    if let Err(not_until) = state.logins.check_key(&limit_key) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        return Err(WebError::TooMany(wait.as_secs().max(1)));
    }
    // A username that cannot exist (control characters, too long) is not looked up.
    let user = if journey_domain::entry::is_key(username) {
        accounts::user_by_name(&state.pool, username).await?
    } else {
        None
    };
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(WebError::Unauthorized),
    };
    session.cycle_id().await?;
    session.insert(USER_ID, user.user_id).await?;
    session.insert(SIGNED_IN_AT, Utc::now().timestamp()).await?;
    session.insert(LAST_SEEN, Utc::now().timestamp()).await?;
    session.insert(CSRF, new_token()).await?;
    journey_postgres::research::audit(
        &state.pool,
        &user.username,
        "sign_in",
        None,
        serde_json::json!({}),
    )
    .await?;
    Ok(user)
}

/// Ends the session: deleted from the store, the cookie emptied.
pub async fn sign_out(session: &Session) -> Result<(), WebError> {
    session.flush().await?;
    Ok(())
}

fn new_token() -> String {
    let mut random = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut random);
    hex(&random)
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

/// The signed-in user and their session.
pub struct SignedIn {
    pub user: User,
    pub session: Session,
}

async fn current(parts: &mut Parts, state: &AppState) -> Result<SignedIn, WebError> {
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, why)| WebError::Internal(why.to_string()))?;
    let Some(id) = session.get::<Uuid>(USER_ID).await? else {
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
            let Some(user) = accounts::user_by_id(&state.pool, id).await? else {
                session.flush().await?;
                return Err(WebError::Unauthorized);
            };
            state.users.insert(id, user.clone());
            user
        }
    };
    Ok(SignedIn { user, session })
}

/// The signed-in user of a page (not signed in: redirect to the sign-in page).
pub struct PageUser(pub SignedIn);

impl FromRequestParts<AppState> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageUser(current(parts, state).await?))
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
        Ok(ApiUser(current(parts, state).await?))
    }
}
