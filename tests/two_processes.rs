//! Two `journey serve` processes on one database, over real HTTP: writes to one journey from
//! both, idempotent retries across them and after a killed process, sessions, the sign-in
//! limit, unassignment, and back-pressure when the database is saturated. Two catch-up
//! workers (`journey project`) sharing the journeys, one of them killed.

use crate::common;

use common::catch_up::*;
use common::*;
use journey_postgres::testing::TestDb;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

async fn sign_in(base: &str, user: &str) -> String {
    api_sign_in(base, user, PASSWORD).await
}

fn entry(minutes: u32) -> Value {
    json!({ "type": "self_care", "on": "2025-03-10", "minutes": minutes })
}

async fn post(base: &str, cookie: &str, body: &Value, idempotency: Option<&str>) -> (u16, Value) {
    let mut req = http()
        .post(format!("{base}/api/v1/journeys/small/entries"))
        .header("cookie", cookie)
        .json(body);
    if let Some(key) = idempotency {
        req = req.header("idempotency-key", key);
    }
    let res = req.send().await.expect("answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get_status(base: &str, cookie: &str, path: &str) -> u16 {
    http()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("answers")
        .status()
        .as_u16()
}

async fn family() -> TestDb {
    let db = TestDb::fresh().await;
    import_file(&db, &fixture("small.jsonl"));
    add_user(&db, "fam", "family", PASSWORD, Some("small"));
    db
}

/// The journey's read rows agree with its events: every event projected once.
async fn consistent(db: &TestDb) {
    let events = sqlx_count(
        db,
        "SELECT count(*) FROM events e JOIN journey_keys k ON k.journey_id = e.aggregate_id WHERE k.key = 'small'",
    )
    .await;
    let snapshot = sqlx_count(db, "SELECT last_sequence FROM snapshots").await;
    let checkpoint = sqlx_count(db, "SELECT sequence FROM read_checkpoint").await;
    assert_eq!(events, snapshot, "the snapshot holds every event");
    assert_eq!(checkpoint, snapshot, "the read rows hold every event");
    let counted = sqlx_count(db, "SELECT entries::bigint FROM journeys").await;
    let rows = sqlx_count(
        db,
        "SELECT count(*) FROM entries WHERE type <> 'retract' AND NOT retracted",
    )
    .await;
    assert_eq!(counted, rows, "the journey's count matches its entries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_write_one_journey_and_share_sessions_and_idempotency_keys() {
    let db = family().await;
    let (a, b) = (Server::start(&db), Server::start(&db));
    let cookie = sign_in(&a.url, "fam").await;
    assert_eq!(
        get_status(&b.url, &cookie, "/api/v1/journeys").await,
        200,
        "a session made by one process is good in the other"
    );

    // 40 writes to the same journey at once, half through each process.
    let before = sqlx_count(&db, "SELECT count(*) FROM entries").await;
    let writes = (0..40u32).map(|i| {
        let base = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let cookie = cookie.clone();
        tokio::spawn(async move { post(&base, &cookie, &entry(i + 1), None).await })
    });
    for write in futures::future::join_all(writes).await {
        let (status, body) = write.expect("the task ends");
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM entries").await,
        before + 40
    );
    consistent(&db).await;

    // A retry through the other process gets the first answer and stores nothing.
    let body = entry(99);
    let first = post(&a.url, &cookie, &body, Some("retry-1")).await;
    assert_eq!(first.0, 201, "{}", first.1);
    let again = post(&b.url, &cookie, &body, Some("retry-1")).await;
    assert_eq!(again, first, "the stored answer");
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM entries").await,
        before + 41
    );
    let other = post(&b.url, &cookie, &entry(98), Some("retry-1")).await;
    assert_eq!(other.0, 422, "another body under the same key: {}", other.1);
    assert_eq!(other.1["field"], "Idempotency-Key");
    // Racing retries of one key, through both processes: one entry.
    let racing = (0..6).map(|i| {
        let base = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let cookie = cookie.clone();
        tokio::spawn(async move { post(&base, &cookie, &entry(77), Some("race-1")).await })
    });
    let answers: Vec<(u16, Value)> = futures::future::join_all(racing)
        .await
        .into_iter()
        .map(|r| r.expect("the task ends"))
        .collect();
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 201);
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM entries").await,
        before + 42
    );
    consistent(&db).await;

    // Sign-out in one process ends the session in the other at once.
    let out = http()
        .delete(format!("{}/api/v1/session", a.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answers");
    assert!(out.status().is_success(), "{}", out.status());
    assert_eq!(get_status(&b.url, &cookie, "/api/v1/journeys").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_limit_counts_the_attempts_made_in_every_process() {
    let db = family().await;
    let (a, b) = (Server::start(&db), Server::start(&db));
    for i in 0..5 {
        let base = if i % 2 == 0 { &a.url } else { &b.url };
        let res = http()
            .post(format!("{base}/api/v1/session"))
            .json(&json!({ "username": "fam", "password": "wrong" }))
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    for base in [&a.url, &b.url] {
        let res = http()
            .post(format!("{base}/api/v1/session"))
            .json(&json!({ "username": "FAM", "password": PASSWORD }))
            .send()
            .await
            .expect("answers");
        assert_eq!(
            res.status(),
            429,
            "the sixth attempt in a minute, in either process"
        );
        let wait: u64 = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!((1..=60).contains(&wait), "{wait}");
    }
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM sign_in_attempts").await,
        7
    );
    assert_eq!(
        sqlx_count(
            &db,
            "SELECT count(*) FROM sign_in_attempts WHERE username ILIKE 'fam'"
        )
        .await,
        0,
        "attempts are kept under a hash of the name, never the name typed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unassignment_by_one_process_holds_in_the_other_within_a_second() {
    let db = family().await;
    let a = Server::start(&db);
    let cookie = sign_in(&a.url, "fam").await;
    assert_eq!(
        get_status(&a.url, &cookie, "/api/v1/journeys/small/entries").await,
        200
    );
    let out = journey(&db, &["user", "unassign", "fam", "--journey", "small"]);
    assert!(out.status.success(), "{}", stderr(&out));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        get_status(&a.url, &cookie, "/api/v1/journeys/small/entries").await,
        404
    );
}

/// A session ended through one process is refused by the other within a second; `journey
/// user password` ends every session of the account, in both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_refused_by_both_processes_within_a_second() {
    let db = family().await;
    let (a, b) = (Server::start(&db), Server::start(&db));
    let (first, second) = (sign_in(&a.url, "fam").await, sign_in(&b.url, "fam").await);
    for base in [&a.url, &b.url] {
        for cookie in [&first, &second] {
            assert_eq!(get_status(base, cookie, "/api/v1/sessions").await, 200);
        }
    }
    let listed: Value = http()
        .get(format!("{}/api/v1/sessions", b.url))
        .header("cookie", &first)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .expect("the second session")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ended = http()
        .delete(format!("{}/api/v1/sessions/{other}", b.url))
        .header("cookie", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status().as_u16(), 204);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for base in [&a.url, &b.url] {
        assert_eq!(get_status(base, &second, "/api/v1/journeys").await, 401);
        assert_eq!(get_status(base, &first, "/api/v1/journeys").await, 200);
    }
    let reset = {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_journey"))
            .args(["user", "password", "fam", "--password-stdin"])
            .env("DATABASE_URL", &db.url)
            .env("JOURNEY_MASTER_KEY", &db.master_hex)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "another long password").unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert!(
        stdout(&reset).contains("1 session(s) of theirs ended"),
        "{}",
        stdout(&reset)
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for base in [&a.url, &b.url] {
        assert_eq!(get_status(base, &first, "/api/v1/journeys").await, 401);
    }
    assert!(!api_sign_in(&a.url, "fam", "another long password")
        .await
        .is_empty());
}

/// A write whose transaction is under way when its process is killed leaves nothing: not
/// the entry, not its Idempotency-Key claim. The retry, in another process, writes it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_after_a_killed_process_writes_the_entry_once() {
    let db = family().await;
    let mut a = Server::start(&db);
    let b = Server::start(&db);
    let cookie = sign_in(&a.url, "fam").await;
    let before = sqlx_count(&db, "SELECT count(*) FROM entries").await;

    // Hold the journey's turn, so A's write waits inside its transaction (claim taken).
    let mut turn = db.pool.begin().await.expect("a transaction");
    sqlx::query("SELECT 1 FROM snapshots FOR UPDATE")
        .execute(&mut *turn)
        .await
        .expect("locked");
    let body = entry(55);
    let pending = {
        let (url, cookie, body) = (a.url.clone(), cookie.clone(), body.clone());
        tokio::spawn(async move {
            http()
                .post(format!("{url}/api/v1/journeys/small/entries"))
                .header("cookie", cookie)
                .header("idempotency-key", "crash-1")
                .json(&body)
                .send()
                .await
        })
    };
    // Wait until A's transaction holds the claim and waits for the turn.
    let mut claimed = false;
    for _ in 0..100 {
        let waiting = sqlx_count(
            &db,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .await;
        if waiting > 0 {
            claimed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(claimed, "A's write waits for the journey's turn");
    a.kill();
    assert!(pending.await.expect("the task ends").is_err(), "no answer");
    turn.rollback().await.expect("released");
    // PostgreSQL ends the killed process's transaction when it sees the connection closed.
    for _ in 0..100 {
        let open = sqlx_count(
            &db,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM idempotency_keys").await,
        0,
        "the claim went with its transaction"
    );
    let retry = post(&b.url, &cookie, &body, Some("crash-1")).await;
    assert_eq!(retry.0, 201, "{}", retry.1);
    let again = post(&b.url, &cookie, &body, Some("crash-1")).await;
    assert_eq!(again, retry);
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM entries").await,
        before + 1,
        "stored once"
    );
    consistent(&db).await;
}

/// When every connection of the pool is busy (here: eight writes of one journey wait for its
/// turn, held by another transaction), a request waits a bounded time for one, then is
/// answered 503 with Retry-After; the waiting writes go on once the turn is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saturated_database_is_a_503_with_retry_after_after_a_bounded_wait() {
    let db = family().await;
    let server = Server::start(&db);
    let cookie = sign_in(&server.url, "fam").await;
    let mut turn = db.pool.begin().await.expect("a transaction");
    sqlx::query("SELECT 1 FROM snapshots FOR UPDATE")
        .execute(&mut *turn)
        .await
        .expect("locked");
    let writes: Vec<_> = (0..8u32)
        .map(|i| {
            let (url, cookie) = (server.url.clone(), cookie.clone());
            tokio::spawn(async move { post(&url, &cookie, &entry(i + 1), None).await })
        })
        .collect();
    // Until the eight hold the pool's eight connections.
    for _ in 0..100 {
        let waiting = sqlx_count(
            &db,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .await;
        if waiting >= 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let started = std::time::Instant::now();
    let res = http()
        .get(format!("{}/api/v1/journeys", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answers");
    let waited = started.elapsed();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert!(
        waited < std::time::Duration::from_secs(10),
        "a bounded wait, not a queue: {waited:?}"
    );
    turn.rollback().await.expect("released");
    for write in writes {
        let (status, body) = write.await.expect("the task ends");
        assert_eq!(status, 201, "{body}");
    }
    consistent(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_catch_up_workers_share_the_journeys_and_one_carries_on_when_the_other_is_killed() {
    let (db, projected, events) = behind_store().await;
    let pool = db.pool.clone();
    let ranges: Vec<(String, i32)> = sqlx::query_as(
        "SELECT aggregate_id, (hashtext(aggregate_id) & 2147483647) % 16 FROM snapshots",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut with_work: Vec<i32> = ranges.iter().map(|(_, r)| *r).collect();
    with_work.sort();
    with_work.dedup();
    assert!(
        with_work.len() >= 6,
        "the journeys fall in several ranges: {with_work:?}"
    );

    // Worker A will stop on the fourth range it visits: the test holds one of its journeys.
    let a = Worker::start(&db, 1);
    let start = a.first_of(&with_work);
    let mut order = with_work.clone();
    order.sort_by_key(|r| (r - start).rem_euclid(16));
    let held_range = order[3];
    // The range's first journey in the database's order: the one A projects first there.
    let held: String = sqlx::query_scalar(
        "SELECT min(aggregate_id) FROM snapshots WHERE (hashtext(aggregate_id) & 2147483647) % 16 = $1",
    )
    .bind(held_range)
    .fetch_one(&pool)
    .await
    .unwrap();
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM snapshots WHERE aggregate_id = $1 FOR UPDATE")
        .bind(&held)
        .execute(&mut *holder)
        .await
        .unwrap();
    wait_for("worker A to wait for the held journey", || async {
        sqlx_count(
            &db,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%project_journeys%'",
        )
        .await
            == 1
    })
    .await;
    let by_a = a.done();
    let a_ranges: Vec<i32> = by_a.iter().map(|(r, _)| *r).collect();
    for range in &order[..3] {
        assert!(
            a_ranges.contains(range),
            "A caught up range {range}: {by_a:?}"
        );
    }

    // Worker B takes what is left but the range A holds.
    let b = Worker::start(&db, 0);
    let others = ranges.iter().filter(|(_, r)| *r == held_range).count() as i64;
    wait_for("worker B to catch up every other range", || async {
        journeys_behind(&db).await == others
    })
    .await;
    assert!(
        b.done().iter().all(|(r, _)| *r != held_range),
        "B left A's range alone: {:?}",
        b.done()
    );

    // A dies while it waits; its transaction rolls back, its range's lock goes with its
    // connection, and B's next pass takes the range over.
    let mut a = a;
    let _ = a.child.kill();
    let _ = a.child.wait();
    holder.commit().await.unwrap();
    wait_for("worker B to take the range over", || async {
        journeys_behind(&db).await == 0
    })
    .await;
    let by_b = b.done();
    assert!(by_b.iter().any(|(r, _)| *r == held_range), "{by_b:?}");
    let projected_by = |lines: &[(i32, i64)]| lines.iter().map(|(_, e)| e).sum::<i64>();
    assert_eq!(
        projected_by(&by_a) + projected_by(&by_b),
        events,
        "every event projected by one worker, once (A: {by_a:?}, B: {by_b:?})"
    );
    assert_eq!(
        read_tables(&db).await,
        projected,
        "the same read tables as inline"
    );
    eprintln!(
        "catch-up workers: {events} events behind; projected by A {} ({} transactions, then killed), by B {} ({} transactions, {} of them in A's range); lost 0, twice 0",
        projected_by(&by_a),
        by_a.len(),
        projected_by(&by_b),
        by_b.len(),
        by_b.iter().filter(|(r, _)| *r == held_range).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_run_at_once_share_the_work_and_a_server_catches_up_in_the_background() {
    use journey_postgres::projector::{pass, Busy};
    let (db, projected, events) = behind_store().await;
    let pool = db.pool.clone();
    let passes = (0..3).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move { pass(&pool, Busy::Skip, 1, &mut |_| {}).await.unwrap() })
    });
    let passes: Vec<_> = futures::future::join_all(passes).await;
    let done: u64 = passes.iter().map(|p| p.as_ref().unwrap().events).sum();
    assert_eq!(done as i64, events, "each event projected by one pass");
    assert_eq!(journeys_behind(&db).await, 0);
    assert_eq!(read_tables(&db).await, projected);

    // A server's worker catches up what another tool left behind while it runs.
    let _server = Server::start_with(&db, &db.url, &["--catch-up-every", "1"]);
    sqlx::query("TRUNCATE journeys, entries, relapses_after_rehab, research_consent, metric_weeks, read_checkpoint")
        .execute(&pool)
        .await
        .unwrap();
    wait_for("the server to catch up", || async {
        journeys_behind(&db).await == 0
    })
    .await;
    assert_eq!(read_tables(&db).await, projected);
}
