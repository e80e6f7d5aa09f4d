//! What the research export reads and writes: consent, project keys, typed entry
//! attributes (never note text or reporter handles), and the audit log.

use chrono::NaiveDate;
use rand::RngCore;
use serde_json::Value;
use sqlx::PgPool;

use crate::error::StoreError;

/// A journey whose family granted research consent (its latest decision).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Consented {
    pub journey_id: String,
    pub key: String,
    pub relationship: String,
    pub substances: Vec<String>,
    pub text_version: String,
    /// The journey's first day (its `journey_started`).
    pub start: chrono::NaiveDate,
}

/// The journeys with research consent granted, in key order.
pub async fn consented(pool: &PgPool) -> Result<Vec<Consented>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT j.journey_id, j.key, j.relationship, j.substances, c.text_version, j.start
           FROM journeys j JOIN research_consent c USING (journey_id)
          WHERE c.granted ORDER BY j.key",
    )
    .fetch_all(pool)
    .await?)
}

/// The pseudonymization key of research project `name`, created (32 random bytes from the
/// operating system) on first use. It never leaves the database but through this function.
pub async fn project_key(pool: &PgPool, name: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    sqlx::query("INSERT INTO research_projects (name, hmac_key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(&key)
        .execute(pool)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT hmac_key FROM research_projects WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await?,
    )
}

/// The typed attributes of the research `events` table, in column order: text attributes
/// first (`substances` ';'-joined and sorted), then `kept`, `for_safety`, `minutes`.
pub const TEXT_ATTRIBUTES: [&str; 9] = [
    "basis",
    "confidence",
    "status",
    "modality",
    "reason",
    "channel",
    "response",
    "found",
    "substances",
];

/// One entry for the research `events` table: its type, day and typed attributes (`text`
/// of notes and `by` are never read).
#[derive(Debug, Clone, PartialEq)]
pub struct ResearchEntry {
    pub journey_id: String,
    pub kind: String,
    pub on: NaiveDate,
    /// The values of [`TEXT_ATTRIBUTES`], in that order.
    pub text: [Option<String>; 9],
    pub kept: Option<bool>,
    pub for_safety: Option<bool>,
    pub minutes: Option<i64>,
}

/// The entries of the journeys `ids` that count on `as_of` (not retracted, dated on or
/// before it), except notes (private free text) and retracts.
pub async fn entries(
    pool: &PgPool,
    ids: &[String],
    as_of: NaiveDate,
) -> Result<Vec<ResearchEntry>, StoreError> {
    use futures::TryStreamExt;
    use sqlx::Row;

    let mut rows = sqlx::query(
        r#"SELECT journey_id, type, "on",
                  fields ->> 'basis', fields ->> 'confidence', fields ->> 'status',
                  fields ->> 'modality', fields ->> 'reason', fields ->> 'channel',
                  fields ->> 'response', fields ->> 'found',
                  CASE WHEN type = 'use_observed' AND fields ? 'substances'
                       THEN (SELECT string_agg(x, ';' ORDER BY x)
                               FROM jsonb_array_elements_text(fields -> 'substances') AS x)
                  END,
                  (fields ->> 'kept')::boolean, (fields ->> 'for_safety')::boolean,
                  (fields ->> 'minutes')::bigint
             FROM entries
            WHERE journey_id = ANY($1) AND NOT retracted AND "on" <= $2
              AND type NOT IN ('note', 'retract')
            ORDER BY journey_id, "on", sequence"#,
    )
    .bind(ids)
    .bind(as_of)
    .fetch(pool);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let mut text: [Option<String>; 9] = Default::default();
        for (i, slot) in text.iter_mut().enumerate() {
            *slot = row.try_get(3 + i)?;
        }
        out.push(ResearchEntry {
            journey_id: row.try_get(0)?,
            kind: row.try_get(1)?,
            on: row.try_get(2)?,
            text,
            kept: row.try_get(12)?,
            for_safety: row.try_get(13)?,
            minutes: row.try_get(14)?,
        });
    }
    Ok(out)
}

/// Appends a row to the audit log.
pub async fn audit(
    pool: &PgPool,
    actor: &str,
    action: &str,
    journey_id: Option<&str>,
    detail: Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, journey_id, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(actor)
    .bind(action)
    .bind(journey_id)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}

/// One row for [`audit_many`].
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub journey_id: Option<String>,
    pub detail: Value,
}

/// Appends `rows` to the audit log in one statement (each keeps its own time).
pub async fn audit_many(pool: &PgPool, rows: &[AuditRow]) -> Result<(), StoreError> {
    audit_many_in(pool, rows).await
}

/// [`audit_many`] on `executor` (a pool, or the transaction of the write the rows audit).
pub async fn audit_many_in<'e, E>(executor: E, rows: &[AuditRow]) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    if rows.is_empty() {
        return Ok(());
    }
    let at: Vec<_> = rows.iter().map(|r| r.at).collect();
    let actor: Vec<&str> = rows.iter().map(|r| r.actor.as_str()).collect();
    let action: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    let journey: Vec<Option<&str>> = rows.iter().map(|r| r.journey_id.as_deref()).collect();
    let detail: Vec<Value> = rows.iter().map(|r| r.detail.clone()).collect();
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, journey_id, detail)
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::jsonb[])",
    )
    .bind(&at)
    .bind(&actor)
    .bind(&action)
    .bind(&journey)
    .bind(&detail)
    .execute(executor)
    .await?;
    Ok(())
}

/// The family's latest research decision on journey `journey_id`: granted, the version of
/// the consent text, when; `None` when it never decided.
pub async fn consent_of(
    pool: &PgPool,
    journey_id: &str,
) -> Result<Option<(bool, String, chrono::DateTime<chrono::Utc>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT granted, text_version, changed_at FROM research_consent WHERE journey_id = $1",
    )
    .bind(journey_id)
    .fetch_optional(pool)
    .await?)
}

/// The project names research exports were made under: (name, first export, last export,
/// exports), the most recent first (from the audit log).
pub async fn projects_used(
    pool: &PgPool,
) -> Result<
    Vec<(
        String,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        i64,
    )>,
    StoreError,
> {
    Ok(sqlx::query_as(
        "SELECT detail ->> 'project', min(at), max(at), count(*) FROM audit_log
          WHERE action = 'research_export' AND detail ? 'project'
          GROUP BY 1 ORDER BY max(at) DESC",
    )
    .fetch_all(pool)
    .await?)
}
