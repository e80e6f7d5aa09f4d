//! Golden tests: each tests/fixtures/NAME.jsonl imported and `journey metrics --as-of DATE`
//! gives tests/fixtures/NAME.metrics-DATE.json, every field, floats within 1e-9.

use crate::common;

use common::*;
use serde_json::Value;

fn same(actual: &Value, expected: &Value, path: &str, differences: &mut Vec<String>) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut keys: Vec<&String> = a.keys().chain(e.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                match (a.get(key), e.get(key)) {
                    (Some(x), Some(y)) => same(x, y, &format!("{path}.{key}"), differences),
                    _ => differences.push(format!("{path}.{key}: present on one side only")),
                }
            }
        }
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => {
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                same(x, y, &format!("{path}[{i}]"), differences);
            }
        }
        (Value::Number(a), Value::Number(e)) => {
            let (x, y) = (a.as_f64().expect("a number"), e.as_f64().expect("a number"));
            if (x - y).abs() > 1e-9 {
                differences.push(format!("{path}: {x} != {y}"));
            }
        }
        (a, e) if a == e => {}
        (a, e) => differences.push(format!("{path}: {a} != {e}")),
    }
}

#[tokio::test]
async fn every_fixture_gives_its_expected_metrics() {
    let folder = fixture("small.jsonl")
        .parent()
        .expect("a folder")
        .to_path_buf();
    let mut checked = 0;
    for item in std::fs::read_dir(&folder).expect("the fixtures folder") {
        let path = item.expect("an entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let Some((stem, rest)) = name.split_once(".metrics-") else {
            continue;
        };
        let as_of = rest.trim_end_matches(".json");
        let db = TestDb::fresh().await;
        let journal = folder.join(format!("{stem}.jsonl"));
        let imported = journey(&db, &["import", journal.to_str().unwrap()]);
        assert!(imported.status.success(), "{name}: {}", stderr(&imported));
        let out = journey(&db, &["metrics", "--as-of", as_of, "--format", "json"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let actual: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut differences = Vec::new();
        same(&actual, &expected, "", &mut differences);
        assert!(
            differences.is_empty(),
            "{name}:\n{}",
            differences.join("\n")
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "the fixtures were found (small, sample-12, wellbeing-16)"
    );
}

#[tokio::test]
async fn export_then_import_gives_identical_metrics() {
    let db = TestDb::fresh().await;
    let sample = fixture("sample-12.jsonl");
    import_file(&db, &sample);
    let before = stdout(&journey(&db, &["metrics", "--as-of", "2026-06-30"]));
    let exported = file_with(stdout(&journey(&db, &["export", "--raw"])));
    let other = TestDb::fresh().await;
    import_file(&other, &exported);
    let after = stdout(&journey(&other, &["metrics", "--as-of", "2026-06-30"]));
    assert!(before.contains("\"nap\""));
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_figures_do_not_depend_on_how_many_journeys_are_computed_at_a_time() {
    let db = TestDb::fresh().await;
    import_file(&db, &fixture("sample-12.jsonl"));
    let at_once = stdout(&journey(&db, &["metrics", "--as-of", "2026-06-30"]));
    // Chunks of 5 journeys: 3 chunks, the cohort from the facts of all of them.
    let chunked = stdout(&journey(
        &db,
        &["metrics", "--as-of", "2026-06-30", "--chunk-journeys", "5"],
    ));
    assert_eq!(at_once, chunked);
    let parsed: Value = serde_json::from_str(&chunked).expect("the streamed output is JSON");
    assert_eq!(parsed["journeys"].as_array().unwrap().len(), 12);
    assert_eq!(parsed["cohort"]["journeys"], 12);
    let table = stdout(&journey(
        &db,
        &[
            "metrics",
            "--as-of",
            "2026-06-30",
            "--format",
            "table",
            "--chunk-journeys",
            "5",
        ],
    ));
    assert_eq!(table.lines().count(), 2 + 12 + 1, "{table}");
    assert!(table.contains("cohort: 12 journeys"));
}

#[tokio::test]
async fn one_journey_and_the_table_format() {
    let db = TestDb::fresh().await;
    let sample = fixture("sample-12.jsonl");
    import_file(&db, &sample);
    let one: Value = serde_json::from_slice(
        &journey(
            &db,
            &["metrics", "--as-of", "2026-06-30", "--journey", "j1-0003"],
        )
        .stdout,
    )
    .expect("JSON");
    assert_eq!(one["journeys"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["cohort"]["journeys"], 1);
    assert_eq!(one["journeys"][0]["effect"]["reason"], "no_craft_start");
    let table = stdout(&journey(
        &db,
        &["metrics", "--as-of", "2026-06-30", "--format", "table"],
    ));
    assert_eq!(
        table.lines().filter(|l| l.starts_with("j1-")).count(),
        12,
        "{table}"
    );
    assert!(
        table.contains("Kaplan-Meier median time to treatment entry: 68 days"),
        "{table}"
    );
    let bad = journey(&db, &["metrics", "--as-of", "2026-13-01"]);
    assert_eq!(bad.status.code(), Some(1), "a bad date is bad input");
    assert!(stderr(&bad).contains("2026-13-01"), "{}", stderr(&bad));
}

/// The fixture files with an expected metrics file: (journey file, as-of day, expected JSON).
fn golden_cases() -> Vec<(std::path::PathBuf, String, Value)> {
    let folder = fixture("small.jsonl")
        .parent()
        .expect("a folder")
        .to_path_buf();
    let mut cases = Vec::new();
    for item in std::fs::read_dir(&folder).expect("the fixtures folder") {
        let path = item.expect("an entry").path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if let Some((stem, rest)) = name.split_once(".metrics-") {
            let expected = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            cases.push((
                folder.join(format!("{stem}.jsonl")),
                rest.trim_end_matches(".json").to_string(),
                expected,
            ));
        }
    }
    cases
}

/// `journey bench metrics` times one SQL query for the weekly table as its baseline; it only
/// means something if that query computes the same weeks.
#[tokio::test]
async fn the_sql_baseline_of_the_benchmark_gives_the_expected_weeks() {
    use journey_postgres::{read::Scope, scratch::sql_weekly};
    let cases = golden_cases();
    assert!(cases.len() >= 2);
    for (file, as_of, expected) in cases {
        let db = TestDb::fresh().await;
        import_file(&db, &file);
        let day = as_of.parse().expect("a date");
        let rows = sql_weekly(&db.pool, Scope::All, day)
            .await
            .expect("the query");
        let weeks: Vec<(&Value, &Value)> = expected["journeys"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|j| {
                j["weeks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |w| (&j["journey"], w))
            })
            .collect();
        assert_eq!(rows.len(), weeks.len(), "{}", file.display());
        for (row, (key, week)) in rows.iter().zip(weeks) {
            assert_eq!(*key, row.key.as_str());
            assert_eq!(week["week"], row.week, "{row:?}");
            for (field, value) in [
                ("days", row.days),
                ("use_days", row.use_days),
                ("no_use_days", row.no_use_days),
                ("unknown_days", row.unknown_days),
                ("controlled_days", row.controlled_days),
            ] {
                assert_eq!(week[field], value, "{field} of {row:?}");
            }
            assert!((week["coverage"].as_f64().unwrap() - row.coverage).abs() < 1e-9);
            assert_eq!(week["pda"].as_f64().is_none(), row.pda.is_none(), "{row:?}");
            if let (Some(a), Some(b)) = (week["pda"].as_f64(), row.pda) {
                assert!((a - b).abs() < 1e-9, "{row:?}");
            }
        }
    }
}

/// Shuffles `lines`: `journey_started` lines first, everything else in random order, except
/// that the lines of one journey whose order matters (treatment entries and exits, retracts,
/// lines with an explicit `entry` id a retract may target) keep their relative order.
fn shuffled(lines: &[String], seed: u64) -> Vec<String> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let ordered = |v: &Value| {
        let kind = v["type"].as_str().unwrap_or_default();
        kind.starts_with("treatment_") || kind == "retract" || v.get("entry").is_some()
    };
    let mut started: Vec<usize> = Vec::new();
    let mut rest: Vec<usize> = Vec::new();
    for (i, v) in parsed.iter().enumerate() {
        if v["type"] == "journey_started" {
            started.push(i);
        } else {
            rest.push(i);
        }
    }
    started.shuffle(&mut rng);
    rest.shuffle(&mut rng);
    // Put each journey's ordered lines back in their original order, in the slots they took.
    let mut by_journey: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for &i in &rest {
        if ordered(&parsed[i]) {
            by_journey
                .entry(parsed[i]["journey"].to_string())
                .or_default()
                .push(i);
        }
    }
    for list in by_journey.values_mut() {
        list.sort_unstable();
        list.reverse();
    }
    for slot in rest.iter_mut() {
        if ordered(&parsed[*slot]) {
            let list = by_journey
                .get_mut(&parsed[*slot]["journey"].to_string())
                .expect("listed");
            *slot = list.pop().expect("one per slot");
        }
    }
    started
        .into_iter()
        .chain(rest)
        .map(|i| lines[i].clone())
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 4, ..Default::default() })]

    /// Shuffling the lines of a file (each journey's treatment lines kept in order) changes no
    /// figure, through import and the database.
    #[test]
    fn shuffling_a_file_changes_no_figure(seed in proptest::prelude::any::<u64>()) {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let sample = fixture("sample-12.jsonl");
        let lines: Vec<String> = std::fs::read_to_string(&sample)
            .expect("the fixture")
            .lines()
            .map(str::to_string)
            .collect();
        let mixed = shuffled(&lines, seed);
        proptest::prop_assert_ne!(&mixed, &lines);
        let file = file_with(mixed.join("\n") + "\n");
        let db = runtime.block_on(TestDb::fresh());
        let imported = journey(&db, &["import", file.to_str().unwrap()]);
        proptest::prop_assert!(imported.status.success(), "{}", stderr(&imported));
        let out = journey(&db, &["metrics", "--as-of", "2026-06-30"]);
        let actual: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture("sample-12.metrics-2026-06-30.json")).unwrap(),
        )
        .unwrap();
        let mut differences = Vec::new();
        same(&actual, &expected, "", &mut differences);
        proptest::prop_assert!(differences.is_empty(), "{}", differences.join("\n"));
    }
}

/// The metric rows of every journey, each journey's rows in one order (the two sources give
/// them in different orders).
fn sorted_rows(
    rows: Vec<(String, Vec<journey_postgres::read::MetricRow>)>,
) -> Vec<(String, Vec<String>)> {
    rows.into_iter()
        .map(|(key, rows)| {
            let mut rows: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
            rows.sort();
            (key, rows)
        })
        .collect()
}

#[tokio::test]
async fn metric_weeks_hold_the_rows_of_the_entries_table() {
    use journey_postgres::read::{metric_rows, metric_rows_from_entries, Scope};
    let db = TestDb::fresh().await;
    let sample = fixture("sample-12.jsonl");
    import_file(&db, &sample);
    // A retract in a later batch, and an erased journey: the projection follows both.
    let (target, kind): (String, String) = sqlx::query_as(
        "SELECT e.entry, e.type FROM entries e JOIN journeys j USING (journey_id)
          WHERE j.key = 'j1-0001' AND e.type IN ('use_observed', 'clean_day_observed', 'day_status')
          ORDER BY e.sequence LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("an entry of j1-0001");
    let retract = file_with(format!(
        "{{\"journey\":\"j1-0001\",\"type\":\"retract\",\"target\":\"{target}\"}}\n"
    ));
    let imported = journey(&db, &["import", retract.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let erased = journey(&db, &["erase", "--journey", "j1-0002", "--yes"]);
    assert!(erased.status.success(), "{}", stderr(&erased));

    for round in ["projected", "rebuilt"] {
        let input = sorted_rows(metric_rows(&db.pool, Scope::All).await.unwrap());
        // metric_weeks leaves the retract lines out (no figure counts them).
        let entries = sorted_rows(
            metric_rows_from_entries(&db.pool, Scope::All)
                .await
                .unwrap()
                .into_iter()
                .map(|(key, rows)| {
                    (
                        key,
                        rows.into_iter().filter(|r| r.kind != "retract").collect(),
                    )
                })
                .collect(),
        );
        assert_eq!(input.len(), 11, "{round}: 12 journeys, one erased");
        assert!(input.iter().all(|(key, _)| key != "j1-0002"), "{round}");
        assert_eq!(input, entries, "{round}: metric_weeks = entries");
        let (_, rows) = input.iter().find(|(k, _)| k == "j1-0001").unwrap();
        assert!(
            rows.iter()
                .any(|r| r.contains(&format!("kind: \"{kind}\"")) && r.contains("retracted: true")),
            "{round}: the retracted entry is marked"
        );
        assert_eq!(
            sqlx_count(&db, "SELECT count(DISTINCT journey_id) FROM metric_weeks").await,
            11,
            "{round}: no row of the erased journey"
        );
        let rebuilt = journey(&db, &["rebuild"]);
        assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    }
}
