//! Helpers of the end-to-end tests: the built `journey` binary against a fresh database.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use journey_postgres::testing::TestDb;

/// A fixture journey file: tests/fixtures (a copy of shared/fixtures), else ../shared/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for candidate in [root.join("tests/fixtures"), root.join("../shared/fixtures")] {
        if candidate.join(name).exists() {
            return candidate.join(name);
        }
    }
    panic!("fixture {name} not found in ../shared/fixtures or tests/fixtures")
}

/// Runs `journey ARGS` against `db`.
pub fn journey(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("the journey binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A file in a fresh temporary folder holding `text`.
pub fn file_with(text: impl AsRef<[u8]>) -> PathBuf {
    let dir = TestDb::scratch_dir("file");
    std::fs::create_dir_all(&dir).expect("a temp folder");
    let path = dir.join("journey.jsonl");
    std::fs::write(&path, text).expect("write the file");
    path
}

/// Count of rows in the events table.
pub async fn event_count(db: &TestDb) -> i64 {
    sqlx_count(db, "SELECT count(*) FROM events").await
}

pub async fn sqlx_count(db: &TestDb, query: &str) -> i64 {
    journey_postgres::testing::scalar_i64(&db.pool, query).await
}
