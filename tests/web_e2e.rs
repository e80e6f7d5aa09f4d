//! The web app end to end: `journey serve` (the built binary) on a free port over a fresh
//! database, driven in headless Chromium by tests/e2e_check.py (selenium, PyPI). Screenshots
//! are kept in `$CARGO_TARGET_DIR/tmp/e2e-screenshots/` (or the system temp folder).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const PASSWORD: &str = "e2e password 123";

fn screenshots() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join("tmp/e2e-screenshots")
}

#[tokio::test]
async fn a_family_records_a_day_and_a_counselor_opens_the_report_in_chromium() {
    let db = TestDb::fresh().await;
    let imported = journey(
        &db,
        &["import", fixture("sample-12.jsonl").to_str().unwrap()],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    add_user(&db, "fam", "family", PASSWORD, Some("j1-0003"));
    add_user(&db, "coun", "counselor", PASSWORD, Some("j1-0003"));
    let taken = journey(&db, &["user", "add", "fam", "--role", "family"]);
    assert_eq!(
        taken.status.code(),
        Some(1),
        "a taken username is bad input"
    );
    assert!(stderr(&taken).contains("exists"));

    let server = Server::start(&db);

    let shots = screenshots();
    let _ = std::fs::remove_dir_all(&shots);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e_check.py");
    let run = Command::new("python3")
        .arg(&script)
        .args([
            &server.url,
            "j1-0003",
            "j1-0004",
            PASSWORD,
            shots.to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs");
    let log_file = server.log.clone();
    drop(server);
    // The server's log at the debug level holds no health data and no secret: not the
    // note, not the password.
    let log = std::fs::read_to_string(&log_file).expect("the server's log");
    assert!(
        log.lines().count() > 10,
        "the log was written at the debug level: {log}"
    );
    for private in ["a calm evening together", PASSWORD] {
        assert!(!log.contains(private), "the server's log names {private:?}");
    }
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    for name in [
        "1-family-quick-entry.png",
        "2-family-timeline.png",
        "3-counselor-families.png",
        "4-counselor-report.png",
    ] {
        let bytes = std::fs::read(shots.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{name} is a real screenshot"
        );
    }
    let today = sqlx_count(
        &db,
        r#"SELECT count(*) FROM entries WHERE "on" = current_date"#,
    )
    .await;
    assert_eq!(today, 3, "the three entries of the quick entry");
    let sealed = sqlx_count(
        &db,
        r#"SELECT count(*) FROM entries WHERE "on" = current_date AND "by" LIKE 'sealed:v1:%'"#,
    )
    .await;
    assert_eq!(sealed, 3, "the family member's handle is stored sealed");
}
