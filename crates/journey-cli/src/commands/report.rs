//! `journey report --journey KEY | --cohort`: HTML progress reports as files.

use std::path::Path;

use chrono::NaiveDate;
use journey_app::{today, Actor, App, AppError};

pub async fn run(
    app: &App,
    me: &Actor,
    journey: Option<&str>,
    as_of: Option<NaiveDate>,
    out: &Path,
    png: bool,
) -> Result<(), AppError> {
    let as_of = as_of.unwrap_or_else(today);
    let paths = match journey {
        Some(key) => app.write_journey_report(me, key, as_of, out, png).await?,
        None => vec![app.write_cohort_report(me, as_of, out).await?],
    };
    for path in paths {
        println!("{}", path.display());
    }
    Ok(())
}
