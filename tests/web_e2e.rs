//! The web app end to end: `journey serve` (the built binary) on a free port over a fresh
//! database, driven in headless Chromium by tests/e2e_check.py (selenium, PyPI). Screenshots
//! are kept in `$CARGO_TARGET_DIR/tmp/e2e-screenshots/` (or the system temp folder).

use crate::common;

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
async fn a_family_records_a_day_on_a_phone_and_a_counselor_opens_the_report_in_chromium() {
    let db = TestDb::fresh().await;
    let imported = journey(
        &db,
        &["import", fixture("sample-12.jsonl").to_str().unwrap()],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    add_user(&db, "fam", "family", PASSWORD, Some("j1-0003"));
    add_user(&db, "coun", "counselor", PASSWORD, Some("j1-0003"));
    add_user(&db, "res", "researcher", PASSWORD, None);
    add_user(&db, "adm", "admin", PASSWORD, None);
    // An earlier WHO-5 check-in of the family member (80 of 100), two weeks ago.
    let earlier = (chrono::Local::now().date_naive() - chrono::Days::new(14)).to_string();
    let line = format!(
        r#"{{"journey":"j1-0003","type":"wellbeing_checked","on":"{earlier}","by":"fam","who5":[4,4,4,4,4]}}"#
    );
    let recorded = journey(&db, &["record", &line]);
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    let taken = journey(&db, &["user", "add", "fam", "--role", "family"]);
    assert_eq!(
        taken.status.code(),
        Some(1),
        "a taken username is bad input"
    );
    assert!(stderr(&taken).contains("exists"));

    // The researcher and the admin are enrolled in a second factor from the command line
    // (the counselor sets one up on the web, in the browser).
    let mut secrets = serde_json::Map::new();
    for name in ["res", "adm"] {
        secrets.insert(name.into(), enrol_totp(&db, name).into());
    }

    let server = Server::start(&db);

    let shots = screenshots();
    let _ = std::fs::remove_dir_all(&shots);
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests");
    let script = tests.join("e2e_check.py");
    // axe-core from npm (scripts/test installs tests/e2e's package-lock.json).
    let axe = tests.join("e2e/node_modules/axe-core/axe.min.js");
    assert!(
        axe.exists(),
        "{} is missing: run `npm ci --prefix tests/e2e` (scripts/test does)",
        axe.display()
    );
    let run = Command::new("python3")
        .arg(&script)
        .args([
            &server.url,
            "j1-0003",
            "j1-0004",
            PASSWORD,
            shots.to_str().unwrap(),
            axe.to_str().unwrap(),
        ])
        .env(
            "E2E_TOTP_SECRETS",
            serde_json::Value::Object(secrets).to_string(),
        )
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
    // Every page at both widths, and the quick entry as it was tapped.
    let mut names = vec!["03-family-quick-entry-390".to_string()];
    for page in [
        "01-sign-in",
        "02-family-journeys",
        "04-family-saved-day",
        "05-family-return-to-use",
        "06-family-form-problem",
        "07-family-retract-confirm",
        "08-family-wellbeing",
        "08-family-devices",
        "09-not-found",
        "10-counselor-families",
        "11-counselor-report",
        "12-counselor-cohort",
        "13-researcher",
        "14-admin",
    ] {
        names.push(format!("{page}-390"));
        names.push(format!("{page}-1366"));
    }
    for name in names.iter().map(|n| format!("{n}.png")) {
        let bytes = std::fs::read(shots.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000,
            "{name} is a real screenshot"
        );
    }
    let today = sqlx_count(
        &db,
        r#"SELECT count(*) FROM entries WHERE "on" = current_date"#,
    )
    .await;
    // The typical day (3), the use after detox (1) and the wellbeing check-in (1).
    assert_eq!(today, 5, "today's entries");
    let sealed = sqlx_count(
        &db,
        r#"SELECT count(*) FROM entries WHERE "on" = current_date AND "by" LIKE 'sealed:v1:%'"#,
    )
    .await;
    assert_eq!(sealed, 5, "the family member's handle is stored sealed");
}
