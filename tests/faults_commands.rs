//! The fault suite: `journey import`, `journey rebuild` and `journey erase` killed (SIGKILL)
//! at random points, and the README's backup and restore procedure. After every kill the
//! store holds all of the command's work or none of it, no orphan row, and the next
//! command completes it. Figures in docs/reliability.md.

use crate::{common, history};

use std::process::{Child, Command, Stdio};

use sqlx::Connection;
use std::time::{Duration, Instant};

use common::*;

const JOURNEYS: usize = 60;
const DAYS: usize = 250;

/// A journey file of `JOURNEYS` journeys x `DAYS` days, each with notes and handles (so
/// that every journey gets a sealed key).
fn cohort_file() -> std::path::PathBuf {
    let mut text = String::new();
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    for j in 0..JOURNEYS {
        text.push_str(&format!(
            r#"{{"journey":"j{j:03}","type":"journey_started","on":"{start}","relationship":"parent","by":"handle-{j:03}"}}"#
        ));
        text.push('\n');
        for d in 0..DAYS {
            let on = start + chrono::Days::new(d as u64);
            let line = match d % 5 {
                0 => format!(
                    r#"{{"journey":"j{j:03}","type":"note","on":"{on}","text":"note {d} only-of-j{j:03}","by":"handle-{j:03}"}}"#
                ),
                1 | 3 => format!(
                    r#"{{"journey":"j{j:03}","type":"day_status","on":"{on}","status":"no_use"}}"#
                ),
                2 => format!(r#"{{"journey":"j{j:03}","type":"reward_given","on":"{on}"}}"#),
                _ => format!(r#"{{"journey":"j{j:03}","type":"use_observed","on":"{on}"}}"#),
            };
            text.push_str(&line);
            text.push('\n');
        }
    }
    file_with(text)
}

fn spawn(db: &TestDb, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("JOURNEY_MASTER_KEY", &db.master_hex)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("journey runs")
}

/// Backends of `db` other than the test's own inside a transaction open for at least
/// `ms` milliseconds (0: any).
async fn transactions_open_for(db: &TestDb, ms: u32) -> i64 {
    sqlx_count(
        db,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
            AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            AND xact_start <= now() - interval '{ms} milliseconds'
            AND query NOT LIKE '%pg_stat_activity%'"
        ),
    )
    .await
}

async fn open_transactions(db: &TestDb) -> i64 {
    transactions_open_for(db, 0).await
}

/// Waits until `child` has had a transaction open for 50 ms (the command's own, not a
/// quick statement of its start-up) (true), or has ended (false).
async fn until_in_transaction(db: &TestDb, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        if transactions_open_for(db, 50).await > 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the command opened no transaction within a minute");
}

/// Kills `child`; true when it was still running. Then waits until PostgreSQL has rolled
/// back what it left open.
async fn kill(db: &TestDb, child: &mut Child) -> bool {
    let running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(20);
    while open_transactions(db).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the killed command's transaction stays open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running
}

/// Row counts of every table an import writes.
async fn counts(db: &TestDb) -> Vec<i64> {
    let mut all = Vec::new();
    for table in [
        "events",
        "snapshots",
        "journey_keys",
        "journey_secrets",
        "journeys",
        "entries",
        "entry_index",
        "metric_weeks",
    ] {
        all.push(sqlx_count(db, &format!("SELECT count(*) FROM {table}")).await);
    }
    all
}

async fn orphans(db: &TestDb) -> i64 {
    sqlx_count(
        db,
        "SELECT (SELECT count(*) FROM journey_secrets s WHERE NOT EXISTS
                    (SELECT 1 FROM journey_keys k WHERE k.journey_id = s.journey_id))
              + (SELECT count(*) FROM journey_keys k WHERE NOT EXISTS
                    (SELECT 1 FROM events e WHERE e.aggregate_id = k.journey_id))",
    )
    .await
}

fn random_ms(below: u64) -> Duration {
    Duration::from_millis(rand::random::<u64>() % below.max(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_imports_and_rebuilds_leave_all_or_nothing_and_the_next_run_completes() {
    let db = TestDb::fresh().await;
    let file = cohort_file();
    let path = file.to_str().unwrap();
    let empty = counts(&db).await;

    // Import, killed three times once its transaction is open (at once, then later).
    let (mut in_transaction, mut nothing, mut all) = (0, 0, 0);
    for attempt in 0..3u64 {
        let mut child = spawn(&db, &["import", path]);
        if until_in_transaction(&db, &mut child).await {
            tokio::time::sleep(random_ms(attempt * 400)).await;
        }
        if kill(&db, &mut child).await {
            in_transaction += 1;
        }
        let now = counts(&db).await;
        assert_eq!(orphans(&db).await, 0, "no key without its journey");
        if now == empty {
            nothing += 1;
        } else {
            all += 1;
            assert_eq!(now[2], JOURNEYS as i64, "all of it: {now:?}");
        }
    }
    println!(
        "faults (import killed): 3 kills, {in_transaction} with its transaction open; the store held nothing {nothing} times, all {all} times, something between 0 times"
    );
    assert!(in_transaction > 0, "no kill hit an open transaction");
    import_file(&db, &file);
    let full = counts(&db).await;
    assert_eq!(full[2], JOURNEYS as i64);
    assert_eq!(full[4], JOURNEYS as i64, "every journey projected");
    assert_eq!(orphans(&db).await, 0);

    // Rebuild, killed twice inside its transaction: the read tables stay as they were.
    let live = history::read_tables(&db).await;
    let mut hit = 0;
    for attempt in 0..2u64 {
        let mut child = spawn(&db, &["rebuild"]);
        if until_in_transaction(&db, &mut child).await {
            tokio::time::sleep(random_ms(attempt * 300)).await;
        }
        if kill(&db, &mut child).await {
            hit += 1;
        }
        assert_eq!(
            history::read_tables(&db).await,
            live,
            "a killed rebuild changes nothing"
        );
        assert_eq!(counts(&db).await, full);
    }
    println!("faults (rebuild killed): 2 kills, {hit} while it ran; the read tables unchanged after each");
    assert!(hit > 0, "no kill hit a running rebuild");
    history::assert_rebuild_agrees(&db).await;
}

/// What is left of journey `key` (internal id `id`): whether its key, its secret, its read
/// rows and its erasure event exist.
async fn traces(db: &TestDb, key: &str, id: &str) -> [bool; 5] {
    let has = |query: String| async move { sqlx_count(db, &query).await > 0 };
    [
        has(format!("SELECT count(*) FROM journey_keys WHERE key = '{key}'")).await,
        has(format!("SELECT count(*) FROM journey_secrets WHERE journey_id = '{id}'")).await,
        has(format!("SELECT count(*) FROM entries WHERE journey_id = '{id}'")).await,
        has(format!("SELECT count(*) FROM entry_index WHERE journey_id = '{id}'")).await,
        has(format!("SELECT count(*) FROM events WHERE aggregate_id = '{id}' AND event_type = 'JourneyErased'")).await,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_erase_is_completed_by_running_it_again() {
    let db = TestDb::fresh().await;
    import_file(&db, &cohort_file());
    let present = [true, true, true, true, false];
    let erased = [false, false, false, false, true];
    let (mut before, mut after) = (0, 0);
    // `journey erase` takes some 30-60 ms to start and about as long to erase a journey
    // of 250 days: the kills come at 8 points across that.
    let keys: Vec<String> = (1..=8).map(|j| format!("j{j:03}")).collect();
    for (n, key) in keys.iter().enumerate() {
        let key = key.as_str();
        let id: String = sqlx::query_scalar("SELECT journey_id FROM journey_keys WHERE key = $1")
            .bind(key)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let mut child = spawn(&db, &["erase", "--journey", key, "--yes"]);
        tokio::time::sleep(Duration::from_millis(15 * n as u64) + random_ms(15)).await;
        kill(&db, &mut child).await;
        let left = traces(&db, key, &id).await;
        assert!(
            left == present || left == erased,
            "{key}: half erased: {left:?}"
        );
        if left == present {
            before += 1;
        } else {
            after += 1;
        }
        let again = journey(&db, &["erase", "--journey", key, "--yes"]);
        if left == present {
            assert!(again.status.success(), "{}", stderr(&again));
        } else {
            assert!(
                stderr(&again).contains("no journey with key"),
                "{}",
                stderr(&again)
            );
        }
        assert_eq!(
            traces(&db, key, &id).await,
            erased,
            "{key}: erased after the second run"
        );
        let exported = stdout(&journey(&db, &["export", "--raw"]));
        assert!(
            !exported.contains(&format!("only-of-{key}")),
            "{key}'s notes still open"
        );
        assert!(
            !exported.contains(&format!("handle-{}", &key[1..])),
            "{key}'s handle still opens"
        );
    }
    assert!(before > 0, "no kill came before an erasure's commit");
    println!("faults (erase killed): 8 kills; {before} before its commit (the second run erased), {after} after it (the second run found it erased); never half erased");
    assert_eq!(orphans(&db).await, 0);
    history::assert_rebuild_agrees(&db).await;
}

/// `journey ARGS` with the default master key location in `data_home`, over `url`.
fn with_default_key(url: &str, data_home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("JOURNEY_MASTER_KEY")
        .env_remove("JOURNEY_MASTER_KEY_FILE")
        .env("XDG_DATA_HOME", data_home)
        .output()
        .expect("journey runs")
}

#[tokio::test]
async fn the_documented_backup_restores_into_a_fresh_cluster_and_needs_its_key() {
    let db = TestDb::fresh().await;
    let home = TestDb::scratch_dir("backup");
    let (here, there, nowhere) = (home.join("here"), home.join("there"), home.join("nowhere"));
    let small = fixture("small.jsonl");
    let run = |args: &[&str]| with_default_key(&db.url, &here, args);
    assert!(run(&["import", small.to_str().unwrap()]).status.success());
    let metrics = stdout(&run(&["metrics", "--as-of", "2025-04-01"]));
    let exported = stdout(&run(&["export", "--raw"]));
    assert!(exported.contains("mom-ann"), "the handles open: {exported}");

    // The backup (README, "Backup and restore"): a dump of the database, and the key file
    // kept apart.
    let dump = home.join("journey.dump");
    let out = Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg("--dbname")
        .arg(&db.url)
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM store_identity")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let key = format!("journey/keys/{id}.key");
    std::fs::create_dir_all(there.join("journey/keys")).unwrap();
    std::fs::copy(here.join(&key), there.join(&key))
        .expect("the key file is where the README says");

    // The restore: a fresh cluster of this test's own, a new database, pg_restore.
    let cluster = TestDb::scratch_dir("restore-pg");
    let options = journey_postgres::embedded::ensure_running(&cluster).expect("a fresh cluster");
    let mut admin = sqlx::PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .expect("connects");
    sqlx::Executor::execute(&mut admin, "CREATE DATABASE restored")
        .await
        .unwrap();
    let socket = cluster.canonicalize().unwrap();
    let url = format!(
        "postgres://postgres@localhost/restored?host={}",
        socket.display()
    );
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--dbname"])
        .arg(&url)
        .arg(&dump)
        .output()
        .expect("pg_restore runs");
    assert!(out.status.success(), "{}", stderr(&out));

    // With the key: the same metrics and the same text.
    let restored = |args: &[&str]| with_default_key(&url, &there, args);
    let again = restored(&["metrics", "--as-of", "2025-04-01"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        stdout(&again),
        metrics,
        "the same metrics after the restore"
    );
    assert_eq!(
        stdout(&restored(&["export", "--raw"])),
        exported,
        "the same text"
    );
    // Without it: a plain refusal naming where the key was looked for, and no new key.
    let keyless = with_default_key(&url, &nowhere, &["export", "--raw"]);
    assert_eq!(keyless.status.code(), Some(2), "{}", stderr(&keyless));
    assert!(
        stderr(&keyless).contains(&nowhere.join(&key).display().to_string())
            && stderr(&keyless).contains("holds sealed journey data"),
        "{}",
        stderr(&keyless)
    );
    assert!(
        !nowhere.join(&key).exists(),
        "no new key made for the restored store"
    );
    println!("faults (backup and restore): metrics and text equal after the restore; without the key: exit 2, `{}`", stderr(&keyless).trim());
    drop(admin);
    let _ = journey_postgres::embedded::stop(&cluster);
    let _ = std::fs::remove_dir_all(&cluster);
}
