//! Second factors: TOTP (RFC 6238, the totp-rs crate: SHA-1, 6 digits, 30-second steps, one
//! step either side accepted) and single-use recovery codes.
//!
//! - Counselors, researchers and admins must enrol before they reach any journey data
//!   ([`User::needs_second_factor`]); family members may choose to.
//! - `journey user totp NAME` enrols at once and prints the `otpauth://` URI and the
//!   recovery codes once. The web app enrols in two steps: a secret waits until the first
//!   code from the person's app confirms it, then the recovery codes are shown once.
//! - A code is accepted only for a time step later than the last one accepted (a statement
//!   in the database, so two processes agree): no code is accepted twice.
//! - Recovery codes: 10 of 12 characters (60 random bits), kept as SHA-256.
//! - Every failure is in the audit log (`second_factor_failed`), never with the code.

use journey_domain::Username;
use journey_postgres::accounts::{self, User};
use journey_postgres::second_factor as store;
use rand::RngCore;
use serde_json::json;
use sha2::Digest;
use totp_rs::{Builder, Totp};

use crate::access::{Actor, Via};
use crate::{App, AppError};

/// Recovery codes made at each enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The issuer shown in authenticator apps.
const ISSUER: &str = "journey";

/// A new enrolment, shown once: what an authenticator app needs, and the recovery codes
/// (none yet for an enrolment from the web: they come with its confirmation).
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// `otpauth://totp/journey:NAME?secret=...&issuer=journey`
    pub uri: String,
    /// The secret in base 32, for typing into an app by hand.
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

fn totp(secret: Vec<u8>, username: &str) -> Result<Totp, AppError> {
    Builder::new()
        .with_secret(secret)
        .with_account_name(username)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AppError::Internal(format!("a TOTP for {username}: {e:?}")))
}

fn enrolment(totp: &Totp, recovery_codes: Vec<String>) -> Result<Enrolment, AppError> {
    Ok(Enrolment {
        uri: totp
            .to_url()
            .map_err(|e| AppError::Internal(format!("an otpauth URI: {e:?}")))?,
        secret: totp.secret().to_base32(),
        recovery_codes,
    })
}

fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// New recovery codes (shown as `abcd-efgh-ijkm`) and their SHA-256.
fn new_recovery_codes() -> (Vec<String>, Vec<Vec<u8>>) {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let mut random = [0u8; 12];
            rand::rngs::OsRng.fill_bytes(&mut random);
            let plain: Vec<char> = random
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            plain
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// A code as typed, without spaces and hyphens, in lower case.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn recovery_hash(code: &str) -> Vec<u8> {
    sha2::Sha256::digest(normalize(code).as_bytes()).to_vec()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl App {
    /// Enrols `username` at once (the operator's `journey user totp NAME`), replacing any
    /// earlier second factor: the URI and recovery codes to give the person, once. Audited.
    pub async fn enrol_second_factor(
        &self,
        actor: &Actor,
        username: &Username,
    ) -> Result<Enrolment, AppError> {
        if actor.as_user().is_some() {
            return Err(AppError::NotFound("not found".into()));
        }
        let user = accounts::user_by_name(self.pool(), username)
            .await?
            .ok_or_else(|| AppError::invalid("username", format!("no user {username:?}")))?;
        let secret = new_secret();
        let (codes, hashes) = new_recovery_codes();
        store::enrol(
            self.pool(),
            self.master(),
            user.user_id,
            &secret,
            true,
            &hashes,
        )
        .await?;
        self.audit(
            actor,
            "second_factor_enrolled",
            None,
            json!({ "user": username, "via": actor.via().as_str() }),
        )
        .await?;
        enrolment(&totp(secret, username)?, codes)
    }

    /// The enrolment `user` is setting up on the web: the one waiting for its first code,
    /// or a new one. `None` when the user is enrolled already.
    pub async fn waiting_second_factor(&self, user: &User) -> Result<Option<Enrolment>, AppError> {
        let secret = match store::stored(self.pool(), self.master(), user.user_id).await? {
            Some(stored) if stored.confirmed => return Ok(None),
            Some(stored) => stored.secret,
            None => {
                let secret = new_secret();
                store::enrol(
                    self.pool(),
                    self.master(),
                    user.user_id,
                    &secret,
                    false,
                    &[],
                )
                .await?;
                secret
            }
        };
        Ok(Some(enrolment(&totp(secret, &user.username)?, Vec::new())?))
    }

    /// Confirms the waiting enrolment of `user` with a first `code` from their app: the new
    /// recovery codes (to show once), or `None` when the code is not the app's.
    pub async fn confirm_second_factor(
        &self,
        user: &User,
        code: &str,
        via: Via,
    ) -> Result<Option<Vec<String>>, AppError> {
        let Some(stored) = store::stored(self.pool(), self.master(), user.user_id).await? else {
            return Ok(None);
        };
        let totp = totp(stored.secret, &user.username)?;
        let accepted = match totp.check(&normalize(code), unix_now()) {
            Some(step) => store::accept_step(self.pool(), user.user_id, step as i64, true).await?,
            None => false,
        };
        let actor = Actor::user(user.clone(), via);
        if !accepted {
            self.audit(
                &actor,
                "second_factor_failed",
                None,
                json!({ "via": via.as_str(), "at": "enrolment" }),
            )
            .await?;
            return Ok(None);
        }
        let (codes, hashes) = new_recovery_codes();
        store::set_recovery_codes(self.pool(), user.user_id, &hashes).await?;
        self.audit(
            &actor,
            "second_factor_enrolled",
            None,
            json!({ "user": user.username, "via": via.as_str() }),
        )
        .await?;
        Ok(Some(codes))
    }

    /// Checks the second factor `code` of `user` at sign-in: a TOTP code of a time step not
    /// used before, or an unused recovery code (then used up). Failures are audited.
    pub async fn check_second_factor(
        &self,
        user: &User,
        code: &str,
        via: Via,
    ) -> Result<bool, AppError> {
        let code = normalize(code);
        let accepted = if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
            match store::stored(self.pool(), self.master(), user.user_id).await? {
                Some(stored) if stored.confirmed => {
                    match totp(stored.secret, &user.username)?.check(&code, unix_now()) {
                        Some(step) => {
                            store::accept_step(self.pool(), user.user_id, step as i64, false)
                                .await?
                        }
                        None => false,
                    }
                }
                _ => false,
            }
        } else {
            let used =
                store::use_recovery_code(self.pool(), user.user_id, &recovery_hash(&code)).await?;
            if used {
                let left = store::recovery_codes_left(self.pool(), user.user_id).await?;
                self.audit(
                    &Actor::user(user.clone(), via),
                    "recovery_code_used",
                    None,
                    json!({ "via": via.as_str(), "left": left }),
                )
                .await?;
            }
            used
        };
        if !accepted {
            self.audit(
                &Actor::user(user.clone(), via),
                "second_factor_failed",
                None,
                json!({ "via": via.as_str(), "at": "sign_in" }),
            )
            .await?;
        }
        Ok(accepted)
    }

    /// How many unused recovery codes `user` has left.
    pub async fn recovery_codes_left(&self, user: &User) -> Result<i64, AppError> {
        Ok(store::recovery_codes_left(self.pool(), user.user_id).await?)
    }
}
