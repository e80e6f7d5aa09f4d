//! `/api/v1/journeys`: the journeys the caller may see, and a journey's metrics.

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::NaiveDate;
use journey_app::{journey_key, today, Action};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::ErrorBody;
use crate::auth::ApiUser;
use crate::error::{ApiError, WebError};
use crate::AppState;

/// A journey the caller may see.
#[derive(Serialize, ToSchema)]
pub struct JourneySummary {
    key: String,
    relationship: String,
    start: NaiveDate,
    craft_start: Option<NaiveDate>,
    entries: i32,
    retracted: i32,
}

/// The journeys the caller is assigned to (none for researchers and admins).
#[utoipa::path(get, path = "/api/v1/journeys", tag = "journeys",
    responses(
        (status = 200, body = Vec<JourneySummary>),
        (status = 401, body = ErrorBody),
        (status = 403, description = "A staff account without a second factor yet (`second_factor_enrolment_required`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub(super) async fn list_journeys(
    State(state): State<AppState>,
    ApiUser(signed): ApiUser,
) -> Result<Json<Vec<JourneySummary>>, ApiError> {
    let rows = state
        .app
        .visible_journeys(&signed.actor, "api journeys")
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| JourneySummary {
                key: r.key.into_string(),
                relationship: r.relationship,
                start: r.start,
                craft_start: r.craft_start,
                entries: r.entries,
                retracted: r.retracted,
            })
            .collect(),
    ))
}

/// As-of day of the metrics.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// The day the figures are computed as of (YYYY-MM-DD, at most tomorrow; default: today).
    #[param(value_type = Option<String>, format = Date)]
    as_of: Option<String>,
}

/// The journey's figures (metrics.md "JSON output", one journey).
#[utoipa::path(get, path = "/api/v1/journeys/{key}/metrics", tag = "journeys",
    params(("key" = String, Path, description = "The journey's key"), AsOfQuery),
    responses(
        (status = 200, description = "The journey's entry of metrics.md's `journeys` array", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub(super) async fn journey_metrics(
    State(state): State<AppState>,
    ApiUser(signed): ApiUser,
    Path(key): Path<String>,
    query: Result<Query<AsOfQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| WebError::BadRequest(e.body_text()))?;
    let as_of = match query.as_of.as_deref() {
        None => today(),
        Some(text) => journey_domain::interchange::parse_day(text).map_err(|_| {
            WebError::BadRequest(format!("as_of {text:?} is not a date YYYY-MM-DD"))
        })?,
    };
    // Figures are of days that happened: a far future day would only make every day unknown
    // (and cost time in proportion).
    if as_of > today() + chrono::Days::new(1) {
        return Err(WebError::BadRequest(format!("as_of {as_of} is in the future")).into());
    }
    let row = state
        .app
        .journey(
            &signed.actor,
            &journey_key(&key)?,
            Action::ReadReport,
            "api metrics",
        )
        .await?;
    let Some((_, m)) = state.app.journey_metrics(&row, as_of).await? else {
        return Err(WebError::BadRequest(format!(
            "the journey starts on {}, after as_of {as_of}",
            row.start
        ))
        .into());
    };
    Ok(Json(
        serde_json::to_value(&m).map_err(|e| WebError::Internal(e.to_string()))?,
    ))
}
