//! Connecting and migrating.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

/// How long a caller waits for a pooled connection before "database unavailable".
pub const ACQUIRE_TIMEOUT_MS: u64 = 2_000;

/// A pool of at most `connections_max` connections to `options`.
pub async fn connect(
    options: PgConnectOptions,
    connections_max: u32,
) -> Result<PgPool, sqlx::Error> {
    // One direct connection first: a pool reports "timed out" where this names the cause.
    sqlx::PgConnection::connect_with(&options)
        .await?
        .close()
        .await?;
    PgPoolOptions::new()
        .max_connections(connections_max)
        .acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS))
        .connect_with(options)
        .await
}

/// Applies every migration of `migrations/` not applied yet (append-only, checksummed).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../../migrations").run(pool).await
}
