//! The figures of shared/spec/metrics.md of the journeys an actor may see.

use chrono::NaiveDate;
use journey_analytics::{EntryInput, JourneyInput, Report};
use journey_postgres::read::{self, Scope};
use journey_postgres::PgPool;

use crate::error::internal;
use crate::{Action, Actor, App, AppError};

impl App {
    /// The figures of metrics.md as of `as_of`: of journey `only`, or of every journey the
    /// actor may see (the cohort is then theirs). Audited as reads of reports.
    pub async fn metrics(
        &self,
        actor: &Actor,
        only: Option<&str>,
        as_of: NaiveDate,
    ) -> Result<Report, AppError> {
        let journeys = self.metric_inputs(actor, only, "metrics").await?;
        journey_analytics::metrics(&journeys, as_of).map_err(internal)
    }

    /// The analytics input of journey `only`, or of every journey the actor may see.
    pub(crate) async fn metric_inputs(
        &self,
        actor: &Actor,
        only: Option<&str>,
        what: &str,
    ) -> Result<Vec<JourneyInput>, AppError> {
        if let Some(key) = only {
            self.journey(actor, key, Action::ReadReport, what).await?;
            return inputs(self.pool(), Scope::Key(key)).await;
        }
        if actor.as_user().is_none() {
            self.visible_journeys(actor, what).await?;
            return inputs(self.pool(), Scope::All).await;
        }
        let mut out = Vec::new();
        for row in self.visible_journeys(actor, what).await? {
            let row = self
                .journey(actor, &row.key, Action::ReadReport, what)
                .await?;
            out.extend(inputs(self.pool(), Scope::Key(&row.key)).await?);
        }
        Ok(out)
    }
}

/// The analytics input of the journeys of `scope`, read from `metric_weeks`.
pub async fn inputs(pool: &PgPool, scope: Scope<'_>) -> Result<Vec<JourneyInput>, AppError> {
    Ok(to_inputs(read::metric_rows(pool, scope).await?))
}

/// The analytics input of metric rows by journey key.
pub fn to_inputs(rows: Vec<(String, Vec<read::MetricRow>)>) -> Vec<JourneyInput> {
    rows.into_iter()
        .map(|(key, rows)| JourneyInput {
            key,
            entries: rows
                .into_iter()
                .map(|row| EntryInput {
                    entry: row.entry,
                    kind: row.kind,
                    on: row.on,
                    retracted: row.retracted,
                    status: row.status,
                    modality: row.modality,
                    reason: row.reason,
                    episode: row.episode,
                    for_safety: row.for_safety,
                    detail: row.detail,
                    score: row.score.and_then(|s| u8::try_from(s).ok()),
                })
                .collect(),
        })
        .collect()
}
