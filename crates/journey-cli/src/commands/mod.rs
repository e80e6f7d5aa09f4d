//! The commands of `journey`: the flags (clap), the [`Config`] built from the environment,
//! and one file per command, each a thin call into journey-app.

mod audit;
mod consent;
mod demo;
mod erase;
mod export;
mod import;
mod journeys;
mod metrics;
mod project;
mod record;
mod report;
mod research;
mod user;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use journey_app::report::Paper;
use journey_app::{
    Actor, App, AppError, Config, Database, JourneyKey, KeySource, ProjectName, Role, Username, Via,
};

/// Record, import, export and analyse recovery journeys (CRAFT).
#[derive(Parser)]
#[command(name = "journey", version, about)]
pub struct Cli {
    /// Data folder of the embedded PostgreSQL, used when DATABASE_URL is not set.
    #[arg(
        long,
        global = true,
        default_value = ".journey/pg",
        env = "JOURNEY_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// Lines checked and written at a time.
        #[arg(long, default_value_t = journey_app::import::BLOCK_LINES, hide = true)]
        block_lines: usize,
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
        #[arg(long, value_parser = JourneyKey::parse)]
        journey: Option<JourneyKey>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Journeys read at a time.
        #[arg(long, default_value_t = journey_app::journeys::EXPORT_CHUNK, hide = true)]
        chunk_journeys: usize,
    },
    /// List the journeys: key, start, CRAFT start, entries.
    Journeys,
    /// The figures of shared/spec/metrics.md for every journey and the cohort.
    Metrics {
        /// Only this journey (the cohort is then that one journey's).
        #[arg(long, value_parser = JourneyKey::parse)]
        journey: Option<JourneyKey>,
        /// The day the report is computed as of (default: today).
        #[arg(long, value_parser = parse_as_of)]
        as_of: Option<NaiveDate>,
        #[arg(long, value_enum, default_value = "json")]
        format: metrics::Format,
        /// Journeys read and computed at a time (tests use a few to get several chunks).
        #[arg(long, hide = true, default_value_t = journey_app::metrics::CHUNK_JOURNEYS)]
        chunk_journeys: usize,
    },
    /// Grant or withdraw the family's consent to anonymized research use of the journey.
    Consent {
        /// The journey.
        #[arg(long, value_parser = JourneyKey::parse)]
        journey: JourneyKey,
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
        #[arg(long, value_parser = ProjectName::parse)]
        project: ProjectName,
        /// The folder to write (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// The day the data is taken as of (default: today).
        #[arg(long, value_parser = parse_as_of)]
        as_of: Option<NaiveDate>,
        /// k: quasi-identifier combinations shared by fewer subjects are suppressed.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        min_cell: u32,
        /// Journeys computed and written at a time (tests use a few to get several chunks).
        #[arg(long, hide = true, default_value_t = journey_app::research::CHUNK_JOURNEYS)]
        chunk_journeys: usize,
    },
    /// Write an HTML progress report (charts, summary, weeks, milestones) under --out.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["journey", "cohort"])))]
    Report {
        /// The journey: writes OUT/<KEY>/<AS_OF>.html.
        #[arg(long, value_parser = JourneyKey::parse)]
        journey: Option<JourneyKey>,
        /// The cohort report of every journey: writes OUT/cohort/<AS_OF>.html.
        #[arg(long)]
        cohort: bool,
        /// The day the report is computed as of (default: today).
        #[arg(long, value_parser = parse_as_of)]
        as_of: Option<NaiveDate>,
        /// The folder the reports go to.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Also write the journey's charts as PNG files (for e-mail).
        #[arg(long, requires = "journey")]
        png: bool,
        /// Show the journey's days from this day on (default: its start); the figures of
        /// the whole journey stay.
        #[arg(long, value_parser = parse_as_of, requires = "journey")]
        from: Option<NaiveDate>,
        /// Also write the journey's report as a PDF for this paper: a4 or letter.
        #[arg(long, value_parser = parse_paper, requires = "journey")]
        pdf: Option<Paper>,
    },
    /// Rebuild the read tables from the events, from zero.
    Rebuild,
    /// Catch up the read tables of journeys behind their events (written by another tool,
    /// or before inline projection), sharing the work with other workers and servers.
    Project {
        /// Keep working: a pass every SECONDS, until stopped.
        #[arg(long, value_name = "SECONDS")]
        watch: Option<u64>,
        /// Journeys per transaction.
        #[arg(long, default_value_t = journey_app::projector::CHUNK_JOURNEYS, hide = true)]
        chunk_journeys: usize,
    },
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
        /// Seconds between two passes of the read tables' catch-up worker.
        #[arg(long, default_value_t = 60, hide = true)]
        catch_up_every: u64,
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
        #[arg(long, value_parser = JourneyKey::parse)]
        journey: JourneyKey,
        /// Confirms that the erasure cannot be undone.
        #[arg(long)]
        yes: bool,
        /// The report folder to remove the journey's reports from.
        #[arg(long, default_value = "reports")]
        reports: PathBuf,
    },
    /// The audit log, newest first (UTC): sign-ins, failures, second factors, sessions,
    /// password changes, refused access, and every read and write of a journey.
    Audit {
        /// Only the rows of this person (a username, or an operator's login name).
        #[arg(long)]
        user: Option<String>,
        /// Only the rows of this day (UTC), YYYY-MM-DD.
        #[arg(long)]
        day: Option<chrono::NaiveDate>,
        /// How many rows at most (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Stop the embedded PostgreSQL of --data-dir.
    Stop,
    /// Benchmarks that print figures (see docs/benchmarks.md; built with `--features bench`).
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    Bench {
        #[command(subcommand)]
        which: crate::bench::Bench,
    },
}

/// What `journey user` does.
#[derive(Subcommand)]
pub enum UserAction {
    /// Create an account. The password is read from standard input (--password-stdin) or
    /// made up and printed once.
    Add {
        /// Sign-in name, 1-64 of A-Z a-z 0-9 . _ - (also the `by` handle of a family member's entries).
        #[arg(value_parser = Username::parse)]
        username: Username,
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
        #[arg(value_parser = Username::parse)]
        username: Username,
        #[arg(long, value_parser = JourneyKey::parse)]
        journey: JourneyKey,
    },
    /// Take a journey away from a family member or counselor.
    Unassign {
        #[arg(value_parser = Username::parse)]
        username: Username,
        #[arg(long, value_parser = JourneyKey::parse)]
        journey: JourneyKey,
    },
    /// Enrol an account in a second factor (TOTP), replacing any earlier one: prints the
    /// otpauth:// URI for an authenticator app and 10 single-use recovery codes, once.
    Totp {
        #[arg(value_parser = Username::parse)]
        username: Username,
    },
    /// Set a new password for an account (read from standard input with --password-stdin,
    /// or made up and printed once); every session of the account ends.
    Password {
        #[arg(value_parser = Username::parse)]
        username: Username,
        /// Read the password (at least 10 characters) from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End every session of an account (on every device and app process, within a second),
    /// for example when a phone was lost; the password stays.
    SignOut {
        #[arg(value_parser = Username::parse)]
        username: Username,
    },
    /// List accounts and assignments.
    List,
}

/// Roles of web app accounts.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Family,
    Counselor,
    Researcher,
    Admin,
}

impl RoleArg {
    pub fn role(self) -> Role {
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
pub enum Decision {
    Grant,
    Withdraw,
}

/// Where the database and the master key are, from the environment and the flags:
/// `DATABASE_URL`, else the embedded cluster in `--data-dir`; `JOURNEY_MASTER_KEY`, else
/// the file `JOURNEY_MASTER_KEY_FILE`, else `journey/keys/<store id>.key` in the user's data
/// folder (`$XDG_DATA_HOME`, by default `~/.local/share`), whatever the working folder.
pub fn config(data_dir: &Path) -> Config {
    let database = match std::env::var("DATABASE_URL") {
        Ok(url) => Database::Url(url),
        Err(_) => Database::Embedded {
            data_dir: data_dir.to_path_buf(),
        },
    };
    let master_key = match std::env::var("JOURNEY_MASTER_KEY") {
        Ok(hex) => KeySource::Hex {
            hex,
            from: "JOURNEY_MASTER_KEY".into(),
        },
        Err(_) => match std::env::var_os("JOURNEY_MASTER_KEY_FILE") {
            Some(file) => KeySource::File(PathBuf::from(file)),
            None => KeySource::PerStore {
                folder: key_folder(),
                legacy: data_dir
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .join("master.key"),
            },
        },
    };
    Config {
        database,
        master_key,
        pool_size: 8,
        catch_up: true,
    }
}

/// The folder of the default master keys: `journey/keys` in the user's data folder.
pub fn key_folder() -> PathBuf {
    use etcetera::BaseStrategy;
    match etcetera::choose_base_strategy() {
        Ok(base) => base.data_dir().join("journey").join("keys"),
        // No home folder at all: beside the system's other service data.
        Err(_) => PathBuf::from("/var/lib/journey/keys"),
    }
}

/// The operator at this machine, as the audit log names them (their login name).
pub fn operator(via: Via) -> Actor {
    Actor::operator(std::env::var("USER").unwrap_or_else(|_| "cli".into()), via)
}

fn parse_as_of(text: &str) -> Result<NaiveDate, String> {
    journey_domain::interchange::parse_day(text)
        .map_err(|_| format!("{text:?} is not a date YYYY-MM-DD"))
}

fn parse_paper(text: &str) -> Result<Paper, String> {
    Paper::parse(text).ok_or_else(|| format!("{text:?} is not a paper size: a4 or letter"))
}

/// Runs the command.
pub async fn run(cli: Cli) -> Result<(), AppError> {
    let mut config = config(&cli.data_dir);
    let command = match cli.command {
        Command::Stop => {
            return if journey_app::stop_embedded(&cli.data_dir)? {
                println!("stopped PostgreSQL in {}", cli.data_dir.display());
                Ok(())
            } else {
                println!("no PostgreSQL was running in {}", cli.data_dir.display());
                Ok(())
            };
        }
        #[cfg(feature = "bench")]
        Command::Bench { which } => return crate::bench::run(which, &config).await,
        command => command,
    };
    config.catch_up = !matches!(command, Command::Project { .. });
    let app = App::open(&config).await?;
    let me = operator(Via::Cli);
    match command {
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::Import {
            files,
            skip_invalid,
            block_lines,
        } => import::run(&app, &me, &files, skip_invalid, block_lines).await,
        Command::Record { line } => record::run(&app, &me, &line).await,
        Command::Export {
            raw: _,
            journey,
            out,
            chunk_journeys,
        } => export::run(&app, &me, journey.as_ref(), out.as_deref(), chunk_journeys).await,
        Command::Journeys => journeys::run(&app, &me).await,
        Command::Metrics {
            journey,
            as_of,
            format,
            chunk_journeys,
        } => metrics::run(&app, &me, journey.as_ref(), as_of, format, chunk_journeys).await,
        Command::Consent {
            journey,
            decision,
            text_version,
        } => consent::run(&app, &me, &journey, decision, &text_version).await,
        Command::ResearchExport {
            project,
            out,
            as_of,
            min_cell,
            chunk_journeys,
        } => research::run(&app, &me, &project, &out, as_of, min_cell, chunk_journeys).await,
        Command::Report {
            journey,
            cohort: _,
            as_of,
            out,
            png,
            from,
            pdf,
        } => report::run(&app, &me, journey.as_ref(), (from, as_of), &out, png, pdf).await,
        Command::Rebuild => {
            let events = app.rebuild().await?;
            println!("read tables rebuilt from {events} events");
            Ok(())
        }
        Command::Project {
            watch,
            chunk_journeys,
        } => project::run(&app, watch, chunk_journeys).await,
        Command::Demo {
            seed,
            families,
            days,
            serve,
            no_serve,
            bind,
        } => {
            use std::io::IsTerminal;
            let serve = serve || (!no_serve && std::io::stdout().is_terminal());
            demo::run(&app, seed, families, days, serve.then_some(bind)).await
        }
        Command::Serve {
            bind,
            catch_up_every,
        } => {
            let every = std::time::Duration::from_secs(catch_up_every.max(1));
            journey_web::serve(app, bind, Vec::new(), every).await
        }
        Command::User { action } => user::run(&app, &me, action).await,
        Command::Audit { user, day, limit } => {
            audit::run(&app, &me, user.as_deref(), day, limit).await
        }
        Command::Erase {
            journey,
            yes,
            reports,
        } => erase::run(&app, &me, &journey, yes, &reports).await,
        Command::Stop => unreachable!("handled before connecting"),
        #[cfg(feature = "bench")]
        Command::Bench { .. } => unreachable!("handled before connecting"),
    }
}
