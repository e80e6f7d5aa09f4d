//! `journey`: record, import, export and analyse recovery journeys.
//!
//! The only crate that reads the environment, flags and files. Exit codes: 0 success,
//! 1 bad input, 2 a failure of the system (database down, ...).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand};
use journey_cli::{bench, metrics, open, report, research, synth, today, Failure, Outcome};
use journey_domain::interchange::{parse_line, to_line};
use journey_postgres::accounts::{self, AssignError, Role};
use journey_postgres::import::{import, ImportOptions, ImportReport};
use journey_postgres::{embedded, projector, read, PgPool, StoreError};

/// mimalloc instead of the system allocator: the metrics of a large cohort allocate and free
/// millions of small values (measured in docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Record, import, export and analyse recovery journeys (CRAFT).
#[derive(Parser)]
#[command(name = "journey", version, about)]
struct Cli {
    /// Data folder of the embedded PostgreSQL, used when DATABASE_URL is not set.
    #[arg(
        long,
        global = true,
        default_value = ".journey/pg",
        env = "JOURNEY_DATA_DIR"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the database migrations (other commands do it too).
    Migrate,
    /// Import journey files (JSON Lines, shared/spec/interchange.md): all or nothing.
    Import {
        /// Journey files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Store the valid lines and report the invalid ones.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Record one entry: an interchange object, e.g. '{"journey":"k","type":"reward_given","on":"2025-03-10"}'.
    Record {
        /// The entry as one JSON object.
        line: String,
    },
    /// Write stored entries back as a journey file.
    Export {
        /// Every stored entry, retracts included, in the interchange format.
        #[arg(long, required = true)]
        raw: bool,
        /// Only this journey.
        #[arg(long)]
        journey: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the journeys: key, start, CRAFT start, entries.
    Journeys,
    /// The figures of shared/spec/metrics.md for every journey and the cohort.
    Metrics {
        /// Only this journey (the cohort is then that one journey's).
        #[arg(long)]
        journey: Option<String>,
        /// The day the report is computed as of (default: today).
        #[arg(long, value_parser = parse_as_of)]
        as_of: Option<NaiveDate>,
        #[arg(long, value_enum, default_value = "json")]
        format: metrics::Format,
    },
    /// Grant or withdraw the family's consent to anonymized research use of the journey.
    Consent {
        /// The journey.
        #[arg(long)]
        journey: String,
        #[arg(value_enum)]
        decision: Decision,
        /// The version of the consent text the family read.
        #[arg(long, default_value = "v1")]
        text_version: String,
    },
    /// Write an anonymized research dataset (Parquet and CSV tables, datapackage.json,
    /// README.md, manifest.json) of the journeys with research consent.
    ResearchExport {
        /// The research project: subject ids are stable within it, unlinkable across projects.
        #[arg(long)]
        project: String,
        /// The folder to write (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// The day the data is taken as of (default: today).
        #[arg(long, value_parser = parse_as_of)]
        as_of: Option<NaiveDate>,
        /// k: quasi-identifier combinations shared by fewer subjects are suppressed.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        min_cell: u32,
    },
    /// Write an HTML progress report (charts, summary, weeks, milestones) under --out.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["journey", "cohort"])))]
    Report {
        /// The journey: writes OUT/<KEY>/<AS_OF>.html.
        #[arg(long)]
        journey: Option<String>,
        /// The cohort report of every journey: writes OUT/cohort/<AS_OF>.html.
        #[arg(long)]
        cohort: bool,
        /// The day the report is computed as of (default: today).
        #[arg(long, value_parser = parse_as_of)]
        as_of: Option<NaiveDate>,
        /// The folder the reports go to.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Also write the journey's charts as PNG files (for e-mail or a PDF).
        #[arg(long, requires = "journey")]
        png: bool,
    },
    /// Rebuild the read tables from the events, from zero.
    Rebuild,
    /// Generate synthetic families, import them and say where to look next.
    Demo {
        /// Seed of the generator: the same seed gives the same families.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// How many families.
        #[arg(long, default_value_t = 12)]
        families: usize,
        /// Days of each journey, up to today.
        #[arg(long, default_value_t = 240)]
        days: u32,
        /// Serve the web app afterwards (default: when run in a terminal).
        #[arg(long, conflicts_with = "no_serve")]
        serve: bool,
        /// Do not serve the web app afterwards.
        #[arg(long)]
        no_serve: bool,
        /// Where the web app listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
    },
    /// Serve the web app (pages and the JSON API /api/v1) until Ctrl-C.
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
    },
    /// Accounts of the web app: add, assign to journeys, list.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Erase a journey: destroy its key (its notes and reporter handles can never be read
    /// again), record the erasure, purge it from every read table, and delete its report
    /// folder. Its events stay, holding no readable private text. Cannot be undone.
    Erase {
        #[arg(long)]
        journey: String,
        /// Confirms that the erasure cannot be undone.
        #[arg(long)]
        yes: bool,
        /// The report folder to remove the journey's reports from.
        #[arg(long, default_value = "reports")]
        reports: PathBuf,
    },
    /// Stop the embedded PostgreSQL of --data-dir.
    Stop,
    /// Benchmarks that print figures (see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        which: bench::Bench,
    },
}

/// What `journey user` does.
#[derive(Subcommand)]
enum UserAction {
    /// Create an account. The password is read from standard input (--password-stdin) or
    /// made up and printed once.
    Add {
        /// Sign-in name, 1-64 of A-Z a-z 0-9 . _ - (also the `by` handle of a family member's entries).
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The name the app shows (default: the username).
        #[arg(long)]
        name: Option<String>,
        /// Read the password (at least 10 characters) from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Let a family member or counselor see a journey.
    Assign {
        username: String,
        #[arg(long)]
        journey: String,
    },
    /// Take a journey away from a family member or counselor.
    Unassign {
        username: String,
        #[arg(long)]
        journey: String,
    },
    /// List accounts and assignments.
    List,
}

/// Roles of web app accounts.
#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Family,
    Counselor,
    Researcher,
    Admin,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Family => Role::Family,
            RoleArg::Counselor => Role::Counselor,
            RoleArg::Researcher => Role::Researcher,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// A research consent decision.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Decision {
    Grant,
    Withdraw,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version print and succeed; a bad argument is bad input (1).
            let code = if err.use_stderr() { 1 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(message)) => {
            eprintln!("journey: {message}");
            ExitCode::from(1)
        }
        Err(Failure::System(message)) => {
            eprintln!("journey: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Outcome {
    // The master key of crypto-shredding lives beside the data folder unless
    // JOURNEY_MASTER_KEY or JOURNEY_MASTER_KEY_FILE say otherwise.
    let key_folder = cli
        .data_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    journey_postgres::crypto::use_default_file(&key_folder.join("master.key"));
    match cli.command {
        Command::Stop => {
            if embedded::stop(&cli.data_dir).map_err(|e| Failure::System(e.to_string()))? {
                println!("stopped PostgreSQL in {}", cli.data_dir.display());
            } else {
                println!("no PostgreSQL was running in {}", cli.data_dir.display());
            }
            Ok(())
        }
        Command::Bench { which } => bench::run(which, &cli.data_dir).await,
        command => {
            let pool = open(&cli.data_dir).await?;
            dispatch(command, &pool).await
        }
    }
}

async fn dispatch(command: Command, pool: &PgPool) -> Outcome {
    match command {
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::Import {
            files,
            skip_invalid,
        } => import_files(pool, &files, skip_invalid).await,
        Command::Record { line } => record(pool, &line).await,
        Command::Export {
            raw: _,
            journey,
            out,
        } => export(pool, journey.as_deref(), out.as_deref()).await,
        Command::Journeys => list_journeys(pool).await,
        Command::Metrics {
            journey,
            as_of,
            format,
        } => {
            metrics::run(
                pool,
                journey.as_deref(),
                as_of.unwrap_or_else(today),
                format,
            )
            .await
        }
        Command::Consent {
            journey,
            decision,
            text_version,
        } => {
            let granted = matches!(decision, Decision::Grant);
            let recorder = journey_postgres::store::Recorder::new(pool.clone());
            let metadata = HashMap::from([("via".to_string(), "cli".to_string())]);
            recorder
                .consent(&journey, granted, &text_version, Utc::now(), metadata)
                .await
                .map_err(|e| match e {
                    StoreError::Rule(journey_domain::JourneyError::NotStarted) => {
                        Failure::BadInput(format!("no journey with key {journey:?}"))
                    }
                    other => other.into(),
                })?;
            projector::catch_up(pool).await?;
            let what = if granted { "granted" } else { "withdrawn" };
            println!("research consent {what} on journey {journey} (text {text_version})");
            Ok(())
        }
        Command::ResearchExport {
            project,
            out,
            as_of,
            min_cell,
        } => {
            if !journey_domain::entry::is_key(&project) {
                return Err(Failure::BadInput(format!(
                    "--project {project:?}: 1-64 of A-Z a-z 0-9 . _ -"
                )));
            }
            let actor = std::env::var("USER").unwrap_or_else(|_| "cli".into());
            let written = research::export(
                pool,
                &research::Request {
                    project: &project,
                    out: &out,
                    as_of: as_of.unwrap_or_else(today),
                    min_cell: min_cell as usize,
                    actor: &actor,
                },
            )
            .await?;
            println!(
                "{} subjects ({} with relationship and substances suppressed, k = {min_cell}) -> {}",
                written.subjects,
                written.suppressed,
                out.display()
            );
            for file in &written.files {
                println!("  {}", file.display());
            }
            println!("manifest sha256 {}", written.manifest_sha256);
            Ok(())
        }
        Command::Report {
            journey,
            cohort: _,
            as_of,
            out,
            png,
        } => {
            let as_of = as_of.unwrap_or_else(today);
            let paths = match journey {
                Some(key) => report::journey(pool, &key, as_of, &out, png).await?,
                None => vec![report::cohort(pool, as_of, &out).await?],
            };
            for path in paths {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Rebuild => {
            let events = projector::rebuild(pool).await?;
            println!("read tables rebuilt from {events} events");
            Ok(())
        }
        Command::Demo {
            seed,
            families,
            days,
            serve,
            no_serve,
            bind,
        } => {
            let serve = serve || (!no_serve && std::io::stdout().is_terminal());
            demo(pool, seed, families, days, serve.then_some(bind)).await
        }
        Command::Serve { bind } => journey_cli::web::serve(pool.clone(), bind, Vec::new()).await,
        Command::User { action } => user(pool, action).await,
        Command::Erase {
            journey,
            yes,
            reports,
        } => erase(pool, &journey, yes, &reports).await,
        Command::Stop | Command::Bench { .. } => unreachable!("handled before connecting"),
    }
}

fn progress() -> Option<journey_postgres::import::Progress> {
    Some(Box::new(|message: &str| eprintln!("  {message}")))
}

async fn import_files(pool: &PgPool, files: &[PathBuf], skip_invalid: bool) -> Outcome {
    let mut bad = false;
    for file in files {
        let bytes = std::fs::read(file)
            .map_err(|e| Failure::BadInput(format!("{}: {e}", file.display())))?;
        let options = ImportOptions {
            skip_invalid,
            recorded_at: Utc::now(),
            progress: (bytes.len() > 5_000_000).then(progress).flatten(),
        };
        let report = import(pool, &bytes, &options).await?;
        for error in &report.invalid {
            eprintln!("{}:{error}", file.display());
        }
        print_report(file, &report, skip_invalid);
        bad |= !report.invalid.is_empty();
    }
    projector::catch_up(pool).await?;
    if bad {
        let what = if skip_invalid {
            "some lines were skipped"
        } else {
            "nothing was stored"
        };
        return Err(Failure::BadInput(format!("invalid lines ({what})")));
    }
    Ok(())
}

fn print_report(file: &Path, report: &ImportReport, skip_invalid: bool) {
    if !report.invalid.is_empty() && !skip_invalid {
        println!(
            "{}: {} of {} lines invalid: nothing stored",
            file.display(),
            report.invalid.len(),
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
        report.invalid.len(),
        report.journeys_new,
        report.derived
    );
}

async fn record(pool: &PgPool, text: &str) -> Outcome {
    let mut line = parse_line(text).map_err(Failure::BadInput)?;
    if line.entry.entry.is_empty() {
        line.entry.entry = format!("c-{}", uuid::Uuid::new_v4().simple());
    }
    let recorder = journey_postgres::store::Recorder::new(pool.clone());
    let metadata = HashMap::from([("via".to_string(), "cli".to_string())]);
    let entry_id = line.entry.entry.clone();
    recorder
        .record(&line.journey, line.entry, Utc::now(), metadata)
        .await?;
    projector::catch_up(pool).await?;
    println!("recorded entry {entry_id} on journey {}", line.journey);
    Ok(())
}

async fn export(pool: &PgPool, journey: Option<&str>, out: Option<&Path>) -> Outcome {
    projector::catch_up(pool).await?;
    if let Some(key) = journey {
        if read::journeys(pool, Some(key)).await?.is_empty() {
            return Err(Failure::BadInput(format!("no journey with key {key:?}")));
        }
    }
    let lines = read::entries(pool, journey).await?;
    let mut text = String::with_capacity(lines.len() * 100);
    for line in &lines {
        text.push_str(&to_line(&line.journey, &line.entry));
        text.push('\n');
    }
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::System(format!("{}: {e}", path.display())))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| Failure::System(format!("stdout: {e}")))?,
    }
    Ok(())
}

async fn list_journeys(pool: &PgPool) -> Outcome {
    projector::catch_up(pool).await?;
    let rows = read::journeys(pool, None).await?;
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

fn parse_as_of(text: &str) -> Result<NaiveDate, String> {
    journey_domain::interchange::parse_day(text)
        .map_err(|_| format!("{text:?} is not a date YYYY-MM-DD"))
}

async fn demo(
    pool: &PgPool,
    seed: u64,
    families: usize,
    days: u32,
    serve: Option<SocketAddr>,
) -> Outcome {
    let synth = synth::Synth {
        seed,
        families,
        days,
        end: today(),
        prefix: "demo-family-".into(),
    };
    let lines = synth.generate();
    let mut text = lines.join("\n");
    text.push('\n');
    let folder = Path::new("reports/demo");
    std::fs::create_dir_all(folder)
        .map_err(|e| Failure::System(format!("{}: {e}", folder.display())))?;
    let file = folder.join(format!("families-seed-{seed}.jsonl"));
    std::fs::write(&file, &text)
        .map_err(|e| Failure::System(format!("{}: {e}", file.display())))?;
    println!(
        "generated {} families x {days} days ({} lines, seed {seed}) -> {}",
        families,
        lines.len(),
        file.display()
    );
    let options = ImportOptions {
        skip_invalid: false,
        recorded_at: Utc::now(),
        progress: None,
    };
    let report = import(pool, text.as_bytes(), &options).await?;
    if !report.invalid.is_empty() {
        let first = &report.invalid[0];
        return Err(Failure::System(format!(
            "the generator wrote an invalid line: {first}"
        )));
    }
    print_report(&file, &report, false);
    // The demo families agree to research use (a real family decides in the app or with
    // `journey consent`).
    let recorder = journey_postgres::store::Recorder::new(pool.clone());
    for index in 0..families {
        let metadata = HashMap::from([("via".to_string(), "demo".to_string())]);
        recorder
            .consent(&synth.key(index), true, "v1", Utc::now(), metadata)
            .await?;
    }
    projector::catch_up(pool).await?;
    list_journeys(pool).await?;
    println!();
    let report = metrics::report(pool, None, today()).await?;
    print!("{}", metrics::table(&report));
    println!();
    println!("Progress reports (open in a browser):");
    let out = Path::new("reports");
    for key in report.journeys.iter().map(|j| j.journey.clone()) {
        for path in report::journey(pool, &key, today(), out, false).await? {
            println!("  {}", path.display());
        }
    }
    println!("  {}", report::cohort(pool, today(), out).await?.display());
    println!();
    println!("Next:");
    println!("  cargo run -p journey-cli -- metrics --format table                   # the figures, per journey");
    println!("  cargo run -p journey-cli -- export --raw --journey demo-family-0001   # the entries, as a journey file");
    println!(
        "  cargo run -p journey-cli -- journeys                                  # the journeys"
    );
    println!("  cargo run -p journey-cli -- research-export --project demo --out reports/research-demo   # anonymized dataset");
    println!(
        "  cargo run -p journey-cli -- serve                                     # the web app"
    );
    println!();
    let accounts = demo_accounts(pool, &synth).await?;
    match serve {
        Some(bind) => journey_cli::web::serve(pool.clone(), bind, accounts).await,
        None => {
            for line in accounts {
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// The demo's accounts, with new random passwords on every run; returns the lines that
/// show them.
async fn demo_accounts(pool: &PgPool, synth: &synth::Synth) -> Result<Vec<String>, Failure> {
    let families = synth.families;
    let people: [(&str, &str, Role, Vec<usize>); 5] = [
        ("ana", "Ana (mother)", Role::Family, vec![0]),
        ("ben", "Ben (brother)", Role::Family, vec![0]),
        (
            "carla",
            "Carla (counselor)",
            Role::Counselor,
            (0..families.min(6)).collect(),
        ),
        ("rhea", "Rhea (researcher)", Role::Researcher, vec![]),
        ("admin", "Admin", Role::Admin, vec![]),
    ];
    let mut lines = vec!["Demo accounts (new passwords on every run):".to_string()];
    for (username, name, role, journeys) in people {
        let password = journey_cli::web::auth::random_password();
        let hash = journey_cli::web::auth::hash_password(&password).map_err(Failure::System)?;
        if accounts::create_user(pool, username, name, role, &hash)
            .await?
            .is_none()
        {
            accounts::set_password(pool, username, &hash).await?;
        }
        let mut keys = Vec::new();
        for index in journeys.into_iter().filter(|i| *i < families) {
            let _ = accounts::assign(pool, username, &synth.key(index)).await?;
            keys.push(synth.key(index));
        }
        let sees = match keys.len() {
            0 => String::new(),
            1 => format!("  (sees {})", keys[0]),
            n => format!("  (sees {} .. {}, {n} families)", keys[0], keys[n - 1]),
        };
        lines.push(format!(
            "  {:<10} {username:<6} password {password}{sees}",
            role.as_str()
        ));
    }
    Ok(lines)
}

async fn erase(pool: &PgPool, key: &str, yes: bool, reports: &Path) -> Outcome {
    if !yes {
        return Err(Failure::BadInput(format!(
            "erasing journey {key:?} cannot be undone: add --yes to go on"
        )));
    }
    let recorder = journey_postgres::store::Recorder::new(pool.clone());
    let metadata = HashMap::from([("via".to_string(), "cli".to_string())]);
    let Some(journey_id) = recorder.erase(key, Utc::now(), metadata).await? else {
        return Err(Failure::BadInput(format!("no journey with key {key:?}")));
    };
    let actor = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    journey_postgres::research::audit(
        pool,
        &actor,
        "erase",
        Some(&journey_id),
        serde_json::json!({}),
    )
    .await?;
    let folder = reports.join(report::folder(key));
    if folder.exists() {
        std::fs::remove_dir_all(&folder)
            .map_err(|e| Failure::System(format!("{}: {e}", folder.display())))?;
        println!("removed {}", folder.display());
    }
    println!(
        "journey {key} erased: its key is destroyed, its notes and handles can no longer be read, and it is gone from every read table"
    );
    Ok(())
}

async fn user(pool: &PgPool, action: UserAction) -> Outcome {
    match action {
        UserAction::Add {
            username,
            role,
            name,
            password_stdin,
        } => {
            if !journey_domain::entry::is_key(&username) {
                return Err(Failure::BadInput(format!(
                    "username {username:?}: 1-64 of A-Z a-z 0-9 . _ -"
                )));
            }
            let name = name.unwrap_or_else(|| username.clone());
            if name.trim().is_empty() || name.chars().count() > 100 {
                return Err(Failure::BadInput(format!(
                    "--name {name:?}: 1-100 characters"
                )));
            }
            let (password, shown) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| Failure::System(format!("standard input: {e}")))?;
                let line = line.trim_end_matches(['\r', '\n']).to_string();
                if line.chars().count() < 10 {
                    return Err(Failure::BadInput(
                        "the password must have at least 10 characters".into(),
                    ));
                }
                (line, false)
            } else {
                (journey_cli::web::auth::random_password(), true)
            };
            let hash = journey_cli::web::auth::hash_password(&password).map_err(Failure::System)?;
            if accounts::create_user(pool, &username, &name, role.role(), &hash)
                .await?
                .is_none()
            {
                return Err(Failure::BadInput(format!(
                    "user {username:?} exists already"
                )));
            }
            println!("added {} {username}", role.role().as_str());
            if shown {
                println!("password {password}  (shown once; only its hash is stored)");
            }
            Ok(())
        }
        UserAction::Assign { username, journey } => {
            match accounts::assign(pool, &username, &journey).await? {
                Ok(()) => {
                    println!("{username} may now see journey {journey}");
                    Ok(())
                }
                Err(AssignError::NoUser) => Err(Failure::BadInput(format!("no user {username:?}"))),
                Err(AssignError::NoJourney) => {
                    Err(Failure::BadInput(format!("no journey with key {journey:?}")))
                }
                Err(AssignError::Role(role)) => Err(Failure::BadInput(format!(
                    "{username} is a {}: only family members and counselors are assigned to journeys",
                    role.as_str()
                ))),
            }
        }
        UserAction::Unassign { username, journey } => {
            if accounts::unassign(pool, &username, &journey).await? {
                println!("{username} no longer sees journey {journey}");
                Ok(())
            } else {
                Err(Failure::BadInput(format!(
                    "{username:?} was not assigned to journey {journey:?}"
                )))
            }
        }
        UserAction::List => {
            let assignments = accounts::assignments(pool).await?;
            for u in accounts::users(pool).await? {
                let journeys: Vec<&str> = assignments
                    .iter()
                    .filter(|(name, _, _)| *name == u.username)
                    .map(|(_, _, key)| key.as_str())
                    .collect();
                println!(
                    "{:<24} {:<10} {:<24} {}",
                    u.username,
                    u.role.as_str(),
                    u.display_name,
                    journeys.join(" ")
                );
            }
            Ok(())
        }
    }
}
