//! What the binary decides and hands in: where the database is, where the master key is,
//! where report files go. Nothing in this crate reads the environment.

use std::path::PathBuf;

/// Where the database is.
#[derive(Debug, Clone)]
pub enum Database {
    /// A server's URL (`DATABASE_URL`); the database must exist.
    Url(String),
    /// The embedded cluster in this data folder, started (and created) when needed.
    Embedded { data_dir: PathBuf },
}

/// Where the master key of crypto-shredding is.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The key itself, 64 hexadecimal digits; `from` names where it came from (for errors).
    Hex { hex: String, from: String },
    /// A file holding it, created with a new random key (mode 0600) when missing.
    File(PathBuf),
    /// The default: the file `<folder>/<store id>.key`, named after the id of the store
    /// opened (so that it does not depend on the working folder, and each store on the
    /// machine has its own). `legacy` is where earlier versions kept it, for the message
    /// when it is missing.
    PerStore { folder: PathBuf, legacy: PathBuf },
}

/// Everything the use cases need to know about the machine.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: Database,
    pub master_key: KeySource,
    /// Connections of the database pool.
    pub pool_size: u32,
    /// Catch up the read tables of journeys behind their events when the store opens
    /// (`journey project`, a catch-up worker itself, opens without).
    pub catch_up: bool,
}

impl KeySource {
    /// Where the key is looked for, for messages.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Hex { from, .. } => from.clone(),
            KeySource::File(path) => format!("the file {}", path.display()),
            KeySource::PerStore { folder, .. } => {
                format!("the file {}/<store id>.key", folder.display())
            }
        }
    }

    /// The source for the store with id `store_id`: the per-store default made a file.
    pub fn for_store(&self, store_id: &str) -> KeySource {
        match self {
            KeySource::PerStore { folder, .. } => {
                KeySource::File(folder.join(format!("{store_id}.key")))
            }
            other => other.clone(),
        }
    }

    /// Where earlier versions kept the default key, when this is the default.
    pub fn legacy(&self) -> Option<&PathBuf> {
        match self {
            KeySource::PerStore { legacy, .. } => Some(legacy),
            _ => None,
        }
    }

    /// True when the key must be made (a file that does not exist yet).
    pub fn would_create(&self) -> bool {
        matches!(self, KeySource::File(path) if !path.exists())
    }

    /// The key, read (or, for a missing file, made).
    pub fn load(&self) -> Result<journey_postgres::crypto::MasterKey, String> {
        use journey_postgres::crypto::MasterKey;
        match self {
            KeySource::Hex { hex, from } => {
                MasterKey::from_hex(hex).map_err(|e| format!("{from}: {e}"))
            }
            KeySource::File(path) => MasterKey::load_or_create(path),
            KeySource::PerStore { .. } => Err("the store's id is needed first".into()),
        }
    }
}

impl Database {
    /// How to connect to the server: the URL's, or the embedded cluster's (started, and
    /// created, when needed; its `journey` database is created by [`crate::App::open`]).
    pub fn connect_options(&self) -> Result<journey_postgres::PgConnectOptions, crate::AppError> {
        match self {
            Database::Url(url) => url
                .parse()
                .map_err(|e| crate::AppError::BadRequest(format!("DATABASE_URL: {e}"))),
            Database::Embedded { data_dir } => journey_postgres::embedded::ensure_running(data_dir)
                .map_err(|e| crate::AppError::Unavailable(e.to_string())),
        }
    }
}
