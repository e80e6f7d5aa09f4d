//! The embedded default: a PostgreSQL cluster of the program's own in a data folder, started
//! from the machine's PostgreSQL installation, listening only on a Unix socket in that folder.
//! It keeps running after the command ends, and later runs use it again.
//!
//! When run as root, the cluster is owned by and run as the `postgres` user (PostgreSQL
//! refuses to run as root).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;

/// The database the program uses inside its cluster.
pub const DATABASE: &str = "journey";
/// How long to wait for the server to accept connections.
const START_TIMEOUT_S: u64 = 60;
/// A Unix socket path may be at most 107 bytes long.
const SOCKET_PATH_BYTES_MAX: usize = 107;

/// What can go wrong starting the embedded cluster.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No `initdb`/`pg_ctl` was found.
    #[error("no PostgreSQL installation found (looked in /usr/lib/postgresql/*/bin, $PG_BIN and PATH): install one (Debian: `apt-get install postgresql`) or set DATABASE_URL")]
    NotInstalled,
    /// A PostgreSQL tool failed.
    #[error("{0}")]
    Failed(String),
}

/// The folder holding `initdb` and `pg_ctl`: `$PG_BIN`, the newest
/// `/usr/lib/postgresql/*/bin`, or the folder of `pg_ctl` on `PATH`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        if dir.join("pg_ctl").exists() {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("pg_ctl").exists() && dir.join("initdb").exists())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as `postgres` when we are root.
fn run(tool: &Path, args: &[&str]) -> Result<std::process::Output, EmbeddedError> {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(tool);
        c
    } else {
        Command::new(tool)
    };
    command
        .args(args)
        .current_dir("/")
        .output()
        .map_err(|e| EmbeddedError::Failed(format!("cannot run {}: {e}", tool.display())))
}

fn ok(output: std::process::Output, what: &str) -> Result<(), EmbeddedError> {
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let detail = format!("{} {}", stderr.trim(), stdout.trim());
    Err(EmbeddedError::Failed(format!(
        "{what} failed: {}",
        detail.trim()
    )))
}

/// Makes sure the cluster in `data_dir` exists and runs; returns how to connect to its
/// `journey` database (created if missing is the caller's job: see [`ensure_database`]).
pub fn ensure_running(data_dir: &Path) -> Result<PgConnectOptions, EmbeddedError> {
    let bin = find_bin_dir().ok_or(EmbeddedError::NotInstalled)?;
    if is_root() && !data_dir.exists() {
        relocate_for_postgres(data_dir)?;
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| EmbeddedError::Failed(format!("cannot create {}: {e}", data_dir.display())))?;
    let dir = data_dir
        .canonicalize()
        .map_err(|e| EmbeddedError::Failed(format!("{}: {e}", data_dir.display())))?;
    let dir_text = dir
        .to_str()
        .ok_or_else(|| EmbeddedError::Failed("data folder path is not UTF-8".into()))?;
    if dir_text.len() + "/.s.PGSQL.5432".len() > SOCKET_PATH_BYTES_MAX {
        return Err(EmbeddedError::Failed(format!(
            "data folder path {dir_text} is too long for a Unix socket: use a shorter --data-dir"
        )));
    }
    if is_root() {
        ok(
            Command::new("chown")
                .args(["-R", "postgres:postgres", dir_text])
                .output()
                .map_err(|e| EmbeddedError::Failed(format!("chown: {e}")))?,
            "chown of the data folder to postgres",
        )?;
    }
    if !dir.join("PG_VERSION").exists() {
        let output = run(
            &bin.join("initdb"),
            &[
                "-D",
                dir_text,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        )?;
        ok(output, "initdb")?;
    }
    let running = run(&bin.join("pg_ctl"), &["-D", dir_text, "status"])?
        .status
        .success();
    if !running {
        let options = format!("-c listen_addresses='' -c unix_socket_directories='{dir_text}'");
        let log = dir.join("server.log");
        let output = run(
            &bin.join("pg_ctl"),
            &[
                "-D",
                dir_text,
                "-l",
                log.to_str().unwrap_or("server.log"),
                "-w",
                "-t",
                &START_TIMEOUT_S.to_string(),
                "-o",
                &options,
                "start",
            ],
        )?;
        ok(output, "pg_ctl start")?;
    }
    wait_for_socket(&dir)?;
    Ok(PgConnectOptions::new()
        .socket(&dir)
        .username("postgres")
        .database(DATABASE))
}

/// As root the server runs as `postgres`, which must be able to enter the data folder. When
/// a folder above `data_dir` is closed to it (a checkout in a 0700 folder), the cluster is
/// created in `/var/lib/postgresql/journey-<hash of the path>` instead, and `data_dir`
/// becomes a symbolic link to it.
fn relocate_for_postgres(data_dir: &Path) -> Result<(), EmbeddedError> {
    let parent = match data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| EmbeddedError::Failed(format!("cannot create {}: {e}", parent.display())))?;
    let parent = parent
        .canonicalize()
        .map_err(|e| EmbeddedError::Failed(format!("{}: {e}", parent.display())))?;
    let reachable = Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(&parent)
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        return Ok(());
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a of the path: a stable folder name
    for byte in parent
        .join(data_dir.file_name().unwrap_or_default())
        .as_os_str()
        .as_encoded_bytes()
    {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let real = PathBuf::from(format!("/var/lib/postgresql/journey-{hash:016x}"));
    std::fs::create_dir_all(&real)
        .map_err(|e| EmbeddedError::Failed(format!("cannot create {}: {e}", real.display())))?;
    std::os::unix::fs::symlink(&real, data_dir).map_err(|e| {
        EmbeddedError::Failed(format!(
            "cannot link {} to {}: {e}",
            data_dir.display(),
            real.display()
        ))
    })?;
    eprintln!(
        "journey: the postgres user cannot enter {}; the embedded cluster lives in {} ({} links to it)",
        parent.display(),
        real.display(),
        data_dir.display()
    );
    Ok(())
}

fn wait_for_socket(dir: &Path) -> Result<(), EmbeddedError> {
    let deadline = Instant::now() + Duration::from_secs(START_TIMEOUT_S);
    while !dir.join(".s.PGSQL.5432").exists() {
        if Instant::now() > deadline {
            return Err(EmbeddedError::Failed(format!(
                "PostgreSQL in {} did not start: see its server.log",
                dir.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Stops the cluster in `data_dir` if it runs; returns whether it ran. The tools run from
/// `/`, so the folder is made absolute first (a relative `.journey/pg`, the default, named
/// nothing there and the cluster kept running).
pub fn stop(data_dir: &Path) -> Result<bool, EmbeddedError> {
    let bin = find_bin_dir().ok_or(EmbeddedError::NotInstalled)?;
    if !data_dir.exists() {
        return Ok(false);
    }
    let dir = data_dir
        .canonicalize()
        .map_err(|e| EmbeddedError::Failed(format!("{}: {e}", data_dir.display())))?;
    let dir = dir.to_str().unwrap_or_default();
    if !run(&bin.join("pg_ctl"), &["-D", dir, "status"])?
        .status
        .success()
    {
        return Ok(false);
    }
    ok(
        run(
            &bin.join("pg_ctl"),
            &["-D", dir, "-m", "fast", "-w", "stop"],
        )?,
        "pg_ctl stop",
    )?;
    Ok(true)
}

/// Creates database `options.database` through the maintenance database if it is missing.
pub async fn ensure_database(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let name = options.get_database().unwrap_or(DATABASE).to_string();
    let mut admin = sqlx::PgConnection::connect_with(&options.clone().database("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let create = format!("CREATE DATABASE \"{}\"", name.replace('"', ""));
        if let Err(err) = sqlx::query(&create).execute(&mut admin).await {
            // A concurrent run may have created it in between.
            let code = err
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.to_string());
            if code.as_deref() != Some("42P04") {
                return Err(err);
            }
        }
    }
    admin.close().await
}
