//! `journey erase --journey KEY --yes`: crypto-shredding of one journey.

use std::path::Path;

use journey_app::{Actor, App, AppError, JourneyKey};

pub async fn run(
    app: &App,
    me: &Actor,
    key: &JourneyKey,
    yes: bool,
    reports: &Path,
) -> Result<(), AppError> {
    if !yes {
        return Err(AppError::BadRequest(format!(
            "erasing journey {key:?} cannot be undone: add --yes to go on"
        )));
    }
    for folder in app.erase(me, key, reports).await? {
        println!("removed {}", folder.display());
    }
    println!(
        "journey {key} erased: its key is destroyed, its notes and handles can no longer be read, and it is gone from every read table"
    );
    Ok(())
}
