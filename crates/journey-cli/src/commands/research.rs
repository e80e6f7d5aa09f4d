//! `journey research-export`: the anonymized dataset of the consented journeys.

use std::path::Path;

use chrono::NaiveDate;
use journey_app::research::Request;
use journey_app::{today, Actor, App, AppError, ProjectName};

pub async fn run(
    app: &App,
    me: &Actor,
    project: &ProjectName,
    out: &Path,
    as_of: Option<NaiveDate>,
    min_cell: u32,
    chunk_journeys: usize,
) -> Result<(), AppError> {
    let written = app
        .research_export(
            me,
            &Request {
                project,
                out,
                as_of: as_of.unwrap_or_else(today),
                min_cell: min_cell as usize,
                chunk_journeys,
            },
        )
        .await?;
    println!(
        "{} subjects ({} with relationship and substances suppressed, k = {min_cell}) -> {}",
        written.subjects,
        written.suppressed,
        out.display()
    );
    for file in &written.files {
        println!("  {}", file.display());
    }
    println!("manifest sha256 {}", written.manifest_sha256);
    Ok(())
}
