//! Scratch databases and raw COPY, for the benchmark programs.

use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPoolCopyExt};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::error::StoreError;

/// (Re)creates database `name` on the server of `server`, migrated, and connects to it.
pub async fn database(server: &PgConnectOptions, name: &str) -> Result<PgPool, StoreError> {
    let mut admin = server.clone().database("postgres").connect().await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let pool = crate::db::connect(server.clone().database(name), 16).await?;
    crate::db::migrate(&pool)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(pool)
}

/// Drops database `name` on the server of `server`.
pub async fn drop_database(server: &PgConnectOptions, name: &str) -> Result<(), StoreError> {
    let mut admin = server.clone().database("postgres").connect().await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    Ok(())
}

const EVENT_COLUMNS: &str =
    "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata";

/// Reads every event row of `from` as COPY text, in memory.
pub async fn copy_out_events(from: &PgPool) -> Result<Vec<u8>, StoreError> {
    let mut stream = from
        .copy_out_raw(&format!("COPY events ({EVENT_COLUMNS}) TO STDOUT"))
        .await?;
    let mut data = Vec::new();
    while let Some(chunk) = stream.try_next().await? {
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// Loads COPY text of event rows into `to`'s events table with PostgreSQL's COPY; returns rows.
pub async fn copy_in_events(to: &PgPool, data: &[u8]) -> Result<u64, StoreError> {
    let mut copy = to
        .copy_in_raw(&format!("COPY events ({EVENT_COLUMNS}) FROM STDIN"))
        .await?;
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    Ok(copy.finish().await?)
}

/// The baseline of `journey bench append`: plain postgres-es event sourcing, which loads the
/// whole history of the journey on every command.
pub struct PlainRecorder {
    cqrs: cqrs_es::CqrsFramework<
        journey_domain::Journey,
        cqrs_es::persist::PersistedEventStore<
            postgres_es::PostgresEventRepository,
            journey_domain::Journey,
        >,
    >,
}

impl PlainRecorder {
    pub fn new(pool: PgPool) -> Self {
        let lookup: journey_domain::JourneyServices =
            std::sync::Arc::new(crate::store::PgEntryLookup::new(pool.clone()));
        Self {
            cqrs: postgres_es::postgres_cqrs(pool, Vec::new(), lookup),
        }
    }

    /// Records `entry` on the journey with internal id `journey_id`.
    pub async fn record(
        &self,
        journey_id: &str,
        entry: journey_domain::Entry,
        recorded_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let command = journey_domain::JourneyCommand::Record {
            journey_id: journey_id.to_string(),
            entry,
            recorded_at,
        };
        self.cqrs
            .execute(journey_id, command)
            .await
            .map_err(StoreError::from)
    }
}
