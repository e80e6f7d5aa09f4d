//! `journey bench research`: a research export of the `bench metrics` cohort, next to COPY.

use std::collections::HashMap;
use std::time::Instant;

use chrono::Utc;
use journey_app::AppError;
use journey_postgres::scratch;
use journey_postgres::store::Recorder;

use super::{
    app_over, master, metrics_cohort, peak_memory_mb, reset_peak_memory, Outcome, METRICS_DB,
};

pub(crate) async fn bench_research(
    server: &journey_postgres::PgConnectOptions,
    journeys: usize,
    cohort: usize,
) -> Outcome {
    let synth = metrics_cohort(cohort, 365);
    let pool = scratch::keep_database(server, METRICS_DB).await?;
    let (have, width_ok) = scratch::cohort_stored(&pool, "m-", synth.key(0).len()).await?;
    if !width_ok || have < journeys {
        return Err(AppError::BadRequest(format!(
            "run `journey bench metrics --sizes {journeys},{cohort}` first: it generates the cohort"
        )));
    }
    let bound = synth.key(journeys);
    let missing = scratch::without_consent(&pool, &bound).await?;
    if !missing.is_empty() {
        println!(
            "granting research consent to {} journeys (once; kept)",
            missing.len()
        );
        let recorder = Recorder::new(pool.clone(), master().clone());
        for key in &missing {
            recorder
                .consent(key, true, "v1", Utc::now(), HashMap::new())
                .await?;
        }
    }
    let as_of = synth.end;
    let out = std::env::temp_dir().join(format!("journey-bench-research-{}", std::process::id()));
    reset_peak_memory();
    let clock = Instant::now();
    let (app, me) = app_over(&pool);
    let written = app
        .research_export(
            &me,
            &journey_app::research::Request {
                project: &journey_app::ProjectName::parse("bench")?,
                out: &out,
                as_of,
                min_cell: 5,
                chunk_journeys: journey_app::research::CHUNK_JOURNEYS,
            },
        )
        .await?;
    let export_time = clock.elapsed();
    let peak = peak_memory_mb().unwrap_or(f64::NAN);
    let bytes: u64 = written
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let clock = Instant::now();
    let copied = scratch::copy_entries_csv(&pool, &bound).await?;
    let copy_time = clock.elapsed();
    println!(
        "research export of {} journeys (consented, x 365 days): {export_time:.2?}, {} MB in {} files, peak {peak:.0} MB",
        written.subjects,
        bytes / 1_000_000,
        written.files.len()
    );
    println!(
        "baseline: COPY of the same journeys' raw entries to CSV (no anonymization, no metrics): {copy_time:.2?}, {} MB",
        copied / 1_000_000
    );
    println!(
        "export / COPY = {:.1}",
        export_time.as_secs_f64() / copy_time.as_secs_f64()
    );
    std::fs::remove_dir_all(&out).ok();
    pool.close().await;
    Ok(())
}
