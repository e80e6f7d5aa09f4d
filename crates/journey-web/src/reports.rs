//! A family's progress report for a period: `/journeys/{key}/report?from=&to=` (the page,
//! with the period's form and a way back) and `/journeys/{key}/report.pdf?from=&to=&paper=`
//! (the same report as a PDF made on the server, for A4 or Letter). Both are reads of the
//! report, checked and audited by journey-app like every read.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use journey_app::{journey_key, today, Action, Role};
use journey_charts::pdf::Paper;
use serde::Deserialize;

use super::auth::PageUser;
use super::error::{PageError, WebError};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/journeys/{key}/report", get(page))
        .route("/journeys/{key}/report.pdf", get(pdf))
}

/// The period of a report, as the form sends it (empty fields: the whole journey, today).
#[derive(Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    paper: Option<String>,
}

/// The day a query's `field` holds (YYYY-MM-DD); `None` when empty or absent.
pub(crate) fn day(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, WebError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| WebError::Invalid {
                field: field.into(),
                message: format!("{text:?} is not a day (YYYY-MM-DD)"),
            }),
    }
}

/// The period's first day (if any) and last day, checked against today and the journey.
fn period(
    query: &PeriodQuery,
    start: NaiveDate,
) -> Result<(Option<NaiveDate>, NaiveDate), WebError> {
    let from = day("from", query.from.as_deref())?;
    let to = day("to", query.to.as_deref())?.unwrap_or_else(today);
    let invalid = |field: &str, message: String| WebError::Invalid {
        field: field.into(),
        message,
    };
    if to > today() {
        return Err(invalid(
            "to",
            format!("{to} is after today: a report covers days that have been"),
        ));
    }
    if to < start {
        return Err(invalid(
            "to",
            format!("the journey starts on {start}, after {to}"),
        ));
    }
    if let Some(from) = from.filter(|from| *from > to) {
        return Err(invalid(
            "from",
            format!("{from} is after the last day, {to}"),
        ));
    }
    Ok((from, to))
}

async fn page(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let row = state
        .app
        .journey(
            &signed.actor,
            &journey_key(&key)?,
            Action::ReadReport,
            "progress report",
        )
        .await?;
    let (from, to) = period(&query, row.start)?;
    // Back to where this reader came from: a family's timeline, a counselor's families.
    let back = if signed.user.role == Role::Family {
        format!("/journeys/{}", row.key)
    } else {
        "/journeys".to_string()
    };
    let path = format!("/journeys/{}/report", row.key);
    let page = state
        .app
        .report_page(&row, from, to, Some((&back, &path)))
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Html(page.html).into_response())
}

async fn pdf(
    State(state): State<AppState>,
    PageUser(signed): PageUser,
    Path(key): Path<String>,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let row = state
        .app
        .journey(
            &signed.actor,
            &journey_key(&key)?,
            Action::ReadReport,
            "progress report pdf",
        )
        .await?;
    let (from, to) = period(&query, row.start)?;
    let paper = match query.paper.as_deref().filter(|p| !p.is_empty()) {
        None => Paper::A4,
        Some(text) => Paper::parse(text).ok_or_else(|| WebError::Invalid {
            field: "paper".into(),
            message: format!("{text:?} is not a paper size: a4 or letter"),
        })?,
    };
    let bytes = state
        .app
        .report_pdf(&row, from, to, paper)
        .await?
        .ok_or(WebError::NotFound)?;
    let first = from.map_or_else(|| row.start.to_string(), |d| d.max(row.start).to_string());
    let name = format!(
        "progress-report-{}-{first}-{to}-{}.pdf",
        row.key,
        paper.as_str()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
