//! `bench import`: a generated file into an empty store next to COPY of the same rows, and
//! (`--store-journeys N`) the same file into an empty store against into a full one.

use std::time::{Duration, Instant};

use journey_app::{today, AppError};
use journey_postgres::import::{import, ImportOptions};
use journey_postgres::{scratch, PgConnectOptions, PgPool};

use super::{kept_cohort, master, per_second, Outcome};
use crate::synth;

/// The generated file of `journeys` journeys x `days` days ("bench-" keys, seed 42).
fn generated_file(journeys: usize, days: u32) -> String {
    let started = Instant::now();
    let synth = synth::Synth {
        seed: 42,
        families: journeys,
        days,
        end: today(),
        prefix: "bench-".into(),
    };
    let mut text = synth.generate().join("\n");
    text.push('\n');
    println!(
        "generated {journeys} journeys x {days} days: {} lines, {} MB in {:.1?}",
        text.lines().count(),
        text.len() / 1_000_000,
        started.elapsed()
    );
    text
}

/// Imports `text` into `pool`; the time and the events it stored (or would have).
async fn timed_import(
    pool: &PgPool,
    text: &str,
    roll_back: bool,
) -> Result<(Duration, u64), AppError> {
    let options = ImportOptions {
        roll_back,
        ..ImportOptions::all_or_nothing()
    };
    let clock = Instant::now();
    let report = import(pool, master(), text.as_bytes(), &options).await?;
    let took = clock.elapsed();
    if let Some(bad) = report.invalid.first() {
        return Err(AppError::Internal(format!("generated line invalid: {bad}")));
    }
    Ok((took, (report.stored + report.derived) as u64))
}

pub(super) async fn bench_import(server: &PgConnectOptions, journeys: usize, days: u32) -> Outcome {
    let text = generated_file(journeys, days);
    let pool = scratch::database(server, "journey_bench_import").await?;
    let (import_time, events) = timed_import(&pool, &text, false).await?;
    let rows = scratch::copy_out_events(&pool).await?;
    let copy_pool = scratch::database(server, "journey_bench_copy").await?;
    let clock = Instant::now();
    let copied = scratch::copy_in_events(&copy_pool, &rows).await?;
    let copy_time = clock.elapsed();
    copy_pool.close().await;
    pool.close().await;
    scratch::drop_database(server, "journey_bench_copy").await?;
    scratch::drop_database(server, "journey_bench_import").await?;

    let import_rate = per_second(events, import_time);
    let copy_rate = per_second(copied, copy_time);
    println!("import (parse, check every rule, store and project the read tables; one transaction): {events} events in {import_time:.2?} = {import_rate:.0} events/s");
    println!("COPY of the same {copied} rows into an empty events table (ceiling):  {copy_time:.2?} = {copy_rate:.0} rows/s");
    println!(
        "import / COPY = {:.2} (target >= 0.33)",
        import_rate / copy_rate
    );
    Ok(())
}

/// The same file into an empty store and into the kept cohort of `store_journeys` journeys,
/// in `rounds` interleaved rounds (the machine's speed drifts), each import rolled back at
/// its end so that both stores stay as they are: every round's times, and the median of
/// the rounds' ratios.
pub(super) async fn into_full_store(
    server: &PgConnectOptions,
    journeys: usize,
    days: u32,
    store_journeys: usize,
    rounds: usize,
) -> Outcome {
    let (full, _, _) = kept_cohort(server, store_journeys, 365).await?;
    let (stored, events) = scratch::store_size(&full).await?;
    println!(
        "full store: {stored} journeys, {events} events (database {})",
        super::METRICS_DB
    );
    let text = generated_file(journeys, days);
    let empty = scratch::database(server, "journey_bench_import").await?;
    let mut ratios = Vec::new();
    for round in 1..=rounds.max(1) {
        let (into_empty, events) = timed_import(&empty, &text, true).await?;
        let (into_full, events_full) = timed_import(&full, &text, true).await?;
        if events != events_full {
            return Err(AppError::Internal(format!(
                "the file stored {events} events into the empty store, {events_full} into the full one"
            )));
        }
        let ratio = into_full.as_secs_f64() / into_empty.as_secs_f64();
        println!(
            "round {round}: {events} events into an empty store {:.2} s, into the full store {:.2} s: {ratio:.2}x",
            into_empty.as_secs_f64(),
            into_full.as_secs_f64()
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "full / empty, median of {} rounds = {:.2}x (goal <= 1.2x)",
        ratios.len(),
        ratios[ratios.len() / 2]
    );
    empty.close().await;
    full.close().await;
    scratch::drop_database(server, "journey_bench_import").await?;
    Ok(())
}
