//! `journey export --raw`: every stored entry back as a journey file, written a line at a
//! time as journey-app reads them (a chunk of journeys at a time). A file named by `--out`
//! is written beside it first and takes its name only when complete.

use std::io::Write;
use std::path::Path;

use journey_app::{Actor, App, AppError, JourneyKey};

pub async fn run(
    app: &App,
    me: &Actor,
    journey: Option<&JourneyKey>,
    out: Option<&Path>,
    chunk: usize,
) -> Result<(), AppError> {
    match out {
        Some(path) => {
            let failed = |e: std::io::Error| AppError::Internal(format!("{}: {e}", path.display()));
            let partial = std::path::PathBuf::from(format!("{}.partial", path.display()));
            let file = std::fs::File::create(&partial).map_err(failed)?;
            let mut writer = std::io::BufWriter::new(file);
            let written = app
                .export_raw(me, journey, chunk, |line| {
                    writeln!(writer, "{line}").map_err(failed)
                })
                .await;
            if let Err(e) = written {
                drop(writer);
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
            writer
                .into_inner()
                .map_err(|e| failed(e.into_error()))?
                .sync_all()
                .map_err(failed)?;
            std::fs::rename(&partial, path).map_err(failed)?;
        }
        None => {
            let mut writer = std::io::BufWriter::new(std::io::stdout().lock());
            app.export_raw(me, journey, chunk, |line| {
                writeln!(writer, "{line}").map_err(output)
            })
            .await?;
            writer.flush().map_err(output)?;
        }
    }
    Ok(())
}

fn output(e: std::io::Error) -> AppError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // The reader stopped reading (`journey export --raw | head`): nothing is wrong.
        std::process::exit(0);
    }
    AppError::Internal(format!("standard output: {e}"))
}
