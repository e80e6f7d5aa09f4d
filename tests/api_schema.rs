//! schemathesis (PyPI) against `/api/v1/openapi.json` of `journey serve` (the built binary)
//! over a fresh database: every generated request, signed in as a family member, gets an
//! answer the document allows, and never a 500.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

const PASSWORD: &str = "schema password 1";

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let db = TestDb::fresh().await;
    let imported = journey(
        &db,
        &["import", fixture("sample-12.jsonl").to_str().unwrap()],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    // The journey key schemathesis is most likely to hit is not known to it: it also runs on
    // made-up keys (404s). Assign one so that some requests reach a journey.
    add_user(&db, "fam", "family", PASSWORD, Some("j1-0000"));

    let server = Server::start(&db);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/schemathesis_check.py");
    let run = Command::new("python3")
        .arg(&script)
        .args([&server.url, "fam", PASSWORD, "100"])
        .output()
        .expect("python3 runs");
    drop(server);
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    println!("{report}");
    assert!(run.status.success(), "{report}");
    assert!(report.contains("passed"), "{report}");
    assert!(!report.contains("Server error"), "{report}");
}
