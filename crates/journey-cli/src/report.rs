//! `journey report`: the HTML progress report of a journey or of the cohort, under reports/.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use journey_charts::report::{cohort_html, journey_html, journey_pngs, Header};
use journey_postgres::read::{self, Scope};
use journey_postgres::{projector, PgPool};

use crate::{metrics, Failure};

fn write(path: &Path, html: &str) -> Result<(), Failure> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| Failure::System(format!("{}: {e}", folder.display())))?;
    }
    std::fs::write(path, html).map_err(|e| Failure::System(format!("{}: {e}", path.display())))
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
    let inputs = metrics::inputs(pool, Scope::Key(key)).await?;
    let input = inputs
        .first()
        .ok_or_else(|| Failure::System(format!("journey {key:?} has no entries")))?;
    let report = journey_analytics::metrics(std::slice::from_ref(input), as_of)
        .map_err(|e| Failure::System(e.to_string()))?;
    let Some(m) = report.journeys.first() else {
        return Err(Failure::BadInput(format!(
            "journey {key:?} starts on {}, after {as_of}: nothing to report",
            row.start
        )));
    };
    let header = Header {
        key: row.key.clone(),
        relationship: row.relationship.clone(),
        substances: row.substances.clone(),
    };
    let html =
        journey_html(&header, input, m, as_of).map_err(|e| Failure::System(e.to_string()))?;
    // Keys are 1-64 of A-Z a-z 0-9 . _ - (interchange.md): safe as a folder name, but for
    // "." and "..".
    let folder = match key {
        "." | ".." => format!("journey-{}", key.len()),
        _ => key.to_string(),
    };
    let path = out.join(&folder).join(format!("{as_of}.html"));
    write(&path, &html)?;
    let mut paths = vec![path];
    if png {
        let folder = out.join(&folder);
        paths.extend(
            journey_pngs(input, m, as_of, &folder, &as_of.to_string())
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
