//! What a request can fail with, and how pages (HTML) and the API (JSON) answer it.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use journey_app::AppError;
use serde_json::json;

/// Seconds a client is told to wait when the database is unreachable.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// A failed request.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in (pages redirect to the sign-in page; the API answers 401).
    Unauthorized,
    /// The account signs in with a second factor, and none was sent.
    SecondFactorRequired,
    /// The second factor's code is wrong, or was used already.
    SecondFactorRefused,
    /// The account must set up a second factor before it reaches any journey data.
    EnrolmentRequired,
    /// Signed in, may see the journey, may not do this to it.
    Forbidden(&'static str),
    /// No such thing, or one the user may not see: the two look the same.
    NotFound,
    /// The request is malformed (not JSON, a bad query parameter).
    BadRequest(String),
    /// The request is well-formed but breaks a rule: the field and why.
    Invalid { field: String, message: String },
    /// Another write came first, or an Idempotency-Key is in use by another request.
    Conflict(String),
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// Too many sign-in attempts: retry after this many seconds.
    TooMany(u64),
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body is larger than the server takes.
    TooLarge,
    /// The route exists, but not with this method (the `Allow` header says which).
    MethodNotAllowed,
    /// The database is unreachable.
    Unavailable,
    /// Someone else holds the journey for longer than a write waits (an import).
    Busy,
    /// A bug or corrupted data: logged, never shown.
    Internal(String),
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Unauthorized
            | WebError::SecondFactorRequired
            | WebError::SecondFactorRefused => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) | WebError::Csrf | WebError::EnrolmentRequired => {
                StatusCode::FORBIDDEN
            }
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            WebError::Unavailable | WebError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the user is told.
    pub fn message(&self) -> String {
        match self {
            WebError::Unauthorized => {
                "not signed in (or the username or the password is wrong)".into()
            }
            WebError::SecondFactorRequired => {
                "this account signs in with a second factor: send \"totp\" with the 6-digit code from the authenticator app, or a recovery code".into()
            }
            WebError::SecondFactorRefused => {
                "the code is wrong, or was used already: wait for the app's next code, or use a recovery code".into()
            }
            WebError::EnrolmentRequired => {
                "this account must set up a second factor before it sees any journey data: sign in on the web (the page /account/second-factor), or ask the operator to run `journey user totp NAME`".into()
            }
            WebError::Forbidden(why) => (*why).into(),
            WebError::NotFound => "not found".into(),
            WebError::BadRequest(why) => why.clone(),
            WebError::Invalid { field, message } => format!("{field}: {message}"),
            WebError::Conflict(why) => why.clone(),
            WebError::Csrf => {
                "the form had expired or did not come from this site; reload the page and try again"
                    .into()
            }
            WebError::TooMany(seconds) => {
                format!("too many sign-in attempts; try again in {seconds} seconds")
            }
            WebError::UnsupportedMediaType => "the body must be application/json".into(),
            WebError::TooLarge => "the body is too large: one entry is a few hundred bytes".into(),
            WebError::MethodNotAllowed => {
                "this method is not offered here (the Allow header lists those that are)".into()
            }
            WebError::Unavailable => {
                "the database cannot be reached right now; try again shortly".into()
            }
            WebError::Busy => {
                "this journey is being updated by someone else right now (an import, say); nothing was saved: try again in a few seconds".into()
            }
            WebError::Internal(_) => "something went wrong on our side".into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            WebError::Unauthorized => "unauthorized",
            WebError::SecondFactorRequired => "second_factor_required",
            WebError::SecondFactorRefused => "second_factor_refused",
            WebError::EnrolmentRequired => "second_factor_enrolment_required",
            WebError::Forbidden(_) => "forbidden",
            WebError::NotFound => "not_found",
            WebError::BadRequest(_) => "bad_request",
            WebError::Invalid { .. } => "invalid",
            WebError::Conflict(_) => "conflict",
            WebError::Csrf => "csrf",
            WebError::TooMany(_) => "too_many_requests",
            WebError::UnsupportedMediaType => "unsupported_media_type",
            WebError::TooLarge => "too_large",
            WebError::MethodNotAllowed => "method_not_allowed",
            WebError::Unavailable => "unavailable",
            WebError::Busy => "busy",
            WebError::Internal(_) => "internal",
        }
    }

    pub(crate) fn headers(&self) -> Vec<(header::HeaderName, String)> {
        match self {
            WebError::Unavailable | WebError::Busy => {
                vec![(header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string())]
            }
            WebError::TooMany(seconds) => vec![(header::RETRY_AFTER, seconds.to_string())],
            _ => Vec::new(),
        }
    }

    pub(crate) fn log(&self) {
        if let WebError::Internal(detail) = self {
            tracing::error!("internal error: {detail}");
        }
    }

    /// The JSON body of the API: `{"error": code, "message": ..., "field": ...}`.
    pub fn json(&self) -> serde_json::Value {
        let mut body = json!({ "error": self.code(), "message": self.message() });
        if let WebError::Invalid { field, .. } = self {
            body["field"] = json!(field);
        }
        body
    }
}

impl From<AppError> for WebError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::BadRequest(why) => WebError::BadRequest(why),
            AppError::Invalid { field, message } => WebError::Invalid {
                field: field.unwrap_or_else(|| "body".into()),
                message,
            },
            // What was asked for is not said: a journey one may not see looks the same as
            // one that does not exist.
            AppError::NotFound(_) => WebError::NotFound,
            AppError::Forbidden(why) => WebError::Forbidden(why),
            AppError::Conflict(why) => WebError::Conflict(why),
            AppError::Unavailable(why) => {
                tracing::warn!("database unavailable: {why}");
                WebError::Unavailable
            }
            AppError::Busy(why) => {
                tracing::info!("write refused, busy: {why}");
                WebError::Busy
            }
            AppError::Internal(why) => WebError::Internal(why),
            AppError::Setup(why) => {
                tracing::error!("set-up: {why}");
                WebError::Unavailable
            }
        }
    }
}

impl From<tower_sessions::session::Error> for WebError {
    fn from(err: tower_sessions::session::Error) -> Self {
        // The session store is the database.
        tracing::warn!("session store: {err}");
        WebError::Unavailable
    }
}

/// `From` every error a handler meets, for one of the two answers.
macro_rules! wrap {
    ($answer:ident) => {
        impl From<WebError> for $answer {
            fn from(err: WebError) -> Self {
                $answer(err)
            }
        }
        impl From<AppError> for $answer {
            fn from(err: AppError) -> Self {
                $answer(err.into())
            }
        }
        impl From<tower_sessions::session::Error> for $answer {
            fn from(err: tower_sessions::session::Error) -> Self {
                $answer(err.into())
            }
        }
    };
}

/// A failure answered as an HTML page (or, when not signed in, a redirect to sign in).
#[derive(Debug)]
pub struct PageError(pub WebError);

wrap!(PageError);

/// A failure answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub WebError);

wrap!(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let mut response = (err.status(), axum::Json(err.json())).into_response();
        for (name, value) in err.headers() {
            if let Ok(value) = value.parse() {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// A page's form body: as axum's `Form`, but a body that is not the form the page sends
/// (a field missing, a value of the wrong kind) is answered as a page that says so in
/// plain words (400), never as a bare line of text.
pub struct PageForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for PageForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, PageError> {
        // The pairs as sent, then the struct read from them with the field of a refusal
        // known (crate::fields); a page's forms hold text fields only.
        let refused = |what: String| {
            PageError(WebError::BadRequest(format!(
                "This form did not arrive as the page sends it{what}. Go back, reload the page and try again; nothing was saved."
            )))
        };
        let axum::extract::Form(pairs) =
            axum::extract::Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .map_err(|_| refused(String::new()))?;
        let fields = pairs
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)));
        crate::fields::read(fields).map(PageForm).map_err(|e| {
            refused(match (e.field, e.problem) {
                (Some(field), crate::fields::Problem::Missing) => {
                    format!(" (the field {field:?} is missing)")
                }
                (Some(field), _) => format!(" (the field {field:?} is not what the page sends)"),
                (None, _) => String::new(),
            })
        })
    }
}

/// An error: a code, a message for people and, for a 422, the field at fault.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// unauthorized, second_factor_required, second_factor_refused, forbidden, second_factor_enrolment_required, not_found, bad_request, invalid, conflict, too_many_requests, unsupported_media_type, unavailable
    error: String,
    message: String,
    /// The field at fault (422 only).
    field: Option<String>,
}
