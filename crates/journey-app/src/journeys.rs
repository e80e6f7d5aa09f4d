//! The journey use cases: record, retract, consent, import, export, erase.
//!
//! Recording: every object is checked as an interchange line first (an error names the
//! field), then recorded in order, one transaction each (journey-postgres `store`): the
//! events, the snapshot, the journey's read rows and, for an API write, the idempotency
//! claim with its answer commit together. Writers of one journey take turns on its snapshot
//! row in the database, in this process or another; writers of different journeys never
//! wait for each other. Once a write commits, its answer is a success: nothing runs after.

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use journey_domain::interchange::{parse_line, to_line, Line};
use journey_domain::{EntryId, JourneyError, JourneyKey};
use journey_postgres::import::{import_from, ImportOptions, ImportReport, OnInvalid, Progress};
use journey_postgres::read::JourneyRow;
use journey_postgres::research::AuditRow;
pub use journey_postgres::store::Claim;
use journey_postgres::store::Written;
use journey_postgres::StoreError;
use serde_json::{json, Value};

use crate::access::{Action, Actor, Via};

/// Journeys read at a time by [`App::export_raw`].
pub const EXPORT_CHUNK: usize = 200;
use crate::{App, AppError};

/// Entries per page of the timeline (pages and API).
pub const PAGE_SIZE: i64 = 50;

fn parse_object(object: &Value) -> Result<Line, AppError> {
    parse_line(&object.to_string()).map_err(invalid_line)
}

fn invalid_line(err: journey_domain::interchange::LineError) -> AppError {
    AppError::Invalid {
        field: err.field,
        message: err.message,
    }
}

fn metadata(actor: &Actor) -> HashMap<String, String> {
    HashMap::from([("via".to_string(), actor.via().as_str().to_string())])
}

/// A new entry id for a line that came without one.
pub fn new_entry_id(via: Via) -> String {
    let prefix = match via {
        Via::Cli | Via::Demo => "c",
        Via::Web | Via::Api => "w",
    };
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// "Not started" said with the key the caller gave.
fn not_started(err: StoreError, key: &str) -> AppError {
    match err {
        StoreError::Rule(JourneyError::NotStarted) => crate::access::no_journey(key),
        other => other.into(),
    }
}

/// What an idempotent write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Idempotent {
    /// Stored now (or already stored: the same entry); the entry id.
    Done(String),
    /// The key was used before with this request: its answer, again.
    Replayed(u16, Value),
    /// The key was used before with another request.
    Mismatch,
}

impl App {
    /// Records interchange `objects` on journey `row`, which `actor` was granted
    /// [`Action::Write`] on by [`App::journey`] (that call wrote the audit row). Every
    /// object is checked before the first is stored; each must be of `row`'s journey.
    /// Returns the entry ids (made where an object had none).
    pub async fn record(
        &self,
        actor: &Actor,
        row: &JourneyRow,
        objects: &[Value],
    ) -> Result<Vec<String>, AppError> {
        self.record_audited(actor, row, objects, None).await
    }

    /// [`App::record`] of a write whose audit row `audit` is still to be written (from
    /// [`App::journey_to_record`]): it commits with the entries, or, when they are refused,
    /// on its own.
    pub async fn record_audited(
        &self,
        actor: &Actor,
        row: &JourneyRow,
        objects: &[Value],
        audit: Option<AuditRow>,
    ) -> Result<Vec<String>, AppError> {
        let lines = match self.lines_of(row, objects) {
            Ok(lines) => lines,
            Err(e) => {
                self.audit_unwritten(audit).await?;
                return Err(e);
            }
        };
        let mut entries = Vec::with_capacity(lines.len());
        for mut line in lines {
            if line.entry.entry.is_empty() {
                line.entry.entry = new_entry_id(actor.via());
            }
            entries.push(line.entry);
        }
        let ids = entries.iter().map(|e| e.entry.clone()).collect();
        // All of them in one transaction, or none.
        self.recorder()
            .record_all_audited(&row.key, entries, Utc::now(), metadata(actor), audit)
            .await
            .map_err(|e| not_started(e, &row.key))?;
        Ok(ids)
    }

    /// The interchange lines of `objects`, each of journey `row`.
    fn lines_of(&self, row: &JourneyRow, objects: &[Value]) -> Result<Vec<Line>, AppError> {
        let mut lines = Vec::with_capacity(objects.len());
        for object in objects {
            let line = parse_object(object)?;
            if line.journey != row.key {
                return Err(AppError::invalid(
                    "journey",
                    format!("{:?} is not this journey's key {:?}", line.journey, row.key),
                ));
            }
            lines.push(line);
        }
        Ok(lines)
    }

    /// Records one interchange line given as text (`journey record`): on a journey the
    /// actor may write to, or a `journey_started` line that starts a new one.
    pub async fn record_line(
        &self,
        actor: &Actor,
        text: &str,
    ) -> Result<(String, String), AppError> {
        let line = parse_line(text).map_err(invalid_line)?;
        let key = JourneyKey::parse(&line.journey)?;
        let starts = matches!(line.entry.body, journey_domain::Body::JourneyStarted { .. });
        let known = match self.journey(actor, &key, Action::Write, "record").await {
            Ok(_) => true,
            Err(AppError::NotFound(_)) if starts && actor.as_user().is_none() => false,
            Err(AppError::NotFound(_)) => {
                return Err(AppError::NotFound(format!(
                    "no journey with key {key:?}: it has not started (its journey_started line comes first)"
                )))
            }
            Err(other) => return Err(other),
        };
        let id = self.record_one(actor, line).await?;
        if !known {
            let journey_id = journey_postgres::keys::journey_id(self.pool(), &key)
                .await
                .map_err(StoreError::from)?;
            self.audit(
                actor,
                "write",
                journey_id.as_deref(),
                json!({ "what": "record", "via": actor.via().as_str() }),
            )
            .await?;
        }
        Ok((key.into_string(), id))
    }

    async fn record_one(&self, actor: &Actor, mut line: Line) -> Result<String, AppError> {
        if line.entry.entry.is_empty() {
            line.entry.entry = new_entry_id(actor.via());
        }
        let id = line.entry.entry.clone();
        self.recorder()
            .record(&line.journey, line.entry, Utc::now(), metadata(actor))
            .await
            .map_err(|e| not_started(e, &line.journey))?;
        Ok(id)
    }

    /// Records interchange `object` on journey `row` under an API `Idempotency-Key`: the
    /// claim, the entry and the claim's answer (what the client is told on success) commit
    /// in one transaction, so a crash rolls all back and the retry runs again. A retry with
    /// the same key and object gets the stored answer and stores nothing; with another
    /// object, [`Idempotent::Mismatch`]. A refusal is returned as the error; the frontend
    /// stores it as the answer with [`App::idempotency_refused`].
    pub async fn record_idempotent(
        &self,
        actor: &Actor,
        row: &JourneyRow,
        object: &Value,
        claim: &Claim,
        audit: Option<AuditRow>,
    ) -> Result<Idempotent, AppError> {
        let line = match self.lines_of(row, std::slice::from_ref(object)) {
            Ok(mut lines) => lines.remove(0),
            Err(e) => {
                self.audit_unwritten(audit).await?;
                return Err(e);
            }
        };
        let entry_id = line.entry.entry.clone();
        let written = self
            .recorder()
            .record_claimed_audited(
                &line.journey,
                line.entry,
                Utc::now(),
                metadata(actor),
                claim,
                audit,
            )
            .await
            .map_err(|e| not_started(e, &row.key))?;
        Ok(match written {
            Written::Done(_) => Idempotent::Done(entry_id),
            Written::Replayed(status, body) => Idempotent::Replayed(status, body),
            Written::Mismatch => Idempotent::Mismatch,
        })
    }

    /// Stores the answer of a refused request (bad input) as `claim`'s answer: a retry with
    /// the same key and request is answered the same, without running again.
    pub async fn idempotency_refused(&self, claim: &Claim) -> Result<(), AppError> {
        Ok(journey_postgres::store::store_refusal(self.pool(), claim).await?)
    }

    /// Retracts entry `entry` of `row` ("entered by mistake"): a `retract` line by the actor.
    pub async fn retract(
        &self,
        actor: &Actor,
        row: &JourneyRow,
        entry: &EntryId,
        reason: &str,
    ) -> Result<String, AppError> {
        let object = json!({
            "journey": row.key,
            "type": "retract",
            "target": entry.as_str(),
            "reason": reason,
            "by": actor.name(),
        });
        let ids = self.record(actor, row, &[object]).await?;
        Ok(ids.into_iter().next().unwrap_or_default())
    }

    /// Records the family's research consent decision on `row` (granted or withdrawn, with
    /// the consent text's version); a repeated decision stores nothing.
    pub async fn consent(
        &self,
        actor: &Actor,
        row: &JourneyRow,
        granted: bool,
        text_version: &str,
    ) -> Result<(), AppError> {
        self.recorder()
            .consent(&row.key, granted, text_version, Utc::now(), metadata(actor))
            .await?;
        Ok(())
    }

    /// Imports a journey file read from `source` a block of lines at a time (all or nothing
    /// unless `skip_invalid`). Invalid lines are in the report, not an error. The read tables
    /// are projected in the same transaction.
    pub async fn import(
        &self,
        actor: &Actor,
        source: &mut (dyn std::io::BufRead + Send),
        skip_invalid: bool,
        progress: Option<Progress>,
        on_invalid: Option<OnInvalid>,
        block_lines: usize,
    ) -> Result<ImportReport, AppError> {
        let options = ImportOptions {
            skip_invalid,
            recorded_at: Utc::now(),
            progress,
            on_invalid,
            block_lines,
            roll_back: false,
        };
        let report = import_from(self.pool(), self.master(), source, &options).await?;
        if report.stored > 0 {
            self.audit(
                actor,
                "write",
                None,
                json!({ "what": "import", "via": actor.via().as_str(), "entries": report.stored }),
            )
            .await?;
        }
        Ok(report)
    }

    /// Every stored entry of every journey the actor may see (or of `only`), retracts
    /// included, as journey file lines (without their newline) given to `each` in key
    /// order: what `journey export --raw` writes. Read `chunk` journeys at a time
    /// ([`EXPORT_CHUNK`]), so memory does not grow with the store. Audited as a read of entries. Returns the
    /// number of lines.
    pub async fn export_raw(
        &self,
        actor: &Actor,
        only: Option<&JourneyKey>,
        chunk: usize,
        mut each: impl FnMut(&str) -> Result<(), AppError>,
    ) -> Result<u64, AppError> {
        let mut rows = match only {
            Some(key) => vec![
                self.journey(actor, key, Action::ReadEntries, "export")
                    .await?,
            ],
            None => self.visible_journeys(actor, "export").await?,
        };
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        let journeys: Vec<(String, String)> = rows
            .into_iter()
            .map(|r| (r.journey_id, r.key.into_string()))
            .collect();
        let mut lines = 0;
        for chunk in journeys.chunks(chunk.max(1)) {
            let stored =
                journey_postgres::read::entries_of(self.pool(), self.master(), chunk).await?;
            for line in &stored {
                each(&to_line(&line.journey, &line.entry))?;
                lines += 1;
            }
        }
        Ok(lines)
    }

    /// A page of `row`'s entries for the timeline, newest day first (notes and handles
    /// opened). `row` comes from [`App::journey`] with [`Action::ReadEntries`].
    pub async fn timeline(
        &self,
        row: &JourneyRow,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<crate::TimelineEntry>, AppError> {
        Ok(journey_postgres::accounts::timeline(
            self.pool(),
            self.master(),
            &row.journey_id,
            limit,
            offset,
        )
        .await?)
    }

    /// The family's latest research decision on `row`: granted, text version, when.
    pub async fn consent_state(
        &self,
        row: &JourneyRow,
    ) -> Result<Option<(bool, String, chrono::DateTime<Utc>)>, AppError> {
        Ok(journey_postgres::research::consent_of(self.pool(), &row.journey_id).await?)
    }

    /// The entries of journey `row` that `which` names (a day, a type, one entry).
    pub async fn entries(
        &self,
        row: &JourneyRow,
        which: journey_postgres::accounts::Listing<'_>,
    ) -> Result<Vec<crate::TimelineEntry>, AppError> {
        Ok(
            journey_postgres::accounts::list(self.pool(), self.master(), &row.journey_id, which)
                .await?,
        )
    }

    /// Erases journey `key`: destroys its key (its notes and handles can never be read
    /// again), records the erasure, purges it from every read table, and deletes its report
    /// folders: every folder `journey report` wrote it to, and `<reports>/<key>/`. Returns
    /// the folders removed.
    ///
    /// The folders go first: a crash after that leaves a journey that a second `erase`
    /// erases, while a crash after the commit would leave folders nobody could find (the
    /// key that names them is gone). The erasure's event records the actor in its own
    /// transaction; the audit row follows it.
    pub async fn erase(
        &self,
        actor: &Actor,
        key: &JourneyKey,
        reports: &Path,
    ) -> Result<Vec<std::path::PathBuf>, AppError> {
        let row = self.journey(actor, key, Action::Write, "erase").await?;
        self.write_checks().invalidate_all();
        let mut folders = journey_postgres::reports::folders(self.pool(), &row.journey_id).await?;
        folders.push(reports.join(crate::report::folder(key)));
        let mut removed = Vec::new();
        for folder in folders {
            if folder.exists() {
                std::fs::remove_dir_all(&folder)
                    .map_err(|e| AppError::Internal(format!("{}: {e}", folder.display())))?;
                removed.push(folder);
            }
        }
        let Some(journey_id) = self
            .recorder()
            .erase(key, Utc::now(), metadata(actor))
            .await?
        else {
            return Err(crate::access::no_journey(key));
        };
        self.audit(
            actor,
            "erase",
            Some(&journey_id),
            json!({ "via": actor.via().as_str() }),
        )
        .await?;
        Ok(removed)
    }
}
