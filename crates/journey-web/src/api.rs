//! The JSON API, `/api/v1`: the pages' operations for programs. The OpenAPI document at
//! `/api/v1/openapi.json` is generated from these handlers (utoipa), so it lists exactly the
//! routes served here.
//!
//! Authentication is the session cookie of `POST /api/v1/session` (or of the sign-in page).
//! Writes take `application/json` only (a cross-site form cannot send it) and honour an
//! `Idempotency-Key` header: a retry with the same key and body stores nothing twice and gets
//! the first answer again; the same key with another body is a 422.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use journey_app::journeys::PAGE_SIZE;
use journey_app::journeys::{Claim, Idempotent};
use journey_app::{journey_key, today, Action, Via};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tower_sessions::Session;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{self, ApiUser};
use super::error::{ApiError, WebError};
use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "journey API",
        version = "1",
        description = "Record and read recovery journeys (CRAFT). Entries are the objects of the journey event file (interchange.md). A journey the caller may not see answers 404."
    ),
    tags((name = "journeys"), (name = "session"))
)]
struct ApiDoc;

/// The API's routes and their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(super::sessions::list_sessions))
        .routes(routes!(super::sessions::end_session))
        .routes(routes!(list_journeys))
        .routes(routes!(list_entries, record_entry))
        .routes(routes!(journey_metrics))
}

/// An error: a code, a message for people and, for a 422, the field at fault.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// unauthorized, second_factor_required, second_factor_refused, forbidden, second_factor_enrolment_required, not_found, bad_request, invalid, conflict, too_many_requests, unsupported_media_type, unavailable
    error: String,
    message: String,
    /// The field at fault (422 only).
    field: Option<String>,
}

fn parse_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, WebError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if !json {
        return Err(WebError::UnsupportedMediaType);
    }
    // An unpaired surrogate is bad text in a field, not bad JSON (interchange.md v2).
    if let Some(err) = std::str::from_utf8(body)
        .ok()
        .and_then(journey_domain::interchange::unpaired_surrogate)
    {
        return Err(WebError::Invalid {
            field: err.field.unwrap_or_else(|| "body".into()),
            message: err.message,
        });
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            WebError::Invalid {
                field: e
                    .to_string()
                    .split('`')
                    .nth(1)
                    .unwrap_or("body")
                    .to_string(),
                message: e.to_string(),
            }
        } else {
            WebError::BadRequest(format!("the body is not JSON: {e}"))
        }
    })
}

/// Credentials. An account with a second factor sends `totp` too: the 6-digit code from its
/// authenticator app (each code is accepted once), or one of its recovery codes.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    username: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

/// Who is signed in.
#[derive(Serialize, ToSchema)]
pub struct Me {
    username: String,
    display_name: String,
    /// family, counselor, researcher or admin
    role: String,
}

/// Sign in: the answer sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = Me),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Wrong username or password (`unauthorized`), no `totp` for an account with a second factor (`second_factor_required`), or a wrong or used code (`second_factor_refused`)", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Me>, ApiError> {
    let credentials: Credentials = parse_body(&headers, &body)?;
    let user = match auth::sign_in(
        &state,
        Via::Api,
        (&session, &headers),
        &credentials.username,
        &credentials.password,
        credentials.totp.as_deref(),
    )
    .await?
    {
        auth::SignIn::Done(user) => user,
        auth::SignIn::NeedsCode(_) => return Err(WebError::SecondFactorRequired.into()),
    };
    Ok(Json(Me {
        username: user.username,
        display_name: user.display_name,
        role: user.role.as_str().into(),
    }))
}

/// Sign out: the session is deleted.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "Signed out"), (status = 503, body = ErrorBody)))]
async fn sign_out(State(state): State<AppState>, session: Session) -> Result<StatusCode, ApiError> {
    auth::sign_out(&state, &session, Via::Api).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
async fn list_journeys(
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
async fn list_entries(
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
async fn record_entry(
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
    let row = state
        .app
        .journey(
            &signed.actor,
            &journey_key(&key)?,
            Action::Write,
            "api record",
        )
        .await?;
    let mut object: Value = parse_body(&headers, &body)?;
    let Some(map) = object.as_object_mut() else {
        return Err(WebError::Invalid {
            field: "body".into(),
            message: "the body must be one JSON object".into(),
        }
        .into());
    };
    match map.get("journey") {
        None => {
            map.insert("journey".into(), json!(row.key));
        }
        Some(Value::String(k)) if *k == row.key => {}
        Some(other) => {
            return Err(WebError::Invalid {
                field: "journey".into(),
                message: format!("{other} is not this journey's key {:?}", row.key),
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
    let Some(key) = idempotency else {
        let ids = state
            .app
            .record(&signed.actor, &row, std::slice::from_ref(&object))
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
        .record_idempotent(&signed.actor, &row, &object, &claim)
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
async fn journey_metrics(
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
