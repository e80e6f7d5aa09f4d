//! The group commit (journey-postgres `batch.rs`) against a real PostgreSQL: many journeys'
//! writes in one transaction, each standing alone; idempotency claims in a batch; the
//! queue's bound.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use common::*;
use journey_postgres::store::Recorder;
use journey_postgres::StoreError;

#[tokio::test]
async fn writes_of_many_journeys_at_once_commit_together_and_each_stands_alone() {
    let db = TestDb::fresh().await;
    let recorder = Arc::new(Recorder::new(db.pool.clone(), db.master.clone()));
    for i in 0..30 {
        start(&recorder, &format!("j{i}")).await;
    }
    let (batches_before, writes_before) = recorder.group_commits();
    // 30 journeys at once, two writes to one of them, a refused write (an exit with no
    // episode open), a write to a key with no journey, and a new journey's start.
    let mut tasks = Vec::new();
    let mut lines: Vec<(String, String)> = (0..30)
        .map(|i| {
            (
                format!("j{i}"),
                format!(
                    r#"{{"journey":"j{i}","type":"reward_given","on":"2025-01-02","entry":"r"}}"#
                ),
            )
        })
        .collect();
    lines.push((
        "j0".into(),
        r#"{"journey":"j0","type":"reward_given","on":"2025-01-03","entry":"r2"}"#.into(),
    ));
    lines.push(("j1".into(), r#"{"journey":"j1","type":"treatment_exited","on":"2025-01-02","reason":"completed","entry":"x"}"#.into()));
    lines.push((
        "nobody".into(),
        r#"{"journey":"nobody","type":"reward_given","on":"2025-01-02","entry":"r"}"#.into(),
    ));
    lines.push(("new".into(), r#"{"journey":"new","type":"journey_started","on":"2025-01-01","relationship":"parent","entry":"s"}"#.into()));
    for (key, text) in lines {
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let outcome = recorder
                .record(&key, entry(&text), Utc::now(), HashMap::new())
                .await;
            (key, text, outcome)
        }));
    }
    for task in tasks {
        let (key, text, outcome) = task.await.expect("ends");
        match (key.as_str(), outcome) {
            ("j1", Err(StoreError::Rule(journey_domain::JourneyError::NoOpenEpisode)))
                if text.contains("treatment_exited") => {}
            ("nobody", Err(StoreError::Rule(journey_domain::JourneyError::NotStarted))) => {}
            (_, Ok(_)) if key != "nobody" && !text.contains("treatment_exited") => {}
            (key, other) => panic!("{key}: {other:?} for {text}"),
        }
    }
    let (batches, writes) = recorder.group_commits();
    let (batches, writes) = (batches - batches_before, writes - writes_before);
    assert_eq!(
        writes, 31,
        "every write but the refused and the new journey's went in a batch"
    );
    assert!(
        batches < writes,
        "{writes} writes in {batches} batches: not grouped"
    );
    let count = |sql: &'static str| sqlx_count(&db, sql);
    // Each write stored once, the refused one not at all, and projected.
    assert_eq!(
        count("SELECT count(*) FROM entries WHERE type = 'reward_given'").await,
        31
    );
    assert_eq!(
        count("SELECT count(*) FROM entries WHERE type = 'treatment_exited'").await,
        0
    );
    assert_eq!(count("SELECT count(*) FROM journeys").await, 31);
    assert_eq!(
        count("SELECT count(*) FROM snapshots s WHERE last_sequence <> (SELECT count(*) FROM events e WHERE e.aggregate_id = s.aggregate_id)").await,
        0,
        "every snapshot holds its journey's events"
    );
    assert_eq!(
        count("SELECT count(*) FROM read_checkpoint c JOIN snapshots s ON s.aggregate_id = c.journey_id WHERE c.sequence <> s.last_sequence").await,
        0,
        "every journey projected to its last event"
    );
    assert_eq!(
        count("SELECT entries::bigint FROM journeys WHERE key = 'j0'").await,
        3
    );
}

#[tokio::test]
async fn claimed_writes_in_one_batch_answer_once_and_leave_no_claim_without_answer() {
    use journey_postgres::store::{Claim, Written};
    let db = TestDb::fresh().await;
    let recorder = Arc::new(Recorder::new(db.pool.clone(), db.master.clone()));
    let user = uuid::Uuid::new_v4();
    family_row(&db, user).await;
    for i in 0..10 {
        start(&recorder, &format!("j{i}")).await;
    }
    let claim = |i: usize| Claim {
        user,
        key: format!("key-{i}"),
        hash: vec![i as u8],
        status: 201,
        body: serde_json::json!({ "n": i }),
    };
    // Ten claimed writes at once (j9's breaks a rule), then each again with its key.
    for round in 0..2 {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (recorder, claim) = (recorder.clone(), claim(i));
            tasks.push(tokio::spawn(async move {
                let text = if i == 9 {
                    r#"{"journey":"j9","type":"treatment_exited","on":"2025-01-02","reason":"completed","entry":"x"}"#.to_string()
                } else {
                    format!(r#"{{"journey":"j{i}","type":"reward_given","on":"2025-01-02","entry":"r"}}"#)
                };
                let key = format!("j{i}");
                recorder
                    .record_claimed(&key, entry(&text), Utc::now(), HashMap::new(), &claim)
                    .await
            }));
        }
        for (i, task) in tasks.into_iter().enumerate() {
            let outcome = task.await.expect("ends");
            match (round, i, outcome) {
                (_, 9, Err(StoreError::Rule(_))) => {}
                (0, _, Ok(Written::Done(_))) => {}
                (1, i, Ok(Written::Replayed(201, body))) => {
                    assert_eq!(body, serde_json::json!({ "n": i }))
                }
                (round, i, other) => panic!("round {round}, write {i}: {other:?}"),
            }
        }
    }
    assert_eq!(
        sqlx_count(
            &db,
            "SELECT count(*) FROM entries WHERE type = 'reward_given'"
        )
        .await,
        9,
        "each stored once"
    );
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM idempotency_keys").await,
        9,
        "the refused write's claim was let go: no claim without its answer"
    );
    assert_eq!(
        sqlx_count(
            &db,
            "SELECT count(*) FROM idempotency_keys WHERE status IS NULL"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_full_write_queue_refuses_a_write_as_unavailable_after_a_bounded_wait() {
    use journey_postgres::store::batch::{QUEUE, QUEUE_WAIT};
    use journey_postgres::store::Claim;
    let db = TestDb::fresh().await;
    // Two connections: one writer task.
    let pool = journey_postgres::db::connect((*db.pool.connect_options()).clone(), 2)
        .await
        .expect("a pool");
    let recorder = Arc::new(Recorder::new(pool, db.master.clone()));
    start(&recorder, "j").await;
    let user = uuid::Uuid::new_v4();
    family_row(&db, user).await;
    // Another request with the same Idempotency-Key holds its claim: the writer waits on it.
    let mut held = db.pool.begin().await.expect("a transaction");
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, 'held', '\\x01')",
    )
    .bind(user)
    .execute(&mut *held)
    .await
    .expect("claimed");
    let stuck = {
        let recorder = recorder.clone();
        tokio::spawn(async move {
            let claim = Claim {
                user,
                key: "held".into(),
                hash: vec![1],
                status: 201,
                body: serde_json::json!({}),
            };
            let text = r#"{"journey":"j","type":"reward_given","on":"2025-01-02","entry":"r"}"#;
            recorder
                .record_claimed("j", entry(text), Utc::now(), HashMap::new(), &claim)
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // The queue fills; the next write waits QUEUE_WAIT for room, then is refused.
    let queued: Vec<_> = (0..QUEUE)
        .map(|i| {
            let recorder = recorder.clone();
            tokio::spawn(async move {
                let text = format!(r#"{{"journey":"nobody","type":"reward_given","on":"2025-01-02","entry":"q{i}"}}"#);
                recorder
                    .record("nobody", entry(&text), Utc::now(), HashMap::new())
                    .await
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let clock = std::time::Instant::now();
    let text = r#"{"journey":"nobody","type":"reward_given","on":"2025-01-02","entry":"late"}"#;
    let late = tokio::time::timeout(
        QUEUE_WAIT * 3,
        recorder.record("nobody", entry(text), Utc::now(), HashMap::new()),
    )
    .await
    .expect("a write never waits unbounded for a full queue");
    assert!(
        matches!(&late, Err(StoreError::Unavailable(why)) if why.contains("too many writes")),
        "{late:?}"
    );
    assert!(clock.elapsed() >= QUEUE_WAIT, "refused before its wait");
    // The other request ends; everything queued is handled.
    held.rollback().await.expect("rolled back");
    assert!(stuck.await.expect("ends").is_ok());
    for task in queued {
        let outcome = task.await.expect("ends");
        assert!(
            matches!(
                outcome,
                Err(StoreError::Rule(journey_domain::JourneyError::NotStarted))
            ),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_busy_week_is_kept_in_parts_of_at_most_16_entries_equal_to_the_entries_table() {
    use journey_postgres::read::{metric_rows, metric_rows_from_entries, Scope};
    let db = TestDb::fresh().await;
    let recorder = Arc::new(Recorder::new(db.pool.clone(), db.master.clone()));
    start(&recorder, "busy").await;
    // 40 entries of one day, some written together (batches of one journey's writes take
    // turns), then an earlier day of the same week (the week is rewritten) and a retract.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!(
                r#"{{"journey":"busy","type":"self_care","on":"2025-01-08","minutes":10,"entry":"c{i}"}}"#
            );
            recorder
                .record("busy", entry(&text), Utc::now(), HashMap::new())
                .await
        }));
    }
    for task in tasks {
        task.await.expect("ends").expect("written");
    }
    let parts = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_as::<_, (i32, i32)>(
                "SELECT part, cardinality(types) FROM metric_weeks m JOIN journeys j USING (journey_id)
                  WHERE j.key = 'busy' AND week = '2025-01-06' ORDER BY part",
            )
            .fetch_all(&pool)
            .await
            .expect("parts")
        }
    };
    let appended = parts(&db).await;
    assert!(
        appended.len() >= 3,
        "40 entries of a week in parts: {appended:?}"
    );
    assert!(appended.iter().all(|(_, n)| *n <= 16), "{appended:?}");
    assert_eq!(
        appended.iter().map(|(_, n)| n).sum::<i32>(),
        40,
        "{appended:?}"
    );
    let same = |round: &'static str| {
        let pool = db.pool.clone();
        async move {
            let mut weeks = metric_rows(&pool, Scope::Key("busy")).await.unwrap();
            let mut entries: Vec<_> = metric_rows_from_entries(&pool, Scope::Key("busy"))
                .await
                .unwrap()
                .remove(0)
                .1
                .into_iter()
                .filter(|r| r.kind != "retract")
                .map(|r| format!("{r:?}"))
                .collect();
            let mut weeks: Vec<_> = weeks.remove(0).1.iter().map(|r| format!("{r:?}")).collect();
            weeks.sort();
            entries.sort();
            assert_eq!(weeks, entries, "{round}: metric_weeks = entries");
        }
    };
    same("appended").await;
    for text in [
        r#"{"journey":"busy","type":"self_care","on":"2025-01-07","minutes":5,"entry":"early"}"#,
        r#"{"journey":"busy","type":"retract","target":"c3","entry":"r"}"#,
    ] {
        recorder
            .record("busy", entry(text), Utc::now(), HashMap::new())
            .await
            .expect("written");
    }
    let rewritten = parts(&db).await;
    assert_eq!(
        rewritten.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        vec![0, 1, 2],
        "41 entries rewritten in parts of 16: {rewritten:?}"
    );
    assert_eq!(rewritten.iter().map(|(_, n)| n).sum::<i32>(), 41);
    same("rewritten").await;
}
