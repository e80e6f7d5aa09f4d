//! `journey audit`: the newest rows of the audit log, one a line (UTC).

use chrono::NaiveDate;
use journey_app::{Actor, App, AppError};

pub async fn run(
    app: &App,
    me: &Actor,
    user: Option<&str>,
    day: Option<NaiveDate>,
    limit: i64,
) -> Result<(), AppError> {
    let rows = app.audit_rows(me, user, day, limit).await?;
    for row in &rows {
        println!(
            "{}  {:<16} {:<22} {:<18} {}",
            row.at.format("%Y-%m-%dT%H:%M:%SZ"),
            row.actor,
            row.action,
            row.journey.as_deref().unwrap_or("-"),
            row.detail
        );
    }
    if rows.is_empty() {
        eprintln!("no audit rows match");
    }
    Ok(())
}
