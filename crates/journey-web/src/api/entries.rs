//! `/api/v1/journeys/{key}/entries`: a journey's entries, listed and recorded.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use journey_app::journeys::{Claim, Idempotent, PAGE_SIZE};
use journey_app::{journey_key, Action};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::{parse_json, ErrorBody};
use crate::auth::ApiUser;
use crate::error::{ApiError, WebError};
use crate::AppState;

/// Paging of the entry list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page, 50 entries a page, newest day first.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
}

/// A stored entry.
#[derive(Serialize, ToSchema)]
pub struct EntryOut {
    entry: String,
    #[serde(rename = "type")]
    kind: String,
    on: Option<NaiveDate>,
    by: Option<String>,
    /// The type's own fields (interchange.md).
    #[schema(value_type = Object)]
    fields: Value,
    recorded_at: chrono::DateTime<chrono::Utc>,
    /// Retracted ("entered by mistake"): kept in the history, left out of every figure.
    retracted: bool,
}

/// A page of entries.
#[derive(Serialize, ToSchema)]
pub struct EntryPage {
    entries: Vec<EntryOut>,
    page: i64,
    total: i64,
}

/// The journey's entries, newest day first (family members of the journey only).
#[utoipa::path(get, path = "/api/v1/journeys/{key}/entries", tag = "journeys",
    params(("key" = String, Path, description = "The journey's key"), PageQuery),
    responses(
        (status = 200, body = EntryPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub(super) async fn list_entries(
    State(state): State<AppState>,
    ApiUser(signed): ApiUser,
    Path(key): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EntryPage>, ApiError> {
    let Query(query) = query.map_err(|e| WebError::BadRequest(e.body_text()))?;
    let page = query.page.unwrap_or(1);
    if !(1..=1_000_000).contains(&page) {
        return Err(WebError::BadRequest(format!("page {page} is not 1 to 1000000")).into());
    }
    let row = state
        .app
        .journey(
            &signed.actor,
            &journey_key(&key)?,
            Action::ReadEntries,
            "api entries",
        )
        .await?;
    let total = i64::from(row.entries) + i64::from(row.retracted);
    let entries = state
        .app
        .timeline(&row, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    Ok(Json(EntryPage {
        entries: entries
            .into_iter()
            .map(|e| EntryOut {
                entry: e.entry,
                kind: e.kind,
                on: e.on,
                by: e.by,
                fields: e.fields,
                recorded_at: e.recorded_at,
                retracted: e.retracted,
            })
            .collect(),
        page,
        total,
    }))
}

/// What a recorded entry got.
#[derive(Serialize, ToSchema)]
pub struct Recorded {
    journey: String,
    entry: String,
}

/// Record one entry: an object of the journey event file (interchange.md). `journey` may be
/// left out (it is the path's); `by` is the caller's username (another `by` is refused); an
/// `entry` id is made when none is given.
#[utoipa::path(post, path = "/api/v1/journeys/{key}/entries", tag = "journeys",
    params(
        ("key" = String, Path, description = "The journey's key"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST store nothing twice (1-200 characters)"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "e.g. {\"type\": \"reward_given\", \"on\": \"2025-03-10\"}"),
    responses(
        (status = 201, body = Recorded),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub(super) async fn record_entry(
    State(state): State<AppState>,
    ApiUser(signed): ApiUser,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    // A body over the limit is answered in the API's JSON, like every other error.
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            WebError::TooLarge
        } else {
            WebError::BadRequest(rejection.body_text())
        }
    })?;
    let journey = journey_key(&key)?;
    let mut object = parse_json(&headers, &body)?;
    let Some(map) = object.as_object_mut() else {
        return Err(WebError::Invalid {
            field: "body".into(),
            message: "the body must be one JSON object".into(),
        }
        .into());
    };
    match map.get("journey") {
        None => {
            map.insert("journey".into(), json!(journey.as_str()));
        }
        Some(Value::String(k)) if k == journey.as_str() => {}
        Some(other) => {
            return Err(WebError::Invalid {
                field: "journey".into(),
                message: format!("{other} is not this journey's key {:?}", journey.as_str()),
            }
            .into())
        }
    }
    match map.get("by") {
        None => {
            map.insert("by".into(), json!(signed.user.username));
        }
        Some(Value::String(by)) if *by == signed.user.username => {}
        Some(other) => {
            return Err(WebError::Invalid {
                field: "by".into(),
                message: format!("{other}: entries are recorded under your own username"),
            }
            .into())
        }
    }
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| {
                    WebError::BadRequest("Idempotency-Key: 1-200 visible ASCII characters".into())
                })?;
            Some(key.to_string())
        }
    };
    // The body is read before the access check: a write that gets this far is audited with
    // the write itself (App::journey_to_record).
    let (row, audit) = state
        .app
        .journey_to_record(&signed.actor, &journey, "api record")
        .await?;
    let Some(key) = idempotency else {
        let ids = state
            .app
            .record_audited(&signed.actor, &row, std::slice::from_ref(&object), audit)
            .await?;
        return Ok(created(&row.key, &ids[0]));
    };
    // The entry id comes from the key, so even two racing retries store one entry.
    if !object.as_object().is_some_and(|m| m.contains_key("entry")) {
        let digest = Sha256::digest(format!("{}\n{key}", signed.user.user_id));
        let id = format!("i-{}", &journey_app::accounts::hex(&digest)[..32]);
        object["entry"] = json!(id);
    }
    let entry = object["entry"].as_str().unwrap_or_default().to_string();
    let mut claim = Claim {
        user: signed.user.user_id,
        key,
        hash: Sha256::digest(object.to_string()).to_vec(),
        status: StatusCode::CREATED.as_u16(),
        body: recorded_body(&row.key, &entry),
    };
    match state
        .app
        .record_idempotent(&signed.actor, &row, &object, &claim, audit)
        .await
    {
        Ok(Idempotent::Done(id)) => Ok(created(&row.key, &id)),
        Ok(Idempotent::Replayed(status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok((status, Json(body)).into_response())
        }
        Ok(Idempotent::Mismatch) => Err(WebError::Invalid {
            field: "Idempotency-Key".into(),
            message: "this key was used before with another body".into(),
        }
        .into()),
        Err(err) => {
            let err = WebError::from(err);
            // Bad input is answered the same on retry; a failure of ours stored nothing, so
            // the retry runs again.
            if err.status().is_client_error() && err.status() != StatusCode::CONFLICT {
                claim.status = err.status().as_u16();
                claim.body = err.json();
                state.app.idempotency_refused(&claim).await?;
            }
            Err(err.into())
        }
    }
}

fn recorded_body(journey: &str, entry: &str) -> Value {
    serde_json::to_value(Recorded {
        journey: journey.to_string(),
        entry: entry.to_string(),
    })
    .expect("serializable")
}

fn created(journey: &str, entry: &str) -> Response {
    (StatusCode::CREATED, Json(recorded_body(journey, entry))).into_response()
}
