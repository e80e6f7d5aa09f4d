//! The only crate that knows PostgreSQL: the event store (cqrs-es over postgres-es), the
//! write-side entry index, bulk import, the projector and its read tables, the embedded
//! cluster, and fresh test databases.

pub mod accounts;
pub mod audit_log;
pub mod crypto;
pub mod db;
pub mod embedded;
pub mod error;
pub mod import;
pub mod keys;
pub mod projector;
pub mod read;
pub mod reports;
pub mod research;
pub mod scratch;
pub mod second_factor;
pub mod sessions;
pub mod store;
pub mod testing;

pub use error::StoreError;
pub use sqlx::postgres::PgConnectOptions;
pub use sqlx::PgPool;
