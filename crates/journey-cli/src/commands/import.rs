//! `journey import FILE...`: all or nothing per file unless `--skip-invalid`.

use std::path::{Path, PathBuf};

use journey_app::{Actor, App, AppError, ImportReport};

fn progress() -> Option<journey_app::Progress> {
    Some(Box::new(|message: &str| eprintln!("  {message}")))
}

pub async fn run(
    app: &App,
    me: &Actor,
    files: &[PathBuf],
    skip_invalid: bool,
    block_lines: usize,
) -> Result<(), AppError> {
    let mut bad = false;
    for file in files {
        let opened = std::fs::File::open(file)
            .and_then(|f| f.metadata().map(|m| (m.len(), f)))
            .map_err(|e| AppError::BadRequest(format!("{}: {e}", file.display())))?;
        let (size, opened) = opened;
        let progress = (size > 5_000_000).then(progress).flatten();
        let mut source = std::io::BufReader::with_capacity(1 << 20, opened);
        // Every refused line, as the import finds it (it keeps only the first ones).
        let name = file.display().to_string();
        let on_invalid: journey_app::OnInvalid = Box::new(move |error| eprintln!("{name}:{error}"));
        let report = app
            .import(
                me,
                &mut source,
                skip_invalid,
                progress,
                Some(on_invalid),
                block_lines,
            )
            .await?;
        print_report(file, &report, skip_invalid);
        bad |= report.invalid_lines > 0;
    }
    if bad {
        let what = if skip_invalid {
            "some lines were skipped"
        } else {
            "nothing was stored"
        };
        return Err(AppError::BadRequest(format!("invalid lines ({what})")));
    }
    Ok(())
}

/// What an import of `file` did, in one line.
pub fn print_report(file: &Path, report: &ImportReport, skip_invalid: bool) {
    if report.lines == 0 {
        println!("{}: no journey lines: nothing stored", file.display());
        return;
    }
    if report.invalid_lines > 0 && !skip_invalid {
        println!(
            "{}: {} of {} lines invalid: nothing stored",
            file.display(),
            report.invalid_lines,
            report.lines
        );
        return;
    }
    println!(
        "{}: {} lines, {} entries stored, {} already stored, {} invalid, {} new journeys, {} relapses after rehab derived",
        file.display(),
        report.lines,
        report.stored,
        report.already_stored,
        report.invalid_lines,
        report.journeys_new,
        report.derived
    );
}
