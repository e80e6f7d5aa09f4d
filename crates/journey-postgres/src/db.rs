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

/// A small pool to the same database whose commits do not wait for the disk
/// (`synchronous_commit = off`): for rows whose loss in a crash of the database server is
/// acceptable (the read audit: at most the last ~0.6 s of reads), never for journey data.
pub fn async_commit_pool(pool: &PgPool, connections_max: u32) -> PgPool {
    use sqlx::Executor;
    PgPoolOptions::new()
        .max_connections(connections_max)
        .acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET synchronous_commit = off").await?;
                Ok(())
            })
        })
        .connect_lazy_with((*pool.connect_options()).clone())
}
