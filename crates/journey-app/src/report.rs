//! `journey report`: the HTML progress report of a journey or of the cohort, under reports/.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use journey_analytics::{JourneyInput, JourneyMetrics};
use journey_charts::report::{cohort_html, journey_html, journey_pngs, Header};
use journey_postgres::read::{JourneyRow, Scope};
use journey_postgres::PgPool;

use crate::error::internal;
use crate::{metrics, Action, Actor, App, AppError};

fn write(path: &Path, html: &str) -> Result<(), AppError> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| AppError::Internal(format!("{}: {e}", folder.display())))?;
    }
    std::fs::write(path, html).map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))
}

/// The folder of a journey's reports under the report folder. Keys are 1-64 of
/// A-Z a-z 0-9 . _ - (interchange.md): safe as a folder name, but for "." and "..".
pub fn folder(key: &str) -> String {
    match key {
        "." | ".." => format!("journey-{}", key.len()),
        _ => key.to_string(),
    }
}

/// A journey's report page with what it was made of.
pub struct Page {
    pub html: String,
    pub input: JourneyInput,
    pub metrics: JourneyMetrics,
}

/// The analytics input and the metrics of the journey `key` as of `as_of`; `None` when the
/// journey starts after `as_of`.
async fn one(
    pool: &PgPool,
    key: &str,
    as_of: NaiveDate,
) -> Result<Option<(JourneyInput, JourneyMetrics)>, AppError> {
    let input = metrics::inputs(pool, Scope::Key(key))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Internal(format!("journey {key:?} has no entries")))?;
    let report =
        journey_analytics::metrics(std::slice::from_ref(&input), as_of).map_err(internal)?;
    Ok(report.journeys.into_iter().next().map(|m| (input, m)))
}

impl App {
    /// The analytics input and metrics of `row` (from [`App::journey`]) as of `as_of`, for
    /// its charts; `None` when the journey starts after `as_of`.
    pub async fn journey_metrics(
        &self,
        row: &JourneyRow,
        as_of: NaiveDate,
    ) -> Result<Option<(JourneyInput, JourneyMetrics)>, AppError> {
        one(self.pool(), &row.key, as_of).await
    }

    /// The HTML progress report of `row` (from [`App::journey`]) as of `as_of`: the file of
    /// `journey report` and the page of the web app; `None` when the journey starts after
    /// `as_of`.
    pub async fn report_page(
        &self,
        row: &JourneyRow,
        as_of: NaiveDate,
        back: Option<&str>,
    ) -> Result<Option<Page>, AppError> {
        let Some((input, metrics)) = one(self.pool(), &row.key, as_of).await? else {
            return Ok(None);
        };
        let header = Header {
            key: row.key.clone(),
            relationship: row.relationship.clone(),
            substances: row.substances.clone(),
            back: back.map(str::to_string),
        };
        let html = journey_html(&header, &input, &metrics, as_of).map_err(internal)?;
        Ok(Some(Page {
            html,
            input,
            metrics,
        }))
    }

    /// Writes the report of the journey `key` as of `as_of` to `out/<key>/<as_of>.html`
    /// (and, with `png`, its charts as `out/<key>/<as_of>-<chart>.png`); returns the paths.
    pub async fn write_journey_report(
        &self,
        actor: &Actor,
        key: &str,
        as_of: NaiveDate,
        out: &Path,
        png: bool,
    ) -> Result<Vec<PathBuf>, AppError> {
        let row = self
            .journey(actor, key, Action::ReadReport, "progress report")
            .await?;
        let Some(Page {
            html,
            input,
            metrics,
        }) = self.report_page(&row, as_of, None).await?
        else {
            return Err(AppError::BadRequest(format!(
                "journey {key:?} starts on {}, after {as_of}: nothing to report",
                row.start
            )));
        };
        let folder = folder(key);
        let path = out.join(&folder).join(format!("{as_of}.html"));
        write(&path, &html)?;
        // Remembered where it is, so that `journey erase` removes it from any folder.
        let written = out.join(&folder);
        let absolute = written
            .canonicalize()
            .map_err(|e| AppError::Internal(format!("{}: {e}", written.display())))?;
        journey_postgres::reports::remember(self.pool(), &row.journey_id, &absolute).await?;
        let mut paths = vec![path];
        if png {
            let folder = out.join(&folder);
            paths.extend(
                journey_pngs(&input, &metrics, as_of, &folder, &as_of.to_string())
                    .map_err(internal)?,
            );
        }
        Ok(paths)
    }

    /// The cohort report (HTML) of the journeys the actor may see, as of `as_of`.
    pub async fn cohort_page(
        &self,
        actor: &Actor,
        as_of: NaiveDate,
        title: &str,
        links: bool,
    ) -> Result<String, AppError> {
        let journeys = self.metric_inputs(actor, None, "cohort report").await?;
        let report = journey_analytics::metrics(&journeys, as_of).map_err(internal)?;
        cohort_html(&report, title, links).map_err(internal)
    }

    /// Writes the cohort report of every journey the actor may see as of `as_of` to
    /// `out/cohort/<as_of>.html`.
    pub async fn write_cohort_report(
        &self,
        actor: &Actor,
        as_of: NaiveDate,
        out: &Path,
    ) -> Result<PathBuf, AppError> {
        let html = self
            .cohort_page(actor, as_of, "Cohort report", false)
            .await?;
        let path = out.join("cohort").join(format!("{as_of}.html"));
        write(&path, &html)?;
        Ok(path)
    }
}
