//! Catch-up workers of the read tables under test: a store whose read tables fell behind
//! its events, and `journey project` processes whose lines are read as they print them.

use super::*;

/// The read tables as text, for comparing two projections of the same events.
pub async fn read_tables(db: &TestDb) -> Vec<String> {
    let pool = db.pool.clone();
    let mut tables = Vec::new();
    for table in [
        "journeys",
        "entries",
        "relapses_after_rehab",
        "research_consent",
        "metric_weeks",
        "read_checkpoint",
    ] {
        let text: Option<String> = sqlx::query_scalar(&format!(
            "SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM {table} t"
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        tables.push(format!("{table}:\n{}", text.unwrap_or_default()));
    }
    tables
}

/// A store of 28 journeys whose read tables are then emptied, as if another tool had
/// written the events: (the store, its read tables as projected inline, its event count).
pub async fn behind_store() -> (TestDb, Vec<String>, i64) {
    let db = TestDb::fresh().await;
    import_file(&db, &fixture("sample-12.jsonl"));
    import_file(&db, &fixture("wellbeing-16.jsonl"));
    let projected = read_tables(&db).await;
    let pool = db.pool.clone();
    sqlx::query("TRUNCATE journeys, entries, relapses_after_rehab, research_consent, metric_weeks, read_checkpoint")
        .execute(&pool)
        .await
        .unwrap();
    let events = sqlx_count(&db, "SELECT count(*) FROM events").await;
    (db, projected, events)
}

pub async fn journeys_behind(db: &TestDb) -> i64 {
    sqlx_count(
        db,
        "SELECT count(*) FROM snapshots s LEFT JOIN read_checkpoint c ON c.journey_id = s.aggregate_id
          WHERE s.last_sequence > coalesce(c.sequence, 0)",
    )
    .await
}

/// A `journey project --watch 1` worker, one transaction per journey, whose lines are
/// collected as it prints them. `delay` seconds pass before it starts, in the same process
/// (a shell that then becomes it), so that its pid, and so its first range, is known first.
pub struct Worker {
    pub child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<(i32, i64)>>>,
}

impl Worker {
    pub fn start(db: &TestDb, delay: u32) -> Worker {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "sleep {delay}; exec {} project --watch 1 --chunk-journeys 1",
                env!("CARGO_BIN_EXE_journey")
            ))
            .env("DATABASE_URL", &db.url)
            .env("JOURNEY_MASTER_KEY", &db.master_hex)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("journey project runs");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (out, seen) = (child.stdout.take().unwrap(), lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                // "range R: J journeys caught up, E events projected"
                let line = line.unwrap_or_default();
                let words: Vec<&str> = line.split_whitespace().collect();
                let range = words[1].trim_end_matches(':').parse().expect("a range");
                let events = words[6].parse().expect("an event count");
                seen.lock().unwrap().push((range, events));
            }
        });
        Worker { child, lines }
    }

    /// The first range this worker visits among `ranges` (see projector::pass).
    pub fn first_of(&self, ranges: &[i32]) -> i32 {
        let start = (self.child.id() % 16) as i32;
        *ranges
            .iter()
            .min_by_key(|r| (**r - start).rem_euclid(16))
            .unwrap()
    }

    pub fn done(&self) -> Vec<(i32, i64)> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn wait_for<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("waited 60 s for {what}");
}
