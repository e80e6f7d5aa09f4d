//! `journey consent --journey KEY grant|withdraw`.

use journey_app::{Action, Actor, App, AppError, JourneyKey};

use super::Decision;

pub async fn run(
    app: &App,
    me: &Actor,
    journey: &JourneyKey,
    decision: Decision,
    text_version: &str,
) -> Result<(), AppError> {
    let granted = matches!(decision, Decision::Grant);
    let row = app
        .journey(me, journey, Action::Write, "research consent")
        .await?;
    app.consent(me, &row, granted, text_version).await?;
    let what = if granted { "granted" } else { "withdrawn" };
    println!("research consent {what} on journey {journey} (text {text_version})");
    Ok(())
}
