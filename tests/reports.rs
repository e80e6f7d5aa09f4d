//! `journey report`: HTML progress reports of the fixture journeys, as insta snapshots (the
//! HTML and each inlined SVG chart), and the report of small.jsonl rendered in headless
//! Chromium.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The inlined SVG charts of a report, in order.
fn charts(html: &str) -> Vec<&str> {
    html.match_indices("<svg")
        .map(|(start, _)| {
            let end = html[start..].find("</svg>").expect("a closed svg") + start + 6;
            &html[start..end]
        })
        .collect()
}

async fn reported(file: &str, args: &[&str]) -> (TestDb, PathBuf, String) {
    let db = TestDb::fresh().await;
    let imported = journey(&db, &["import", fixture(file).to_str().unwrap()]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let out = TestDb::scratch_dir("reports");
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let run = journey(&db, &all);
    assert!(run.status.success(), "{}", stderr(&run));
    let path = PathBuf::from(stdout(&run).lines().next().expect("a path"));
    assert!(path.starts_with(&out), "{}", path.display());
    let html = std::fs::read_to_string(&path).expect("the report file");
    (db, path, html)
}

#[tokio::test]
async fn the_report_of_small_matches_its_snapshots() {
    let (_db, path, html) = reported(
        "small.jsonl",
        &["--journey", "small", "--as-of", "2025-04-01"],
    )
    .await;
    assert!(
        path.ends_with("small/2025-04-01.html"),
        "{}",
        path.display()
    );
    let svgs = charts(&html);
    assert_eq!(svgs.len(), 4, "calendar, weekly, practice, association");
    for (name, svg) in ["calendar", "weekly", "practice", "association"]
        .iter()
        .zip(&svgs)
    {
        insta::assert_snapshot!(format!("small_{name}_svg"), svg);
    }
    insta::assert_snapshot!("small_report_html", html);
}

#[tokio::test]
async fn the_cohort_report_of_sample_12_matches_its_snapshot() {
    let (_db, path, html) =
        reported("sample-12.jsonl", &["--cohort", "--as-of", "2026-06-30"]).await;
    assert!(path.ends_with("cohort/2026-06-30.html"));
    assert_eq!(html.matches("<tr><td>j1-").count(), 12, "a row per journey");
    assert!(html.contains("Median time to entry: 68 days"));
    let svgs = charts(&html);
    assert_eq!(svgs.len(), 1);
    insta::assert_snapshot!("sample_12_cohort_svg", svgs[0]);
    insta::assert_snapshot!("sample_12_cohort_html", html);
}

#[tokio::test]
async fn every_journey_of_sample_12_gets_a_report_that_says_why_a_figure_is_missing() {
    let (db, _, html) = reported(
        "sample-12.jsonl",
        &["--journey", "j1-0003", "--as-of", "2026-06-30"],
    )
    .await;
    // j1-0003 has no CRAFT start: the report says so instead of showing empty figures.
    assert!(html.contains("No CRAFT start is recorded yet"), "{html}");
    assert!(html.contains("Not computed: no CRAFT start is recorded"));
    // --png writes the four charts as PNG files next to the report.
    let out = TestDb::scratch_dir("png");
    let run = journey(
        &db,
        &[
            "report",
            "--journey",
            "j1-0000",
            "--as-of",
            "2026-06-30",
            "--png",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let paths: Vec<String> = stdout(&run).lines().map(str::to_string).collect();
    assert_eq!(paths.len(), 5, "{paths:?}");
    for png in &paths[1..] {
        let bytes = std::fs::read(png).expect("a PNG file");
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
        assert!(bytes.len() > 5_000, "{png}: a drawn chart");
    }
    assert!(paths[1].ends_with("j1-0000/2026-06-30-calendar.png"));
    let missing = journey(&db, &["report", "--journey", "nobody", "--out", "/tmp"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no journey with key \"nobody\""));
    let neither = journey(&db, &["report"]);
    assert_eq!(
        neither.status.code(),
        Some(1),
        "--journey or --cohort is required"
    );
}

fn chromium() -> &'static str {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).exists() {
            return candidate;
        }
    }
    panic!("Debian's chromium is required (apt-get install chromium); .ci/run installs it")
}

/// The report of small.jsonl at 2025-04-01 rendered by headless Chromium: the PNG is kept in
/// target/report-screenshots/ to be looked at, and Chromium's own layout is asked whether any
/// chart is wider than the page (cut off) or any two figures overlap.
#[tokio::test]
async fn chromium_renders_the_small_report() {
    let (_db, path, _) = reported(
        "small.jsonl",
        &["--journey", "small", "--as-of", "2025-04-01"],
    )
    .await;
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("small-2025-04-01.png");
    let _ = std::fs::remove_file(&png);
    let profile = TestDb::scratch_dir("chromium");
    let url = format!("file://{}", path.display());
    let shot = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
            "--window-size=800,6000",
            &format!("--screenshot={}", png.display()),
            &url,
        ])
        .output()
        .expect("chromium runs");
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(bytes.len() > 50_000, "a rendered page, not a blank one");

    // Layout check in the browser: every figure, table and paragraph fits the page width (at
    // the width of an A4 page), and figures do not overlap one another.
    let script = r#"<script>
      const figs = [...document.querySelectorAll('figure')].map(f => f.getBoundingClientRect());
      const right = document.body.getBoundingClientRect().right;
      const problems = [];
      document.querySelectorAll('figure, table, svg, p, ul').forEach((e, i) => {
        const r = e.getBoundingClientRect();
        if (r.right > right + 1) problems.push(e.tagName + ' ' + i + ' cut off at ' + r.right + ' > ' + right);
      });
      for (let i = 1; i < figs.length; i++) if (figs[i].top < figs[i-1].bottom - 1) problems.push('figure ' + i + ' overlaps');
      document.title = 'LAYOUT:' + (problems.length ? problems.join(';') : 'ok') + ':' + figs.length;
    </script>"#;
    let checked = path.with_extension("check.html");
    let html = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &checked,
        html.replace("</body>", &format!("{script}</body>")),
    )
    .unwrap();
    let dom = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            &format!("--user-data-dir={}", profile.display()),
            "--window-size=760,6000",
            "--dump-dom",
            &format!("file://{}", checked.display()),
        ])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<title>LAYOUT:ok:4</title>"),
        "{}",
        &dom[..dom.len().min(400)]
    );
}
