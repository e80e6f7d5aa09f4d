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
    // Only the filters that are set go into the statement, so that the planner takes the
    // range of `(actor, at)` or of `(at)` as the index condition (an `$1 IS NULL OR ...`
    // form is planned for every case at once and filters afterwards: 120 ms at 3M rows).
    let mut q = sqlx::QueryBuilder::new(
        "SELECT a.at, a.actor, a.action, k.key AS journey, a.detail
           FROM (SELECT * FROM audit_log WHERE true",
    );
    if let Some(actor) = actor {
        q.push(" AND actor = ").push_bind(actor);
    }
    if let Some(day) = day {
        let from = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        q.push(" AND at >= ").push_bind(from);
        q.push(" AND at < ").push_bind(from + chrono::Days::new(1));
    }
    q.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(limit);
    q.push(
        ") a LEFT JOIN journey_keys k USING (journey_id)
          ORDER BY a.at DESC, a.id DESC",
    );
    Ok(q.build_query_as().fetch_all(pool).await?)
}
