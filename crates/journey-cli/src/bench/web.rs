//! `journey bench web`: load on the web app over loopback with wrk.

use std::path::Path;

use journey_app::{today, AppError};

use super::{one_journey, Outcome};

/// What wrk measured: requests a second, latency percentiles, non-2xx/3xx answers.
struct Load {
    per_second: f64,
    p50: String,
    p99: String,
    errors: u64,
    requests: u64,
}

fn wrk(
    url: &str,
    cookie: &str,
    connections: u32,
    seconds: u32,
    script: Option<&Path>,
) -> Result<Load, AppError> {
    let mut command = std::process::Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "-H",
        &format!("Cookie: {cookie}"),
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let out = command
        .arg(url)
        .output()
        .map_err(|e| AppError::Internal(format!("wrk (apt-get install wrk): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(AppError::Internal(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let field = |prefix: &str| -> Option<String> {
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
    let per_second = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| AppError::Internal(format!("wrk output without Requests/sec: {text}")))?;
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let errors = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(Load {
        per_second,
        p50: field("50%").unwrap_or_default(),
        p99: field("99%").unwrap_or_default(),
        errors,
        requests,
    })
}

pub(crate) async fn bench_web(
    server: &journey_postgres::PgConnectOptions,
    days: u32,
    connections: u32,
    seconds: u32,
) -> Outcome {
    use journey_postgres::accounts::{self, Role};
    let as_of = today();
    let (pool, key, imported) = one_journey(server, "journey_bench_web", 13, days, "web-").await?;
    let password = journey_app::accounts::random_password();
    let hash = journey_app::accounts::hash_password(&password)?;
    accounts::create_user(&pool, "bench", "Bench", Role::Family, &hash).await?;
    let _ = accounts::assign(&pool, "bench", &key).await?;

    // The app as `journey serve` runs it, on a free loopback port of this process; signed
    // in through the API, as a program would.
    let base = super::writes::serve(&pool).await?;
    let cookie = super::writes::sign_in(&base, "bench", &password)?;

    let page = std::process::Command::new("curl")
        .args([
            "-s",
            "-H",
            &format!("Cookie: {cookie}"),
            &format!("{base}/journeys/{key}"),
        ])
        .output()
        .map_err(|e| AppError::Internal(format!("curl: {e}")))?;
    let page = String::from_utf8_lossy(&page.stdout).to_string();
    let svg_bytes: usize = page
        .match_indices("<svg")
        .filter_map(|(at, _)| page[at..].find("</svg>").map(|end| end + 6))
        .sum();
    println!(
        "timeline page: {} kB, of which {} kB inline SVG charts",
        page.len() / 1000,
        svg_bytes / 1000
    );

    let script = std::env::temp_dir().join(format!("journey-bench-web-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{{\"type\": \"self_care\", \"on\": \"{as_of}\", \"minutes\": 10}}'\n"
        ),
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;

    println!(
        "one journey of {days} days ({} entries), wrk -t2 -c{connections} -d{seconds}s on loopback, same process as the app:",
        imported.stored
    );
    let runs = [
        (
            "sign-in page (baseline: session + template, no journey)",
            format!("{base}/login"),
            None,
        ),
        (
            "timeline page (charts, 50 newest entries)",
            format!("{base}/journeys/{key}"),
            None,
        ),
        (
            "entry POST /api/v1/journeys/KEY/entries",
            format!("{base}/api/v1/journeys/{key}/entries"),
            Some(script.as_path()),
        ),
    ];
    let family = connections.min(4);
    let runs = runs
        .into_iter()
        .map(|(what, url, script)| (what.to_string(), url, script, connections))
        .chain([(
            format!("entry POST at {family} connections (a family's members at once)"),
            format!("{base}/api/v1/journeys/{key}/entries"),
            Some(script.as_path()),
            family,
        )]);
    for (what, url, script, connections) in runs {
        let load = wrk(&url, &cookie, connections, seconds, script)?;
        println!(
            "  {what:<58} {:>8.0} req/s   p50 {:>8}   p99 {:>8}   ({} requests, {} not 2xx/3xx)",
            load.per_second, load.p50, load.p99, load.requests, load.errors
        );
    }
    let _ = std::fs::remove_file(&script);
    let stored = journey_postgres::testing::scalar_i64(&pool, "SELECT count(*) FROM entries").await;
    println!("  entries stored after the POST run: {stored}");
    Ok(())
}
