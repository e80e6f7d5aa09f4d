//! The use cases of journey: every action a person can take is one function of [`App`].
//! The `journey` command (journey-cli), the HTML pages and the JSON API (journey-web) are
//! thin frontends over it, so a rule lives in one place.
//!
//! - [`access`]: who may do what to which journey, and the audit log of every read and write
//!   of a journey's health data (frontends never write audit rows themselves).
//! - [`journeys`]: record entries (one transaction each, with the journey's read rows and
//!   any idempotency claim; writers of one journey take turns in the database), retract,
//!   consent, import, export, erase.
//! - [`accounts`]: users, passwords (Argon2id), assignments.
//! - [`metrics`], [`report`], [`research`]: figures, progress reports, the research export.
//!
//! Errors are an [`AppError`], with one mapping to exit codes and one to HTTP statuses.
//! Nothing here reads the environment or knows HTTP or flags: the binary builds a
//! [`Config`] and hands it in.

pub mod access;
pub mod accounts;
mod audit;
pub mod config;
pub mod dataset;
pub mod devices;
pub mod disclosure;
pub mod error;
pub mod journeys;
pub mod metrics;
pub mod report;
pub mod research;
mod research_tables;
pub mod second_factor;
pub mod sessions;

use std::sync::Arc;

use chrono::NaiveDate;
use journey_postgres::crypto::MasterKey;
use journey_postgres::store::Recorder;
use journey_postgres::{db, embedded};

pub use access::{journey_key, Action, Actor, Via};
pub use config::{Config, Database, KeySource};
pub use error::AppError;
pub use journey_domain::{EntryId, JourneyKey, NameError, ProjectName, Username};
pub use journey_postgres::accounts::{Device, Listing, Role, TimelineEntry, User};
pub use journey_postgres::import::{self, ImportReport, OnInvalid, Progress};
pub use journey_postgres::projector;
pub use journey_postgres::read::{JourneyRow, Scope};
/// The pool, for what keeps its own tables in the same database (the web's session store).
pub use journey_postgres::PgPool;
pub use second_factor::Enrolment;

/// The application: the database pool, the master key and what the use cases share
/// (cheap to clone).
#[derive(Clone)]
pub struct App(Arc<Inner>);

struct Inner {
    pool: PgPool,
    master: MasterKey,
    recorder: Recorder,
    audit: audit::AuditWriter,
    /// Connections whose commits do not wait for the disk, for a user's write access check
    /// and its audit row (see access.rs: the write that follows makes it durable).
    checks: PgPool,
    /// Family members' write access to a journey, kept a second (access.rs,
    /// `journey_to_record`): an unassignment holds in every process within a second (at
    /// once in the one that made it).
    write_checks: moka::sync::Cache<(uuid::Uuid, String), journey_postgres::read::JourneyRow>,
}

impl App {
    /// Connects to the configured database (starting the embedded cluster and creating its
    /// database when needed), applies the migrations and loads the master key.
    pub async fn open(config: &Config) -> Result<App, AppError> {
        let options = config.database.connect_options()?;
        if let config::Database::Embedded { .. } = config.database {
            embedded::ensure_database(&options)
                .await
                .map_err(|e| AppError::Unavailable(format!("embedded PostgreSQL: {e}")))?;
        }
        let pool = db::connect(options, config.pool_size)
            .await
            .map_err(|e| AppError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        db::migrate(&pool)
            .await
            .map_err(|e| AppError::Unavailable(format!("migrations: {e}")))?;
        let sealed = journey_postgres::crypto::store_is_sealed(&pool).await?;
        let store_id = journey_postgres::crypto::store_id(&pool).await?;
        let source = config.master_key.for_store(&store_id.to_string());
        if sealed && source.would_create() {
            let earlier = config
                .master_key
                .legacy()
                .filter(|old| old.exists())
                .map(|old| format!("; a key of an earlier version is at {}: move it there if it is this store's", old.display()))
                .unwrap_or_default();
            return Err(AppError::Setup(format!(
                "master key: none at {}, and this database holds sealed journey data: a new key could not open it (set JOURNEY_MASTER_KEY_FILE or JOURNEY_MASTER_KEY to the key it was made with){earlier}",
                source.describe()
            )));
        }
        let master = source
            .load()
            .map_err(|e| AppError::Setup(format!("master key: {e}")))?;
        if !journey_postgres::crypto::verify_master(&pool, &master).await? {
            return Err(AppError::Setup(format!(
                "master key: the key from {} is not the one this database's journeys were sealed with (set JOURNEY_MASTER_KEY_FILE or JOURNEY_MASTER_KEY to that key)",
                source.describe()
            )));
        }
        let app = App::new(pool, master);
        if config.catch_up {
            app.catch_up().await?;
        }
        Ok(app)
    }

    /// The app over a migrated `pool` with `master` (tests and benchmarks).
    pub fn new(pool: PgPool, master: MasterKey) -> App {
        App(Arc::new(Inner {
            recorder: Recorder::new(pool.clone(), master.clone()),
            audit: audit::AuditWriter::start(db::async_commit_pool(&pool, 2)),
            checks: db::async_commit_pool(&pool, pool.options().get_max_connections()),
            write_checks: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(1))
                .build(),
            pool,
            master,
        }))
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    pub(crate) fn checks(&self) -> &PgPool {
        &self.0.checks
    }

    pub(crate) fn write_checks(
        &self,
    ) -> &moka::sync::Cache<(uuid::Uuid, String), journey_postgres::read::JourneyRow> {
        &self.0.write_checks
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.0.master
    }

    pub(crate) fn recorder(&self) -> &Recorder {
        &self.0.recorder
    }

    /// Projects the journeys whose read rows are behind their events (written by another
    /// tool, or a store from before inline projection); every write of this program projects
    /// its own journey in its transaction. Run by [`App::open`]; shared with other processes
    /// by ranges of journeys, waiting for the ranges they hold.
    pub async fn catch_up(&self) -> Result<u64, AppError> {
        Ok(journey_postgres::projector::catch_up(&self.0.pool).await?)
    }

    /// One pass of a catch-up worker (see `journey_postgres::projector`): the ranges of
    /// journeys behind their events that no other worker holds, by chunks of `chunk`
    /// journeys, each reported to `done` once committed.
    pub async fn catch_up_pass(
        &self,
        chunk: usize,
        done: &mut (dyn FnMut(projector::Projected) + Send),
    ) -> Result<projector::Pass, AppError> {
        Ok(projector::pass(&self.0.pool, projector::Busy::Skip, chunk, done).await?)
    }

    /// Rebuilds the read tables from the events, from zero, in one transaction; returns the
    /// number of events replayed.
    pub async fn rebuild(&self) -> Result<u64, AppError> {
        Ok(journey_postgres::projector::rebuild(&self.0.pool).await?)
    }
}

/// Stops the embedded cluster of `data_dir`; false when none was running.
pub fn stop_embedded(data_dir: &std::path::Path) -> Result<bool, AppError> {
    embedded::stop(data_dir).map_err(|e| AppError::Internal(e.to_string()))
}

/// Today's date on this machine (the family's calendar day).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}
