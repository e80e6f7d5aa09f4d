//! The event store against a real PostgreSQL: snapshots, concurrency, per-journey turns,
//! inline projection and its catch-up, and the embedded cluster.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use common::*;
use journey_postgres::store::Recorder;
use journey_postgres::{projector, StoreError};

#[tokio::test]
async fn the_snapshot_holds_each_event_once() {
    let db = TestDb::fresh().await;
    let recorder = Recorder::new(db.pool.clone(), db.master.clone());
    start(&recorder, "k").await;
    for i in 0..2 {
        let text =
            format!(r#"{{"journey":"k","type":"reward_given","on":"2025-01-02","entry":"r{i}"}}"#);
        recorder
            .record("k", entry(&text), Utc::now(), HashMap::new())
            .await
            .expect("recorded");
    }
    let snapshot = journey_postgres::testing::json_rows(
        &db.pool,
        "SELECT jsonb_build_object('seq', last_sequence, 'entries', payload::jsonb -> 'entries') FROM snapshots",
    )
    .await;
    assert_eq!(snapshot, [serde_json::json!({"seq": 3, "entries": 3})]);
}

#[tokio::test]
async fn concurrent_appends_to_one_journey_lose_nothing() {
    let db = TestDb::fresh().await;
    let recorder = Arc::new(Recorder::new(db.pool.clone(), db.master.clone()));
    start(&recorder, "busy").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!(r#"{{"journey":"busy","type":"positive_communication","on":"2025-01-03","entry":"p{i}"}}"#);
            let mut conflicts = 0;
            loop {
                match recorder.record("busy", entry(&text), Utc::now(), HashMap::new()).await {
                    Ok(_) => return conflicts,
                    Err(StoreError::Conflict) => conflicts += 1,
                    Err(other) => panic!("{other}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("the task ends");
    }
    assert_eq!(event_count(&db).await, 9);
    let entries = sqlx_count(
        &db,
        "SELECT (payload::jsonb ->> 'entries')::bigint FROM snapshots",
    )
    .await;
    assert_eq!(entries, 9);
    assert_eq!(
        sqlx_count(&db, "SELECT max(last_sequence) FROM snapshots").await,
        9
    );
}

#[tokio::test]
async fn a_journey_held_by_a_writer_holds_no_other_journey_back() {
    let db = TestDb::fresh().await;
    let recorder = Recorder::new(db.pool.clone(), db.master.clone());
    start(&recorder, "slow").await;
    // A writer of "slow" holds its turn (the snapshot row) and does not commit.
    let mut open = db.pool.begin().await.expect("a transaction");
    sqlx::query("SELECT 1 FROM snapshots WHERE aggregate_id = (SELECT journey_id FROM journey_keys WHERE key = 'slow') FOR UPDATE")
        .execute(&mut *open)
        .await
        .expect("locked");
    // Other journeys are written, and readable, at once: nothing waits for "slow".
    let done = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        start(&recorder, "fast").await;
        let text = r#"{"journey":"fast","type":"reward_given","on":"2025-01-02","entry":"r"}"#;
        recorder
            .record("fast", entry(text), Utc::now(), HashMap::new())
            .await
            .expect("recorded");
    })
    .await;
    assert!(done.is_ok(), "a write to another journey waited");
    assert_eq!(
        sqlx_count(
            &db,
            "SELECT entries::bigint FROM journeys WHERE key = 'fast'"
        )
        .await,
        2,
        "projected in the write's own transaction"
    );
    // The next writer of "slow" waits for the open one, then goes on.
    let waiting = {
        let recorder = Recorder::new(db.pool.clone(), db.master.clone());
        tokio::spawn(async move {
            let text = r#"{"journey":"slow","type":"reward_given","on":"2025-01-02","entry":"r"}"#;
            recorder
                .record("slow", entry(text), Utc::now(), HashMap::new())
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a second writer of one journey waits its turn"
    );
    open.commit().await.expect("commits");
    waiting
        .await
        .expect("ends")
        .expect("recorded after the turn");
    assert_eq!(
        sqlx_count(
            &db,
            "SELECT entries::bigint FROM journeys WHERE key = 'slow'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn catch_up_projects_journeys_written_without_projection() {
    let db = TestDb::fresh().await;
    // Events stored by another tool (no read rows, no checkpoint), with their snapshot.
    let mut tx = db.pool.begin().await.expect("a transaction");
    sqlx_insert_start(&mut tx, "other-id", "other").await;
    sqlx::query(
        "INSERT INTO snapshots VALUES ('Journey', 'other-id', 1, 1, '{\"started\": null, \"craft\": null, \"episodes\": [], \"entries\": 1}')",
    )
    .execute(&mut *tx)
    .await
    .expect("snapshot");
    tx.commit().await.expect("commits");
    assert_eq!(sqlx_count(&db, "SELECT count(*) FROM journeys").await, 0);
    assert_eq!(projector::catch_up(&db.pool).await.expect("projects"), 1);
    assert_eq!(sqlx_count(&db, "SELECT count(*) FROM journeys").await, 1);
    assert_eq!(
        projector::catch_up(&db.pool).await.expect("projects"),
        0,
        "each event once"
    );
    // The next write of that journey goes on from its checkpoint.
    let recorder = Recorder::new(db.pool.clone(), db.master.clone());
    let text = r#"{"journey":"other","type":"reward_given","on":"2025-01-02","entry":"r"}"#;
    let err = recorder
        .record("other", entry(text), Utc::now(), HashMap::new())
        .await;
    // Its key has no secret (another tool's journey): it is refused, nothing half-written.
    assert!(err.is_err());
    assert_eq!(
        sqlx_count(&db, "SELECT sum(entries)::bigint FROM journeys").await,
        1
    );
}

async fn sqlx_insert_start(tx: &mut journey_postgres::testing::Tx, id: &str, key: &str) {
    let payload = serde_json::json!({"EntryRecorded": {"recorded_at": "2025-01-01T00:00:00Z", "entry": "s", "on": "2025-01-01", "type": "journey_started", "relationship": "child"}});
    journey_postgres::testing::insert_event(tx, id, key, &payload).await;
}

#[test]
fn without_database_url_the_program_runs_its_own_postgresql() {
    let dir = TestDb::scratch_dir("embedded");
    // A relative data folder, as the default `.journey/pg` is.
    let (parent, name) = (
        dir.parent().expect("a parent"),
        dir.file_name().expect("a name"),
    );
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_journey"))
            .current_dir(parent)
            .arg("--data-dir")
            .arg(name)
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("JOURNEY_MASTER_KEY")
            .env_remove("JOURNEY_MASTER_KEY_FILE")
            .env("XDG_DATA_HOME", dir.with_extension("data"))
            .output()
            .expect("runs")
    };
    let first = run(&["journeys"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("0 journeys"), "{}", stdout(&first));
    assert!(
        dir.join("PG_VERSION").exists(),
        "the cluster lives in the data folder"
    );
    let small = fixture("small.jsonl");
    assert!(run(&["import", small.to_str().unwrap()]).status.success());
    let again = run(&["journeys"]);
    assert!(
        stdout(&again).contains("1 journeys"),
        "kept across runs: {}",
        stdout(&again)
    );
    // Really stopped: a second stop finds nothing running.
    for says in ["stopped PostgreSQL", "no PostgreSQL was running"] {
        let stop = run(&["stop"]);
        assert!(stop.status.success(), "{}", stderr(&stop));
        assert!(stdout(&stop).contains(says), "{}", stdout(&stop));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_master_key_that_does_not_open_the_store_is_refused_at_start() {
    let db = TestDb::fresh().await;
    import_file(&db, &fixture("small.jsonl"));
    let run = |key: Option<&str>, file: Option<&std::path::Path>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_journey"));
        command
            .arg("journeys")
            .env("DATABASE_URL", &db.url)
            .env_remove("JOURNEY_MASTER_KEY")
            .env_remove("JOURNEY_MASTER_KEY_FILE");
        if let Some(key) = key {
            command.env("JOURNEY_MASTER_KEY", key);
        }
        if let Some(file) = file {
            command.env("JOURNEY_MASTER_KEY_FILE", file);
        }
        command.output().expect("runs")
    };
    let right = run(Some(&db.master_hex), None);
    assert!(right.status.success(), "{}", stderr(&right));
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM master_key_check").await,
        1,
        "the check value is kept"
    );
    // Another key: one clear line, exit 2, nothing answered with a sealed error later.
    let other = "ab".repeat(32);
    let wrong = run(Some(&other), None);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    assert!(
        stderr(&wrong).contains("JOURNEY_MASTER_KEY")
            && stderr(&wrong).contains("not the one this database"),
        "{}",
        stderr(&wrong)
    );
    // No key file where one is looked for: none is made for a store with sealed data.
    let missing = TestDb::scratch_dir("no-key").join("master.key");
    let none = run(None, Some(&missing));
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    assert!(
        stderr(&none).contains(&missing.display().to_string()),
        "{}",
        stderr(&none)
    );
    assert!(!missing.exists(), "no new key made for a sealed store");
}

#[tokio::test]
async fn entries_saved_together_are_stored_together_or_not_at_all() {
    let db = TestDb::fresh().await;
    let recorder = Recorder::new(db.pool.clone(), db.master.clone());
    start(&recorder, "k").await;
    let line = |text: &str| entry(&format!(r#"{{"journey":"k",{text}}}"#));
    // The third breaks a rule (an exit with no episode open): nothing of the three is stored.
    let refused = recorder
        .record_all(
            "k",
            vec![
                line(r#""type":"clean_day_observed","on":"2025-01-02","entry":"a""#),
                line(r#""type":"reward_given","on":"2025-01-02","entry":"b""#),
                line(r#""type":"treatment_exited","on":"2025-01-02","reason":"completed","entry":"c""#),
            ],
            Utc::now(),
            HashMap::new(),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Rule(
                journey_domain::JourneyError::NoOpenEpisode
            ))
        ),
        "{refused:?}"
    );
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT count(*) FROM events").await,
        1,
        "only the start"
    );
    assert_eq!(count("SELECT count(*) FROM entries").await, 1);
    // Each entry is checked after the ones before it: an entry and its exit in one save.
    recorder
        .record_all(
            "k",
            vec![
                line(r#""type":"treatment_entered","on":"2025-01-02","modality":"detox","entry":"t""#),
                line(r#""type":"treatment_exited","on":"2025-01-09","reason":"completed","entry":"x""#),
                line(r#""type":"use_observed","on":"2025-01-10","entry":"u""#),
            ],
            Utc::now(),
            HashMap::new(),
        )
        .await
        .expect("stored together");
    assert_eq!(count("SELECT count(*) FROM entries").await, 4);
    assert_eq!(count("SELECT count(*) FROM relapses_after_rehab").await, 1);
    // Two entries of one save with one id: the second is checked against the first.
    let twice = recorder
        .record_all(
            "k",
            vec![
                line(r#""type":"reward_given","on":"2025-01-11","entry":"same""#),
                line(r#""type":"stepped_away","on":"2025-01-11","entry":"same""#),
            ],
            Utc::now(),
            HashMap::new(),
        )
        .await;
    assert!(
        matches!(
            twice,
            Err(StoreError::Rule(
                journey_domain::JourneyError::DuplicateEntry(_)
            ))
        ),
        "{twice:?}"
    );
    assert_eq!(count("SELECT count(*) FROM entries").await, 4);
}

#[tokio::test]
async fn the_default_master_key_is_found_from_any_working_folder() {
    let db = TestDb::fresh().await;
    let home = TestDb::scratch_dir("key-home");
    let run = |folder: &str, args: &[&str]| {
        let cwd = home.join(folder);
        std::fs::create_dir_all(&cwd).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_journey"))
            .current_dir(&cwd)
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env_remove("JOURNEY_MASTER_KEY")
            .env_remove("JOURNEY_MASTER_KEY_FILE")
            .env("XDG_DATA_HOME", home.join("data"))
            .output()
            .expect("runs")
    };
    let small = fixture("small.jsonl");
    let imported = run("here", &["import", small.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    // Another working folder, the same store: the same key, and the notes open.
    let exported = run("there", &["export", "--raw", "--journey", "small"]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(
        stdout(&exported).contains("mom-ann"),
        "{}",
        stdout(&exported)
    );
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM store_identity")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let file = home.join("data/journey/keys").join(format!("{id}.key"));
    assert!(
        file.exists(),
        "the key is named after the store: {}",
        file.display()
    );
    assert!(
        !home.join("here/.journey").exists(),
        "nothing in the working folder"
    );
}

#[tokio::test]
async fn every_key_of_a_journey_table_holds_the_journey_id_and_no_reference_crosses_journeys() {
    let db = TestDb::fresh().await;
    for (table, column) in journey_postgres::testing::JOURNEY_TABLES {
        // Every primary key and unique index (a distributed or partitioned table needs the
        // distribution column in each).
        let keys: Vec<(String, Vec<String>)> = sqlx::query_as(
            "SELECT i.indexrelid::regclass::text,
                    ARRAY(SELECT a.attname::text FROM unnest(i.indkey) k
                            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k)
               FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique",
        )
        .bind(table)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert!(!keys.is_empty(), "{table} has a primary key");
        for (index, columns) in keys {
            assert!(
                columns.iter().any(|c| c == column),
                "{table}: unique index {index} on {columns:?} lacks {column}"
            );
        }
        // Foreign keys only to tables that are not a journey's (users: a reference table).
        let references: Vec<String> = sqlx::query_scalar(
            "SELECT confrelid::regclass::text FROM pg_constraint
              WHERE conrelid = $1::regclass AND contype = 'f'",
        )
        .bind(table)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        for target in references {
            assert!(
                !journey_postgres::testing::JOURNEY_TABLES
                    .iter()
                    .any(|(t, _)| *t == target),
                "{table} references the journey table {target}"
            );
        }
    }
    // The second run of the store tests (JOURNEY_TEST_PARTITIONS=8) runs them over tables
    // hash-partitioned by journey id: they are.
    let partitioned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
          WHERE c.relname = ANY($1)",
    )
    .bind(
        journey_postgres::testing::JOURNEY_TABLES
            .iter()
            .map(|(t, _)| t.to_string())
            .collect::<Vec<_>>(),
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let expected = if std::env::var("JOURNEY_TEST_PARTITIONS")
        .is_ok_and(|n| n.parse::<usize>().is_ok_and(|n| n > 1))
    {
        journey_postgres::testing::JOURNEY_TABLES.len() as i64
    } else {
        0
    };
    assert_eq!(partitioned, expected);
}

#[tokio::test]
async fn no_index_of_snapshots_holds_a_column_that_a_write_changes() {
    // Every write updates its journey's snapshot row (last_sequence, current_snapshot,
    // payload); an index on any of those makes every such update a non-HOT one, which
    // leaves a dead row and new index entries behind (migration 0024).
    let db = TestDb::fresh().await;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.relname::text, a.attname::text
           FROM pg_index x
           JOIN pg_class t ON t.oid = x.indrelid
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey)
          WHERE t.relname = 'snapshots' AND t.relnamespace = 'public'::regnamespace
          ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(!columns.is_empty(), "snapshots has its primary key");
    for (index, column) in &columns {
        assert!(
            column == "aggregate_type" || column == "aggregate_id",
            "index {index} of snapshots holds {column}, which every write changes"
        );
    }
}

#[tokio::test]
async fn entry_index_is_kept_by_every_writer_without_a_trigger() {
    let db = TestDb::fresh().await;
    // No trigger on any table: a store distributed by journey runs none (ARCHITECTURE.md).
    assert_eq!(
        sqlx_count(
            &db,
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
        )
        .await,
        0
    );
    // An import whose one statement holds an entry and its retract, and one that retracts
    // an entry of an earlier statement.
    let file = [
        r#"{"journey":"k","type":"journey_started","on":"2025-01-01","relationship":"friend","entry":"s"}"#,
        r#"{"journey":"k","type":"reward_given","on":"2025-01-02","entry":"r1"}"#,
        r#"{"journey":"k","type":"reward_given","on":"2025-01-02","entry":"r2"}"#,
        r#"{"journey":"k","type":"retract","target":"r1","entry":"x1"}"#,
    ]
    .join("\n");
    let options = journey_postgres::import::ImportOptions::all_or_nothing();
    let report = journey_postgres::import::import(&db.pool, &db.master, file.as_bytes(), &options)
        .await
        .unwrap();
    assert!(report.committed, "{report:?}");
    // A single command (the recorder) retracting an entry stored by the import.
    let recorder = Recorder::new(db.pool.clone(), db.master.clone());
    let retract = r#"{"journey":"k","type":"retract","target":"r2","entry":"x2"}"#;
    recorder
        .record("k", entry(retract), Utc::now(), HashMap::new())
        .await
        .expect("retracted");
    let index = journey_postgres::testing::json_rows(
        &db.pool,
        "SELECT jsonb_build_array(entry, retracted) FROM entry_index ORDER BY entry",
    )
    .await;
    assert_eq!(
        index,
        [
            serde_json::json!(["r1", true]),
            serde_json::json!(["r2", true]),
            serde_json::json!(["s", false]),
            serde_json::json!(["x1", false]),
            serde_json::json!(["x2", false]),
        ]
    );
    // The index answers the rules: the same retract again is refused, the same line again
    // stores nothing.
    let again = r#"{"journey":"k","type":"retract","target":"r1","entry":"x3"}"#;
    let refused = recorder
        .record("k", entry(again), Utc::now(), HashMap::new())
        .await;
    assert!(matches!(refused, Err(StoreError::Rule(_))), "{refused:?}");
    let report = journey_postgres::import::import(&db.pool, &db.master, file.as_bytes(), &options)
        .await
        .unwrap();
    assert_eq!((report.stored, report.already_stored), (0, 4), "{report:?}");
}
