//! The staff's pages in the web app: the counselor's "Who needs attention", the reports'
//! way back into the app and the cohort's links to each family, and the admin's
//! assignments saying what changed.

mod common;
mod webkit;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
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
