//! The sessions of each account: a person lists and ends their own, an admin (or the
//! operator) ends all of someone's, and a password change ends every other session of its
//! user. Each end is in the audit log (`session_ended`, `sessions_ended`,
//! `password_changed`), never with a password.

use journey_domain::Username;
use journey_postgres::accounts::{self, Role, User};
use journey_postgres::sessions as store;
pub use journey_postgres::sessions::SessionRow;
use serde_json::json;
use uuid::Uuid;

use crate::access::{Actor, Via};
use crate::accounts::PASSWORD_CHARS_MIN;
use crate::{App, AppError};

impl App {
    /// Opens a session of `user` signing in through `via` on `device` (in words).
    pub async fn open_session(
        &self,
        user: &User,
        device: &str,
        via: Via,
    ) -> Result<Uuid, AppError> {
        let via = if via == Via::Api { "api" } else { "web" };
        Ok(store::open(self.pool(), user.user_id, device, via).await?)
    }

    /// The user of session `id`, while it has not been ended.
    pub async fn session_user(&self, id: Uuid) -> Result<Option<User>, AppError> {
        Ok(accounts::user_by_session(self.pool(), id).await?)
    }

    /// Marks session `id` as seen now.
    pub async fn touch_session(&self, id: Uuid) -> Result<(), AppError> {
        Ok(store::touch(self.pool(), id).await?)
    }

    /// The sessions of `user` that have not timed out, last seen first.
    pub async fn sessions(
        &self,
        user: &User,
        idle_minutes: i64,
        absolute_hours: i64,
    ) -> Result<Vec<SessionRow>, AppError> {
        Ok(store::list(self.pool(), user.user_id, idle_minutes, absolute_hours).await?)
    }

    /// Ends session `id` of the signed-in `actor` (their own only: another's is not found).
    pub async fn end_session(&self, actor: &Actor, id: Uuid) -> Result<bool, AppError> {
        let Some(user) = actor.as_user() else {
            return Ok(false);
        };
        let ended = store::end(self.pool(), user.user_id, id).await?;
        if ended {
            self.audit(
                actor,
                "session_ended",
                None,
                json!({ "via": actor.via().as_str() }),
            )
            .await?;
        }
        Ok(ended)
    }

    /// Forgets the session `id` of `user` at sign-out (audited as the sign-out).
    pub async fn sign_out(&self, user: &User, id: Option<Uuid>, via: Via) -> Result<(), AppError> {
        if let Some(id) = id {
            store::end(self.pool(), user.user_id, id).await?;
        }
        let actor = Actor::user(user.clone(), via);
        self.audit(&actor, "sign_out", None, json!({ "via": via.as_str() }))
            .await
    }

    /// Ends every session of `username` (an admin, or the operator); how many. Audited.
    pub async fn end_sessions_of(
        &self,
        actor: &Actor,
        username: &Username,
    ) -> Result<u64, AppError> {
        self.require(actor, Role::Admin, "end_sessions").await?;
        let user = accounts::user_by_name(self.pool(), username)
            .await?
            .ok_or_else(|| AppError::invalid("username", format!("no user {username:?}")))?;
        let ended = store::end_all(self.pool(), user.user_id, None).await?;
        self.audit(
            actor,
            "sessions_ended",
            None,
            json!({ "user": username, "sessions": ended, "via": actor.via().as_str() }),
        )
        .await?;
        Ok(ended)
    }

    /// The signed-in `user` changes their password: `current` must be theirs and `new` at
    /// least [`PASSWORD_CHARS_MIN`] characters. Every other session of theirs (all but
    /// `keep`) ends; how many did. Audited.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        keep: Option<Uuid>,
        via: Via,
    ) -> Result<u64, AppError> {
        if self.authenticate(&user.username, current).await?.is_none() {
            return Err(AppError::invalid(
                "current",
                "that is not your current password",
            ));
        }
        self.set_password(user, new, keep, &Actor::user(user.clone(), via))
            .await
    }

    /// The operator sets a new password for `username` (`journey user password`): every
    /// session of theirs ends; how many did. Audited.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        username: &Username,
        new: &str,
    ) -> Result<u64, AppError> {
        if actor.as_user().is_some() {
            return Err(AppError::NotFound("not found".into()));
        }
        let user = accounts::user_by_name(self.pool(), username)
            .await?
            .ok_or_else(|| AppError::invalid("username", format!("no user {username:?}")))?;
        self.set_password(&user, new, None, actor).await
    }

    async fn set_password(
        &self,
        user: &User,
        new: &str,
        keep: Option<Uuid>,
        actor: &Actor,
    ) -> Result<u64, AppError> {
        if new.chars().count() < PASSWORD_CHARS_MIN {
            return Err(AppError::invalid(
                "password",
                format!("the password must have at least {PASSWORD_CHARS_MIN} characters"),
            ));
        }
        let new = new.to_string();
        let hash = tokio::task::spawn_blocking(move || crate::accounts::hash_password(&new))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        accounts::set_password(self.pool(), &user.username, &hash).await?;
        let ended = store::end_all(self.pool(), user.user_id, keep).await?;
        self.audit(
            actor,
            "password_changed",
            None,
            json!({ "user": user.username, "other_sessions_ended": ended, "via": actor.via().as_str() }),
        )
        .await?;
        Ok(ended)
    }

    /// Forgets sessions older than `absolute_hours` (`journey serve` calls it now and then).
    pub async fn forget_old_sessions(&self, absolute_hours: i64) -> Result<u64, AppError> {
        Ok(store::forget_old(self.pool(), absolute_hours).await?)
    }
}

impl App {
    /// The newest `limit` rows of the audit log (at most 1,000), of `actor` and on `day`
    /// (UTC) when given: for admins and the operator (`journey audit`).
    pub async fn audit_rows(
        &self,
        reader: &Actor,
        actor: Option<&str>,
        day: Option<chrono::NaiveDate>,
        limit: i64,
    ) -> Result<Vec<journey_postgres::audit_log::Logged>, AppError> {
        self.require(reader, Role::Admin, "audit_log").await?;
        Ok(
            journey_postgres::audit_log::rows(self.pool(), actor, day, limit.clamp(1, 1000))
                .await?,
        )
    }
}
