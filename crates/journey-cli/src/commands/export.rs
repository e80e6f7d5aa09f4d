//! `journey export --raw`: every stored entry back as a journey file.

use std::io::Write;
use std::path::Path;

use journey_app::{Actor, App, AppError};

pub async fn run(
    app: &App,
    me: &Actor,
    journey: Option<&str>,
    out: Option<&Path>,
) -> Result<(), AppError> {
    let text = app.export_raw(me, journey).await?;
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| AppError::Internal(format!("stdout: {e}")))?,
    }
    Ok(())
}
