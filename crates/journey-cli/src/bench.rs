//! Benchmark programs: they print figures and the baseline they are compared with, measured
//! in the same run. No timed assertions anywhere.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use clap::Subcommand;
use journey_domain::interchange::parse_line;
use journey_postgres::import::{import, ImportOptions};
use journey_postgres::store::Recorder;
use journey_postgres::{keys, projector, scratch};

use crate::{synth, target, today, Failure, Outcome};

#[derive(Subcommand)]
pub enum Bench {
    /// Import generated journeys into an empty store, next to COPY of the same rows.
    Import {
        #[arg(long, default_value_t = 1000)]
        journeys: usize,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Latency of recording one entry on journeys of 10, 1,000 and 5,000 entries.
    Append {
        /// Entries recorded per journey size.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
}

pub async fn run(which: Bench, data_dir: &Path) -> Outcome {
    let server = target(data_dir)?;
    match which {
        Bench::Import { journeys, days } => bench_import(&server, journeys, days).await,
        Bench::Append { samples } => bench_append(&server, samples).await,
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

async fn bench_import(
    server: &journey_postgres::PgConnectOptions,
    journeys: usize,
    days: u32,
) -> Outcome {
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

    let pool = scratch::database(server, "journey_bench_import").await?;
    let options = ImportOptions {
        skip_invalid: false,
        recorded_at: Utc::now(),
        progress: None,
    };
    let clock = Instant::now();
    let report = import(&pool, text.as_bytes(), &options).await?;
    let import_time = clock.elapsed();
    if !report.invalid.is_empty() {
        return Err(Failure::System(format!(
            "generated line invalid: {}",
            report.invalid[0]
        )));
    }
    let events = (report.stored + report.derived) as u64;
    let clock = Instant::now();
    projector::catch_up(&pool).await?;
    let projection_time = clock.elapsed();

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
    println!("import (parse, check every rule, store; one transaction): {events} events in {import_time:.2?} = {import_rate:.0} events/s");
    println!("COPY of the same {copied} rows into an empty events table (ceiling):  {copy_time:.2?} = {copy_rate:.0} rows/s");
    println!(
        "import / COPY = {:.2} (target >= 0.33)",
        import_rate / copy_rate
    );
    println!(
        "projection of the read tables afterwards: {projection_time:.2?} = {:.0} events/s",
        per_second(events, projection_time)
    );
    Ok(())
}

/// A journey file of one journey `key` with `entries` entries in all.
fn history(key: &str, entries: usize) -> String {
    let start = today() - Days::new(3 * 365);
    let mut lines = vec![format!(
        r#"{{"journey":"{key}","type":"journey_started","on":"{start}","relationship":"parent"}}"#
    )];
    for i in 1..entries {
        let day = start + Days::new((i % (3 * 365)) as u64);
        let kind = if i % 3 == 0 {
            "reward_given"
        } else {
            "clean_day_observed"
        };
        lines.push(format!(
            r#"{{"journey":"{key}","type":"{kind}","on":"{day}","entry":"h{i}"}}"#
        ));
    }
    lines.join("\n")
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn bench_append(server: &journey_postgres::PgConnectOptions, samples: usize) -> Outcome {
    let sizes = [10usize, 1_000, 5_000];
    let pool = scratch::database(server, "journey_bench_append").await?;
    let options = ImportOptions {
        skip_invalid: false,
        recorded_at: Utc::now(),
        progress: None,
    };
    let mut ids = HashMap::new();
    for size in sizes {
        let key = format!("history-{size}");
        let report = import(&pool, history(&key, size).as_bytes(), &options).await?;
        assert_eq!(report.stored, size, "the history was stored");
        ids.insert(
            size,
            keys::journey_id(&pool, &key)
                .await
                .map_err(|e| Failure::System(e.to_string()))?
                .expect("imported"),
        );
    }
    let recorder = Recorder::new(pool.clone());
    let plain = scratch::PlainRecorder::new(pool.clone());
    let entry = |size: usize, n: usize, path: &str| {
        let text = format!(
            r#"{{"journey":"history-{size}","type":"positive_communication","on":"{}","entry":"{path}{n}"}}"#,
            today()
        );
        parse_line(&text).expect("a valid line").entry
    };
    // Warm up connections and caches.
    for size in sizes {
        recorder
            .record(
                &format!("history-{size}"),
                entry(size, 0, "warm"),
                Utc::now(),
                HashMap::new(),
            )
            .await?;
    }
    let mut snapshot: HashMap<usize, Vec<Duration>> = HashMap::new();
    let mut baseline: HashMap<usize, Vec<Duration>> = HashMap::new();
    for n in 1..=samples {
        for size in sizes {
            let clock = Instant::now();
            recorder
                .record(
                    &format!("history-{size}"),
                    entry(size, n, "s"),
                    Utc::now(),
                    HashMap::new(),
                )
                .await?;
            snapshot.entry(size).or_default().push(clock.elapsed());
        }
    }
    // The baseline last: its events carry no snapshot update.
    for n in 1..=samples.min(50) {
        for size in sizes {
            let clock = Instant::now();
            plain
                .record(&ids[&size], entry(size, n, "p"), Utc::now())
                .await?;
            baseline.entry(size).or_default().push(clock.elapsed());
        }
    }
    pool.close().await;
    scratch::drop_database(server, "journey_bench_append").await?;
    println!(
        "{:>8} {:>22} {:>22} {:>26}",
        "history", "snapshot median", "snapshot p95", "plain postgres-es median"
    );
    let mut medians = HashMap::new();
    for size in sizes {
        let times = snapshot.get_mut(&size).expect("measured");
        times.sort();
        let base = baseline.get_mut(&size).expect("measured");
        base.sort();
        medians.insert(size, (quantile(times, 0.5), quantile(base, 0.5)));
        println!(
            "{size:>8} {:>22.2?} {:>22.2?} {:>26.2?}",
            quantile(times, 0.5),
            quantile(times, 0.95),
            quantile(base, 0.5)
        );
    }
    let ratio = |m: &HashMap<usize, (Duration, Duration)>,
                 pick: fn(&(Duration, Duration)) -> Duration| {
        pick(&m[&5_000]).as_secs_f64() / pick(&m[&10]).as_secs_f64()
    };
    println!("5,000 vs 10 entries, median: snapshot store {:.2}x (target <= 1.2x), plain postgres-es {:.2}x",
        ratio(&medians, |m| m.0), ratio(&medians, |m| m.1));
    println!(
        "samples: {samples} per size (snapshot), {} per size (plain)",
        samples.min(50)
    );
    Ok(())
}
