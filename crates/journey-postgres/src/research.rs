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
}

/// The journeys with research consent granted, in key order.
pub async fn consented(pool: &PgPool) -> Result<Vec<Consented>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT j.journey_id, j.key, j.relationship, j.substances, c.text_version
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

/// One entry for the research `events` table: its type, day and typed attributes (the
/// `fields` of the entry; `text` of notes and `by` are never read).
#[derive(Debug, Clone, PartialEq)]
pub struct ResearchEntry {
    pub journey_id: String,
    pub kind: String,
    pub on: NaiveDate,
    pub fields: Value,
}

/// The entries of the journeys `ids` that count on `as_of` (not retracted, dated on or
/// before it), except notes (private free text) and retracts.
pub async fn entries(
    pool: &PgPool,
    ids: &[String],
    as_of: NaiveDate,
) -> Result<Vec<ResearchEntry>, StoreError> {
    let rows: Vec<(String, String, NaiveDate, Value)> = sqlx::query_as(
        r#"SELECT journey_id, type, "on", fields - 'text'
             FROM entries
            WHERE journey_id = ANY($1) AND NOT retracted AND "on" <= $2
              AND type NOT IN ('note', 'retract')
            ORDER BY journey_id, "on", sequence"#,
    )
    .bind(ids)
    .bind(as_of)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(journey_id, kind, on, fields)| ResearchEntry {
            journey_id,
            kind,
            on,
            fields,
        })
        .collect())
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
