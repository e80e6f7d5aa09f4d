//! The store's one error type.

use cqrs_es::AggregateError;
use journey_domain::JourneyError;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A command broke a rule of the journey (bad input: nothing was stored).
    #[error("{0}")]
    Rule(JourneyError),
    /// Another writer changed the journey first; the command can be retried.
    #[error("the journey was changed concurrently; try again")]
    Conflict,
    /// A lock the write needed stayed held by another transaction for the recorder's lock
    /// wait (an import of a file naming the journey, say): nothing was stored; try again.
    #[error("the journey is being written by someone else (an import, say); nothing was stored: try again in a few seconds")]
    Busy,
    /// The database could not be reached or failed (not the caller's fault).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back: a bug or a corrupted store.
    #[error("stored data unreadable: {0}")]
    Corrupt(String),
    /// The file being imported could not be read (not its content: the disk, the pipe).
    #[error("the file could not be read: {0}")]
    Source(String),
}

impl StoreError {
    /// True when the caller's input was at fault (exit code 1, HTTP 4xx).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, StoreError::Rule(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            // A serialization failure or a deadlock: the transaction rolled back; run it again.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("40001" | "40P01")) =>
            {
                StoreError::Conflict
            }
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                StoreError::Conflict
            }
            // lock_not_available: a wait for a lock outlasted `lock_timeout`.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03") => StoreError::Busy,
            _ => StoreError::Unavailable(err.to_string()),
        }
    }
}

impl From<AggregateError<JourneyError>> for StoreError {
    fn from(err: AggregateError<JourneyError>) -> Self {
        match err {
            AggregateError::UserError(rule) => match rule {
                JourneyError::LookupFailed(why) => StoreError::Unavailable(why),
                rule => StoreError::Rule(rule),
            },
            AggregateError::AggregateConflict => StoreError::Conflict,
            AggregateError::DatabaseConnectionError(e) => StoreError::Unavailable(e.to_string()),
            AggregateError::DeserializationError(e) => StoreError::Corrupt(e.to_string()),
            AggregateError::UnexpectedError(e) => StoreError::Unavailable(e.to_string()),
        }
    }
}
