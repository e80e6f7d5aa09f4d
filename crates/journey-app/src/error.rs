//! What a use case can fail with, and the one mapping of each kind to an exit code (CLI)
//! and to an HTTP status (pages and API).

use journey_postgres::StoreError;

/// A failed use case. Bad input is never an outage: only [`AppError::Unavailable`] is
/// answered 503 (with Retry-After) or exit code 2 with "database unavailable".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// Malformed arguments (not a date, not a page number, ...).
    BadRequest(String),
    /// Well-formed, but it breaks a rule: the field (when there is one) and why.
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// No such thing, or one the actor may not see: the two look the same to users. The
    /// text names what was asked for (the CLI shows it; the web says only "not found").
    NotFound(String),
    /// The actor may see the journey but may not do this to it.
    Forbidden(&'static str),
    /// Another write came first and kept coming; or an idempotency key is in use.
    Conflict(String),
    /// The database (or the master key's file) cannot be reached right now.
    Unavailable(String),
    /// Someone else holds what the write needs for longer than a write waits (an import of
    /// the journey's file): nothing was done; try again in a few seconds (503, Retry-After).
    Busy(String),
    /// A bug or corrupted data: logged, never shown to a user.
    Internal(String),
    /// This machine's set-up stops the program from starting (a master key that is missing
    /// or not the store's, a port in use): said in one plain line.
    Setup(String),
}

impl AppError {
    /// A rule broken by `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The exit code of the `journey` command: 1 bad input, 2 a failure of the system.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::BadRequest(_)
            | AppError::Invalid { .. }
            | AppError::NotFound(_)
            | AppError::Forbidden(_) => 1,
            AppError::Conflict(_)
            | AppError::Unavailable(_)
            | AppError::Busy(_)
            | AppError::Internal(_)
            | AppError::Setup(_) => 2,
        }
    }

    /// The HTTP status of pages and the API.
    pub fn http_status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Invalid { .. } => 422,
            AppError::NotFound(_) => 404,
            AppError::Forbidden(_) => 403,
            AppError::Conflict(_) => 409,
            AppError::Unavailable(_) | AppError::Busy(_) | AppError::Setup(_) => 503,
            AppError::Internal(_) => 500,
        }
    }
}

impl From<journey_domain::NameError> for AppError {
    fn from(err: journey_domain::NameError) -> AppError {
        AppError::invalid(err.field, err.to_string())
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::BadRequest(why)
            | AppError::NotFound(why)
            | AppError::Conflict(why)
            | AppError::Busy(why)
            | AppError::Internal(why)
            | AppError::Setup(why) => f.write_str(why),
            AppError::Invalid {
                field: Some(field),
                message,
            } => write!(f, "{field}: {message}"),
            AppError::Invalid {
                field: None,
                message,
            } => f.write_str(message),
            AppError::Forbidden(why) => f.write_str(why),
            AppError::Unavailable(why) => write!(f, "database unavailable: {why}"),
        }
    }
}

impl std::error::Error for AppError {}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Rule(rule) => AppError::invalid(rule.field(), rule.to_string()),
            StoreError::Conflict => AppError::Conflict(
                "the journey was changed by someone else at the same moment; try again".into(),
            ),
            StoreError::Unavailable(why) => AppError::Unavailable(why),
            StoreError::Busy => AppError::Busy(StoreError::Busy.to_string()),
            StoreError::Corrupt(why) => {
                AppError::Internal(format!("stored data unreadable: {why}"))
            }
            StoreError::Source(why) => {
                AppError::BadRequest(format!("the file could not be read: {why}"))
            }
        }
    }
}

/// A failure of the analytics or the charts: ours, never the user's.
pub(crate) fn internal(err: impl std::fmt::Display) -> AppError {
    AppError::Internal(err.to_string())
}
