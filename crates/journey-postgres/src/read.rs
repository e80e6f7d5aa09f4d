//! Queries over the read tables.

use chrono::{DateTime, NaiveDate, Utc};
use journey_domain::Entry;
use serde_json::{Map, Value};
use sqlx::PgPool;

use crate::error::StoreError;

/// A row of `journey journeys`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JourneyRow {
    pub journey_id: String,
    pub key: String,
    pub start: NaiveDate,
    pub craft_start: Option<NaiveDate>,
    pub relationship: String,
    pub substances: Vec<String>,
    pub entries: i32,
    pub retracted: i32,
    pub last_recorded: Option<DateTime<Utc>>,
}

/// Every journey (or the one with key `only`), in key order.
pub async fn journeys(pool: &PgPool, only: Option<&str>) -> Result<Vec<JourneyRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT journey_id, key, start, craft_start, relationship, substances, entries, retracted, last_recorded
           FROM journeys WHERE $1::text IS NULL OR key = $1 ORDER BY key",
    )
    .bind(only)
    .fetch_all(pool)
    .await?)
}

/// One stored entry with the key of its journey.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLine {
    pub journey: String,
    pub entry: Entry,
}

/// Every stored entry (retracts included) of every journey or of `only`, by journey key and
/// then in recorded order: what `journey export --raw` writes.
pub async fn entries(pool: &PgPool, only: Option<&str>) -> Result<Vec<StoredLine>, StoreError> {
    type Row = (
        String,
        String,
        String,
        Option<NaiveDate>,
        Option<String>,
        Value,
    );
    let rows: Vec<Row> = sqlx::query_as(
        r#"SELECT j.key, e.entry, e.type, e."on", e."by", e.fields
             FROM entries e JOIN journeys j USING (journey_id)
            WHERE $1::text IS NULL OR j.key = $1
            ORDER BY j.key, e.sequence"#,
    )
    .bind(only)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(journey, entry, kind, on, by, fields)| {
            let mut object = match fields {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            object.insert("entry".into(), Value::String(entry));
            object.insert("type".into(), Value::String(kind));
            if let Some(on) = on {
                object.insert("on".into(), Value::String(on.to_string()));
            }
            if let Some(by) = by {
                object.insert("by".into(), Value::String(by));
            }
            let entry: Entry = serde_json::from_value(Value::Object(object))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(StoredLine { journey, entry })
        })
        .collect()
}

/// One stored entry with the fields the metrics read.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MetricRow {
    pub key: String,
    pub entry: String,
    pub kind: String,
    pub on: Option<NaiveDate>,
    pub retracted: bool,
    pub status: Option<String>,
    pub modality: Option<String>,
    pub reason: Option<String>,
    pub episode: Option<String>,
    pub for_safety: bool,
}

/// Which journeys a query reads.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every journey.
    All,
    /// The journey with this key.
    Key(&'a str),
    /// The journeys whose key sorts before this one (benchmarks read a prefix of a cohort).
    Below(&'a str),
}

impl<'a> Scope<'a> {
    /// `Key` when `only` is given, else `All`.
    pub fn only(only: Option<&'a str>) -> Self {
        only.map_or(Scope::All, Scope::Key)
    }

    /// `$1` and `$2` of a `WHERE ($1::text IS NULL OR key = $1) AND ($2::text IS NULL OR key < $2)`.
    pub fn binds(self) -> (Option<&'a str>, Option<&'a str>) {
        match self {
            Scope::All => (None, None),
            Scope::Key(key) => (Some(key), None),
            Scope::Below(bound) => (None, Some(bound)),
        }
    }
}

/// The entries of the journeys of `scope` for the metrics, by key then recorded order.
pub async fn metric_rows(pool: &PgPool, scope: Scope<'_>) -> Result<Vec<MetricRow>, StoreError> {
    let (key, below) = scope.binds();
    Ok(sqlx::query_as(
        r#"SELECT j.key, e.entry, e.type AS kind, e."on", e.retracted,
                  e.fields ->> 'status' AS status, e.fields ->> 'modality' AS modality,
                  e.fields ->> 'reason' AS reason, e.episode,
                  coalesce((e.fields ->> 'for_safety')::boolean, false) AS for_safety
             FROM entries e JOIN journeys j USING (journey_id)
            WHERE ($1::text IS NULL OR j.key = $1) AND ($2::text IS NULL OR j.key < $2)
            ORDER BY j.key, e.sequence"#,
    )
    .bind(key)
    .bind(below)
    .fetch_all(pool)
    .await?)
}
