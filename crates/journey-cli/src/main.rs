//! `journey`: record, import, export and analyse recovery journeys.
//!
//! The only place that reads the environment, flags and files: it builds a
//! [`journey_app::Config`], opens the app and hands the command to `commands/`. Exit codes:
//! 0 success, 1 bad input, 2 a failure of the system (database down, ...).

#[cfg(feature = "bench")]
mod bench;
mod commands;
mod synth;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the metrics of a large cohort allocate and free
/// millions of small values (measured in docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match commands::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version print and succeed; a bad argument is bad input (1).
            let code = if err.use_stderr() { 1 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    // The server's log on stderr (`RUST_LOG` to change the level); no line carries health
    // data, a note or a handle.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("journey: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
