//! `bench metrics`' streamed step (what `journey metrics` does), its check of the SQL
//! baseline, and the peak memory every benchmark reads.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use journey_app::metrics::CHUNK_JOURNEYS;
use journey_app::AppError;
use journey_postgres::PgPool;

use super::{app_over, Outcome};

/// The cohort below `bound`, a chunk of journeys at a time, best of `runs`: its time and
/// peak resident memory (MB, after a reset).
pub(super) async fn run(
    pool: &PgPool,
    bound: &str,
    as_of: NaiveDate,
    runs: usize,
) -> Result<(Duration, f64), AppError> {
    let (app, _) = app_over(pool);
    let mut best: Option<(Duration, f64)> = None;
    for _ in 0..runs.max(1) {
        reset_peak_memory();
        let clock = Instant::now();
        let journeys = journey_postgres::scratch::journeys_below(pool, bound).await?;
        let mut written = 0usize;
        let cohort = app
            .metrics_of(&journeys, as_of, CHUNK_JOURNEYS, |m| {
                written += serde_json::to_vec(m).expect("metrics serialize").len();
                Ok(())
            })
            .await?;
        written += serde_json::to_vec(&cohort)
            .expect("a cohort serializes")
            .len();
        std::hint::black_box(written);
        let took = clock.elapsed();
        let peak = peak_memory_mb().unwrap_or(f64::NAN);
        if best.is_none_or(|b| took < b.0) {
            best = Some((took, peak));
        }
    }
    Ok(best.expect("at least one run"))
}

/// The SQL baseline must give the weeks the analytics give, or its time means nothing.
pub(super) fn check_same_weeks(
    report: &journey_analytics::Report,
    sql: &[journey_postgres::scratch::SqlWeek],
) -> Outcome {
    let ours: Vec<_> = report
        .journeys
        .iter()
        .flat_map(|j| j.weeks.iter().map(move |w| (j, w)))
        .collect();
    if ours.len() != sql.len() {
        return Err(AppError::Internal(format!(
            "SQL baseline gave {} weeks, the analytics {}",
            sql.len(),
            ours.len()
        )));
    }
    for ((j, w), s) in ours.iter().zip(sql) {
        let same = j.journey == s.key
            && w.week == i64::from(s.week)
            && w.days == i64::from(s.days)
            && w.use_days == i64::from(s.use_days)
            && w.no_use_days == i64::from(s.no_use_days)
            && w.unknown_days == i64::from(s.unknown_days)
            && w.controlled_days == i64::from(s.controlled_days)
            && (w.coverage - s.coverage).abs() < 1e-12
            && match (w.pda, s.pda) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-12,
                (None, None) => true,
                _ => false,
            };
        if !same {
            return Err(AppError::Internal(format!(
                "SQL baseline disagrees on {} week {}: {s:?}",
                j.journey, w.week
            )));
        }
    }
    Ok(())
}

/// The peak resident memory of this process since the last `reset_peak_memory`, in MB.
pub(crate) fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak resident memory of this process (Linux: `5` into clear_refs).
pub(crate) fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
