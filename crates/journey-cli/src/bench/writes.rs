//! `journey bench writes` and `journey bench write-cost`: the write path under many families
//! at once, and its cost as the store and the journey grow. The app runs in this process as
//! `journey serve` runs it (pool of 8 connections); the load comes from wrk (a separate
//! process); the baseline is pgbench on the same server in the same run.

use std::path::PathBuf;
use std::time::Instant;

use journey_app::{today, AppError};
use journey_postgres::accounts::{self, Role};
use journey_postgres::import::{import, ImportOptions};
use journey_postgres::{scratch, PgConnectOptions, PgPool};

use super::{master, Outcome};
use crate::synth;

/// The app, served on a free loopback port; its base URL.
pub(crate) async fn serve(pool: &PgPool) -> Result<String, AppError> {
    let app = journey_app::App::new(pool.clone(), master().clone());
    let router = journey_web::router(
        app,
        journey_web::Options {
            secure_cookies: false,
            logins_per_minute: 10_000,
            ..journey_web::Options::default()
        },
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let address = listener
        .local_addr()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{address}"))
}

/// A pool of `connections` (`journey serve` has 8) on database `name` of `server`.
async fn app_pool(
    server: &PgConnectOptions,
    name: &str,
    connections: u32,
) -> Result<PgPool, AppError> {
    journey_postgres::db::connect(server.clone().database(name), connections)
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))
}

/// Signs `username` in through the API; the session cookie.
pub(crate) fn sign_in(base: &str, username: &str, password: &str) -> Result<String, AppError> {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Content-Type: application/json",
            "-d",
            &serde_json::json!({ "username": username, "password": password }).to_string(),
            &format!("{base}/api/v1/session"),
        ])
        .output()
        .map_err(|e| AppError::Internal(format!("curl: {e}")))?;
    let headers = String::from_utf8_lossy(&out.stdout).to_string();
    headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .and_then(|l| l.split_once(':'))
        .and_then(|(_, v)| v.trim().split(';').next().map(str::to_string))
        .ok_or_else(|| AppError::Internal(format!("sign-in gave no cookie: {headers}")))
}

/// `families` accounts, each assigned to a journey of its own (started today, imported);
/// their (path of the entries endpoint, session cookie).
async fn families(
    pool: &PgPool,
    base: &str,
    prefix: &str,
    count: usize,
) -> Result<Vec<(String, String)>, AppError> {
    let day = today();
    let mut text = String::new();
    for i in 0..count {
        text.push_str(&format!(
            "{{\"journey\":\"{prefix}{i:04}\",\"type\":\"journey_started\",\"on\":\"{day}\",\"relationship\":\"parent\"}}\n"
        ));
    }
    import_text(pool, &text).await?;
    let password = journey_app::accounts::random_password();
    let hash = journey_app::accounts::hash_password(&password)?;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (user, key) = (format!("{prefix}u{i:04}"), format!("{prefix}{i:04}"));
        accounts::create_user(pool, &user, "Family", Role::Family, &hash).await?;
        accounts::assign(pool, &user, &key)
            .await?
            .map_err(|e| AppError::Internal(format!("assign {user}: {e:?}")))?;
        out.push((
            format!("/api/v1/journeys/{key}/entries"),
            sign_in(base, &user, &password)?,
        ));
    }
    Ok(out)
}

async fn import_text(pool: &PgPool, text: &str) -> Result<u64, AppError> {
    let options = ImportOptions::all_or_nothing();
    let report = import(pool, master(), text.as_bytes(), &options).await?;
    if let Some(bad) = report.invalid.first() {
        return Err(AppError::Internal(format!("generated line invalid: {bad}")));
    }
    Ok((report.stored + report.derived) as u64)
}

/// What one load run measured.
struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    failed: u64,
}

/// wrk with one thread and one connection per family (`targets`: path and cookie), each
/// POSTing a day's self-care entry to its own journey for `seconds`.
fn wrk_families(base: &str, targets: &[(String, String)], seconds: u32) -> Result<Run, AppError> {
    let script = temp_file("wrk.lua");
    let mut lua = String::from("local targets = {\n");
    for (path, cookie) in targets {
        lua.push_str(&format!("  {{\"{path}\", \"{cookie}\"}},\n"));
    }
    let body = format!(
        "{{\"type\": \"self_care\", \"on\": \"{}\", \"minutes\": 10}}",
        today()
    );
    lua.push_str(&format!(
        r#"}}
local counter = 1
function setup(thread)
  thread:set("path", targets[counter][1])
  thread:set("cookie", targets[counter][2])
  counter = counter + 1
end
function request()
  return wrk.format("POST", path, {{["Cookie"] = cookie, ["Content-Type"] = "application/json"}}, '{body}')
end
"#
    ));
    std::fs::write(&script, lua).map_err(|e| AppError::Internal(e.to_string()))?;
    let n = targets.len();
    let out = std::process::Command::new("wrk")
        .args([
            &format!("-t{n}"),
            &format!("-c{n}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(base)
        .output()
        .map_err(|e| AppError::Internal(format!("wrk (apt-get install wrk): {e}")))?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(AppError::Internal(format!("wrk failed: {text}")));
    }
    let line = |prefix: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| {
                l[prefix.len()..]
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
            })
    };
    let ms = |value: Option<String>| -> f64 {
        let value = value.unwrap_or_default();
        let (number, unit) = value.split_at(
            value
                .find(|c: char| c.is_alphabetic())
                .unwrap_or(value.len()),
        );
        let number: f64 = number.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => number / 1000.0,
            "ms" => number,
            "s" => number * 1000.0,
            _ => f64::NAN,
        }
    };
    Ok(Run {
        per_second: line("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p50_ms: ms(line("50%")),
        p99_ms: ms(line("99%")),
        requests: text
            .lines()
            .find(|l| l.contains("requests in"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        failed: line("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    })
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("journey-bench-{}-{name}", std::process::id()))
}

/// pgbench: `clients` clients, each a single-row INSERT with commit into a plain table of
/// database `name`, for `seconds`; its rate and latency percentiles from its log.
fn pgbench_inserts(
    server: &PgConnectOptions,
    name: &str,
    clients: usize,
    seconds: u32,
) -> Result<Run, AppError> {
    let script = temp_file("insert.sql");
    std::fs::write(
        &script,
        "INSERT INTO raw_writes (journey, body) VALUES (:client_id, '{\"type\": \"self_care\", \"minutes\": 10}');\n",
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let logs = temp_file("pgbench");
    std::fs::create_dir_all(&logs).map_err(|e| AppError::Internal(e.to_string()))?;
    let out = std::process::Command::new("pgbench")
        .current_dir(&logs)
        .args([
            "-n",
            "-h",
            server.get_host(),
            "-p",
            &server.get_port().to_string(),
        ])
        .args(["-U", server.get_username()])
        .args([
            &format!("-c{clients}"),
            "-j2",
            &format!("-T{seconds}"),
            "-l",
            "-f",
        ])
        .arg(&script)
        .arg(name)
        .output()
        .map_err(|e| {
            AppError::Internal(format!("pgbench (apt-get install postgresql-contrib): {e}"))
        })?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(AppError::Internal(format!(
            "pgbench failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let mut latencies: Vec<f64> = Vec::new();
    for log in std::fs::read_dir(&logs).map_err(|e| AppError::Internal(e.to_string()))? {
        let path = log.map_err(|e| AppError::Internal(e.to_string()))?.path();
        let body = std::fs::read_to_string(&path).unwrap_or_default();
        // client_id transaction_no time(us) script_no time_epoch time_us
        latencies.extend(
            body.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok())
                .map(|us| us / 1000.0),
        );
    }
    let _ = std::fs::remove_dir_all(&logs);
    let _ = std::fs::remove_file(&script);
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Ok(Run {
        per_second: tps,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        requests: latencies.len() as u64,
        failed: 0,
    })
}

/// `journey bench writes`.
pub async fn writes(
    server: &PgConnectOptions,
    count: usize,
    seconds: u32,
    connections: u32,
    rounds: u32,
) -> Outcome {
    let name = "journey_bench_writes";
    scratch::database(server, name).await?.close().await;
    let pool = app_pool(server, name, connections).await?;
    sqlx_exec(
        &pool,
        "CREATE TABLE raw_writes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                  journey text NOT NULL, body jsonb NOT NULL,
                                  at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let base = serve(&pool).await?;
    let targets = families(&pool, &base, "w-", count).await?;
    println!(
        "{count} families, each its own account and journey; wrk -t{count} -c{count} -d{seconds}s, one connection per family; {rounds} rounds;"
    );
    println!("the app in this process (pool of {connections}), PostgreSQL and the client on this machine");

    // This machine's speed drifts from minute to minute (pgbench alone: 6,800 to 11,600
    // INSERTs/s within ten minutes), so the baseline and the app run in interleaved rounds,
    // the order turned each round, and the ratio is the median of the rounds' ratios.
    let mut ratios = Vec::with_capacity(rounds as usize);
    let mut p99s = Vec::with_capacity(rounds as usize);
    for round in 1..=rounds {
        let (raw, app, stored, elapsed) = if round % 2 == 1 {
            let raw = pgbench_inserts(server, name, count, seconds)?;
            let (app, stored, elapsed) = app_round(&pool, &base, &targets, seconds).await?;
            (raw, app, stored, elapsed)
        } else {
            let (app, stored, elapsed) = app_round(&pool, &base, &targets, seconds).await?;
            let raw = pgbench_inserts(server, name, count, seconds)?;
            (raw, app, stored, elapsed)
        };
        println!("round {round} of {rounds}:");
        print_run("raw INSERT + commit into a plain table (pgbench)", &raw);
        print_run("entry POST /api/v1/journeys/KEY/entries", &app);
        println!(
            "  entries stored: {stored} in {elapsed:.1?} for {} answered requests ({} not 2xx)",
            app.requests, app.failed
        );
        let ratio = app.per_second / raw.per_second;
        println!("  ratio app / raw INSERT = {ratio:.3}");
        ratios.push(ratio);
        p99s.push(app.p99_ms);
    }
    let rounds_text = |values: &[f64], digits: usize| {
        values
            .iter()
            .map(|v| format!("{v:.digits$}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let worst_p99 = p99s.iter().copied().fold(0.0, f64::max);
    println!(
        "ratio app / raw INSERT median = {:.3} (goal >= 0.25; rounds: {}); app p99 worst round {worst_p99:.1} ms (goal < 100 ms; rounds: {})",
        median(ratios.clone()),
        rounds_text(&ratios, 3),
        rounds_text(&p99s, 1)
    );
    pool.close().await;
    scratch::drop_database(server, name).await?;
    Ok(())
}

/// One load run of the app: what wrk measured, the entries stored, and how long it took.
async fn app_round(
    pool: &PgPool,
    base: &str,
    targets: &[(String, String)],
    seconds: u32,
) -> Result<(Run, i64, std::time::Duration), AppError> {
    let before = count_entries(pool).await?;
    let clock = Instant::now();
    let app = wrk_families(base, targets, seconds)?;
    let elapsed = clock.elapsed();
    Ok((app, count_entries(pool).await? - before, elapsed))
}

fn print_run(what: &str, run: &Run) {
    println!(
        "  {what:<52} {:>8.0}/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests)",
        run.per_second, run.p50_ms, run.p99_ms, run.requests
    );
}

async fn sqlx_exec(pool: &PgPool, statement: &str) -> Result<(), AppError> {
    journey_postgres::testing::execute(pool, statement).await;
    Ok(())
}

async fn count_entries(pool: &PgPool) -> Result<i64, AppError> {
    Ok(journey_postgres::testing::scalar_i64(pool, "SELECT count(*) FROM entries").await)
}

/// The database of `bench write-cost`'s large store, kept between runs.
const LARGE: &str = "journey_bench_large_store";

/// `journey bench write-cost`: one family's POST latency in a small and a large store, and
/// on a journey of 1 and of 20,000 entries. The three are measured in interleaved rounds (a
/// slice of each per round, the order rotated), and each ratio is the median of its rounds'
/// ratios: this machine's speed drifts by 2x from minute to minute, which a run of one after
/// the other measured instead (ratios from 0.94 to 2.41 for the same code).
pub async fn write_cost(server: &PgConnectOptions, large_events: u64, seconds: u32) -> Outcome {
    // The small store: ~25,000 events (46 journeys of a year) and the long journey.
    let small = "journey_bench_small_store";
    scratch::database(server, small).await?.close().await;
    let pool = app_pool(server, small, 8).await?;
    let events = import_text(&pool, &cohort(46, 0..46)).await?;
    // A journey of 20,000 entries in the same store, imported before any run, and the store
    // vacuumed and analyzed: a run right after an import measures autovacuum working
    // through the import.
    let long_key = "c-long";
    let events = events + import_text(&pool, &super::history(long_key, 20_000)).await?;
    let base = serve(&pool).await?;
    let target = families(&pool, &base, "c-", 1).await?;
    let long = long_target(&pool, &base, long_key).await?;
    journey_postgres::testing::execute(&pool, "VACUUM ANALYZE").await;
    let small_events = count_events(&pool).await?;

    // The large store, generated once (journeys of a year, ~540 events each).
    let keep = scratch::keep_database(server, LARGE).await?;
    let mut have = count_events(&keep).await?;
    let journeys_needed = (large_events / 540 + 1) as usize;
    let synth = cohort_synth(journeys_needed);
    if have < large_events as i64 {
        println!(
            "generating the large store ({large_events} events, kept in database {LARGE}) ..."
        );
        let clock = Instant::now();
        let mut next =
            journey_postgres::testing::scalar_i64(&keep, "SELECT count(*) FROM journey_keys").await
                as usize;
        while have < large_events as i64 {
            let mut text = synth.generate_range(next..next + 500).join("\n");
            text.push('\n');
            import_text(&keep, &text).await?;
            next += 500;
            have = count_events(&keep).await?;
        }
        println!("  {have} events in {:.0?}", clock.elapsed());
    }
    journey_postgres::testing::execute(&keep, "VACUUM ANALYZE").await;
    keep.close().await;
    let large_pool = app_pool(server, LARGE, 8).await?;
    let large_events_now = count_events(&large_pool).await?;
    let large_base = serve(&large_pool).await?;
    let fresh = format!("c{}-", std::process::id());
    let large_target = families(&large_pool, &large_base, &fresh, 1).await?;

    const ROUNDS: u32 = 5;
    let slice = (seconds / ROUNDS).max(1);
    let (mut short, mut long_runs, mut large) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for step in 0..3 {
            match (step + round) % 3 {
                0 => short.push(wrk_families(&base, &target, slice)?),
                1 => long_runs.push(wrk_families(&base, std::slice::from_ref(&long), slice)?),
                _ => large.push(wrk_families(&large_base, &large_target, slice)?),
            }
        }
    }
    pool.close().await;
    large_pool.close().await;

    println!(
        "one family, one connection, wrk -t1 -c1; {ROUNDS} rounds of {slice} s for each, \
         interleaved; the app in this process:"
    );
    let ratio = |runs: &[Run]| {
        let ratios: Vec<f64> = runs
            .iter()
            .zip(&short)
            .map(|(run, base)| run.p50_ms / base.p50_ms)
            .collect();
        (median(ratios.clone()), ratios)
    };
    print_run(
        &format!("POST, store of {small_events} events (baseline)"),
        &combined(&short),
    );
    print_run(
        &format!("POST, store of {large_events_now} events"),
        &combined(&large),
    );
    let (large_ratio, rounds) = ratio(&large);
    println!(
        "  large / small store median = {large_ratio:.2} (goal <= 1.2; rounds: {})",
        listed(&rounds)
    );
    print_run("POST, journey of 1 entry (baseline)", &combined(&short));
    print_run("POST, journey of 20,000 entries", &combined(&long_runs));
    let (long_ratio, rounds) = ratio(&long_runs);
    println!(
        "  20,000 / 1 entries median = {long_ratio:.2} (goal <= 1.2; rounds: {}); {events} events imported for the small store",
        listed(&rounds)
    );
    scratch::drop_database(server, small).await?;
    Ok(())
}

/// Slices of one measurement as one: requests and failures added, the rate their mean, p50
/// the median of the slices' and p99 the largest.
fn combined(runs: &[Run]) -> Run {
    Run {
        per_second: runs.iter().map(|r| r.per_second).sum::<f64>() / runs.len().max(1) as f64,
        p50_ms: median(runs.iter().map(|r| r.p50_ms).collect()),
        p99_ms: runs.iter().map(|r| r.p99_ms).fold(f64::NAN, f64::max),
        requests: runs.iter().map(|r| r.requests).sum(),
        failed: runs.iter().map(|r| r.failed).sum(),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn listed(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn cohort_synth(families: usize) -> synth::Synth {
    synth::Synth {
        seed: 11,
        families,
        days: 365,
        end: today(),
        prefix: "big-".into(),
    }
}

fn cohort(families: usize, range: std::ops::Range<usize>) -> String {
    let mut text = cohort_synth(families).generate_range(range).join("\n");
    text.push('\n');
    text
}

async fn long_target(pool: &PgPool, base: &str, key: &str) -> Result<(String, String), AppError> {
    let password = journey_app::accounts::random_password();
    let hash = journey_app::accounts::hash_password(&password)?;
    accounts::create_user(pool, "c-long-user", "Family", Role::Family, &hash).await?;
    accounts::assign(pool, "c-long-user", key)
        .await?
        .map_err(|e| AppError::Internal(format!("assign: {e:?}")))?;
    Ok((
        format!("/api/v1/journeys/{key}/entries"),
        sign_in(base, "c-long-user", &password)?,
    ))
}

async fn count_events(pool: &PgPool) -> Result<i64, AppError> {
    Ok(journey_postgres::testing::scalar_i64(pool, "SELECT count(*) FROM events").await)
}
