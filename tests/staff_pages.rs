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
