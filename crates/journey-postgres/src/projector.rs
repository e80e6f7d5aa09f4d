//! The projector: feeds the read tables (`journeys`, `entries`, `relapses_after_rehab`,
//! `research_consent`, `metric_input`) from
//! the events in their commit-safe global order, set-based inside PostgreSQL, with its
//! checkpoint updated in the same transaction as the tables. It never sees an event twice or
//! misses one: it reads in `(tx_id, global_position)` order and only events of transactions
//! older than every running one (`tx_id < pg_snapshot_xmin(...)`), so nothing can commit
//! behind its checkpoint later.

use sqlx::{PgPool, Postgres, Transaction};

use crate::error::StoreError;

/// Events projected per transaction.
pub const BATCH_EVENTS_MAX: i64 = 50_000;
/// Serializes projectors (a transaction-level advisory lock).
const PROJECTOR_LOCK: i64 = 0x6a6f75726e6579;

const SELECT_BATCH: &str = r#"
CREATE TEMP TABLE batch ON COMMIT DROP AS
SELECT e.tx_id, e.global_position, e.aggregate_id AS journey_id, e.sequence,
       e.payload::jsonb -> 'EntryRecorded' AS r,
       e.payload::jsonb -> 'RelapseAfterRehab' AS relapse,
       e.payload::jsonb -> 'ResearchConsent' AS consent,
       e.payload::jsonb -> 'JourneyErased' AS erased
  FROM events e, projector_checkpoint c
 WHERE c.name = 'read_tables'
   AND e.aggregate_type = 'Journey'
   AND (e.tx_id, e.global_position) > (c.tx_id, c.position)
   AND e.tx_id < $1::text::xid8
 ORDER BY e.tx_id, e.global_position
 LIMIT $2"#;

const INSERT_JOURNEYS: &str = r#"
INSERT INTO journeys (journey_id, key, start, relationship, substances)
SELECT b.journey_id, k.key, (b.r ->> 'on')::date, b.r ->> 'relationship',
       ARRAY(SELECT jsonb_array_elements_text(coalesce(b.r -> 'substances', '[]')))
  FROM batch b JOIN journey_keys k ON k.journey_id = b.journey_id
 WHERE b.r ->> 'type' = 'journey_started'
ON CONFLICT (journey_id) DO NOTHING"#;

const INSERT_ENTRIES: &str = r#"
INSERT INTO entries (journey_id, entry, sequence, type, "on", "by", fields, recorded_at, episode)
SELECT b.journey_id, b.r ->> 'entry', b.sequence, b.r ->> 'type', (b.r ->> 'on')::date, b.r ->> 'by',
       b.r - 'entry' - 'on' - 'by' - 'type' - 'recorded_at' - 'episode',
       (b.r ->> 'recorded_at')::timestamptz, b.r ->> 'episode'
  FROM batch b
 WHERE b.r IS NOT NULL
ON CONFLICT (journey_id, entry) DO NOTHING"#;

const APPLY_RETRACTS: &str = r#"
UPDATE entries e
   SET retracted = true, retracted_by = b.r ->> 'entry'
  FROM batch b
 WHERE b.r ->> 'type' = 'retract'
   AND e.journey_id = b.journey_id
   AND e.entry = b.r ->> 'target'"#;

const INSERT_RELAPSES: &str = r#"
INSERT INTO relapses_after_rehab (journey_id, episode, modality, exited, use_entry, "on", days_since_exit)
SELECT b.journey_id, b.relapse ->> 'episode', b.relapse ->> 'modality', (b.relapse ->> 'exited')::date,
       b.relapse ->> 'use_entry', (b.relapse ->> 'on')::date, (b.relapse ->> 'days_since_exit')::int
  FROM batch b
 WHERE b.relapse IS NOT NULL
ON CONFLICT (journey_id, episode) DO NOTHING"#;

const UPSERT_CONSENT: &str = r#"
INSERT INTO research_consent (journey_id, granted, text_version, changed_at)
SELECT DISTINCT ON (b.journey_id) b.journey_id, (b.consent ->> 'granted')::boolean,
       b.consent ->> 'text_version', (b.consent ->> 'recorded_at')::timestamptz
  FROM batch b
 WHERE b.consent IS NOT NULL
 ORDER BY b.journey_id, b.tx_id DESC, b.global_position DESC
ON CONFLICT (journey_id) DO UPDATE
   SET granted = excluded.granted, text_version = excluded.text_version,
       changed_at = excluded.changed_at"#;

const REFRESH_JOURNEYS: &str = r#"
UPDATE journeys j
   SET craft_start = s.craft_start, entries = s.entries, retracted = s.retracted,
       last_recorded = s.last_recorded
  FROM (SELECT e.journey_id,
               min(e."on") FILTER (WHERE e.type = 'craft_started' AND NOT e.retracted) AS craft_start,
               count(*) FILTER (WHERE e.type <> 'retract' AND NOT e.retracted) AS entries,
               count(*) FILTER (WHERE e.retracted) AS retracted,
               max(e.recorded_at) AS last_recorded
          FROM entries e
         WHERE e.journey_id IN (SELECT DISTINCT journey_id FROM batch)
         GROUP BY e.journey_id) s
 WHERE j.journey_id = s.journey_id"#;

/// The metrics' input of the journeys the batch touched, rewritten from their entries
/// (migrations/0006: one row per journey, the columns metrics.md reads as arrays).
const REFRESH_METRIC_INPUT: &str = r#"
INSERT INTO metric_input AS m
SELECT journey_id, array_agg(entry), array_agg(type), array_agg("on"), array_agg(retracted),
       array_agg(status), array_agg(modality), array_agg(reason), array_agg(episode),
       array_agg(for_safety)
  FROM (SELECT * FROM entry_metric_columns
         WHERE journey_id IN (SELECT DISTINCT journey_id FROM batch)
         ORDER BY journey_id, "on", sequence) s
 GROUP BY journey_id
ON CONFLICT (journey_id) DO UPDATE
   SET entries = excluded.entries, types = excluded.types, days = excluded.days,
       retracted = excluded.retracted, statuses = excluded.statuses,
       modalities = excluded.modalities, reasons = excluded.reasons,
       episodes = excluded.episodes, for_safety = excluded.for_safety"#;

/// An erased journey leaves every read table (its events stay, with sealed text only).
const PURGE_ERASED: [&str; 5] = [
    "DELETE FROM metric_input WHERE journey_id IN (SELECT journey_id FROM batch WHERE erased IS NOT NULL)",
    "DELETE FROM entries WHERE journey_id IN (SELECT journey_id FROM batch WHERE erased IS NOT NULL)",
    "DELETE FROM relapses_after_rehab WHERE journey_id IN (SELECT journey_id FROM batch WHERE erased IS NOT NULL)",
    "DELETE FROM research_consent WHERE journey_id IN (SELECT journey_id FROM batch WHERE erased IS NOT NULL)",
    "DELETE FROM journeys WHERE journey_id IN (SELECT journey_id FROM batch WHERE erased IS NOT NULL)",
];

const ADVANCE_CHECKPOINT: &str = r#"
UPDATE projector_checkpoint c
   SET tx_id = last.tx_id, position = last.global_position
  FROM (SELECT tx_id, global_position FROM batch
         ORDER BY tx_id DESC, global_position DESC LIMIT 1) last
 WHERE c.name = 'read_tables'"#;

/// The horizon: the oldest transaction still running in this database, else the first not
/// yet started. Transaction ids are cluster-wide, so `pg_snapshot_xmin` alone would also wait
/// for transactions of other databases (a long import next door held every projection of
/// this one back). A running transaction is left out only when `pg_stat_activity` shows it
/// as the transaction of a backend of another database: a backend never changes database,
/// so the exclusion cannot be wrong, and a transaction not (yet) shown there is waited for.
/// `backend_xid` is shown to every role.
const HORIZON: &str = r#"
SELECT coalesce(
         (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
           WHERE x::xid NOT IN (SELECT a.backend_xid FROM pg_stat_activity a
                                 WHERE a.backend_xid IS NOT NULL
                                   AND a.datid <> (SELECT oid FROM pg_database
                                                    WHERE datname = current_database()))),
         pg_snapshot_xmax(pg_current_snapshot()))::text"#;

/// Takes the projector lock and returns the horizon: events of transactions below it are
/// all committed or aborted. Must run before the transaction writes anything.
async fn begin(tx: &mut Transaction<'_, Postgres>) -> Result<String, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PROJECTOR_LOCK)
        .execute(&mut **tx)
        .await?;
    sqlx::query_scalar(HORIZON).fetch_one(&mut **tx).await
}

/// Projects one batch of at most `limit` events; returns how many it projected.
async fn project_batch(
    tx: &mut Transaction<'_, Postgres>,
    horizon: &str,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let selected = sqlx::query(SELECT_BATCH)
        .bind(horizon)
        .bind(limit)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if selected > 0 {
        for statement in [
            INSERT_JOURNEYS,
            INSERT_ENTRIES,
            APPLY_RETRACTS,
            INSERT_RELAPSES,
            UPSERT_CONSENT,
            REFRESH_JOURNEYS,
            REFRESH_METRIC_INPUT,
            PURGE_ERASED[0],
            PURGE_ERASED[1],
            PURGE_ERASED[2],
            PURGE_ERASED[3],
            PURGE_ERASED[4],
            ADVANCE_CHECKPOINT,
        ] {
            sqlx::query(statement).execute(&mut **tx).await?;
        }
    }
    sqlx::query("DROP TABLE batch").execute(&mut **tx).await?;
    Ok(selected)
}

/// How long `catch_up` waits for older transactions of this database to end before it
/// returns with what it could project.
pub const CATCH_UP_WAIT_MS: u64 = 10_000;

/// Projects every event committed so far; returns how many. Events committed but still
/// above the horizon (an older transaction runs elsewhere) are waited for, briefly.
pub async fn catch_up(pool: &PgPool) -> Result<u64, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(CATCH_UP_WAIT_MS);
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let horizon = begin(&mut tx).await?;
        let projected = project_batch(&mut tx, &horizon, BATCH_EVENTS_MAX).await?;
        tx.commit().await?;
        total += projected;
        if projected == BATCH_EVENTS_MAX as u64 {
            continue;
        }
        let behind: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events e, projector_checkpoint c
                             WHERE c.name = 'read_tables' AND e.aggregate_type = 'Journey'
                               AND (e.tx_id, e.global_position) > (c.tx_id, c.position))",
        )
        .fetch_one(pool)
        .await?;
        if !behind || std::time::Instant::now() > deadline {
            return Ok(total);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Empties the read tables and projects every event again, in one transaction: readers see
/// the old tables until the new ones are complete. Returns the number of events projected.
pub async fn rebuild(pool: &PgPool) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let horizon = begin(&mut tx).await?;
    sqlx::query("TRUNCATE journeys, entries, relapses_after_rehab, research_consent, metric_input")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE projector_checkpoint SET tx_id = '0', position = 0 WHERE name = 'read_tables'",
    )
    .execute(&mut *tx)
    .await?;
    let mut total = 0;
    loop {
        let projected = project_batch(&mut tx, &horizon, BATCH_EVENTS_MAX).await?;
        total += projected;
        if projected < BATCH_EVENTS_MAX as u64 {
            break;
        }
    }
    tx.commit().await?;
    Ok(total)
}
