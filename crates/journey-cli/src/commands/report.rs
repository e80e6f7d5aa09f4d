//! `journey report --journey KEY | --cohort`: progress reports as files (HTML; a journey's
//! also as PDF).

use std::path::Path;

use chrono::NaiveDate;
use journey_app::report::Paper;
use journey_app::{today, Actor, App, AppError, JourneyKey};

pub async fn run(
    app: &App,
    me: &Actor,
    journey: Option<&JourneyKey>,
    (from, as_of): (Option<NaiveDate>, Option<NaiveDate>),
    out: &Path,
    png: bool,
    pdf: Option<Paper>,
) -> Result<(), AppError> {
    let as_of = as_of.unwrap_or_else(today);
    let paths = match journey {
        Some(key) => {
            app.write_journey_report(me, key, (from, as_of), out, png, pdf)
                .await?
        }
        None => vec![app.write_cohort_report(me, as_of, out).await?],
    };
    for path in paths {
        println!("{}", path.display());
    }
    Ok(())
}
