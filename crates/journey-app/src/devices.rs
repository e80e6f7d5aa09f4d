//! "Remember this device": a family member may stay signed in on their own phone for 30
//! days, so the 7 a.m. entry does not start with a password. Opt-in at sign-in, family
//! members only (staff accounts see many families' data), listed and forgotten by the
//! member; only a SHA-256 of the device's token is stored.

use journey_postgres::accounts::{self, Device};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::{Actor, Via};
use crate::{App, AppError, Role, User};

/// Days a remembered device stays signed in (from the day it was remembered).
pub const REMEMBER_DAYS: i32 = 30;

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl App {
    /// Remembers the device holding `token` for `user` (family members only); audited.
    pub async fn remember_device(
        &self,
        user: &User,
        token: &str,
        description: &str,
    ) -> Result<(), AppError> {
        if user.role != Role::Family {
            return Err(AppError::Forbidden(
                "only family members' devices can be remembered",
            ));
        }
        accounts::remember_device(
            self.pool(),
            user.user_id,
            &digest(token),
            description,
            REMEMBER_DAYS,
        )
        .await?;
        let actor = Actor::user(user.clone(), Via::Web);
        self.audit(
            &actor,
            "remember_device",
            None,
            json!({ "days": REMEMBER_DAYS }),
        )
        .await
    }

    /// The family member a device token remembers, if it is still valid (a token of an
    /// account that is no longer a family member's is refused).
    pub async fn remembered_user(&self, token: &str) -> Result<Option<User>, AppError> {
        let user = accounts::remembered_user(self.pool(), &digest(token)).await?;
        Ok(user.filter(|u| u.role == Role::Family))
    }

    /// The devices `user` is remembered on, last used first.
    pub async fn devices(&self, user: &User) -> Result<Vec<Device>, AppError> {
        Ok(accounts::devices(self.pool(), user.user_id).await?)
    }

    /// Forgets a device of `user`: the one with id `device`, or the one holding `token`.
    pub async fn forget_device(
        &self,
        user: &User,
        device: Option<Uuid>,
        token: Option<&str>,
    ) -> Result<bool, AppError> {
        let digest = token.map(digest);
        let forgotten =
            accounts::forget_device(self.pool(), user.user_id, device, digest.as_deref()).await?;
        if forgotten {
            let actor = Actor::user(user.clone(), Via::Web);
            self.audit(&actor, "forget_device", None, json!({})).await?;
        }
        Ok(forgotten)
    }
}
