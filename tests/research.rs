//! `journey consent` and `journey research-export`: the dataset is read with pyarrow and
//! pandas (tests/research_check.py): schemas match datapackage.json, no value looks like a
//! date, no note text, handle or key appears, hashes match; subject ids are stable within a
//! project and differ between projects; only consented journeys are exported.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

fn export(db: &TestDb, project: &str, out: &Path, k: &str) -> String {
    let run = journey(
        db,
        &[
            "research-export",
            "--project",
            project,
            "--out",
            out.to_str().unwrap(),
            "--as-of",
            "2026-06-30",
            "--min-cell",
            k,
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    stdout(&run)
}

/// tests/dataset_check.py: frictionless validates the package and its CSV resources, DuckDB
/// reads every Parquet resource; (passed, what it printed).
fn explains_itself(folder: &Path) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/dataset_check.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(script)
        .arg(folder)
        .output()
        .expect("python3 runs (pip install frictionless duckdb; .ci/run does)");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

fn check(folder: &Path, forbidden: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/research_check.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(script)
        .arg(folder)
        .arg(forbidden)
        .output()
        .expect("python3 runs (pip install pyarrow pandas; .ci/run does)");
    assert!(
        out.status.success(),
        "the export fails the researcher's check:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the checker's JSON")
}

#[tokio::test]
async fn a_research_export_opens_in_pandas_and_leaks_nothing() {
    let db = TestDb::fresh().await;
    let sample = fixture("sample-12.jsonl");
    import_file(&db, &sample);
    // Nobody consented yet: an empty dataset.
    let none = TestDb::scratch_dir("research-none");
    assert!(export(&db, "P1", &none, "5").starts_with("0 subjects"));
    // Ten of the twelve families consent; one withdraws again.
    for n in 0..10 {
        let key = format!("j1-{n:04}");
        let run = journey(&db, &["consent", "--journey", &key, "grant"]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    assert!(
        journey(&db, &["consent", "--journey", "j1-0009", "withdraw"])
            .status
            .success()
    );
    let missing = journey(&db, &["consent", "--journey", "nobody", "grant"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("nobody"));

    let a = TestDb::scratch_dir("research-a");
    let b = TestDb::scratch_dir("research-b");
    let again = TestDb::scratch_dir("research-a2");
    let printed = export(&db, "P1", &a, "3");
    assert!(printed.starts_with("9 subjects"), "{printed}");
    export(&db, "P2", &b, "3");
    export(&db, "P1", &again, "3");

    // What must never appear: note texts, handles, journey keys, internal ids, dates.
    let mut forbidden: Vec<String> = Vec::new();
    for line in std::fs::read_to_string(&sample).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(text) = v.get("text").and_then(Value::as_str) {
            forbidden.push(text.to_string());
        }
        if let Some(by) = v.get("by").and_then(Value::as_str) {
            forbidden.push(by.to_string());
        }
        forbidden.push(v["journey"].as_str().unwrap().to_string());
    }
    for id in
        journey_postgres::testing::json_rows(&db.pool, "SELECT to_jsonb(journey_id) FROM journeys")
            .await
    {
        forbidden.push(id.as_str().unwrap().to_string());
    }
    forbidden.sort();
    forbidden.dedup();
    let list = file_with(forbidden.join("\n"));

    let first = check(&a, &list);
    // The package explains itself and holds: frictionless and DuckDB agree with it.
    let (valid, printed) = explains_itself(&a);
    assert!(valid, "the dataset does not explain itself:\n{printed}");
    let counted: Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(counted["frictionless"], true);
    assert_eq!(counted["rows"]["days-parquet"], counted["rows"]["days-csv"]);
    assert_eq!(counted["rows"]["subjects-parquet"], 9);
    // A value outside a declared set, or a subject id that is not in `subjects`, is caught.
    let broken = TestDb::scratch_dir("research-broken");
    std::fs::create_dir_all(&broken).unwrap();
    for file in std::fs::read_dir(&a).unwrap() {
        let file = file.unwrap().path();
        let to = broken.join(file.file_name().unwrap());
        if file.is_dir() {
            // A table's folder of Parquet parts.
            std::fs::create_dir_all(&to).unwrap();
            for part in std::fs::read_dir(&file).unwrap() {
                let part = part.unwrap().path();
                std::fs::copy(&part, to.join(part.file_name().unwrap())).unwrap();
            }
        } else {
            std::fs::copy(&file, to).unwrap();
        }
    }
    let days = std::fs::read_to_string(broken.join("days.csv")).unwrap();
    let mut lines: Vec<String> = days.lines().map(str::to_string).collect();
    let (row, _) = lines[1].rsplit_once(',').unwrap();
    lines[1] = format!("{row},sober");
    let (_, rest) = lines[2].split_once(',').unwrap();
    lines[2] = format!("{},{rest}", "f".repeat(32));
    std::fs::write(broken.join("days.csv"), lines.join("\n") + "\n").unwrap();
    let (valid, printed) = explains_itself(&broken);
    assert!(!valid, "{printed}");
    assert!(
        printed.contains("\"sober\"") && printed.contains("enum"),
        "{printed}"
    );
    assert!(printed.contains("foreign key"), "{printed}");
    let second = check(&b, &list);
    let repeat = check(&again, &list);
    let sids = |v: &Value| -> Vec<String> {
        v["sids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(sids(&first).len(), 9, "only consented journeys");
    assert_eq!(sids(&first), sids(&repeat), "stable within a project");
    assert!(
        sids(&first).iter().all(|s| !sids(&second).contains(s)),
        "unlinkable across projects"
    );
    assert!(first["rows"]["days-parquet"].as_u64().unwrap() > 1000);

    // k-anonymity: with k = 3 some relationship/substances combinations are rare.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["k"], 3);
    let suppressed = manifest["suppressed_subjects"].as_u64().unwrap();
    let subjects = std::fs::read_to_string(a.join("subjects.csv")).unwrap();
    assert_eq!(
        subjects
            .lines()
            .filter(|l| l.contains("suppressed,suppressed"))
            .count() as u64,
        suppressed
    );
    // With k = 1 nothing is suppressed.
    let open = TestDb::scratch_dir("research-k1");
    assert!(export(&db, "P1", &open, "1").contains("(0 with relationship"));

    // Every export is in the audit log with its manifest hash.
    let audits = journey_postgres::testing::json_rows(
        &db.pool,
        "SELECT detail FROM audit_log WHERE action = 'research_export' ORDER BY id",
    )
    .await;
    assert_eq!(audits.len(), 5);
    assert_eq!(audits[1]["project"], "P1");
    assert_eq!(audits[1]["manifest_sha256"].as_str().unwrap().len(), 64);

    let bad = journey(
        &db,
        &["research-export", "--project", "a b", "--out", "/tmp/x"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--project"));
}

#[tokio::test]
async fn the_weeks_table_carries_the_families_weekly_wellbeing() {
    let db = TestDb::fresh().await;
    let file = fixture("wellbeing-16.jsonl");
    import_file(&db, &file);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("wellbeing-16.metrics-2026-06-30.json")).unwrap(),
    )
    .unwrap();
    // Every family consents: the export's weeks are the metrics' weeks.
    let mut scores: Vec<f64> = Vec::new();
    for journey_metrics in expected["journeys"].as_array().unwrap() {
        let key = journey_metrics["journey"].as_str().unwrap();
        let run = journey(&db, &["consent", "--journey", key, "grant"]);
        assert!(run.status.success(), "{}", stderr(&run));
        for week in journey_metrics["weeks"].as_array().unwrap() {
            if let Some(score) = week["wellbeing"].as_f64() {
                scores.push(score);
            }
        }
    }
    assert!(scores.len() > 20, "the fixture has wellbeing check-ins");
    let out = TestDb::scratch_dir("research-wellbeing");
    export(&db, "W1", &out, "1");
    let weeks = std::fs::read_to_string(out.join("weeks.csv")).unwrap();
    let mut lines = weeks.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header
        .iter()
        .position(|h| *h == "wellbeing")
        .expect("a wellbeing column");
    let mut exported: Vec<f64> = lines
        .filter_map(|l| l.split(',').nth(at).filter(|v| !v.is_empty()))
        .map(|v| v.parse().unwrap())
        .collect();
    exported.sort_by(f64::total_cmp);
    scores.sort_by(f64::total_cmp);
    assert_eq!(exported, scores);
    let package: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("datapackage.json")).unwrap())
            .unwrap();
    let described = package["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "weeks-parquet")
        .flat_map(|r| r["schema"]["fields"].as_array().unwrap().clone())
        .find(|f| f["name"] == "wellbeing")
        .expect("wellbeing is described");
    assert_eq!(described["type"], "number");
    assert!(described["description"].as_str().unwrap().contains("WHO-5"));
}

/// tests/spark_check.py over `folder`: what Spark reads and computes.
fn spark(folder: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/spark_check.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(script)
        .arg(folder)
        .output()
        .expect("python3 runs (pip install pyspark; .ci/run does)");
    assert!(
        out.status.success(),
        "Spark could not read the export:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the checker's JSON")
}

#[tokio::test]
async fn an_export_written_a_few_journeys_at_a_time_reads_in_spark_and_gives_the_metrics() {
    let db = TestDb::fresh().await;
    import_file(&db, &fixture("sample-12.jsonl"));
    let metrics = journey(
        &db,
        &["metrics", "--as-of", "2026-06-30", "--format", "json"],
    );
    assert!(metrics.status.success(), "{}", stderr(&metrics));
    let metrics: Value = serde_json::from_slice(&metrics.stdout).unwrap();
    for journey_metrics in metrics["journeys"].as_array().unwrap() {
        let key = journey_metrics["journey"].as_str().unwrap();
        assert!(journey(&db, &["consent", "--journey", key, "grant"])
            .status
            .success());
    }
    // The same export in one chunk and in chunks of 5 journeys (3 chunks: several parts).
    let whole = TestDb::scratch_dir("research-whole");
    export(&db, "S1", &whole, "1");
    let chunked = TestDb::scratch_dir("research-chunked");
    let run = journey(
        &db,
        &[
            "research-export",
            "--project",
            "S1",
            "--out",
            chunked.to_str().unwrap(),
            "--as-of",
            "2026-06-30",
            "--min-cell",
            "1",
            "--chunk-journeys",
            "5",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    for table in ["subjects", "days", "events", "weeks", "treatment_episodes"] {
        let csv =
            |folder: &Path| std::fs::read_to_string(folder.join(format!("{table}.csv"))).unwrap();
        assert_eq!(
            csv(&whole),
            csv(&chunked),
            "{table}.csv does not depend on the chunks"
        );
        let parts = std::fs::read_dir(chunked.join(table)).unwrap().count();
        if table != "subjects" && table != "treatment_episodes" {
            assert_eq!(parts, 3, "{table}: one part per chunk");
        }
    }
    let (valid, printed) = explains_itself(&chunked);
    assert!(valid, "{printed}");

    let read = spark(&chunked);
    assert_eq!(read["rows"]["subjects"], 12);
    let days: usize = std::fs::read_to_string(whole.join("days.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(read["rows"]["days"].as_u64().unwrap() as usize, days);
    // PDA by phase, computed in Spark from the weeks, is the metrics' for every subject.
    let mut expected: Vec<[Option<f64>; 2]> = metrics["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| !j["craft_start"].is_null())
        .map(|j| {
            [
                j["summary"]["pda_baseline"].as_f64(),
                j["summary"]["pda_craft"].as_f64(),
            ]
        })
        .collect();
    let key = |pair: &[Option<f64>; 2]| pair.map(|v| v.unwrap_or(-1.0));
    expected.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap());
    let spark_pda: Vec<[Option<f64>; 2]> = read["pda"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| [p[0].as_f64(), p[1].as_f64()])
        .collect();
    assert_eq!(
        spark_pda.len(),
        expected.len(),
        "{spark_pda:?} vs {expected:?}"
    );
    for (got, want) in spark_pda.iter().zip(&expected) {
        for (g, w) in got.iter().zip(want) {
            match (g, w) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{got:?} vs {want:?}"),
                _ => assert_eq!(g, w, "{got:?} vs {want:?}"),
            }
        }
    }
}
