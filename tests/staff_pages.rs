//! The staff's pages in the web app: the counselor's "Who needs attention", the reports'
//! way back into the app, their periods and PDFs, and the cohort's links to each family;
//! the researcher's preview and zip download; the admin's assignments saying what changed.

use crate::{common, webkit};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::Utc;
use common::*;
use serde_json::json;
use tower::ServiceExt;
use webkit::*;

#[tokio::test]
async fn a_counselor_sees_first_the_family_that_needs_them_with_its_reasons() {
    let app = app().await;
    // The counselor follows a second family, whose Loved One used the day after detox.
    journey_postgres::accounts::assign(&app.db.pool, "coun", OTHER)
        .await
        .unwrap()
        .unwrap();
    let today = chrono::Local::now().date_naive();
    let day = |back: u64| (today - chrono::Days::new(back)).to_string();
    // The fixture's outpatient episode ends; a detox stay begins and ends; use the day after.
    for line in [
        json!({"journey": OTHER, "type": "treatment_exited", "on": day(10), "reason": "completed"}),
        json!({"journey": OTHER, "type": "treatment_entered", "on": day(6), "modality": "detox"}),
        json!({"journey": OTHER, "type": "treatment_exited", "on": day(2), "reason": "completed"}),
        json!({"journey": OTHER, "type": "use_observed", "on": day(1)}),
    ] {
        let out = journey(&app.db, &["record", &line.to_string()]);
        assert!(out.status.success(), "{line}: {}", stderr(&out));
    }
    let mut coun = Client::signed_in(&app, "coun").await;
    let page = coun.get(&app, "/journeys").await;
    assert_eq!(page.status, StatusCode::OK);
    let first = page
        .body
        .find(&format!("<td class=\"key\">{OTHER}"))
        .expect("the family listed");
    let second = page
        .body
        .find(&format!("<td class=\"key\">{OWN}"))
        .expect("the other listed");
    assert!(
        first < second,
        "the family with use after detox comes first"
    );
    assert!(page
        .body
        .contains("Use after leaving detox or residential care, in the last 14 days"));
    // Sorted by journey on request.
    let by_key = coun.get(&app, "/journeys?sort=key").await;
    let own_at = by_key
        .body
        .find(&format!("<td class=\"key\">{OWN}"))
        .unwrap();
    let other_at = by_key
        .body
        .find(&format!("<td class=\"key\">{OTHER}"))
        .unwrap();
    assert!(own_at < other_at, "j1-0000 before j1-0001");
}

#[tokio::test]
async fn assign_and_remove_say_what_changed_or_that_nothing_did() {
    let app = app().await;
    let mut adm = Client::signed_in(&app, "adm").await;
    let assign = |remove: bool| {
        let mut fields = vec![("username", "fam2"), ("journey", OTHER)];
        if remove {
            fields.push(("remove", "1"));
        }
        fields
    };
    let mut said = Vec::new();
    for remove in [false, false, true, true] {
        let reply = adm.form(&app, "/admin/assign", &assign(remove)).await;
        let page = follow(&app, &mut adm, &reply).await;
        let at = page.body.find("role=\"status\">").expect("a notice");
        said.push(
            page.body[at + 14..]
                .split("</p>")
                .next()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        said,
        [
            format!("fam2 may now see journey {OTHER}."),
            format!("Nothing changed: fam2 could already see journey {OTHER}."),
            format!("fam2 can no longer see journey {OTHER}."),
            format!("Nothing changed: fam2 could not see journey {OTHER}."),
        ]
    );
    // The command says the same.
    let again = journey(&app.db, &["user", "assign", "fam", "--journey", OWN]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("nothing changed"),
        "{}",
        stdout(&again)
    );
}

#[tokio::test]
async fn the_reports_lead_back_to_the_app_and_the_cohort_rows_to_each_family() {
    let app = app().await;
    let mut coun = Client::signed_in(&app, "coun").await;
    let report = coun.get(&app, &format!("/journeys/{OWN}/report")).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(
        report
            .body
            .replace("&#x2f;", "/")
            .contains(r#"<a href="/journeys">← Back to the app</a>"#),
        "{}",
        report.body
    );
    let cohort = coun.get(&app, "/cohort/report").await;
    assert!(cohort
        .body
        .contains(&format!(r#"<a href="/journeys/{OWN}/report">{OWN}</a>"#)));
    assert!(cohort
        .body
        .replace("&#x2f;", "/")
        .contains("← Back to your families"));
    let mut fam = Client::signed_in(&app, "fam").await;
    let theirs = fam.get(&app, &format!("/journeys/{OWN}/report")).await;
    assert!(theirs.body.replace("&#x2f;", "/").contains(&format!(
        r#"<a href="/journeys/{OWN}">← Back to the app</a>"#
    )));
    // A report written to a file has no link into the app.
    let out = TestDb::scratch_dir("report-file");
    let run = journey(
        &app.db,
        &["report", "--journey", OWN, "--out", out.to_str().unwrap()],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let file = std::fs::read_dir(out.join(OWN))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(!std::fs::read_to_string(file)
        .unwrap()
        .contains("Back to the app"));
}

#[tokio::test]
async fn a_researcher_sees_what_an_export_would_hold_before_making_it() {
    let app = app().await;
    let mut res = Client::signed_in(&app, "res").await;
    let page = res.get(&app, "/research").await;
    assert!(
        page.body.contains("At k = 5, the export holds 0 journeys"),
        "{}",
        page.body
    );
    assert!(page.body.contains("No export has been made yet"));
    for key in ["j1-0000", "j1-0001", "j1-0002"] {
        let run = journey(&app.db, &["consent", "--journey", key, "grant"]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let page = res.get(&app, "/research?k=5").await;
    assert!(
        page.body.contains("At k = 5, the export holds 3 journeys; 3 of them would have relationship and substances suppressed"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Every subject would be suppressed"));
    let open = res.get(&app, "/research?k=1").await;
    assert!(
        open.body
            .contains("At k = 1, the export holds 3 journeys.</strong>"),
        "{}",
        open.body
    );
    let bad = res.get(&app, "/research?k=lots").await;
    assert!(
        bad.body
            .contains("k is a whole number of at least 1; \"lots\" is not")
            || bad.body.contains("&quot;lots&quot; is not"),
        "{}",
        bad.body
    );
    // After an export, its project name is listed with what a name means for pseudonyms.
    let exported = res
        .form(
            &app,
            "/research/export",
            &[("project", "study-one"), ("min_cell", "1")],
        )
        .await;
    assert_eq!(
        exported.status,
        StatusCode::OK,
        "{}",
        &exported.body[..exported.body.len().min(300)]
    );
    let page = res.get(&app, "/research").await;
    assert!(
        page.body.contains("<strong>study-one</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("a new name gives new ones"));
    // Families and counselors do not see the preview.
    let mut coun = Client::signed_in(&app, "coun").await;
    assert_ne!(coun.get(&app, "/research").await.status, StatusCode::OK);
}

/// What tests/pdf_check.py (pypdf) reads in `pdf`: its title, each page's size and text.
fn read_pdf(pdf: &[u8]) -> serde_json::Value {
    let path = file_with(pdf);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pdf_check.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&path)
        .output()
        .expect("python3 runs (pip install pypdf; .ci/run does)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_counselor_reads_a_period_of_a_report_and_downloads_it_as_a_pdf() {
    let app = app().await;
    let mut coun = Client::signed_in(&app, "coun").await;
    let period = "from=2025-09-01&to=2025-11-30";
    let page = coun
        .get(&app, &format!("/journeys/{OWN}/report?{period}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = page.body.replace("&#x2f;", "/");
    assert!(
        body.contains("This report shows 2025-09-01 to 2025-11-30"),
        "{body}"
    );
    assert!(body.contains("Weeks from 2025-09-01 to 2025-11-30"));
    assert!(
        !body.contains(r#"<td class="day">2024-"#),
        "no week before the period"
    );
    assert!(body.contains(&format!(
        "/journeys/{OWN}/report.pdf?from=2025-09-01&amp;to=2025-11-30&amp;paper=letter"
    )));
    assert!(body.contains(r#"<input type="date" id="from" name="from" value="2025-09-01""#));

    for (paper, width, height) in [("a4", 595.3, 841.9), ("letter", 612.0, 792.0)] {
        let reply = coun
            .get(
                &app,
                &format!("/journeys/{OWN}/report.pdf?{period}&paper={paper}"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/pdf");
        let disposition = reply.headers["content-disposition"].to_str().unwrap();
        assert_eq!(
            disposition,
            format!(
                "attachment; filename=\"progress-report-{OWN}-2025-09-01-2025-11-30-{paper}.pdf\""
            )
        );
        assert!(reply.bytes.starts_with(b"%PDF-"));
        let read = read_pdf(&reply.bytes);
        let pages = read["pages"].as_array().unwrap();
        assert!(pages.len() >= 2, "{read}");
        for p in pages {
            assert_eq!(
                (p["width"].as_f64().unwrap(), p["height"].as_f64().unwrap()),
                (width, height)
            );
        }
        let text: String = pages.iter().map(|p| p["text"].as_str().unwrap()).collect();
        for said in [
            &format!("Progress report: {OWN}") as &str,
            "This report shows 2025-09-01 to 2025-11-30",
            "Day by day",
            "Weeks from 2025-09-01 to 2025-11-30",
            "Reading these numbers",
            "page 1 of",
        ] {
            assert!(
                text.contains(said),
                "{said:?} not in the PDF's text: {text}"
            );
        }
        // The four charts are there, drawn as vectors with their own text (titles, labels).
        for chart in [
            "Day by day: what was seen",
            "Sep 2025",
            "Days without use per week",
            "CRAFT practice per week",
            "Practice and the following week",
        ] {
            assert!(
                text.contains(chart),
                "{chart:?} not in the PDF's text: {text}"
            );
        }
        assert!(
            !text.contains("Aug 2025"),
            "the calendar starts with the period"
        );
        assert_eq!(read["title"], format!("Progress report: {OWN}"));
    }

    // What the period cannot be, said by field; a journey not theirs is not found.
    for (query, field, why) in [
        (
            "from=2025-12-01&to=2025-11-30",
            "from",
            "after the last day",
        ),
        ("to=2099-01-01", "to", "after today"),
        ("from=1.9.2025", "from", "not a day"),
        ("paper=a5", "paper", "a4 or letter"),
    ] {
        let reply = coun
            .get(&app, &format!("/journeys/{OWN}/report.pdf?{query}"))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            reply.body.contains(why) && reply.body.contains(field),
            "{query}: {}",
            reply.body
        );
    }
    assert_eq!(
        coun.get(&app, &format!("/journeys/{OTHER}/report.pdf"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Reads are written to the audit log in batches, moments later.
    let mut audited = 0;
    for _ in 0..100 {
        audited = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM audit_log WHERE actor = 'coun' AND action = 'read_report'
                AND detail->>'what' = 'progress report pdf'",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if audited >= 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        audited,
        2 + 4,
        "each PDF, and each refused period, is a read of the report"
    );
}

#[tokio::test]
async fn a_researcher_downloads_the_anonymized_export_as_a_zip() {
    let app = app().await;
    let recorder =
        journey_postgres::store::Recorder::new(app.db.pool.clone(), app.db.master.clone());
    for i in 0..6 {
        recorder
            .consent(
                &format!("j1-000{i}"),
                true,
                "v1",
                Utc::now(),
                Default::default(),
            )
            .await
            .unwrap();
    }
    journey_postgres::projector::catch_up(&app.db.pool)
        .await
        .unwrap();
    let mut res = Client::signed_in(&app, "res").await;
    let page = res.get(&app, "/research").await;
    assert!(
        page.body.contains("6 journeys have research consent"),
        "{}",
        page.body
    );
    let bad = res
        .form(
            &app,
            "/research/export",
            &[("project", "no spaces allowed"), ("min_cell", "5")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("project"));

    // The body is binary: fetch it without the text client.
    let body = serde_urlencoded::to_string([
        ("project", "study-a"),
        ("min_cell", "2"),
        ("csrf", res.csrf.as_deref().unwrap()),
    ])
    .unwrap();
    let response = app
        .router
        .clone()
        .oneshot(
            Request::post("/research/export")
                .header(header::COOKIE, res.cookie.as_deref().unwrap())
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/zip");
    assert!(response.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("journey-research-study-a.zip"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("a file name").to_string())
        .collect();
    for expected in [
        "manifest.json",
        "datapackage.json",
        "README.md",
        "subjects/part-00000.parquet",
        "days.csv",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let mut subjects = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("subjects.csv").unwrap(), &mut subjects)
        .unwrap();
    assert_eq!(
        subjects.lines().count(),
        1 + 6,
        "a header and the 6 consented journeys"
    );
    assert!(!subjects.contains("j1-000"), "no journey key in the export");
    let audited = sqlx_count(
        &app.db,
        "SELECT count(*) FROM audit_log WHERE actor = 'res' AND detail::text LIKE '%study-a%'",
    )
    .await;
    assert_eq!(audited, 1, "the export is in the audit log");
    // Nobody else may export.
    let mut fam = Client::signed_in(&app, "fam").await;
    let refused = fam
        .form(&app, "/research/export", &[("project", "study-a")])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}
