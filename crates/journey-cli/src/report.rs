//! `journey report`: the HTML progress report of a journey or of the cohort, under reports/.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use journey_analytics::{JourneyInput, JourneyMetrics};
use journey_charts::report::{cohort_html, journey_html, journey_pngs, Header};
use journey_postgres::read::{self, JourneyRow, Scope};
use journey_postgres::{projector, PgPool};

use crate::{metrics, Failure};

fn write(path: &Path, html: &str) -> Result<(), Failure> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| Failure::System(format!("{}: {e}", folder.display())))?;
    }
    std::fs::write(path, html).map_err(|e| Failure::System(format!("{}: {e}", path.display())))
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
pub async fn one(
    pool: &PgPool,
    key: &str,
    as_of: NaiveDate,
) -> Result<Option<(JourneyInput, JourneyMetrics)>, Failure> {
    let input = metrics::inputs(pool, Scope::Key(key))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::System(format!("journey {key:?} has no entries")))?;
    let report = journey_analytics::metrics(std::slice::from_ref(&input), as_of)
        .map_err(|e| Failure::System(e.to_string()))?;
    Ok(report.journeys.into_iter().next().map(|m| (input, m)))
}

/// The HTML report of the journey `row` as of `as_of` (the file of `journey report` and the
/// page of the web app); `None` when the journey starts after `as_of`.
pub async fn page(
    pool: &PgPool,
    row: &JourneyRow,
    as_of: NaiveDate,
) -> Result<Option<Page>, Failure> {
    let Some((input, metrics)) = one(pool, &row.key, as_of).await? else {
        return Ok(None);
    };
    let header = Header {
        key: row.key.clone(),
        relationship: row.relationship.clone(),
        substances: row.substances.clone(),
    };
    let html = journey_html(&header, &input, &metrics, as_of)
        .map_err(|e| Failure::System(e.to_string()))?;
    Ok(Some(Page {
        html,
        input,
        metrics,
    }))
}

/// Writes the report of the journey `key` as of `as_of` to `out/<key>/<as_of>.html` (and,
/// with `png`, its charts as `out/<key>/<as_of>-<chart>.png`); returns the written paths.
pub async fn journey(
    pool: &PgPool,
    key: &str,
    as_of: NaiveDate,
    out: &Path,
    png: bool,
) -> Result<Vec<PathBuf>, Failure> {
    projector::catch_up(pool).await?;
    let Some(row) = read::journeys(pool, Some(key)).await?.into_iter().next() else {
        return Err(Failure::BadInput(format!("no journey with key {key:?}")));
    };
    let Some(Page {
        html,
        input,
        metrics,
    }) = page(pool, &row, as_of).await?
    else {
        return Err(Failure::BadInput(format!(
            "journey {key:?} starts on {}, after {as_of}: nothing to report",
            row.start
        )));
    };
    let folder = folder(key);
    let path = out.join(&folder).join(format!("{as_of}.html"));
    write(&path, &html)?;
    let mut paths = vec![path];
    if png {
        let folder = out.join(&folder);
        paths.extend(
            journey_pngs(&input, &metrics, as_of, &folder, &as_of.to_string())
                .map_err(|e| Failure::System(e.to_string()))?,
        );
    }
    Ok(paths)
}

/// Writes the cohort report of every journey as of `as_of` to `out/cohort/<as_of>.html`.
pub async fn cohort(pool: &PgPool, as_of: NaiveDate, out: &Path) -> Result<PathBuf, Failure> {
    let report = metrics::report(pool, None, as_of).await?;
    let html = cohort_html(&report, "Cohort report").map_err(|e| Failure::System(e.to_string()))?;
    let path = out.join("cohort").join(format!("{as_of}.html"));
    write(&path, &html)?;
    Ok(path)
}
