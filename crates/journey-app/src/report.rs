//! `journey report`: the HTML progress report of a journey or of the cohort, under reports/.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use journey_analytics::{JourneyInput, JourneyMetrics};
pub use journey_charts::pdf::Paper;
use journey_charts::report::{cohort_html, journey_html, journey_pngs, Header};
use journey_charts::report_pdf::journey_pdf;
use journey_domain::JourneyKey;
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

/// What a report of `row` says besides its metrics; `web`: where the page links back to,
/// and its own path.
fn header(row: &JourneyRow, web: Option<(&str, &str)>) -> Header {
    Header {
        key: row.key.to_string(),
        relationship: row.relationship.clone(),
        substances: row.substances.clone(),
        back: web.map(|(back, _)| back.to_string()),
        path: web.map(|(_, path)| path.to_string()),
    }
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

    /// The HTML progress report of `row` (from [`App::journey`]) as of `as_of`, showing the
    /// days from `from` (the journey's start when `None`): the file of `journey report` and
    /// the page of the web app (`web`: where it links back to, and its own path); `None`
    /// when the journey starts after `as_of`.
    pub async fn report_page(
        &self,
        row: &JourneyRow,
        from: Option<NaiveDate>,
        as_of: NaiveDate,
        web: Option<(&str, &str)>,
    ) -> Result<Option<Page>, AppError> {
        let Some((input, metrics)) = one(self.pool(), &row.key, as_of).await? else {
            return Ok(None);
        };
        let header = header(row, web);
        let html = journey_html(&header, &input, &metrics, from, as_of).map_err(internal)?;
        Ok(Some(Page {
            html,
            input,
            metrics,
        }))
    }

    /// The progress report of `row` (from [`App::journey`]) as of `as_of`, showing the days
    /// from `from`, as a PDF for `paper`; `None` when the journey starts after `as_of`.
    pub async fn report_pdf(
        &self,
        row: &JourneyRow,
        from: Option<NaiveDate>,
        as_of: NaiveDate,
        paper: Paper,
    ) -> Result<Option<Vec<u8>>, AppError> {
        let Some((input, metrics)) = one(self.pool(), &row.key, as_of).await? else {
            return Ok(None);
        };
        let header = header(row, None);
        // Laying out and compressing pages is CPU work: off the async threads.
        let pdf = tokio::task::spawn_blocking(move || {
            journey_pdf(&header, &input, &metrics, from, as_of, paper)
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        Ok(Some(pdf))
    }

    /// Writes the report of the journey `key` as of `as_of`, showing the days from `from`,
    /// to `out/<key>/<name>.html` (`<name>`: `<as_of>`, or `<from>-to-<as_of>` for a
    /// period); with `png`, its charts as `<name>-<chart>.png`; with `pdf`, the same report
    /// as `<name>-<paper>.pdf`. Returns the paths.
    pub async fn write_journey_report(
        &self,
        actor: &Actor,
        key: &JourneyKey,
        (from, as_of): (Option<NaiveDate>, NaiveDate),
        out: &Path,
        png: bool,
        pdf: Option<Paper>,
    ) -> Result<Vec<PathBuf>, AppError> {
        let row = self
            .journey(actor, key, Action::ReadReport, "progress report")
            .await?;
        if let Some(from) = from.filter(|from| *from > as_of) {
            return Err(AppError::invalid(
                "from",
                format!("{from} is after the last day, {as_of}"),
            ));
        }
        let Some(Page {
            html,
            input,
            metrics,
        }) = self.report_page(&row, from, as_of, None).await?
        else {
            return Err(AppError::BadRequest(format!(
                "journey {key:?} starts on {}, after {as_of}: nothing to report",
                row.start
            )));
        };
        let name = match from.filter(|from| *from > row.start) {
            Some(from) => format!("{from}-to-{as_of}"),
            None => as_of.to_string(),
        };
        let folder = folder(key);
        let path = out.join(&folder).join(format!("{name}.html"));
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
            paths.extend(journey_pngs(&input, &metrics, as_of, &folder, &name).map_err(internal)?);
        }
        if let Some(paper) = pdf {
            let bytes = self
                .report_pdf(&row, from, as_of, paper)
                .await?
                .ok_or_else(|| AppError::Internal("the report vanished".into()))?;
            let path = out
                .join(&folder)
                .join(format!("{name}-{}.pdf", paper.as_str()));
            std::fs::write(&path, bytes)
                .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
            paths.push(path);
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
