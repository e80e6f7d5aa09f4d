//! The event store against a real PostgreSQL: snapshots, concurrency, the projector's
//! commit-safe order, and the embedded cluster.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use common::*;
use journey_domain::interchange::parse_line;
use journey_postgres::store::Recorder;
use journey_postgres::{projector, StoreError};

fn entry(text: &str) -> journey_domain::Entry {
    parse_line(text).expect("a valid line").entry
}

async fn start(recorder: &Recorder, key: &str) {
    let text = format!(
        r#"{{"journey":"{key}","type":"journey_started","on":"2025-01-01","relationship":"friend","entry":"s"}}"#
    );
    recorder
        .record(key, entry(&text), Utc::now(), HashMap::new())
        .await
        .expect("started");
}

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
async fn the_projector_does_not_pass_an_open_transaction() {
    let db = TestDb::fresh().await;
    let recorder = Recorder::new(db.pool.clone(), db.master.clone());
    // A writer holds an event uncommitted (it got its global position first).
    let mut open = db.pool.begin().await.expect("a transaction");
    sqlx_insert_start(&mut open, "slow-id", "slow").await;
    // Another writer commits later.
    start(&recorder, "fast").await;
    projector::catch_up(&db.pool).await.expect("projects");
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM journeys").await,
        0,
        "waits behind the open transaction"
    );
    open.commit().await.expect("commits");
    projector::catch_up(&db.pool).await.expect("projects");
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM journeys").await,
        2,
        "both, none skipped"
    );
}

#[tokio::test]
async fn the_projector_does_not_wait_for_another_database() {
    let db = TestDb::fresh().await;
    let next_door = TestDb::fresh().await;
    // A long transaction of another database of the same server (an import, a report)
    // holding a transaction id, older than everything recorded below.
    let mut long = next_door.pool.begin().await.expect("a transaction");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *long)
        .await
        .expect("an xid");
    let recorder = Recorder::new(db.pool.clone(), db.master.clone());
    start(&recorder, "here").await;
    let projected = projector::catch_up(&db.pool).await.expect("projects");
    assert_eq!(
        projected, 1,
        "projected at once, not held back by the other database"
    );
    assert_eq!(sqlx_count(&db, "SELECT count(*) FROM journeys").await, 1);
    long.rollback().await.expect("ends");
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
