//! Reading the audit log back (`journey audit`, the admin's page): by person and by day
//! (UTC), newest first, a bounded number of rows, on the indexes of migration 0019.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::error::StoreError;

/// One row of the audit log, with the journey's key when the journey still has one.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Logged {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub journey: Option<String>,
    pub detail: Value,
}

/// The newest `limit` rows of `actor` (or anyone's) on `day` (UTC; or any day).
pub async fn rows(
    pool: &PgPool,
    actor: Option<&str>,
    day: Option<NaiveDate>,
    limit: i64,
) -> Result<Vec<Logged>, StoreError> {
    let from = day.map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    let to = from.map(|f| f + chrono::Days::new(1));
    Ok(sqlx::query_as(
        "SELECT a.at, a.actor, a.action, k.key AS journey, a.detail
           FROM (SELECT * FROM audit_log
                  WHERE ($1::text IS NULL OR actor = $1)
                    AND ($2::timestamptz IS NULL OR (at >= $2 AND at < $3))
                  ORDER BY at DESC, id DESC LIMIT $4) a
           LEFT JOIN journey_keys k USING (journey_id)
          ORDER BY a.at DESC, a.id DESC",
    )
    .bind(actor)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
