//! Helpers of the end-to-end tests: the built `journey` binary against a fresh database.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use journey_postgres::testing::TestDb;

pub mod catch_up;

/// A fixture journey file: tests/fixtures (a copy of shared/fixtures), else ../shared/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for candidate in [root.join("tests/fixtures"), root.join("../shared/fixtures")] {
        if candidate.join(name).exists() {
            return candidate.join(name);
        }
    }
    panic!("fixture {name} not found in ../shared/fixtures or tests/fixtures")
}

/// Imports `file` into `db` with `journey import`, which must succeed.
pub fn import_file(db: &TestDb, file: &Path) {
    let out = journey(db, &["import", file.to_str().expect("a UTF-8 path")]);
    assert!(
        out.status.success(),
        "import {}: {}",
        file.display(),
        stderr(&out)
    );
}

/// Runs `journey ARGS` against `db`.
pub fn journey(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("JOURNEY_MASTER_KEY", &db.master_hex)
        .output()
        .expect("the journey binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A file in a fresh temporary folder holding `text`.
pub fn file_with(text: impl AsRef<[u8]>) -> PathBuf {
    let dir = TestDb::scratch_dir("file");
    std::fs::create_dir_all(&dir).expect("a temp folder");
    let path = dir.join("journey.jsonl");
    std::fs::write(&path, text).expect("write the file");
    path
}

/// Count of rows in the events table.
pub async fn event_count(db: &TestDb) -> i64 {
    sqlx_count(db, "SELECT count(*) FROM events").await
}

pub async fn sqlx_count(db: &TestDb, query: &str) -> i64 {
    journey_postgres::testing::scalar_i64(&db.pool, query).await
}

/// Creates the account `name` with `role` and `password` (given on standard input, never
/// printed) and, with `journey_key`, assigns it to that journey.
pub fn add_user(db: &TestDb, name: &str, role: &str, password: &str, journey_key: Option<&str>) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["user", "add", name, "--role", role, "--password-stdin"])
        .env("DATABASE_URL", &db.url)
        .env("JOURNEY_MASTER_KEY", &db.master_hex)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("journey runs");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains(password),
        "a given password is never printed"
    );
    if let Some(key) = journey_key {
        let out = journey(db, &["user", "assign", name, "--journey", key]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// Enrols `name` in a second factor with `journey user totp`: the base-32 secret of the
/// `otpauth://` URI it prints (and it prints 10 recovery codes).
pub fn enrol_totp(db: &TestDb, name: &str) -> String {
    let out = journey(db, &["user", "totp", name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let uri = text
        .lines()
        .find(|l| l.starts_with("otpauth://totp/"))
        .unwrap_or_else(|| panic!("an otpauth URI: {text}"));
    assert!(uri.contains("issuer=journey"), "{uri}");
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("secret=")
        .to_string();
    let codes = text.lines().filter(|l| l.starts_with("  ")).count();
    assert_eq!(codes, 10, "10 recovery codes: {text}");
    secret
}

/// `journey serve` on a free loopback port over `db`; stopped when dropped.
pub struct Server {
    child: std::process::Child,
    /// The base URL, without the trailing slash.
    pub url: String,
    /// The server's log (its standard error), at the debug level.
    pub log: PathBuf,
}

impl Server {
    pub fn start(db: &TestDb) -> Server {
        Server::start_at(db, &db.url)
    }

    /// `journey serve` over `db`, reached at `url` (through a proxy, say).
    pub fn start_at(db: &TestDb, url: &str) -> Server {
        Server::start_with(db, url, &[])
    }

    /// `journey serve` over `db`, reached at `url`, with more flags.
    pub fn start_with(db: &TestDb, url: &str, flags: &[&str]) -> Server {
        use std::io::{BufRead, BufReader};
        let folder = TestDb::scratch_dir("serve-log");
        std::fs::create_dir_all(&folder).expect("a log folder");
        let log = folder.join("serve.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_journey"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(flags)
            .env("DATABASE_URL", url)
            .env("JOURNEY_MASTER_KEY", &db.master_hex)
            .env("RUST_LOG", "debug")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("the log file"))
            .spawn()
            .expect("journey serve runs");
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("serve prints its URL: {first:?}"))
            .trim_end_matches('/')
            .to_string();
        Server { child, url, log }
    }
}

impl Server {
    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client for tests against a running `journey serve`.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("a client")
}

/// Signs `user` in through the API of the server at `base`; the session cookie.
pub async fn api_sign_in(base: &str, user: &str, password: &str) -> String {
    let res = http()
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200, "sign-in of {user}");
    res.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// The entry of interchange line `text` (a valid one).
pub fn entry(text: &str) -> journey_domain::Entry {
    journey_domain::interchange::parse_line(text)
        .expect("a valid line")
        .entry
}

/// Starts journey `key` through `recorder`.
pub async fn start(recorder: &journey_postgres::store::Recorder, key: &str) {
    let text = format!(
        r#"{{"journey":"{key}","type":"journey_started","on":"2025-01-01","relationship":"friend","entry":"s"}}"#
    );
    recorder
        .record(
            key,
            entry(&text),
            chrono::Utc::now(),
            std::collections::HashMap::new(),
        )
        .await
        .expect("started");
}

/// A family account row with id `user` (no password that signs in), for claims.
pub async fn family_row(db: &TestDb, user: uuid::Uuid) {
    sqlx::query("INSERT INTO users (user_id, username, display_name, role, password_hash) VALUES ($1, 'u', 'U', 'family', 'x')")
        .bind(user)
        .execute(&db.pool)
        .await
        .expect("a user");
}
