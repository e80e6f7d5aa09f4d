//! Who may do what to which journey, checked on every read and write, and written to the
//! audit log. Every frontend comes through here: a journey row ([`JourneyRow`]) reaches a
//! frontend only from [`App::journey`] or [`App::visible_journeys`].
//!
//! | actor      | assigned journey                              | any other journey |
//! |------------|-----------------------------------------------|-------------------|
//! | family     | timeline, entries, record, retract, report, metrics | 404         |
//! | counselor  | report, metrics; 403 for timeline, entries, writes  | 404         |
//! | researcher | 404 (research export only, consented journeys, anonymized) | 404 |
//! | admin      | 404 (assigns people to journeys; reads no health data)     | 404 |
//! | operator   | every journey (the `journey` command on the machine)       |     |
//!
//! Audit rows: `actor` (username, or the operator's login name), `action` (`write`,
//! `read_entries`, `read_report`, `access_refused`, ...), `journey_id`, `detail` `{"what", "via"}`. A write's
//! row is stored before the write (for a user in the same statement as the access check,
//! committed without waiting for the disk: the write's durable commit flushes it); a read's
//! is handed to a writer that stores many in one statement moments later.

use journey_domain::{JourneyKey, Username};
use journey_postgres::accounts::{self, Role, User};
use journey_postgres::read::JourneyRow;
use journey_postgres::research::AuditRow;
use serde_json::{json, Value};

use crate::{App, AppError};

/// What a request does to a journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Progress report, metrics, charts: no notes, no handles.
    ReadReport,
    /// The timeline and the entry list (notes, handles).
    ReadEntries,
    /// Record or retract entries, give or withdraw research consent, erase.
    Write,
}

impl Action {
    fn audit_name(self) -> &'static str {
        match self {
            Action::ReadReport => "read_report",
            Action::ReadEntries => "read_entries",
            Action::Write => "write",
        }
    }
}

/// Which frontend an action came through (stored with events and audit rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cli,
    Web,
    Api,
    Demo,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Cli => "cli",
            Via::Web => "web",
            Via::Api => "api",
            Via::Demo => "demo",
        }
    }
}

/// Who acts: a signed-in user of the app, or the operator of the `journey` command.
#[derive(Debug, Clone)]
pub struct Actor {
    name: String,
    user: Option<User>,
    via: Via,
}

impl Actor {
    /// The operator on the machine (the `journey` command), named by their login name.
    pub fn operator(name: impl Into<String>, via: Via) -> Actor {
        Actor {
            name: name.into(),
            user: None,
            via,
        }
    }

    /// A signed-in user of the web app or the API.
    pub fn user(user: User, via: Via) -> Actor {
        Actor {
            name: user.username.clone(),
            user: Some(user),
            via,
        }
    }

    /// The name in the audit log (and, for a family member, the `by` of their entries).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn via(&self) -> Via {
        self.via
    }

    /// The signed-in user, if the actor is one.
    pub fn as_user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    fn detail(&self, what: &str) -> Value {
        json!({ "what": what, "via": self.via.as_str() })
    }

    /// Whether the actor may do what only users of `role` (and the operator) may do.
    fn has_role(&self, role: Role) -> bool {
        self.user.as_ref().is_none_or(|user| user.role == role)
    }
}

/// "No journey with key": a key that does not exist, or that the actor may not see.
pub(crate) fn no_journey(key: &str) -> AppError {
    AppError::NotFound(format!("no journey with key {key:?}"))
}

/// The journey key a URL or an argument names. A key that cannot exist (a NUL character,
/// too long, ...) is not looked up: it is not found, never a failure of the database.
pub fn journey_key(text: &str) -> Result<JourneyKey, AppError> {
    JourneyKey::parse(text).map_err(|_| no_journey(text))
}

impl App {
    /// The journey `key` if `actor` may do `action` to it; writes the access to the audit
    /// log (what = what the access is for, e.g. "timeline").
    pub async fn journey(
        &self,
        actor: &Actor,
        key: &JourneyKey,
        action: Action,
        what: &str,
    ) -> Result<JourneyRow, AppError> {
        let detail = actor.detail(what);
        let Some(user) = &actor.user else {
            let row = journey_postgres::read::journeys(self.pool(), Some(key.as_str()))
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| no_journey(key))?;
            self.audit(actor, action.audit_name(), Some(&row.journey_id), detail)
                .await?;
            return Ok(row);
        };
        if !matches!(user.role, Role::Family | Role::Counselor) {
            self.audit(actor, "access_refused", None, detail).await?;
            return Err(no_journey(key));
        }
        // A counselor's request for entries or a write is answered 403 (below), and audited.
        let allowed = user.role == Role::Family || action == Action::ReadReport;
        // A write's audit row is written by the same statement as the access check, whose
        // commit does not wait for the disk: the write's own commit, which does, comes later
        // in the same log and flushes it too, so no write is ever durable without its audit
        // row, and a write costs one wait for the disk, not two. A read's goes to the audit
        // writer. (A family member's API write whose check is remembered has its row
        // committed with the write itself: `journey_to_record`.)
        let audit = (allowed && action == Action::Write).then_some((
            user.username.as_str(),
            action.audit_name(),
            &detail,
        ));
        let pool = if audit.is_some() {
            self.checks()
        } else {
            self.pool()
        };
        let Some(row) = accounts::visible_journey(pool, user.user_id, key, audit).await? else {
            // Refused: not said which journey (one that exists looks like one that does not).
            self.audit(actor, "access_refused", None, detail).await?;
            return Err(no_journey(key));
        };
        if !allowed {
            self.audit(actor, "access_refused", Some(&row.journey_id), detail)
                .await?;
            return Err(AppError::Forbidden(
                "counselors see a family's progress report; the entries and the recording are the family's",
            ));
        }
        if action != Action::Write {
            self.0
                .audit
                .read(&user.username, action.audit_name(), &row.journey_id, detail)
                .await?;
        }
        Ok(row)
    }

    /// [`App::journey`] for a family member's write ([`Action::Write`]), with its audit row
    /// when that row is still to be written: a check made less than a second ago for the same
    /// person and journey is not made again, and then the row goes with the write
    /// ([`App::record_audited`]: committed in the write's own transaction). Otherwise the
    /// check runs, writes the row itself, and is kept a second. An unassignment, an erasure
    /// or a removed account holds in every process within a second.
    pub async fn journey_to_record(
        &self,
        actor: &Actor,
        key: &JourneyKey,
        what: &str,
    ) -> Result<(JourneyRow, Option<AuditRow>), AppError> {
        let Some(user) = actor.as_user().filter(|u| u.role == Role::Family) else {
            return Ok((self.journey(actor, key, Action::Write, what).await?, None));
        };
        let checked = (user.user_id, key.as_str().to_string());
        if let Some(row) = self.write_checks().get(&checked) {
            let audit = AuditRow {
                at: chrono::Utc::now(),
                actor: user.username.as_str().to_string(),
                action: Action::Write.audit_name().to_string(),
                journey_id: Some(row.journey_id.clone()),
                detail: actor.detail(what),
            };
            return Ok((row, Some(audit)));
        }
        let row = self.journey(actor, key, Action::Write, what).await?;
        self.write_checks().insert(checked, row.clone());
        Ok((row, None))
    }

    /// Writes the audit row of a write that was refused before it reached the store.
    pub(crate) async fn audit_unwritten(&self, audit: Option<AuditRow>) -> Result<(), AppError> {
        if let Some(row) = audit {
            journey_postgres::research::audit_many(self.checks(), std::slice::from_ref(&row))
                .await?;
        }
        Ok(())
    }

    /// The journeys `actor` may see: a user's assigned journeys (none for researchers and
    /// admins), every journey for the operator. Audited as one read of the list (`what`)
    /// when the list is of health data (a counselor's or the operator's).
    pub async fn visible_journeys(
        &self,
        actor: &Actor,
        what: &str,
    ) -> Result<Vec<JourneyRow>, AppError> {
        let rows = match &actor.user {
            Some(user) => accounts::visible_journeys(self.pool(), user.user_id).await?,
            None => journey_postgres::read::journeys(self.pool(), None).await?,
        };
        let health_data = actor
            .user
            .as_ref()
            .is_none_or(|u| u.role == Role::Counselor);
        if health_data {
            let mut detail = actor.detail(what);
            detail["journeys"] = json!(rows.len());
            self.audit(actor, "read_report", None, detail).await?;
        }
        Ok(rows)
    }

    /// Appends an audit row now (writes, sign-ins, exports, assignments).
    pub(crate) async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        journey_id: Option<&str>,
        detail: Value,
    ) -> Result<(), AppError> {
        journey_postgres::research::audit(self.pool(), actor.name(), action, journey_id, detail)
            .await?;
        Ok(())
    }

    /// Only users of `role` (and the operator) may go on to `what`; others get 404 (the page
    /// does not exist for them) and an `access_refused` row in the audit log.
    pub async fn require(&self, actor: &Actor, role: Role, what: &str) -> Result<(), AppError> {
        if actor.has_role(role) {
            return Ok(());
        }
        let mut detail = actor.detail(what);
        detail["needs"] = json!(role.as_str());
        self.audit(actor, "access_refused", None, detail).await?;
        Err(AppError::NotFound("not found".into()))
    }

    /// Records a form refused for a missing or wrong CSRF token: by the signed-in `actor`,
    /// or by someone not signed in (`None`).
    pub async fn audit_csrf_refused(
        &self,
        actor: Option<&Actor>,
        what: &str,
        via: Via,
    ) -> Result<(), AppError> {
        let anonymous = Actor::operator("unknown", via);
        let actor = actor.unwrap_or(&anonymous);
        let mut detail = actor.detail(what);
        detail["refused"] = json!("csrf");
        self.audit(actor, "access_refused", None, detail).await
    }

    /// Records a sign-in of `user` in the audit log.
    pub async fn audit_sign_in(&self, user: &User, via: Via) -> Result<(), AppError> {
        let actor = Actor::user(user.clone(), via);
        self.audit(&actor, "sign_in", None, json!({ "via": via.as_str() }))
            .await
    }

    /// Records a failed sign-in (a wrong password) in the audit log: under the username
    /// when it is an account's, else as `unknown` (what was typed may be a password typed
    /// in the wrong box, so it is never stored).
    pub async fn audit_failed_sign_in(&self, username: &str, via: Via) -> Result<(), AppError> {
        // What was typed is looked up only when it can be a username.
        let known = match Username::parse(username) {
            Ok(name) => accounts::user_by_name(self.pool(), &name).await?.is_some(),
            Err(_) => false,
        };
        let actor = Actor::operator(if known { username } else { "unknown" }, via);
        self.audit(
            &actor,
            "sign_in_failed",
            None,
            json!({ "via": via.as_str() }),
        )
        .await
    }
}
