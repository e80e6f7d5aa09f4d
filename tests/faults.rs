//! The fault suite (`just faults`; also part of the README's test command, bounded to about
//! half a minute): histories of concurrent API writes with Idempotency-Keys while the app
//! is killed (SIGKILL) and restarted, checked against what is stored and against a rebuild.
//! The figures of the last run are in docs/reliability.md.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::*;
use journey_postgres::testing::TestDb;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";
const WORKERS: usize = 8;
const WRITES_PER_WORKER: usize = 60;

/// What became of one write: its answers, in order (`None`: no answer, the outcome unknown).
#[derive(Debug, Default, Clone)]
struct Op {
    answers: Vec<Option<u16>>,
    entry: Option<String>,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

async fn sign_in(base: &str) -> String {
    let res = http()
        .post(format!("{base}/api/v1/session"))
        .json(&json!({ "username": "fam", "password": PASSWORD }))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200);
    res.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_app_under_idempotent_writes_loses_and_duplicates_nothing() {
    let db = TestDb::fresh().await;
    import_file(&db, &fixture("small.jsonl"));
    add_user(&db, "fam", "family", PASSWORD, Some("small"));
    let server = Server::start(&db);
    let url = Arc::new(RwLock::new(server.url.clone()));
    let cookie = sign_in(&server.url).await;
    let before = sqlx_count(&db, "SELECT count(*) FROM entries").await;

    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (url, cookie) = (url.clone(), cookie.clone());
            tokio::spawn(async move {
                let mut history: HashMap<String, Op> = HashMap::new();
                for i in 0..WRITES_PER_WORKER {
                    let key = format!("w{w}-{i}");
                    let body = json!({ "type": "self_care", "on": "2025-03-10", "minutes": 1 + i });
                    let op = history.entry(key.clone()).or_default();
                    // Retried with the same key until acknowledged (an unknown outcome or a
                    // 503 is retried; the app may be down for a while).
                    for _attempt in 0..200 {
                        let base = url.read().expect("url").clone();
                        let answer = http()
                            .post(format!("{base}/api/v1/journeys/small/entries"))
                            .header("cookie", &cookie)
                            .header("idempotency-key", &key)
                            .json(&body)
                            .send()
                            .await;
                        match answer {
                            Ok(res) => {
                                let status = res.status().as_u16();
                                op.answers.push(Some(status));
                                if status == 201 {
                                    let body: Value = res.json().await.unwrap_or(Value::Null);
                                    op.entry = body["entry"].as_str().map(str::to_string);
                                    break;
                                }
                                assert!(
                                    status == 503,
                                    "{key}: only 201 or 503 may be answered, got {status}"
                                );
                            }
                            Err(_) => op.answers.push(None),
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                history
            })
        })
        .collect();

    // Kill the app twice mid-load; a new one takes over at another address each time.
    let mut servers = vec![server];
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        servers.last_mut().expect("a server").kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let next = Server::start(&db);
        *url.write().expect("url") = next.url.clone();
        servers.push(next);
    }
    let mut history = HashMap::new();
    for worker in workers {
        history.extend(worker.await.expect("the worker ends"));
    }

    // The checker.
    let ops = history.len();
    let acknowledged = history.values().filter(|op| op.entry.is_some()).count();
    let unknown = history
        .values()
        .filter(|op| op.answers.iter().any(Option::is_none))
        .count();
    let unavailable = history
        .values()
        .filter(|op| op.answers.contains(&Some(503)))
        .count();
    let ids: Vec<String> = history.values().filter_map(|op| op.entry.clone()).collect();
    let stored_rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT entry, count(*) FROM entries WHERE entry = ANY($1) GROUP BY entry")
            .bind(&ids)
            .fetch_all(&db.pool)
            .await
            .expect("the query");
    let stored = stored_rows.len();
    let duplicated = stored_rows.iter().filter(|(_, n)| *n > 1).count();
    let total_new = sqlx_count(&db, "SELECT count(*) FROM entries").await - before;
    let events = sqlx_count(&db, "SELECT count(*) FROM events").await;
    println!(
        "faults: {ops} writes, {acknowledged} acknowledged, {stored} stored, {} lost, {duplicated} duplicated, {} stored beyond the acknowledged; {unknown} had an unknown outcome, {unavailable} an answer 503",
        acknowledged - stored,
        total_new as usize - stored
    );
    assert_eq!(acknowledged, ops, "every write ends acknowledged");
    assert_eq!(stored, ops, "every acknowledged write is stored");
    assert_eq!(duplicated, 0);
    assert_eq!(
        total_new as usize, ops,
        "nothing stored that was not asked for"
    );
    assert!(
        unknown > 0,
        "the kills hit writes in flight (else the test shows nothing)"
    );

    // A rebuild from the events gives the same read tables.
    let snapshot = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            journey_postgres::testing::json_rows(
                &pool,
                "SELECT to_jsonb(t) FROM (SELECT j.key, j.entries, j.retracted,
                        (SELECT count(*) FROM entries e WHERE e.journey_id = j.journey_id) AS rows,
                        (SELECT sum(cardinality(types)) FROM metric_weeks m WHERE m.journey_id = j.journey_id) AS metric
                   FROM journeys j ORDER BY j.key) t",
            )
            .await
        }
    };
    let live = snapshot(&db).await;
    drop(servers);
    let rebuilt = journey(&db, &["rebuild"]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert_eq!(snapshot(&db).await, live, "rebuild gives the same tables");
    assert_eq!(
        sqlx_count(&db, "SELECT count(*) FROM events").await,
        events,
        "the rebuild wrote no event"
    );
}
