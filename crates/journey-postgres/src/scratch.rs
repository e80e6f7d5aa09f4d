//! Scratch databases and raw COPY, for the benchmark programs.

use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPoolCopyExt};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::error::StoreError;

/// (Re)creates database `name` on the server of `server`, migrated, and connects to it.
pub async fn database(server: &PgConnectOptions, name: &str) -> Result<PgPool, StoreError> {
    drop_database(server, name).await?;
    keep_database(server, name).await
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

/// Opens database `name` on the server of `server`, creating and migrating it when missing
/// (benchmarks keep their generated data between runs).
pub async fn keep_database(server: &PgConnectOptions, name: &str) -> Result<PgPool, StoreError> {
    let mut admin = server.clone().database("postgres").connect().await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
    }
    admin.close().await?;
    let pool = crate::db::connect(server.clone().database(name), 16).await?;
    crate::db::migrate(&pool)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(pool)
}

/// One row of the SQL baseline of `journey bench metrics`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SqlWeek {
    pub key: String,
    pub week: i32,
    pub days: i32,
    pub use_days: i32,
    pub no_use_days: i32,
    pub unknown_days: i32,
    pub controlled_days: i32,
    pub pda: Option<f64>,
    pub coverage: f64,
}

/// The baseline a user might write instead of the analytics crate: the weekly day counts,
/// PDA and coverage of metrics.md (day status, weeks anchored on the CRAFT start) as one SQL
/// query over the read tables, for the journeys of `scope` as of `as_of`.
pub async fn sql_weekly(
    pool: &PgPool,
    scope: crate::read::Scope<'_>,
    as_of: chrono::NaiveDate,
) -> Result<Vec<SqlWeek>, StoreError> {
    let (key, below) = scope.binds();
    Ok(sqlx::query_as(
        r#"
WITH j AS (
    SELECT journey_id, key, start, coalesce(craft_start, start) AS anchor
      FROM journeys
     WHERE start <= $3 AND ($1::text IS NULL OR key = $1) AND ($2::text IS NULL OR key < $2)
), marks AS (
    SELECT e.journey_id, e."on" AS day,
           bool_or(e.type = 'use_observed'
                   OR (e.type = 'day_status' AND e.fields ->> 'status' = 'use')) AS used,
           bool_or(e.type = 'clean_day_observed'
                   OR (e.type = 'day_status' AND e.fields ->> 'status' = 'no_use')) AS clean
      FROM entries e JOIN j USING (journey_id)
     WHERE NOT e.retracted AND e."on" <= $3
       AND e.type IN ('use_observed', 'clean_day_observed', 'day_status')
     GROUP BY e.journey_id, e."on"
), episodes AS (
    SELECT t.journey_id, t."on" AS entered, x."on" AS exited
      FROM entries t JOIN j USING (journey_id)
      LEFT JOIN entries x
        ON x.journey_id = t.journey_id AND x.type = 'treatment_exited' AND x.episode = t.entry
       AND NOT x.retracted AND x."on" <= $3
     WHERE t.type = 'treatment_entered' AND NOT t.retracted AND t."on" <= $3
       AND t.fields ->> 'modality' IN ('detox', 'residential')
), controlled AS (
    SELECT DISTINCT p.journey_id, d::date AS day
      FROM episodes p,
           generate_series(p.entered, coalesce(p.exited - 1, $3::date), interval '1 day') AS d
), days AS (
    SELECT j.journey_id, j.key, j.anchor, d::date AS day
      FROM j, generate_series(j.start, $3::date, interval '1 day') AS d
), status AS (
    SELECT d.key, floor((d.day - d.anchor) / 7.0)::int AS week,
           CASE WHEN m.used THEN 'u'
                WHEN c.day IS NOT NULL THEN 'c'
                WHEN m.clean THEN 'n'
                ELSE '?' END AS s
      FROM days d
      LEFT JOIN marks m ON m.journey_id = d.journey_id AND m.day = d.day
      LEFT JOIN controlled c ON c.journey_id = d.journey_id AND c.day = d.day
)
SELECT key, week, count(*)::int AS days,
       (count(*) FILTER (WHERE s = 'u'))::int AS use_days,
       (count(*) FILTER (WHERE s = 'n'))::int AS no_use_days,
       (count(*) FILTER (WHERE s = '?'))::int AS unknown_days,
       (count(*) FILTER (WHERE s = 'c'))::int AS controlled_days,
       (count(*) FILTER (WHERE s = 'n'))::float8
           / nullif(count(*) FILTER (WHERE s IN ('u', 'n')), 0) AS pda,
       (count(*) FILTER (WHERE s IN ('u', 'n')))::float8 / count(*) AS coverage
  FROM status
 GROUP BY key, week
 ORDER BY key, week"#,
    )
    .bind(key)
    .bind(below)
    .bind(as_of)
    .fetch_all(pool)
    .await?)
}

/// How many journeys have a key starting with `prefix`, and whether all those keys are
/// `length` characters long (a benchmark's kept cohort of the same size).
pub async fn cohort_stored(
    pool: &PgPool,
    prefix: &str,
    length: usize,
) -> Result<(usize, bool), StoreError> {
    let (count, same): (i64, bool) = sqlx::query_as(
        "SELECT count(*), coalesce(bool_and(length(key) = $2), true)
           FROM journeys WHERE starts_with(key, $1)",
    )
    .bind(prefix)
    .bind(length as i32)
    .fetch_one(pool)
    .await?;
    Ok((count as usize, same))
}

/// The journeys and the events of a store.
pub async fn store_size(pool: &PgPool) -> Result<(i64, i64), StoreError> {
    Ok(
        sqlx::query_as("SELECT (SELECT count(*) FROM journey_keys), (SELECT count(*) FROM events)")
            .fetch_one(pool)
            .await?,
    )
}

/// Refreshes the planner statistics of the read tables after a bulk load.
pub async fn analyze(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("VACUUM ANALYZE entries").execute(pool).await?;
    sqlx::query("VACUUM ANALYZE journeys").execute(pool).await?;
    Ok(())
}

/// (id, key) of the journeys below `bound`, in key order.
pub async fn journeys_below(
    pool: &PgPool,
    bound: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT journey_id, key FROM journeys WHERE key < $1 ORDER BY key")
            .bind(bound)
            .fetch_all(pool)
            .await?,
    )
}

/// Keys of the journeys below `bound` without research consent granted.
pub async fn without_consent(pool: &PgPool, bound: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT key FROM journeys j WHERE key < $1
            AND NOT EXISTS (SELECT 1 FROM research_consent c
                             WHERE c.journey_id = j.journey_id AND c.granted)
          ORDER BY key",
    )
    .bind(bound)
    .fetch_all(pool)
    .await?)
}

/// COPY of the raw entries of the journeys below `bound` as CSV, in memory; returns bytes.
pub async fn copy_entries_csv(pool: &PgPool, bound: &str) -> Result<u64, StoreError> {
    let bound = bound.replace('\'', "");
    let mut stream = pool
        .copy_out_raw(&format!(
            "COPY (SELECT e.* FROM entries e JOIN journeys j USING (journey_id)
                    WHERE j.key < '{bound}') TO STDOUT WITH (FORMAT csv, HEADER)"
        ))
        .await?;
    let mut total = 0u64;
    while let Some(chunk) = stream.try_next().await? {
        total += chunk.len() as u64;
    }
    Ok(total)
}
