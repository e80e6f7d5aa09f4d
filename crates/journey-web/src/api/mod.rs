//! The JSON API, `/api/v1`: the pages' operations for programs. The OpenAPI document at
//! `/api/v1/openapi.json` is generated from these handlers (utoipa), so it lists exactly the
//! routes served here.
//!
//! Authentication is the session cookie of `POST /api/v1/session` (or of the sign-in page).
//! Writes take `application/json` only (a cross-site form cannot send it) and honour an
//! `Idempotency-Key` header: a retry with the same key and body stores nothing twice and gets
//! the first answer again; the same key with another body is a 422.
//!
//! One file per resource: `session` (sign in and out), `journeys` (the list and a journey's
//! metrics), `entries` (a journey's entries: list and record); the sessions list lives with
//! the pages' sessions (`crate::sessions`).

mod entries;
mod journeys;
mod session;

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use serde_json::Value;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ErrorBody;
use super::error::WebError;
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
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(super::sessions::list_sessions))
        .routes(routes!(super::sessions::end_session))
        .routes(routes!(journeys::list_journeys))
        .routes(routes!(entries::list_entries, entries::record_entry))
        .routes(routes!(journeys::journey_metrics))
}

/// The body as JSON: JSON only, bad text in a field named as such.
fn parse_json(headers: &HeaderMap, body: &Bytes) -> Result<Value, WebError> {
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
    serde_json::from_slice(body)
        .map_err(|e| WebError::BadRequest(format!("the body is not JSON: {e}")))
}

/// The body as the fields of `T`: a JSON object, each refusal naming its field.
fn parse_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, WebError> {
    let Value::Object(members) = parse_json(headers, body)? else {
        return Err(WebError::Invalid {
            field: "body".into(),
            message: "the body must be one JSON object".into(),
        });
    };
    crate::fields::read(members).map_err(|e| WebError::Invalid {
        field: e.field.unwrap_or_else(|| "body".into()),
        message: e.message,
    })
}
