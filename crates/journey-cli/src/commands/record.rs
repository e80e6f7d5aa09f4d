//! `journey record LINE`: one entry through the same use case as the pages and the API.

use journey_app::{Actor, App, AppError};

pub async fn run(app: &App, me: &Actor, line: &str) -> Result<(), AppError> {
    let (journey, entry) = app.record_line(me, line).await?;
    println!("recorded entry {entry} on journey {journey}");
    Ok(())
}
