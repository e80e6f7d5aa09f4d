//! The figures of shared/spec/metrics.md of the journeys an actor may see.

use chrono::NaiveDate;
use journey_analytics::{Cohort, CohortFacts, EntryInput, JourneyInput, JourneyMetrics, Report};
use journey_domain::JourneyKey;
use journey_postgres::read::{self, Scope};
use journey_postgres::PgPool;

use crate::error::internal;
use crate::{Action, Actor, App, AppError};

/// Journeys read and computed at a time by [`App::metrics`] and `journey metrics`.
pub const CHUNK_JOURNEYS: usize = 200;

impl App {
    /// The figures of metrics.md as of `as_of`: of journey `only`, or of every journey the
    /// actor may see (the cohort is then theirs). Audited as reads of reports.
    pub async fn metrics(
        &self,
        actor: &Actor,
        only: Option<&JourneyKey>,
        as_of: NaiveDate,
    ) -> Result<Report, AppError> {
        let mut journeys = Vec::new();
        let cohort = self
            .metrics_each(actor, only, as_of, CHUNK_JOURNEYS, |m| {
                journeys.push(m.clone());
                Ok(())
            })
            .await?;
        Ok(Report {
            as_of,
            journeys,
            cohort,
        })
    }

    /// The figures of [`App::metrics`], a journey at a time: `each` is given every
    /// journey's metrics in key order, `chunk` journeys being read and computed at once
    /// (the memory they take does not grow with the cohort); the cohort's figures, from a
    /// few numbers per journey, are returned at the end.
    pub async fn metrics_each(
        &self,
        actor: &Actor,
        only: Option<&JourneyKey>,
        as_of: NaiveDate,
        chunk: usize,
        each: impl FnMut(&JourneyMetrics) -> Result<(), AppError>,
    ) -> Result<Cohort, AppError> {
        let journeys = self.visible_ids(actor, only, "metrics").await?;
        self.metrics_of(&journeys, as_of, chunk, each).await
    }

    /// [`App::metrics_each`] over `journeys` (id, key), access already checked (and the
    /// benchmark's prefix of a cohort).
    pub async fn metrics_of(
        &self,
        journeys: &[(String, String)],
        as_of: NaiveDate,
        chunk: usize,
        mut each: impl FnMut(&JourneyMetrics) -> Result<(), AppError>,
    ) -> Result<Cohort, AppError> {
        let mut facts = Vec::new();
        for part in journeys.chunks(chunk.max(1)) {
            let inputs = to_inputs(read::metric_rows_for(self.pool(), part).await?);
            let report = journey_analytics::metrics(&inputs, as_of).map_err(internal)?;
            for m in &report.journeys {
                facts.push(CohortFacts::of(m));
                each(m)?;
            }
        }
        Ok(journey_analytics::cohort_of(&facts, as_of))
    }

    /// (journey id, key) of journey `only`, or of every journey the actor may see, in key
    /// order; each access checked and audited as for [`App::metric_inputs`].
    async fn visible_ids(
        &self,
        actor: &Actor,
        only: Option<&JourneyKey>,
        what: &str,
    ) -> Result<Vec<(String, String)>, AppError> {
        let mut rows = Vec::new();
        if let Some(key) = only {
            rows.push(self.journey(actor, key, Action::ReadReport, what).await?);
        } else if actor.as_user().is_none() {
            rows = self.visible_journeys(actor, what).await?;
        } else {
            for row in self.visible_journeys(actor, what).await? {
                rows.push(
                    self.journey(actor, &row.key, Action::ReadReport, what)
                        .await?,
                );
            }
        }
        let mut ids: Vec<(String, String)> = rows
            .into_iter()
            .map(|r| (r.journey_id, r.key.into_string()))
            .collect();
        ids.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(ids)
    }

    /// The analytics input of journey `only`, or of every journey the actor may see.
    pub(crate) async fn metric_inputs(
        &self,
        actor: &Actor,
        only: Option<&JourneyKey>,
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
