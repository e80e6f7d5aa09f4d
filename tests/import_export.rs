//! Import, export, idempotency and the read tables, through the `journey` binary.

use crate::common;

use common::*;

#[tokio::test]
async fn the_fixtures_import_and_export_back_to_the_same_entries() {
    let db = TestDb::fresh().await;
    let small = fixture("small.jsonl");
    let sample = fixture("sample-12.jsonl");
    let out = journey(
        &db,
        &["import", small.to_str().unwrap(), sample.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("29 entries stored"),
        "{}",
        stdout(&out)
    );

    let exported = journey(&db, &["export", "--raw"]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let text = stdout(&exported);
    assert_eq!(text.lines().count(), 29 + 8723);
    assert!(
        text.contains(r#""type":"retract""#),
        "retract lines are exported"
    );
    assert!(
        text.lines().all(|line| line.contains(r#""entry":""#)),
        "every line has its id"
    );

    // A journey at a time, and into a file: the same lines.
    let by_one = journey(&db, &["export", "--raw", "--chunk-journeys", "1"]);
    assert_eq!(stdout(&by_one), text);
    let out = TestDb::scratch_dir("export").join("all.jsonl");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let to_file = journey(&db, &["export", "--raw", "--out", out.to_str().unwrap()]);
    assert!(to_file.status.success(), "{}", stderr(&to_file));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    assert!(!out.with_file_name("all.jsonl.partial").exists());

    // Into the same store: nothing new.
    let file = file_with(&text);
    let again = journey(&db, &["import", file.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(" 0 entries stored"),
        "{}",
        stdout(&again)
    );

    // Into an empty store: the same entries.
    let other = TestDb::fresh().await;
    let copy = journey(&other, &["import", file.to_str().unwrap()]);
    assert!(copy.status.success(), "{}", stderr(&copy));
    let exported_again = stdout(&journey(&other, &["export", "--raw"]));
    assert_eq!(exported_again, text);
}

#[tokio::test]
async fn importing_the_same_file_twice_stores_nothing_new() {
    let db = TestDb::fresh().await;
    let small = fixture("small.jsonl");
    import_file(&db, &small);
    let events = event_count(&db).await;
    let again = journey(&db, &["import", small.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("29 already stored"),
        "{}",
        stdout(&again)
    );
    assert_eq!(event_count(&db).await, events);
}

#[tokio::test]
async fn two_identical_lines_in_one_file_are_two_entries() {
    let db = TestDb::fresh().await;
    let file = file_with(concat!(
        r#"{"journey":"twin","type":"journey_started","on":"2025-01-01","relationship":"sibling"}"#,
        "\n",
        r#"{"journey":"twin","type":"positive_communication","on":"2025-01-02"}"#,
        "\n",
        r#"{"journey":"twin","type":"positive_communication","on":"2025-01-02"}"#,
        "\n",
    ));
    let out = journey(&db, &["import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 entries stored"),
        "{}",
        stdout(&out)
    );
    let list = stdout(&journey(&db, &["journeys"]));
    assert!(list.contains("twin"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("twin") && l.trim_end().ends_with(" 3")),
        "{list}"
    );
}

/// `journey import --block-lines N` into a fresh store: (its stdout, the store's raw export).
async fn import_in_blocks(file: &std::path::Path, block: &str) -> (TestDb, String, String) {
    let db = TestDb::fresh().await;
    let out = journey(
        &db,
        &["import", "--block-lines", block, file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = stdout(&journey(&db, &["export", "--raw"]));
    (
        db,
        stdout(&out).replace(&format!("{}: ", file.display()), ""),
        exported,
    )
}

#[tokio::test]
async fn a_file_read_a_few_lines_at_a_time_imports_as_it_does_at_once() {
    // Retracts, duplicates and relapses whose earlier entries are in earlier blocks.
    let mut text = std::fs::read_to_string(fixture("small.jsonl")).unwrap();
    text.push_str(&std::fs::read_to_string(fixture("sample-12.jsonl")).unwrap());
    let file = file_with(&text);
    let (_, at_once, exported) = import_in_blocks(&file, "20000").await;
    let (_, by_three, exported_by_three) = import_in_blocks(&file, "3").await;
    assert_eq!(by_three, at_once);
    assert_eq!(exported_by_three, exported);

    // The file with ids, then the same lines again: the second half is already stored, and
    // a line that reuses an id with other content is refused, late in the file.
    let doubled = file_with(format!("{exported}{exported}"));
    let (db, out, again) = import_in_blocks(&doubled, "7").await;
    let lines = exported.lines().count();
    assert!(
        out.contains(&format!("{lines} entries stored, {lines} already stored")),
        "{out}"
    );
    assert_eq!(again, exported);
    let first = exported
        .lines()
        .find(|l| l.contains("clean_day_observed"))
        .unwrap();
    let changed = first.replace("clean_day_observed", "use_observed");
    let late = file_with(format!("{exported}{changed}\n"));
    let fresh = TestDb::fresh().await;
    let out = journey(
        &fresh,
        &["import", "--block-lines", "5", late.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let error = stderr(&out);
    assert!(error.contains(&format!(":{}: ", lines + 1)), "{error}");
    assert!(stdout(&out).contains("nothing stored"), "{}", stdout(&out));
    assert_eq!(
        event_count(&fresh).await,
        0,
        "nothing of the earlier blocks stays"
    );
    assert_eq!(
        sqlx_count(&fresh, "SELECT count(*) FROM journey_keys").await,
        0
    );
    assert_eq!(
        sqlx_count(&fresh, "SELECT count(*) FROM entry_index").await,
        0
    );
    drop(db);
}

#[tokio::test]
async fn journeys_lists_key_start_craft_start_and_entries() {
    let db = TestDb::fresh().await;
    let small = fixture("small.jsonl");
    import_file(&db, &small);
    let list = stdout(&journey(&db, &["journeys"]));
    // 29 lines: one retract (not counted) and its retracted target (not counted).
    assert!(list.contains("small"), "{list}");
    let row = list
        .lines()
        .find(|l| l.starts_with("small"))
        .expect("a row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, ["small", "2025-03-03", "2025-03-10", "27"]);
}

#[tokio::test]
async fn rebuild_gives_the_same_read_tables() {
    let db = TestDb::fresh().await;
    let sample = fixture("sample-12.jsonl");
    import_file(&db, &sample);
    let tables = "SELECT to_jsonb(t) FROM (SELECT * FROM journeys ORDER BY journey_id) t
                  UNION ALL SELECT to_jsonb(t) FROM (SELECT * FROM entries ORDER BY journey_id, entry) t
                  UNION ALL SELECT to_jsonb(t) FROM (SELECT * FROM relapses_after_rehab ORDER BY journey_id, episode) t";
    let before = journey_postgres::testing::json_rows(&db.pool, tables).await;
    assert!(before.len() > 8723);
    let out = journey(&db, &["rebuild"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = journey_postgres::testing::json_rows(&db.pool, tables).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_relapse_after_rehab_is_derived_and_not_exported() {
    let db = TestDb::fresh().await;
    let small = fixture("small.jsonl");
    import_file(&db, &small);
    let relapses = journey_postgres::testing::json_rows(
        &db.pool,
        "SELECT to_jsonb(r) - 'journey_id' - 'episode' - 'use_entry' FROM relapses_after_rehab r",
    )
    .await;
    assert_eq!(
        relapses,
        [
            serde_json::json!({"modality": "residential", "exited": "2025-03-24", "on": "2025-03-28", "days_since_exit": 4})
        ]
    );
    let exported = stdout(&journey(&db, &["export", "--raw"]));
    assert!(
        !exported.contains("Relapse"),
        "derived events are not entries"
    );
}

#[tokio::test]
async fn record_stores_one_entry_and_the_same_entry_again_stores_nothing() {
    let db = TestDb::fresh().await;
    let start = r#"{"journey":"r1","type":"journey_started","on":"2025-01-01","relationship":"partner","entry":"s"}"#;
    let line = r#"{"journey":"r1","type":"reward_given","on":"2025-01-02","entry":"e1"}"#;
    for text in [start, line, line] {
        let out = journey(&db, &["record", text]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(event_count(&db).await, 2);
    let clash = journey(
        &db,
        &[
            "record",
            r#"{"journey":"r1","type":"reward_given","on":"2025-01-03","entry":"e1"}"#,
        ],
    );
    assert_eq!(clash.status.code(), Some(1));
    assert!(
        stderr(&clash).contains("duplicate entry id"),
        "{}",
        stderr(&clash)
    );
    let unknown = journey(
        &db,
        &[
            "record",
            r#"{"journey":"nobody","type":"reward_given","on":"2025-01-03"}"#,
        ],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("not started"),
        "{}",
        stderr(&unknown)
    );
}

#[tokio::test]
async fn export_of_an_unknown_journey_names_it() {
    let db = TestDb::fresh().await;
    let out = journey(&db, &["export", "--raw", "--journey", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ghost"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_database_that_is_down_is_exit_code_two_with_a_message() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["journeys"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("PostgreSQL"), "{message}");
}

#[test]
fn every_subcommand_has_help() {
    for command in [
        "migrate", "import", "record", "export", "journeys", "rebuild", "demo", "stop", "serve",
        "user",
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_journey"))
            .args([command, "--help"])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{command}");
        assert!(stdout(&out).contains("Usage"), "{command}");
    }
}

/// A journey file that arrives in parts: the lines sent so far, then it waits for more
/// (like a pipe from a slow producer), so a test can hold an import in the middle.
struct Arriving(std::sync::mpsc::Receiver<String>);

impl std::io::Read for Arriving {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.recv() {
            Ok(line) => {
                assert!(line.len() <= buf.len(), "one line fits the reader's buffer");
                buf[..line.len()].copy_from_slice(line.as_bytes());
                Ok(line.len())
            }
            Err(_) => Ok(0),
        }
    }
}

fn reward(key: &str, id: &str) -> String {
    format!("{{\"journey\":\"{key}\",\"type\":\"reward_given\",\"on\":\"2025-01-02\",\"entry\":\"{id}\"}}\n")
}

/// Imports what `lines` sends, a line per block, in a thread of its own (the import reads
/// its file synchronously).
fn import_arriving(
    db: &TestDb,
    lines: std::sync::mpsc::Receiver<String>,
    progress: std::sync::mpsc::Sender<String>,
) -> std::thread::JoinHandle<
    Result<journey_postgres::import::ImportReport, journey_postgres::StoreError>,
> {
    let (pool, master) = (db.pool.clone(), db.master.clone());
    let runtime = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        let progress = std::sync::Mutex::new(progress);
        let options = journey_postgres::import::ImportOptions {
            block_lines: 1,
            progress: Some(Box::new(move |m: &str| {
                let _ = progress.lock().unwrap().send(m.to_string());
            })),
            ..journey_postgres::import::ImportOptions::all_or_nothing()
        };
        let mut source = std::io::BufReader::new(Arriving(lines));
        runtime.block_on(journey_postgres::import::import_from(
            &pool,
            &master,
            &mut source,
            &options,
        ))
    })
}

/// Waits until another transaction (an import) holds journey `key`'s snapshot row.
async fn until_held(db: &TestDb, key: &str) {
    let free = format!(
        "SELECT count(*) FROM (SELECT 1 FROM snapshots s
           JOIN journey_keys k ON k.journey_id = s.aggregate_id
          WHERE k.key = '{key}' FOR UPDATE OF s SKIP LOCKED) AS free"
    );
    crate::common::catch_up::wait_for(&format!("an import to hold journey {key}"), || async {
        sqlx_count(db, &free).await == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imports_of_the_same_journeys_take_turns_and_a_family_write_waits_for_one() {
    use journey_postgres::store::Recorder;
    use std::collections::HashMap;
    use std::sync::mpsc::channel;
    let db = TestDb::fresh().await;
    let recorder = std::sync::Arc::new(Recorder::new(db.pool.clone(), db.master.clone()));
    start(&recorder, "a").await;
    start(&recorder, "b").await;
    // The first import has written to `a` and waits for the rest of its file, which names
    // `b`; the second names `b`, then `a` (the order in which two imports deadlocked).
    let (first_lines, first_file) = channel();
    let (first_says, first_progress) = channel();
    first_lines.send(reward("a", "first-a")).unwrap();
    let first = import_arriving(&db, first_file, first_says);
    until_held(&db, "a").await;
    let (second_lines, second_file) = channel();
    let (second_says, second_progress) = channel();
    second_lines.send(reward("b", "second-b")).unwrap();
    second_lines.send(reward("a", "second-a")).unwrap();
    drop(second_lines);
    let second = import_arriving(&db, second_file, second_says);
    let said = second_progress
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the second import says why it waits");
    assert!(said.contains("another import is running"), "{said}");
    // A family's write to `a`, which the first import holds: it waits, and is not refused.
    let family = {
        let recorder = recorder.clone();
        tokio::spawn(async move {
            let text =
                r#"{"journey":"a","type":"stepped_away","on":"2025-01-03","entry":"family"}"#;
            recorder
                .record("a", entry(text), chrono::Utc::now(), HashMap::new())
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        !second.is_finished(),
        "the second import waits for the first"
    );
    assert!(
        !family.is_finished(),
        "the family's write waits for the import"
    );
    // The rest of the first file arrives: every writer gets its turn, none fails.
    first_lines.send(reward("b", "first-b")).unwrap();
    drop(first_lines);
    let first = tokio::task::spawn_blocking(move || first.join().unwrap())
        .await
        .unwrap()
        .expect("the first import");
    assert!(first.committed && first.stored == 2, "{first:?}");
    let second = tokio::task::spawn_blocking(move || second.join().unwrap())
        .await
        .unwrap()
        .expect("the second import");
    assert!(second.committed && second.stored == 2, "{second:?}");
    family.await.unwrap().expect("the family's write");
    drop(first_progress);
    assert_eq!(event_count(&db).await, 7);
    let entries = sqlx_count(&db, "SELECT count(*) FROM entries").await;
    assert_eq!(entries, 7, "every entry projected once");
    let sequences = journey_postgres::testing::json_rows(
        &db.pool,
        "SELECT jsonb_build_object('id', k.key, 'last', s.last_sequence, 'events', (SELECT count(*) FROM events e WHERE e.aggregate_id = s.aggregate_id))
           FROM snapshots s JOIN journey_keys k ON k.journey_id = s.aggregate_id ORDER BY k.key",
    )
    .await;
    assert_eq!(
        sequences,
        [
            serde_json::json!({"id": "a", "last": 4, "events": 4}),
            serde_json::json!({"id": "b", "last": 3, "events": 3}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_family_write_waits_for_an_import_a_bounded_time_then_is_refused_busy() {
    use journey_postgres::store::Recorder;
    use journey_postgres::StoreError;
    use std::collections::HashMap;
    use std::sync::mpsc::channel;
    let db = TestDb::fresh().await;
    let wait = std::time::Duration::from_millis(300);
    let recorder = Recorder::new(db.pool.clone(), db.master.clone()).with_lock_wait(wait);
    start(&recorder, "a").await;
    let (lines, file) = channel();
    let (says, _progress) = channel();
    lines.send(reward("a", "import-a")).unwrap();
    let import = import_arriving(&db, file, says);
    until_held(&db, "a").await;
    let text = r#"{"journey":"a","type":"stepped_away","on":"2025-01-03","entry":"family"}"#;
    let refused = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        recorder.record("a", entry(text), chrono::Utc::now(), HashMap::new()),
    )
    .await
    .expect("the write gives up after its bounded wait");
    assert!(matches!(refused, Err(StoreError::Busy)), "{refused:?}");
    // The import goes on and commits; the family's retry then writes once.
    drop(lines);
    let import = tokio::task::spawn_blocking(move || import.join().unwrap())
        .await
        .unwrap()
        .expect("the import");
    assert!(import.committed && import.stored == 1, "{import:?}");
    recorder
        .record("a", entry(text), chrono::Utc::now(), HashMap::new())
        .await
        .expect("the retry");
    let family = "SELECT count(*) FROM entries WHERE type = 'stepped_away'";
    assert_eq!(sqlx_count(&db, family).await, 1);
    assert_eq!(event_count(&db).await, 3);
}

#[tokio::test]
async fn every_refused_line_is_reported_in_order_and_only_the_first_are_kept() {
    use journey_postgres::import::{import_from, ImportOptions, INVALID_KEPT};
    use std::sync::{Arc, Mutex};
    let db = TestDb::fresh().await;
    // Bad lines of both kinds (refused by the parser, and by the journey's rules: a reward
    // before the journey started), mixed with good ones, over many small blocks.
    let mut text = String::new();
    let mut bad = Vec::new();
    for i in 0..2_500 {
        text.push_str(&reward("late", &format!("r{i}")));
        bad.push(text.lines().count());
        text.push_str("{\"journey\":\"x\",\"type\":\"party\",\"on\":\"2025-01-02\"}\n");
        bad.push(text.lines().count());
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let options = ImportOptions {
        block_lines: 7,
        on_invalid: Some(Box::new({
            let seen = seen.clone();
            move |e| seen.lock().unwrap().push(e.line)
        })),
        ..ImportOptions::all_or_nothing()
    };
    let report = import_from(&db.pool, &db.master, &mut text.as_bytes(), &options)
        .await
        .unwrap();
    assert_eq!(report.invalid_lines, 5_000);
    assert_eq!(
        *seen.lock().unwrap(),
        bad,
        "every refused line, in line order"
    );
    assert_eq!(report.invalid.len(), INVALID_KEPT);
    assert_eq!(
        report.invalid.iter().map(|e| e.line).collect::<Vec<_>>(),
        bad[..INVALID_KEPT]
    );
    assert!(
        report.invalid[1].reason.contains("party"),
        "{:?}",
        report.invalid[1]
    );
    assert!(!report.committed);
    assert_eq!(event_count(&db).await, 0);
}
