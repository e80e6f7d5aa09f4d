//! Erasure by crypto-shredding: notes and reporter handles are sealed at rest with a key per
//! journey; `journey erase` destroys the key, records the erasure and purges the journey from
//! every read table and its report folder. A `pg_dump` then holds none of its private text,
//! the other journeys' metrics are unchanged, and a rebuild keeps it purged.

use crate::common;

use std::process::Command;

use common::*;
use serde_json::Value;

const NOTE: &str = "Private words QX7-only-in-this-note";
const HANDLE: &str = "aunt-zq9";
const REASON: &str = "entered by mistake RZ4-only-in-this-reason";

fn pg_dump(db: &TestDb) -> String {
    let out = Command::new("pg_dump")
        .arg("--dbname")
        .arg(&db.url)
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn others(metrics: &str) -> Vec<Value> {
    let report: Value = serde_json::from_str(metrics).expect("metrics JSON");
    report["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["journey"] != "small")
        .cloned()
        .collect()
}

#[tokio::test]
async fn erasing_a_journey_leaves_no_readable_private_text_anywhere() {
    let db = TestDb::fresh().await;
    for file in ["small.jsonl", "sample-12.jsonl"] {
        let out = journey(&db, &["import", fixture(file).to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let line = format!(
        r#"{{"journey":"small","type":"note","on":"2025-03-20","by":"{HANDLE}","text":"{NOTE}"}}"#
    );
    let out = journey(&db, &["record", &line]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A retraction's reason is the family's own words too.
    let target: String = sqlx::query_scalar(
        "SELECT e.entry FROM entries e JOIN journeys j USING (journey_id)
          WHERE j.key = 'small' AND e.type = 'reward_given' LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a reward of small");
    let retract = format!(
        r#"{{"journey":"small","type":"retract","target":"{target}","reason":"{REASON}"}}"#
    );
    let out = journey(&db, &["record", &retract]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reports = TestDb::scratch_dir("erase-reports");
    let out = journey(
        &db,
        &[
            "report",
            "--journey",
            "small",
            "--as-of",
            "2025-04-01",
            "--out",
            reports.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(reports.join("small").exists());

    // At rest, before any erasure: sealed everywhere, readable through the program.
    let dump = pg_dump(&db);
    for secret in [NOTE, HANDLE, REASON, "mom-ann", "dad-bo", "sis-lee"] {
        assert!(!dump.contains(secret), "{secret} is stored in plain text");
    }
    assert!(dump.contains("sealed:v1:"));
    let exported = stdout(&journey(&db, &["export", "--raw", "--journey", "small"]));
    assert!(exported.contains(NOTE) && exported.contains(HANDLE) && exported.contains("mom-ann"));
    assert!(
        exported.contains(REASON),
        "the reason opens for the program"
    );

    let before = stdout(&journey(&db, &["metrics", "--as-of", "2026-06-30"]));
    let events_before = event_count(&db).await;

    let refused = journey(&db, &["erase", "--journey", "small"]);
    assert_eq!(refused.status.code(), Some(1), "erasure needs --yes");
    assert!(stderr(&refused).contains("--yes"));
    let unknown = journey(&db, &["erase", "--journey", "nobody", "--yes"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("nobody"));

    // Erased from another working folder and without `--reports`: the folder the report
    // was written to is still found (the store remembers it until the erasure).
    let elsewhere = TestDb::scratch_dir("erase-elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["erase", "--journey", "small", "--yes"])
        .current_dir(&elsewhere)
        .env("DATABASE_URL", &db.url)
        .env("JOURNEY_MASTER_KEY", &db.master_hex)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!reports.join("small").exists(), "the report folder is gone");
    assert!(stdout(&out).contains("removed "), "{}", stdout(&out));

    // Events are never deleted: one more, the erasure.
    assert_eq!(event_count(&db).await, events_before + 1);
    assert_eq!(
        sqlx_count(
            &db,
            "SELECT count(*) FROM events WHERE event_type = 'JourneyErased'"
        )
        .await,
        1
    );
    // Nothing left to read: no key, no read rows, no key name.
    for table in [
        "journey_secrets",
        "entries",
        "journeys",
        "relapses_after_rehab",
        "research_consent",
        "entry_index",
        "report_folders",
        "metric_weeks",
    ] {
        let left = sqlx_count(
            &db,
            &format!(
                "SELECT count(*) FROM {table} WHERE journey_id = (SELECT aggregate_id FROM events WHERE event_type = 'JourneyErased')"
            ),
        )
        .await;
        assert_eq!(left, 0, "{table} still holds the erased journey");
    }
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM journey_keys WHERE key = 'small'").await,
        0
    );
    let listed = stdout(&journey(&db, &["journeys"]));
    assert!(!listed.contains("small"), "{listed}");
    let exported = stdout(&journey(&db, &["export", "--raw"]));
    assert!(!exported.contains(NOTE) && !exported.contains(HANDLE));
    assert!(!exported.contains(r#""journey":"small""#));
    let after = stdout(&journey(&db, &["metrics", "--as-of", "2026-06-30"]));
    assert_eq!(
        others(&after),
        others(&before),
        "the other journeys' metrics are unchanged"
    );
    assert!(!after.contains("\"small\""));

    // Rebuilding the read tables from every event keeps it purged.
    let out = journey(&db, &["rebuild"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&journey(&db, &["journeys"])).contains("small"));
    assert_eq!(
        stdout(&journey(&db, &["metrics", "--as-of", "2026-06-30"])),
        after,
        "a rebuild gives the same figures"
    );

    // The dump holds none of its private text, sealed or not: the key that opened it is gone.
    let dump = pg_dump(&db);
    for secret in [NOTE, HANDLE, REASON] {
        assert!(!dump.contains(secret), "{secret} in pg_dump after erasure");
    }
    // The events of the erased journey still hold only ciphertext, and no key opens it.
    let sealed = sqlx_count(
        &db,
        "SELECT count(*) FROM events WHERE aggregate_id = (SELECT aggregate_id FROM events WHERE event_type = 'JourneyErased') AND payload::text LIKE '%sealed:v1:%'",
    )
    .await;
    assert!(sealed > 0);
    // The key name is free again: a new journey under it is a new journey.
    let out = journey(
        &db,
        &[
            "record",
            r#"{"journey":"small","type":"journey_started","on":"2025-05-01","relationship":"sibling"}"#,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = stdout(&journey(&db, &["export", "--raw", "--journey", "small"]));
    assert_eq!(exported.lines().count(), 1, "{exported}");
}
