//! `journey journeys`: key, start, CRAFT start, entries.

use journey_app::{Actor, App, AppError};

pub async fn run(app: &App, me: &Actor) -> Result<(), AppError> {
    let rows = app.visible_journeys(me, "journey list").await?;
    println!(
        "{:<24} {:<10} {:<10} {:>8}",
        "journey", "start", "craft", "entries"
    );
    for row in &rows {
        let craft = row
            .craft_start
            .map(|d| d.to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<24} {:<10} {:<10} {:>8}",
            row.key, row.start, craft, row.entries
        );
    }
    println!("{} journeys", rows.len());
    Ok(())
}
