//! Benchmark programs: they print figures and the baseline they are compared with, measured
//! in the same run. No timed assertions anywhere.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use clap::Subcommand;
use journey_domain::interchange::parse_line;
use journey_postgres::import::{import, ImportOptions};
use journey_postgres::store::Recorder;
use journey_postgres::{keys, projector, scratch};

use journey_app::{today, Actor, App, AppError, Config, Via};
use journey_postgres::crypto::MasterKey;

use crate::synth;

mod import;
mod research;
mod streamed;
pub(crate) use streamed::{peak_memory_mb, reset_peak_memory};
mod web;
mod writes;

pub(crate) type Outcome = Result<(), AppError>;

/// The master key of the configuration (the benchmark databases' journey keys are wrapped
/// by it, as the command's would be).
pub(crate) fn master() -> &'static MasterKey {
    MASTER.get().expect("set by run")
}

static MASTER: std::sync::OnceLock<MasterKey> = std::sync::OnceLock::new();

/// The app over a benchmark database, and its operator.
pub(crate) fn app_over(pool: &journey_postgres::PgPool) -> (App, Actor) {
    (
        App::new(pool.clone(), master().clone()),
        Actor::operator("bench", Via::Cli),
    )
}

#[derive(Subcommand)]
pub enum Bench {
    /// Import generated journeys into an empty store, next to COPY of the same rows; with
    /// `--store-journeys N`, also the same file into an empty store against into one that
    /// holds N journeys (the kept cohort of `bench metrics`), in interleaved rounds.
    Import {
        #[arg(long, default_value_t = 1000)]
        journeys: usize,
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Journeys of the full store (0: only the empty store and COPY).
        #[arg(long, default_value_t = 0)]
        store_journeys: usize,
        /// Rounds of the empty/full comparison.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Latency of recording one entry on journeys of 10, 1,000 and 5,000 entries.
    Append {
        /// Entries recorded per journey size.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    /// Metrics of cohorts of growing size, database to JSON, next to one SQL query for the
    /// weekly table. The generated journeys are kept in database journey_bench_metrics.
    Metrics {
        /// Cohort sizes, in journeys (each a prefix of the largest).
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,30000")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Runs of each measurement; the best is reported.
        #[arg(long, default_value_t = 2)]
        runs: usize,
    },
    /// A research export of the first N journeys of the `bench metrics` cohort (consent is
    /// granted to them through the command path, once), next to COPY of their raw entries.
    Research {
        #[arg(long, default_value_t = 10_000)]
        journeys: usize,
        /// Size of the kept `bench metrics` cohort (its key width).
        #[arg(long, default_value_t = 30_000)]
        cohort: usize,
    },
    /// Time to write the HTML progress report of one long journey (database to file), next
    /// to the metrics JSON of the same journey alone.
    Report {
        /// Length of the journey in days (3 years by default).
        #[arg(long, default_value_t = 1095)]
        days: u32,
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// N families, each its own account and journey, POSTing entries at once through the
    /// API (wrk, one connection each), next to pgbench's single-row INSERTs with commit at
    /// the same concurrency on the same server.
    Writes {
        #[arg(long, default_value_t = 64)]
        families: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u32,
        /// Connections of the app's pool (`journey serve` has 8).
        #[arg(long, default_value_t = 8)]
        pool: u32,
        /// Rounds of pgbench and the app, interleaved (the ratio is their median).
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// One family's POST latency in a store of ~45,000 events (one journey of them has 20,000 entries) and in a large one (generated
    /// once, kept in database journey_bench_large_store), and on a journey of 20,000 entries.
    WriteCost {
        /// Events of the large store.
        #[arg(long, default_value_t = 3_000_000)]
        events: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u32,
    },
    /// Load on the web app over loopback with wrk (Debian's package): the timeline page and
    /// the entry POST of a 3-year journey at 100 connections, next to the sign-in page (the
    /// stack's floor: a session and a template, no journey).
    Web {
        /// Length of the journey in days.
        #[arg(long, default_value_t = 1095)]
        days: u32,
        #[arg(long, default_value_t = 100)]
        connections: u32,
        /// Seconds of each wrk run.
        #[arg(long, default_value_t = 15)]
        seconds: u32,
    },
}

pub async fn run(which: Bench, config: &Config) -> Outcome {
    let server = config.database.connect_options()?;
    let source = config.master_key.for_store("bench"); // one key for the bench databases
    let key = source
        .load()
        .map_err(|e| AppError::Unavailable(format!("master key: {e}")))?;
    let _ = MASTER.set(key);
    match which {
        Bench::Import {
            journeys,
            days,
            store_journeys: 0,
            ..
        } => import::bench_import(&server, journeys, days).await,
        Bench::Import {
            journeys,
            days,
            store_journeys,
            rounds,
        } => import::into_full_store(&server, journeys, days, store_journeys, rounds).await,
        Bench::Append { samples } => bench_append(&server, samples).await,
        Bench::Metrics { sizes, days, runs } => bench_metrics(&server, sizes, days, runs).await,
        Bench::Report { days, runs } => bench_report(&server, days, runs).await,
        Bench::Research { journeys, cohort } => {
            research::bench_research(&server, journeys, cohort).await
        }
        Bench::Writes {
            families,
            seconds,
            pool,
            rounds,
        } => writes::writes(&server, families, seconds, pool, rounds.max(1)).await,
        Bench::WriteCost { events, seconds } => writes::write_cost(&server, events, seconds).await,
        Bench::Web {
            days,
            connections,
            seconds,
        } => web::bench_web(&server, days, connections, seconds).await,
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// A journey file of one journey `key` with `entries` entries in all.
pub(crate) fn history(key: &str, entries: usize) -> String {
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
    let options = ImportOptions::all_or_nothing();
    let mut ids = HashMap::new();
    for size in sizes {
        let key = format!("history-{size}");
        let report = import(&pool, master(), history(&key, size).as_bytes(), &options).await?;
        assert_eq!(report.stored, size, "the history was stored");
        ids.insert(
            size,
            keys::journey_id(&pool, &key)
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
                .expect("imported"),
        );
    }
    let recorder = Recorder::new(pool.clone(), master().clone());
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

pub(crate) const METRICS_DB: &str = "journey_bench_metrics";

/// The kept cohort of `bench metrics` (and `bench research`): `families` journeys of `days`
/// days ending on a fixed day, so that the kept data stays valid on later days.
pub(crate) fn metrics_cohort(families: usize, days: u32) -> synth::Synth {
    synth::Synth {
        seed: 7,
        families,
        days,
        end: chrono::NaiveDate::from_ymd_opt(2026, 6, 30).expect("a date"),
        prefix: "m-".into(),
    }
}

/// Database [`METRICS_DB`] with the first `largest` journeys of [`metrics_cohort`] (those
/// it lacks generated and imported now, 1,000 at a time, and kept for later runs); true
/// when this call generated some.
pub(crate) async fn kept_cohort(
    server: &journey_postgres::PgConnectOptions,
    largest: usize,
    days: u32,
) -> Result<(journey_postgres::PgPool, synth::Synth, bool), AppError> {
    // A fixed last day, so that the kept data stays valid on later days.
    let synth = metrics_cohort(largest, days);
    let pool = scratch::keep_database(server, METRICS_DB).await?;
    let (mut next, width_ok) = scratch::cohort_stored(&pool, "m-", synth.key(0).len()).await?;
    if !width_ok {
        return Err(AppError::BadRequest(format!(
            "database {METRICS_DB} holds a cohort of another size; drop it first \
             (dropdb {METRICS_DB}, or DROP DATABASE in psql)"
        )));
    }
    let generated = next < largest;
    if generated {
        println!(
            "generating and importing journeys {}..{largest} x {days} days (kept for later runs)",
            next + 1
        );
        let options = ImportOptions::all_or_nothing();
        let clock = Instant::now();
        while next < largest {
            let end = (next + 1000).min(largest);
            let mut text = synth.generate_range(next..end).join("\n");
            text.push('\n');
            let report = import(&pool, master(), text.as_bytes(), &options).await?;
            if let Some(bad) = report.invalid.first() {
                return Err(AppError::Internal(format!("generated line invalid: {bad}")));
            }
            next = end;
            println!("  {next} journeys stored ({:.0?})", clock.elapsed());
        }
        scratch::analyze(&pool).await?;
    }
    projector::catch_up(&pool).await?;
    Ok((pool, synth, generated))
}

async fn bench_metrics(
    server: &journey_postgres::PgConnectOptions,
    mut sizes: Vec<usize>,
    days: u32,
    runs: usize,
) -> Outcome {
    use journey_app::metrics::inputs;
    use journey_postgres::read::Scope;

    sizes.sort_unstable();
    let largest = *sizes
        .last()
        .ok_or_else(|| AppError::BadRequest("no --sizes".into()))?;
    let runs = runs.max(1);
    let (pool, synth, generated) = kept_cohort(server, largest, days).await?;
    let as_of = synth.end;
    println!("as of {as_of}; best of {runs} runs; peak = peak resident memory of this process during the step");
    println!(
        "{:>8} {:>10} {:>9} {:>9} {:>9} {:>10} {:>9} {:>10} {:>10} {:>8} {:>14} {:>16} {:>10} {:>11}",
        "journeys",
        "entries",
        "read s",
        "polars s",
        "json s",
        "total s",
        "peak MB",
        "ms/journey",
        "SQL week s",
        "SQL/ours",
        "read entries s",
        "SQL/ours-entries",
        "streamed s",
        "streamed MB"
    );
    // The streamed step first, smallest cohort first: the one-piece runs below raise the
    // process's high-water mark, which a reset cannot lower under what the allocator keeps.
    let mut streamed_runs = Vec::new();
    for &size in &sizes {
        streamed_runs.push(streamed::run(&pool, &synth.key(size), as_of, runs).await?);
    }
    let mut first_per_journey = None;
    for (&size, &(streamed_time, streamed_peak)) in sizes.iter().zip(&streamed_runs) {
        let bound = synth.key(size);
        let scope = Scope::Below(&bound);
        let mut best: Option<(Duration, Duration, Duration, f64, usize)> = None;
        let mut report = None;
        for _ in 0..runs {
            reset_peak_memory();
            let clock = Instant::now();
            let journeys = inputs(&pool, scope).await?;
            let read = clock.elapsed();
            let entries: usize = journeys.iter().map(|j| j.entries.len()).sum();
            let clock = Instant::now();
            let computed = journey_analytics::metrics(&journeys, as_of)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let compute = clock.elapsed();
            drop(journeys);
            let clock = Instant::now();
            let json = serde_json::to_vec(&computed).expect("a report serializes");
            let serialize = clock.elapsed();
            let peak = peak_memory_mb().unwrap_or(f64::NAN);
            std::hint::black_box(&json);
            let total = read + compute + serialize;
            if best.is_none_or(|b| total < b.0 + b.1 + b.2) {
                best = Some((read, compute, serialize, peak, entries));
            }
            report = Some(computed);
        }
        let (read, compute, serialize, peak, entries) = best.expect("at least one run");
        let report = report.expect("at least one run");
        let total = read + compute + serialize;
        let mut sql_best: Option<Duration> = None;
        let mut sql_rows = Vec::new();
        for _ in 0..runs {
            let clock = Instant::now();
            sql_rows = scratch::sql_weekly(&pool, scope, as_of).await?;
            let took = clock.elapsed();
            sql_best = Some(sql_best.map_or(took, |b| b.min(took)));
        }
        let sql_time = sql_best.expect("at least one run");
        streamed::check_same_weeks(&report, &sql_rows)?;
        // What the read costs from the `entries` table, one row per entry (the read before
        // `metric_input`), for comparison: same rows, or the figure means nothing.
        let mut entries_best: Option<Duration> = None;
        for _ in 0..runs {
            let clock = Instant::now();
            let journeys = journey_app::metrics::to_inputs(
                journey_postgres::read::metric_rows_from_entries(&pool, scope).await?,
            );
            let took = clock.elapsed();
            // metric_weeks leaves out the retract lines (no figure counts them).
            let count: usize = journeys
                .iter()
                .map(|j| j.entries.iter().filter(|e| e.kind != "retract").count())
                .sum();
            if count != entries {
                return Err(AppError::Internal(format!(
                    "entries table gives {count} metric rows, metric_weeks {entries}"
                )));
            }
            entries_best = Some(entries_best.map_or(took, |b| b.min(took)));
        }
        let entries_read = entries_best.expect("at least one run");
        let entries_total = entries_read + compute + serialize;
        let per_journey = total.as_secs_f64() * 1000.0 / size as f64;
        first_per_journey.get_or_insert(per_journey);
        println!(
            "{size:>8} {entries:>10} {:>9.2} {:>9.2} {:>9.2} {:>10.2} {peak:>9.0} {per_journey:>10.3} {:>10.2} {:>8.1} {:>14.2} {:>16.1} {:>10.2} {streamed_peak:>11.0}",
            read.as_secs_f64(),
            compute.as_secs_f64(),
            serialize.as_secs_f64(),
            total.as_secs_f64(),
            sql_time.as_secs_f64(),
            sql_time.as_secs_f64() / total.as_secs_f64(),
            entries_read.as_secs_f64(),
            sql_time.as_secs_f64() / entries_total.as_secs_f64(),
            streamed_time.as_secs_f64(),
        );
    }
    if generated {
        println!("(this run also generated the data: its peak memory includes the import; run again for the figures)");
    }
    println!("SQL week s: one SQL query for the weekly day counts, PDA and coverage only (its rows checked equal to ours);");
    println!("ours (total s) computes every figure of metrics.md and the JSON. SQL/ours > 1: ours is faster.");
    println!("read s: metric_weeks (rows per journey and week, kept by each write); read entries s: the same rows from entries");
    println!("read from the entries table (one row per entry); SQL/ours-entries: the ratio with that read instead.");
    println!("streamed: what `journey metrics` does, 200 journeys read and computed at a time, each journey's JSON");
    println!("written as it comes (to a counter), the cohort from four numbers per journey; run for every size first.");
    pool.close().await;
    Ok(())
}

/// One synthetic journey of `days` days up to today, imported and projected into the fresh
/// scratch database `database`: its pool, key and import report.
pub(crate) async fn one_journey(
    server: &journey_postgres::PgConnectOptions,
    database: &str,
    seed: u64,
    days: u32,
    prefix: &str,
) -> Result<
    (
        journey_postgres::PgPool,
        String,
        journey_postgres::import::ImportReport,
    ),
    AppError,
> {
    let synth = synth::Synth {
        seed,
        families: 1,
        days,
        end: today(),
        prefix: prefix.into(),
    };
    let mut text = synth.generate().join("\n");
    text.push('\n');
    let pool = scratch::database(server, database).await?;
    let options = ImportOptions::all_or_nothing();
    let report = import(&pool, master(), text.as_bytes(), &options).await?;
    Ok((pool, synth.key(0), report))
}

async fn bench_report(
    server: &journey_postgres::PgConnectOptions,
    days: u32,
    runs: usize,
) -> Outcome {
    let as_of = today();
    let (pool, key, report) =
        one_journey(server, "journey_bench_report", 11, days, "long-").await?;
    let out = std::env::temp_dir().join(format!("journey-bench-report-{}", std::process::id()));
    let runs = runs.max(3);
    let key = journey_app::journey_key(&key)?;
    let (app, me) = app_over(&pool);
    let mut html_times = Vec::new();
    let mut json_times = Vec::new();
    let mut path = std::path::PathBuf::new();
    for _ in 0..runs {
        let clock = Instant::now();
        let report = app.metrics(&me, Some(&key), as_of).await?;
        let json = serde_json::to_vec(&report).expect("a report serializes");
        std::hint::black_box(json);
        json_times.push(clock.elapsed());
        let clock = Instant::now();
        path = app
            .write_journey_report(&me, &key, (None, as_of), &out, false, None)
            .await?
            .remove(0);
        html_times.push(clock.elapsed());
    }
    html_times.sort();
    json_times.sort();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "one journey of {days} days ({} entries), {runs} runs each, database to output:",
        report.stored
    );
    println!(
        "  metrics JSON only (baseline):           median {:.1?}, max {:.1?}",
        quantile(&json_times, 0.5),
        json_times[json_times.len() - 1]
    );
    println!(
        "  HTML report with 4 SVG charts (file):   median {:.1?}, max {:.1?}, {} kB",
        quantile(&html_times, 0.5),
        html_times[html_times.len() - 1],
        size / 1000
    );
    std::fs::remove_dir_all(&out).ok();
    pool.close().await;
    scratch::drop_database(server, "journey_bench_report").await?;
    Ok(())
}
