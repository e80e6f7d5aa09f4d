//! The `journey` command's library: the commands' work (metrics, reports, research export,
//! benchmarks, synthetic families) and the web app, so that tests reach them too.
//!
//! The only crate that reads the environment, flags and files.

pub mod bench;
pub mod metrics;
pub mod report;
pub mod research;
pub mod synth;
pub mod web;

use std::path::Path;

use chrono::NaiveDate;
use journey_postgres::{db, embedded, PgConnectOptions, PgPool, StoreError};

/// A failure with its exit code.
#[derive(Debug)]
pub enum Failure {
    BadInput(String),
    System(String),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        if err.is_bad_input() {
            Failure::BadInput(err.to_string())
        } else {
            Failure::System(err.to_string())
        }
    }
}

pub type Outcome = Result<(), Failure>;

/// Where the database is: `DATABASE_URL`, or the embedded cluster in `data_dir`.
pub fn target(data_dir: &Path) -> Result<PgConnectOptions, Failure> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => url
            .parse()
            .map_err(|e| Failure::BadInput(format!("DATABASE_URL: {e}"))),
        Err(_) => embedded::ensure_running(data_dir).map_err(|e| Failure::System(e.to_string())),
    }
}

/// Connects (creating the database in the embedded cluster) and migrates.
pub async fn open(data_dir: &Path) -> Result<PgPool, Failure> {
    let options = target(data_dir)?;
    if std::env::var("DATABASE_URL").is_err() {
        embedded::ensure_database(&options)
            .await
            .map_err(|e| Failure::System(format!("embedded PostgreSQL: {e}")))?;
    }
    let pool = db::connect(options, 8)
        .await
        .map_err(|e| Failure::System(format!("cannot connect to PostgreSQL: {e}")))?;
    db::migrate(&pool)
        .await
        .map_err(|e| Failure::System(format!("migrations: {e}")))?;
    Ok(pool)
}

/// Today's date on this machine (the family's calendar day).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}
