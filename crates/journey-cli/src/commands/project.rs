//! `journey project`: a catch-up worker of the read tables (see journey_app::projector).

use std::io::Write;
use std::time::Duration;

use journey_app::projector::Projected;
use journey_app::{App, AppError};

/// One line per committed piece of work, flushed at once: a supervisor (or a test) reads
/// what is done as it is done.
fn say(piece: Projected) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "range {}: {} journeys caught up, {} events projected",
        piece.range, piece.journeys, piece.events
    );
    let _ = out.flush();
}

pub async fn run(app: &App, watch: Option<u64>, chunk: usize) -> Result<(), AppError> {
    let Some(seconds) = watch else {
        let pass = app.catch_up_pass(chunk, &mut say).await?;
        println!(
            "{} events of {} journeys projected",
            pass.events, pass.journeys
        );
        if !pass.skipped.is_empty() {
            println!(
                "{} ranges are being caught up by another worker: {:?}",
                pass.skipped.len(),
                pass.skipped
            );
        }
        return Ok(());
    };
    let every = Duration::from_secs(seconds.max(1));
    loop {
        match app.catch_up_pass(chunk, &mut say).await {
            Ok(_) => {}
            // The database away: said, and tried again at the next pass.
            Err(e) => eprintln!("journey project: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}
