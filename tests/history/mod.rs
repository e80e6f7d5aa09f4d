//! The fault suite's client and checker, in the Jepsen manner: workers record a history of
//! API writes (each with its own Idempotency-Key, retried with that key until answered 201),
//! and the checker compares it with what is stored and with a rebuild.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use journey_postgres::testing::TestDb;
use serde_json::{json, Value};

use crate::common::{http, journey, sqlx_count, stderr};

/// What became of one write: its answers, in order (`None`: no answer, the outcome unknown).
#[derive(Debug, Default, Clone)]
pub struct Op {
    pub answers: Vec<Option<u16>>,
    pub entry: Option<String>,
}

/// A write load: `workers` tasks of `writes` writes each to journey `small`.
pub struct Load {
    pub workers: usize,
    pub writes: usize,
    /// The server's base URL; a test may point it at another server mid-load.
    pub url: Arc<RwLock<String>>,
    pub cookie: String,
    /// Pause between retries.
    pub pause: Duration,
}

/// Runs the load; every answer must be 201 or 503 (anything else fails the test).
pub async fn run(load: Load) -> HashMap<String, Op> {
    let tasks: Vec<_> = (0..load.workers)
        .map(|w| {
            let (url, cookie, writes, pause) = (
                load.url.clone(),
                load.cookie.clone(),
                load.writes,
                load.pause,
            );
            tokio::spawn(async move {
                let mut history: HashMap<String, Op> = HashMap::new();
                for i in 0..writes {
                    let key = format!("w{w}-{i}");
                    let body = json!({ "type": "self_care", "on": "2025-03-10", "minutes": 1 + i });
                    let op = history.entry(key.clone()).or_default();
                    for _attempt in 0..400 {
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
                                let retry_after = res.headers().contains_key("retry-after");
                                let text = res.text().await.unwrap_or_default();
                                assert!(
                                    status == 503,
                                    "{key}: only 201 or 503 may be answered, got {status}: {text}"
                                );
                                assert!(retry_after, "{key}: a 503 without Retry-After: {text}");
                            }
                            Err(_) => op.answers.push(None),
                        }
                        tokio::time::sleep(pause).await;
                    }
                }
                history
            })
        })
        .collect();
    let mut history = HashMap::new();
    for task in tasks {
        history.extend(task.await.expect("the worker ends"));
    }
    history
}

/// A history's figures (docs/reliability.md).
#[derive(Debug)]
pub struct Figures {
    pub writes: usize,
    pub acknowledged: usize,
    pub stored: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// Rows stored that no write of the history asked for.
    pub beyond: usize,
    /// Writes with at least one unknown outcome (no answer).
    pub unknown: usize,
    /// Writes answered 503 at least once.
    pub unavailable: usize,
}

/// Compares `history` with the `entries` table (`before`: its rows before the load).
pub async fn check(db: &TestDb, history: &HashMap<String, Op>, before: i64) -> Figures {
    let writes = history.len();
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
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT entry, count(*) FROM entries WHERE entry = ANY($1) GROUP BY entry")
            .bind(&ids)
            .fetch_all(&db.pool)
            .await
            .expect("the query");
    let stored = rows.len();
    let duplicated = rows.iter().filter(|(_, n)| *n > 1).count();
    let total = (sqlx_count(db, "SELECT count(*) FROM entries").await - before) as usize;
    let figures = Figures {
        writes,
        acknowledged,
        stored,
        lost: acknowledged - stored,
        duplicated,
        beyond: total - stored,
        unknown,
        unavailable,
    };
    println!("faults: {figures:?}");
    figures
}

/// Asserts what every history must show: each write acknowledged, stored exactly once,
/// nothing stored that was not asked for.
pub fn assert_exactly_once(figures: &Figures) {
    assert_eq!(
        figures.acknowledged, figures.writes,
        "every write ends acknowledged: {figures:?}"
    );
    assert_eq!(
        figures.stored, figures.writes,
        "every acknowledged write is stored: {figures:?}"
    );
    assert_eq!(figures.duplicated, 0, "{figures:?}");
    assert_eq!(
        figures.beyond, 0,
        "nothing stored that was not asked for: {figures:?}"
    );
}

/// The read tables, in a comparable form.
pub async fn read_tables(db: &TestDb) -> Vec<Value> {
    journey_postgres::testing::json_rows(
        &db.pool,
        "SELECT to_jsonb(t) FROM (SELECT j.key, j.entries, j.retracted,
                (SELECT count(*) FROM entries e WHERE e.journey_id = j.journey_id) AS rows,
                (SELECT sum(cardinality(types)) FROM metric_weeks m WHERE m.journey_id = j.journey_id) AS metric
           FROM journeys j ORDER BY j.key) t",
    )
    .await
}

/// Asserts that `journey rebuild` gives the same read tables and writes no event.
pub async fn assert_rebuild_agrees(db: &TestDb) {
    let live = read_tables(db).await;
    let events = sqlx_count(db, "SELECT count(*) FROM events").await;
    let rebuilt = journey(db, &["rebuild"]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert_eq!(read_tables(db).await, live, "rebuild gives the same tables");
    assert_eq!(
        sqlx_count(db, "SELECT count(*) FROM events").await,
        events,
        "the rebuild wrote no event"
    );
}
