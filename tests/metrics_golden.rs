//! Golden tests: each tests/fixtures/NAME.jsonl imported and `journey metrics --as-of DATE`
//! gives tests/fixtures/NAME.metrics-DATE.json, every field, floats within 1e-9.

mod common;

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
    assert!(checked >= 2, "the fixtures were found");
}

#[tokio::test]
async fn export_then_import_gives_identical_metrics() {
    let db = TestDb::fresh().await;
    let sample = fixture("sample-12.jsonl");
    assert!(journey(&db, &["import", sample.to_str().unwrap()])
        .status
        .success());
    let before = stdout(&journey(&db, &["metrics", "--as-of", "2026-06-30"]));
    let exported = file_with(stdout(&journey(&db, &["export", "--raw"])));
    let other = TestDb::fresh().await;
    assert!(journey(&other, &["import", exported.to_str().unwrap()])
        .status
        .success());
    let after = stdout(&journey(&other, &["metrics", "--as-of", "2026-06-30"]));
    assert!(before.contains("\"nap\""));
    assert_eq!(before, after);
}

#[tokio::test]
async fn one_journey_and_the_table_format() {
    let db = TestDb::fresh().await;
    let sample = fixture("sample-12.jsonl");
    assert!(journey(&db, &["import", sample.to_str().unwrap()])
        .status
        .success());
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
