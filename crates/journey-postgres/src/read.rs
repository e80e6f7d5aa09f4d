//! Queries over the read tables.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use journey_domain::{Entry, JourneyKey};
use serde_json::{Map, Value};
use sqlx::PgPool;

use crate::error::StoreError;

/// A row of `journey journeys`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JourneyRow {
    pub journey_id: String,
    /// Checked as it is read (what the store holds was checked as it entered).
    #[sqlx(try_from = "String")]
    pub key: JourneyKey,
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

/// Every stored entry (retracts included) of `journeys` (id, key), journey by journey in
/// the order given and then in recorded order, handles and notes opened: what `journey
/// export --raw` writes, a chunk of journeys at a time.
pub async fn entries_of(
    pool: &PgPool,
    master: &crate::crypto::MasterKey,
    journeys: &[(String, String)],
) -> Result<Vec<StoredLine>, StoreError> {
    type Row = (
        String,
        String,
        String,
        Option<NaiveDate>,
        Option<String>,
        Value,
    );
    let ids: Vec<String> = journeys.iter().map(|(id, _)| id.clone()).collect();
    let rows: Vec<Row> = sqlx::query_as(
        r#"SELECT e.journey_id, e.entry, e.type, e."on", e."by", e.fields
             FROM unnest($1::text[]) WITH ORDINALITY AS w(journey_id, n)
             JOIN entries e USING (journey_id)
            ORDER BY w.n, e.sequence"#,
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let keys: HashMap<&str, &str> = journeys
        .iter()
        .map(|(id, key)| (id.as_str(), key.as_str()))
        .collect();
    let secrets = crate::crypto::keys(pool, master, &ids, false).await?;
    rows.into_iter()
        .map(|(id, entry, kind, on, by, fields)| {
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
            let entry = crate::crypto::open_entry(secrets.get(&id), entry);
            Ok(StoredLine {
                journey: keys[id.as_str()].to_string(),
                entry,
            })
        })
        .collect()
}

/// One stored entry with the fields the metrics read. Fields that only some types carry are
/// read only for those (`entry` only for `treatment_entered`, which exits refer to).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub entry: String,
    pub kind: String,
    pub on: Option<NaiveDate>,
    pub retracted: bool,
    pub status: Option<String>,
    pub modality: Option<String>,
    pub reason: Option<String>,
    pub episode: Option<String>,
    pub for_safety: bool,
    /// `safety_check`: `found`; `treatment_suggested`: `response`.
    pub detail: Option<String>,
    /// `wellbeing_checked`: the WHO-5 percentage score.
    pub score: Option<i16>,
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
    /// The journeys whose family granted research consent.
    Consented,
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
            Scope::Consented => (None, None),
        }
    }
}

/// The entries of the journeys of `scope` for the metrics, by journey in key order (the
/// entries of a journey in no particular order: no figure depends on it), read from
/// `metric_weeks`: rows per journey and week (parts of at most 16 entries), its entries' columns as arrays (kept equal
/// to `entries` without the retract lines, in each write's transaction; migrations/0007).
pub async fn metric_rows(
    pool: &PgPool,
    scope: Scope<'_>,
) -> Result<Vec<(String, Vec<MetricRow>)>, StoreError> {
    metric_rows_via(pool, scope, Source::MetricWeeks).await
}

/// [`metric_rows`] of the journeys `journeys` (journey id, key), in that order: a chunk of a
/// cohort that is processed a chunk at a time.
pub async fn metric_rows_for(
    pool: &PgPool,
    journeys: &[(String, String)],
) -> Result<Vec<(String, Vec<MetricRow>)>, StoreError> {
    let ids: Vec<String> = journeys.iter().map(|(id, _)| id.clone()).collect();
    let mut rows: std::collections::HashMap<String, Vec<MetricRow>> =
        input_rows_of(pool, ids).await?.into_iter().collect();
    Ok(journeys
        .iter()
        .map(|(id, key)| (key.clone(), rows.remove(id).unwrap_or_default()))
        .collect())
}

/// [`metric_rows`] read from the `entries` table itself, one row per entry: what the metrics
/// read before `metric_weeks` existed (retract lines included). The benchmark times it beside [`metric_rows`], and a
/// test checks that both give the same rows.
pub async fn metric_rows_from_entries(
    pool: &PgPool,
    scope: Scope<'_>,
) -> Result<Vec<(String, Vec<MetricRow>)>, StoreError> {
    metric_rows_via(pool, scope, Source::Entries).await
}

#[derive(Clone, Copy)]
enum Source {
    MetricWeeks,
    Entries,
}

async fn metric_rows_via(
    pool: &PgPool,
    scope: Scope<'_>,
    source: Source,
) -> Result<Vec<(String, Vec<MetricRow>)>, StoreError> {
    let (key, below) = scope.binds();
    let consented = matches!(scope, Scope::Consented);
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT journey_id, key FROM journeys j
          WHERE ($1::text IS NULL OR key = $1) AND ($2::text IS NULL OR key < $2)
            AND (NOT $3 OR EXISTS (SELECT 1 FROM research_consent c
                                    WHERE c.journey_id = j.journey_id AND c.granted))
          ORDER BY key",
    )
    .bind(key)
    .bind(below)
    .bind(consented)
    .fetch_all(pool)
    .await?;
    let index: std::collections::HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    // Large cohorts are read as a few concurrent streams over ranges of journeys: PostgreSQL
    // and the row decoding then use every core.
    let parts = if keys.len() >= 400 { 4 } else { 1 };
    let chunk = keys.len().div_ceil(parts).max(1);
    let ranges: Vec<Vec<String>> = keys
        .chunks(chunk)
        .map(|c| c.iter().map(|(id, _)| id.clone()).collect())
        .collect();
    let reads = ranges.into_iter().map(|ids| {
        let pool = pool.clone();
        tokio::spawn(async move {
            match source {
                Source::MetricWeeks => input_rows_of(&pool, ids).await,
                Source::Entries => rows_of(&pool, ids).await,
            }
        })
    });
    let mut out: Vec<Vec<MetricRow>> = vec![Vec::new(); keys.len()];
    for read in futures::future::join_all(reads).await {
        let part = read.map_err(|e| StoreError::Unavailable(e.to_string()))??;
        for (id, rows) in part {
            if let Some(&i) = index.get(id.as_str()) {
                out[i] = rows;
            }
        }
    }
    Ok(keys.into_iter().map(|(_, key)| key).zip(out).collect())
}

/// The metric rows of the journeys with internal ids `ids` from `metric_weeks` (a journey's
/// weeks in order, each week's entries in day order), by journey id.
async fn input_rows_of(
    pool: &PgPool,
    ids: Vec<String>,
) -> Result<Vec<(String, Vec<MetricRow>)>, StoreError> {
    use futures::TryStreamExt;
    use sqlx::Row;

    let mut out: Vec<(String, Vec<MetricRow>)> = Vec::with_capacity(ids.len());
    let mut rows = sqlx::query(
        "SELECT journey_id, entries, types, days, retracted, statuses, modalities, reasons,
                episodes, for_safety, details, scores
           FROM metric_weeks WHERE journey_id = ANY($1)
          ORDER BY journey_id, week, part",
    )
    .bind(&ids)
    .fetch(pool);
    while let Some(row) = rows.try_next().await? {
        let journey: String = row.try_get(0)?;
        let entries: Vec<Option<String>> = row.try_get(1)?;
        let kinds: Vec<String> = row.try_get(2)?;
        let days: Vec<Option<NaiveDate>> = row.try_get(3)?;
        let retracted: Vec<bool> = row.try_get(4)?;
        let statuses: Vec<Option<String>> = row.try_get(5)?;
        let modalities: Vec<Option<String>> = row.try_get(6)?;
        let reasons: Vec<Option<String>> = row.try_get(7)?;
        let episodes: Vec<Option<String>> = row.try_get(8)?;
        let for_safety: Vec<bool> = row.try_get(9)?;
        let details: Vec<Option<String>> = row.try_get(10)?;
        let scores: Vec<Option<i16>> = row.try_get(11)?;
        let n = kinds.len();
        if [
            entries.len(),
            days.len(),
            retracted.len(),
            statuses.len(),
            modalities.len(),
            reasons.len(),
            episodes.len(),
            for_safety.len(),
            details.len(),
            scores.len(),
        ]
        .iter()
        .any(|&len| len != n)
        {
            return Err(StoreError::Corrupt(format!(
                "metric_weeks of journey {journey}: arrays of different lengths"
            )));
        }
        if out.last().is_none_or(|(id, _)| *id != journey) {
            out.push((journey, Vec::new()));
        }
        let rows = &mut out.last_mut().expect("pushed above").1;
        let mut entries = entries.into_iter();
        let mut days = days.into_iter();
        let mut retracted = retracted.into_iter();
        let mut statuses = statuses.into_iter();
        let mut modalities = modalities.into_iter();
        let mut reasons = reasons.into_iter();
        let mut episodes = episodes.into_iter();
        let mut for_safety = for_safety.into_iter();
        let mut details = details.into_iter();
        let mut scores = scores.into_iter();
        rows.extend(kinds.into_iter().map(|kind| MetricRow {
            entry: entries.next().flatten().unwrap_or_default(),
            kind,
            on: days.next().flatten(),
            retracted: retracted.next().unwrap_or(false),
            status: statuses.next().flatten(),
            modality: modalities.next().flatten(),
            reason: reasons.next().flatten(),
            episode: episodes.next().flatten(),
            for_safety: for_safety.next().unwrap_or(false),
            detail: details.next().flatten(),
            score: scores.next().flatten(),
        }));
    }
    Ok(out)
}

/// The metric rows of the journeys with internal ids `ids` from `entries`, by journey id.
async fn rows_of(
    pool: &PgPool,
    ids: Vec<String>,
) -> Result<Vec<(String, Vec<MetricRow>)>, StoreError> {
    use futures::TryStreamExt;
    use sqlx::Row;

    let index: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut out: Vec<Vec<MetricRow>> = vec![Vec::new(); ids.len()];
    let mut rows = sqlx::query(
        r#"SELECT journey_id, entry, type, "on", retracted, status, modality, reason, episode,
                  for_safety, detail, score
             FROM entry_metric_columns
            WHERE journey_id = ANY($1)"#,
    )
    .bind(&ids)
    .fetch(pool);
    while let Some(row) = rows.try_next().await? {
        let journey: &str = row.try_get(0)?;
        let Some(&i) = index.get(journey) else {
            continue;
        };
        out[i].push(MetricRow {
            entry: row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
            kind: row.try_get(2)?,
            on: row.try_get(3)?,
            retracted: row.try_get(4)?,
            status: row.try_get(5)?,
            modality: row.try_get(6)?,
            reason: row.try_get(7)?,
            episode: row.try_get(8)?,
            for_safety: row.try_get(9)?,
            detail: row.try_get(10)?,
            score: row.try_get(11)?,
        });
    }
    drop(rows);
    Ok(ids.into_iter().zip(out).collect())
}
