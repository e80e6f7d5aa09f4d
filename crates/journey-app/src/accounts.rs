//! Accounts: users (Argon2id password hashes), who may see which journey, sign-in, and the
//! stored answers of idempotent API writes. Assignments are audited from every frontend.
//!
//! A password is hashed with the argon2 crate's defaults (Argon2id, 19 MiB, t=2) on a
//! blocking thread: ~50 ms here. An unknown username is checked against a dummy hash so
//! that it takes as long as a wrong password.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use journey_domain::{JourneyKey, Username};
use journey_postgres::accounts::{self, AssignError};
use rand::RngCore;
use serde_json::json;
use uuid::Uuid;

use crate::access::Actor;
use crate::{App, AppError, Role, User};

/// The shortest accepted password, in characters.
pub const PASSWORD_CHARS_MIN: usize = 10;

/// The PHC string of `password` hashed with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AppError::Internal(format!("hashing the password: {e}")))
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
    DUMMY.get_or_init(|| hash_password(&random_password()).expect("hashing a random password"))
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random password: 16 characters of a-z 2-9 (no look-alikes).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut random = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut random);
    random
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn assign_error(err: AssignError, username: &str, key: &str) -> AppError {
    match err {
        AssignError::NoUser => AppError::invalid("username", format!("no user {username:?}")),
        AssignError::NoJourney => {
            AppError::invalid("journey", format!("no journey with key {key:?}"))
        }
        AssignError::Role(role) => AppError::invalid(
            "username",
            format!(
                "{username} is a {}: only family members and counselors are assigned to journeys",
                role.as_str()
            ),
        ),
    }
}

impl App {
    /// Creates an account with `password` (at least [`PASSWORD_CHARS_MIN`] characters).
    /// Refused when the username is taken, unless `replace_password` (the demo's accounts
    /// get new passwords on every run).
    pub async fn add_user(
        &self,
        username: &Username,
        display_name: &str,
        role: Role,
        password: &str,
        replace_password: bool,
    ) -> Result<(), AppError> {
        if display_name.trim().is_empty() || display_name.chars().count() > 100 {
            return Err(AppError::invalid(
                "name",
                format!("{display_name:?}: 1-100 characters"),
            ));
        }
        if password.chars().count() < PASSWORD_CHARS_MIN {
            return Err(AppError::invalid(
                "password",
                format!("the password must have at least {PASSWORD_CHARS_MIN} characters"),
            ));
        }
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        if accounts::create_user(self.pool(), username, display_name, role, &hash)
            .await?
            .is_none()
        {
            if !replace_password {
                return Err(AppError::invalid(
                    "username",
                    format!("user {username:?} exists already"),
                ));
            }
            accounts::set_password(self.pool(), username, &hash).await?;
        }
        Ok(())
    }

    /// Counts a sign-in attempt for `username` across every process on the database;
    /// `Some(seconds)` to wait when `per_minute` were made in the last minute. Attempts are
    /// kept under a hash of the lower-cased name (what people type there is not stored).
    pub async fn sign_in_attempt(
        &self,
        username: &str,
        per_minute: u32,
    ) -> Result<Option<u64>, AppError> {
        use sha2::Digest;
        let name = hex(&sha2::Sha256::digest(username.to_lowercase().as_bytes()));
        Ok(accounts::sign_in_attempt(self.pool(), &name, per_minute).await?)
    }

    /// Forgets sign-in attempts older than an hour (`journey serve` calls it now and then).
    pub async fn forget_sign_in_attempts(&self) -> Result<u64, AppError> {
        Ok(accounts::forget_sign_in_attempts(self.pool()).await?)
    }

    /// The user `username` if `password` is theirs (as long as a wrong one either way).
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AppError> {
        // A username that cannot exist (control characters, too long) is not looked up.
        let user = match Username::parse(username) {
            Ok(name) => accounts::user_by_name(self.pool(), &name).await?,
            Err(_) => None,
        };
        let phc = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || verify(&password, &phc))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(user.filter(|_| matches))
    }

    /// The user with id `id`.
    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, AppError> {
        Ok(accounts::user_by_id(self.pool(), id).await?)
    }

    /// Every account.
    pub async fn users(&self) -> Result<Vec<User>, AppError> {
        Ok(accounts::users(self.pool()).await?)
    }

    /// Every assignment as (username, role, journey key), by key then username.
    pub async fn assignments(&self) -> Result<Vec<(String, String, String)>, AppError> {
        Ok(accounts::assignments(self.pool()).await?)
    }

    /// Every journey key (for the admin's form; no health data).
    pub async fn journey_keys(&self) -> Result<Vec<String>, AppError> {
        Ok(journey_postgres::read::journeys(self.pool(), None)
            .await?
            .into_iter()
            .map(|j| j.key.into_string())
            .collect())
    }

    /// Lets the family member or counselor `username` see journey `key`; false when they
    /// could already (then nothing changed). Audited. Only admins (and the operator) assign.
    pub async fn assign(
        &self,
        actor: &Actor,
        username: &Username,
        key: &JourneyKey,
    ) -> Result<bool, AppError> {
        self.require(actor, Role::Admin, "assign").await?;
        let added = accounts::assign(self.pool(), username, key)
            .await?
            .map_err(|e| assign_error(e, username, key))?;
        self.write_checks().invalidate_all();
        self.audit_assignment(actor, "assign", username, key)
            .await?;
        Ok(added)
    }

    /// Takes journey `key` away from `username`; false when there was no such assignment
    /// (then nothing changed). Audited.
    pub async fn unassign(
        &self,
        actor: &Actor,
        username: &Username,
        key: &JourneyKey,
    ) -> Result<bool, AppError> {
        self.require(actor, Role::Admin, "unassign").await?;
        let removed = accounts::unassign(self.pool(), username, key).await?;
        self.write_checks().invalidate_all();
        self.audit_assignment(actor, "unassign", username, key)
            .await?;
        Ok(removed)
    }

    async fn audit_assignment(
        &self,
        actor: &Actor,
        action: &str,
        username: &Username,
        key: &JourneyKey,
    ) -> Result<(), AppError> {
        let journey_id = journey_postgres::keys::journey_id(self.pool(), key)
            .await
            .map_err(journey_postgres::StoreError::from)?;
        self.audit(
            actor,
            action,
            journey_id.as_deref(),
            json!({ "user": username.as_str(), "via": actor.via().as_str() }),
        )
        .await
    }
}
