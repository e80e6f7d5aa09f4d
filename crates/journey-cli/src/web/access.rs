//! Who may do what to which journey, checked on every read and write, and written to the
//! audit log.
//!
//! | role       | assigned journey                              | any other journey |
//! |------------|-----------------------------------------------|-------------------|
//! | family     | timeline, entries, record, retract, report, metrics | 404         |
//! | counselor  | report, metrics; 403 for timeline, entries, writes  | 404         |
//! | researcher | 404 (research export only, consented journeys, anonymized) | 404 |
//! | admin      | 404 (assigns people to journeys; reads no health data)     | 404 |

use journey_postgres::accounts::{self, Role, User};
use journey_postgres::read::JourneyRow;
use serde_json::json;

use super::error::WebError;
use super::AppState;

/// What a request does to a journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Progress report, metrics, charts: no notes, no handles.
    ReadReport,
    /// The timeline and the entry list (notes, handles).
    ReadEntries,
    /// Record or retract entries, give or withdraw research consent.
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

/// The journey `key` if `user` may do `action` to it; writes the access to the audit log.
pub async fn journey(
    state: &AppState,
    user: &User,
    key: &str,
    action: Action,
    what: &str,
) -> Result<JourneyRow, WebError> {
    if !matches!(user.role, Role::Family | Role::Counselor) {
        return Err(WebError::NotFound);
    }
    // A counselor's request for entries or a write is answered 403 (below) and not audited.
    let allowed = user.role == Role::Family || action == Action::ReadReport;
    let detail = json!({ "what": what });
    // A write's audit row is written by the same statement as the access check and waits
    // for the disk; a read's goes to the audit writer (`AuditWriter`), which stores the
    // reads of many requests in one statement moments later.
    let audit = (allowed && action == Action::Write).then_some((
        user.username.as_str(),
        action.audit_name(),
        &detail,
    ));
    let Some(row) = accounts::visible_journey(&state.pool, user.user_id, key, audit).await? else {
        return Err(WebError::NotFound);
    };
    if !allowed {
        return Err(WebError::Forbidden(
            "counselors see a family's progress report; the entries and the recording are the family's",
        ));
    }
    if action != Action::Write {
        state
            .audit
            .read(&user.username, action.audit_name(), &row.journey_id, detail)
            .await?;
    }
    Ok(row)
}

/// Only users of `role` may go on (others get 404: the page does not exist for them).
pub fn require(user: &User, role: Role) -> Result<(), WebError> {
    if user.role == role {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}
