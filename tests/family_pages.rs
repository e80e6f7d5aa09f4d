//! The family's pages in the web app: the day read back with the family's disagreement and
//! the care text, a form kept as typed, retract and withdrawal asking first, the research
//! decision, the member's own WHO-5 check-in, the access rules of these pages, and
//! "Remember this device".

use crate::{common, webkit};

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};
use webkit::*;

#[tokio::test]
async fn a_saved_day_is_read_back_with_the_familys_disagreement_and_the_care_text() {
    let app = app().await;
    let day = chrono::Local::now().date_naive().to_string();
    let entries = format!("/journeys/{OWN}/entries");
    let mut fam = Client::signed_in(&app, "fam").await;
    let saved = fam
        .form(
            &app,
            &entries,
            &[
                ("saw", "no_use"),
                ("reward_given", "on"),
                ("channel", "text"),
            ],
        )
        .await;
    let page = follow(&app, &mut fam, &saved).await;
    assert!(
        page.body
            .contains(&format!("Here is {day} as your family recorded it")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Positive message: text"),
        "a detail saves its action"
    );
    assert!(!page.body.contains("disagree"));
    assert!(!page.body.contains("A return to use is not square one"));
    // A second member records use on the same day: both are told, and the care text shows.
    let mut fam2 = Client::signed_in(&app, "fam2").await;
    let saved = fam2
        .form(&app, &entries, &[("on", &day), ("saw", "use")])
        .await;
    let page = follow(&app, &mut fam2, &saved).await;
    assert!(
        page.body.contains(&format!(
            "disagree about {day}: fam2 recorded use, fam recorded no use"
        )),
        "{}",
        page.body
    );
    for words in [
        "A return to use is not square one",
        "days without use",
        "overdose",
        "naloxone",
        "local emergency number",
        "asks for nothing but a sign of life",
    ] {
        assert!(page.body.contains(words), "{words}");
    }
    // A form that cannot be saved is shown again as typed, the problem next to its field.
    let before = sqlx_count(&app.db, "SELECT count(*) FROM entries").await;
    let kept = fam
        .form(
            &app,
            &entries,
            &[
                ("saw", "use"),
                ("minutes", "5000"),
                ("note", "kept as typed"),
            ],
        )
        .await;
    assert_eq!(kept.status.as_u16(), 422);
    assert!(
        kept.body.contains("id=\"problem-minutes\""),
        "{}",
        kept.body
    );
    assert!(kept.body.contains(">kept as typed</textarea>"));
    assert!(kept.body.contains("value=\"use\" checked"));
    assert!(
        kept.body.contains("Record a day"),
        "the whole page, not an error page"
    );
    // A rule of the journey, in plain words: an end of treatment with none going on.
    let refused = fam
        .form(
            &app,
            &entries,
            &[
                ("saw", "no_use"),
                ("treatment", "exited"),
                ("exit_reason", "completed"),
            ],
        )
        .await;
    assert_eq!(refused.status.as_u16(), 422);
    assert!(
        refused
            .body
            .contains("No treatment is recorded as going on"),
        "{}",
        refused.body
    );
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        before,
        "nothing half stored"
    );
}

#[tokio::test]
async fn retracting_and_withdrawing_ask_first_and_consent_shows_the_decision() {
    let app = app().await;
    let mut fam = Client::signed_in(&app, "fam").await;
    let entry: String = sqlx::query_scalar(
        "SELECT e.entry FROM entries e JOIN journey_keys k USING (journey_id)
          WHERE k.key = $1 AND e.type = 'use_observed' AND NOT e.retracted LIMIT 1",
    )
    .bind(OWN)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let action = format!("/journeys/{OWN}/entries/{entry}/retract");
    let asked = fam.get(&app, &action).await;
    assert_eq!(asked.status.as_u16(), 200, "{}", asked.body);
    assert!(asked.body.contains("will be marked as entered by mistake"));
    assert!(asked.body.contains("Saw use"));
    let retracted = "SELECT count(*) FROM entries WHERE retracted";
    let before = sqlx_count(&app.db, retracted).await;
    let done = fam.form(&app, &action, &[]).await;
    assert_eq!(done.status.as_u16(), 303);
    assert_eq!(sqlx_count(&app.db, retracted).await, before + 1);

    let consent = format!("/journeys/{OWN}/consent");
    let timeline = format!("/journeys/{OWN}");
    assert!(fam
        .get(&app, &timeline)
        .await
        .body
        .contains("You have not decided yet"));
    let granted = fam.form(&app, &consent, &[("decision", "grant")]).await;
    let page = follow(&app, &mut fam, &granted).await;
    assert!(page.body.contains("You agreed on"), "{}", page.body);
    let asked = fam.form(&app, &consent, &[("decision", "withdraw")]).await;
    assert_eq!(asked.status.as_u16(), 200);
    assert!(asked.body.contains("Withdraw from research?"));
    let still: bool = sqlx::query_scalar("SELECT granted FROM research_consent")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(still, "asking changes nothing");
    let withdrawn = fam
        .form(
            &app,
            &consent,
            &[("decision", "withdraw"), ("confirm", "yes")],
        )
        .await;
    let page = follow(&app, &mut fam, &withdrawn).await;
    assert!(page.body.contains("You said no on"), "{}", page.body);
}

#[tokio::test]
async fn a_wellbeing_check_in_is_the_members_own_and_is_charted() {
    let app = app().await;
    let page = format!("/journeys/{OWN}/wellbeing");
    let mut fam = Client::signed_in(&app, "fam").await;
    let stored = "SELECT count(*) FROM entries WHERE type = 'wellbeing_checked'";
    let open = fam
        .form(
            &app,
            &page,
            &[("q1", "2"), ("q2", "2"), ("q4", "2"), ("q5", "2")],
        )
        .await;
    assert_eq!(open.status.as_u16(), 422);
    assert!(open.body.contains("still open: 3"), "{}", open.body);
    assert!(
        open.body.contains("name=\"q1\" value=\"2\" checked"),
        "kept as answered"
    );
    assert_eq!(sqlx_count(&app.db, stored).await, 0);
    // An earlier check-in of 80, then today's of 40: low, and a real change.
    let earlier = (chrono::Local::now().date_naive() - chrono::Days::new(14)).to_string();
    let line = json!({"journey": OWN, "type": "wellbeing_checked", "on": earlier, "by": "fam", "who5": [4, 4, 4, 4, 4]});
    assert!(journey(&app.db, &["record", &line.to_string()])
        .status
        .success());
    let answers: Vec<(String, &str)> = (1..=5).map(|i| (format!("q{i}"), "2")).collect();
    let fields: Vec<(&str, &str)> = answers.iter().map(|(q, v)| (q.as_str(), *v)).collect();
    let saved = fam.form(&app, &page, &fields).await;
    let shown = follow(&app, &mut fam, &saved).await;
    for words in [
        "Your latest check-in: 40 of 100",
        "low wellbeing",
        "a real change since your last check-in: down 40 points",
        "not a diagnosis",
        "<svg",
    ] {
        assert!(shown.body.contains(words), "{words}: {}", shown.body);
    }
    let by: Vec<Value> = journey_postgres::testing::json_rows(
        &app.db.pool,
        "SELECT to_jsonb(e.fields) FROM entries e WHERE e.type = 'wellbeing_checked' ORDER BY e.\"on\"",
    )
    .await;
    assert_eq!(by[1]["who5"], json!([2, 2, 2, 2, 2]));
    // The family's list names the check-in, never its score.
    let listed = fam.get(&app, &format!("/journeys/{OWN}")).await;
    assert!(
        listed.body.contains("Wellbeing check-in"),
        "{}",
        listed.body
    );
    // Another member sees only their own line.
    let mut fam2 = Client::signed_in(&app, "fam2").await;
    let theirs = fam2.get(&app, &page).await;
    assert!(
        !theirs.body.contains("Your latest check-in"),
        "{}",
        theirs.body
    );
    // The metrics: the week of today's check-in has the family's mean wellbeing.
    let metrics = fam
        .get(&app, &format!("/api/v1/journeys/{OWN}/metrics"))
        .await
        .json();
    let weeks = metrics["weeks"]
        .as_array()
        .or(metrics["journeys"][0]["weeks"].as_array())
        .unwrap()
        .clone();
    assert_eq!(weeks.last().unwrap()["wellbeing"], json!(40.0), "{metrics}");
}

#[tokio::test]
async fn the_family_pages_answer_each_role_as_the_access_rules_say() {
    let app = app().await;
    let mut clients = vec![("anonymous", Client::default())];
    for user in ["fam", "coun", "res", "adm"] {
        clients.push((user, Client::signed_in(&app, user).await));
    }
    clients[0].1.get(&app, "/login").await;
    let entry: String = sqlx::query_scalar(
        "SELECT e.entry FROM entries e JOIN journey_keys k USING (journey_id) WHERE k.key = $1 LIMIT 1 OFFSET 3",
    )
    .bind(OWN)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let answers: Vec<(String, String)> = (1..=5)
        .map(|i| (format!("q{i}"), "3".to_string()))
        .collect();
    // [anonymous, family, counselor, researcher, admin]
    let rows: [(&str, String, [u16; 5]); 5] = [
        ("GET", "/devices".to_string(), [303, 200, 200, 200, 200]),
        (
            "GET",
            format!("/journeys/{OWN}/wellbeing"),
            [303, 200, 303, 404, 404],
        ),
        (
            "GET",
            format!("/journeys/{OTHER}/wellbeing"),
            [303, 404, 404, 404, 404],
        ),
        (
            "POST",
            format!("/journeys/{OWN}/wellbeing"),
            [303, 303, 403, 404, 404],
        ),
        (
            "GET",
            format!("/journeys/{OWN}/entries/{entry}/retract"),
            [303, 200, 403, 404, 404],
        ),
    ];
    let mut failures = Vec::new();
    for (method, uri, expected) in &rows {
        for (i, (user, client)) in clients.iter_mut().enumerate() {
            let reply = if *method == "GET" {
                client.get(&app, uri).await
            } else {
                let fields: Vec<(&str, &str)> = answers
                    .iter()
                    .map(|(q, v)| (q.as_str(), v.as_str()))
                    .collect();
                client.form(&app, uri, &fields).await
            };
            if reply.status.as_u16() != expected[i] {
                failures.push(format!(
                    "{method} {uri} as {user}: {} expected {}",
                    reply.status, expected[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn retracting_an_entry_keeps_it_in_the_history() {
    let app = app().await;
    let mut fam = Client::signed_in(&app, "fam").await;
    let day = chrono::Local::now().date_naive().to_string();
    fam.form(
        &app,
        &format!("/journeys/{OWN}/entries"),
        &[("on", &day), ("saw", "use")],
    )
    .await;
    let entry: String = sqlx::query_scalar(
        r#"SELECT e.entry FROM entries e JOIN journey_keys k USING (journey_id)
            WHERE k.key = $1 AND e."on" = current_date AND e.type = 'use_observed'"#,
    )
    .bind(OWN)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let page = fam.get(&app, &format!("/journeys/{OWN}")).await;
    let action = format!("/journeys/{OWN}/entries/{entry}/retract");
    assert!(
        page.body.contains(&action),
        "a retract button for the entry"
    );
    let reply = fam.form(&app, &action, &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let page = fam.get(&app, &format!("/journeys/{OWN}")).await;
    assert!(page.body.contains("(entered by mistake)"));
    assert!(!page.body.contains(&action), "no second retract");
    let retracted: bool = sqlx::query_scalar("SELECT retracted FROM entries WHERE entry = $1")
        .bind(&entry)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(retracted);
    // Retracting again is refused by the journey's rules, with the reason.
    let again = fam.form(&app, &action, &[]).await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.body
    );
}

/// The `journey_device` cookie a reply sets, if any (its whole `Set-Cookie` value).
fn device_cookie(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("journey_device="))
        .map(str::to_string)
}

/// Signs `username` in on a fresh client, with "Remember this device" ticked.
async fn sign_in_remembered(app: &App, username: &str) -> (Client, Reply) {
    let mut client = Client::default();
    client.get(app, "/login").await;
    let reply = client
        .form(
            app,
            "/login",
            &[
                ("username", username),
                ("password", PASSWORD),
                ("remember", "on"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    (client, reply)
}

#[tokio::test]
async fn a_remembered_device_signs_the_family_member_in_until_it_is_forgotten() {
    let app = app().await;
    let (_, reply) = sign_in_remembered(&app, "fam").await;
    let set = device_cookie(&reply).expect("the device cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=2592000", "Path=/"] {
        assert!(set.contains(part), "{part}: {set}");
    }
    let pair = set.split(';').next().unwrap().to_string();
    let stored = "SELECT count(*) FROM remembered_devices";
    assert_eq!(sqlx_count(&app.db, stored).await, 1);
    let token = pair.split_once('=').unwrap().1.to_string();
    let digest = format!(
        "SELECT count(*) FROM remembered_devices WHERE token_sha256 = sha256(convert_to('{token}', 'UTF8'))"
    );
    assert_eq!(
        sqlx_count(&app.db, &digest).await,
        1,
        "only the token's SHA-256 is stored"
    );
    // The next morning: no session, only the device's cookie.
    let mut phone = Client {
        cookie: Some(pair.clone()),
        csrf: None,
    };
    let timeline = phone.get(&app, &format!("/journeys/{OWN}")).await;
    assert_eq!(timeline.status, StatusCode::OK, "signed in by the device");
    assert!(timeline.body.contains("Record a day"));
    // A wrong or unknown token signs nobody in.
    let mut stranger = Client {
        cookie: Some(format!("journey_device={}", "ab".repeat(32))),
        csrf: None,
    };
    assert_eq!(
        stranger.get(&app, &format!("/journeys/{OWN}")).await.status,
        StatusCode::SEE_OTHER
    );
    // The member lists and forgets it; the cookie then signs nobody in.
    let mut fam = Client::signed_in(&app, "fam").await;
    let list = fam.get(&app, "/devices").await;
    assert!(list.body.contains("Forget this device"), "{}", list.body);
    let id: String = sqlx::query_scalar("SELECT device_id::text FROM remembered_devices")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let forgot = fam.form(&app, &format!("/devices/{id}/forget"), &[]).await;
    assert_eq!(forgot.status, StatusCode::SEE_OTHER);
    assert_eq!(sqlx_count(&app.db, stored).await, 0);
    let mut phone = Client {
        cookie: Some(pair),
        csrf: None,
    };
    assert_eq!(
        phone.get(&app, &format!("/journeys/{OWN}")).await.status,
        StatusCode::SEE_OTHER
    );
    // Signing out on a remembered device forgets it.
    let (_, reply) = sign_in_remembered(&app, "fam").await;
    let pair = device_cookie(&reply)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut phone = Client {
        cookie: Some(pair.clone()),
        csrf: None,
    };
    phone.get(&app, "/journeys").await;
    let session = phone.cookie.clone().unwrap();
    phone.cookie = Some(format!("{session}; {pair}"));
    let out = phone.form(&app, "/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(
        sqlx_count(&app.db, stored).await,
        0,
        "signing out forgets the device"
    );
    // Staff accounts are never remembered.
    let (_, reply) = sign_in_remembered(&app, "coun").await;
    assert!(device_cookie(&reply).is_none());
    assert_eq!(sqlx_count(&app.db, stored).await, 0);
}

#[tokio::test]
async fn a_form_that_is_not_what_the_page_sends_is_answered_as_a_page_in_plain_words() {
    let app = app().await;
    let mut fam = Client::signed_in(&app, "fam").await;
    let reply = fam
        .send(
            &app,
            axum::http::Method::POST,
            &format!("/journeys/{OWN}/consent"),
            Some("application/x-www-form-urlencoded"),
            "decision=grant".into(),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.starts_with("<!doctype html>"), "{}", reply.body);
    assert!(
        reply.body.contains("the field &quot;csrf&quot; is missing")
            || reply.body.contains("the field \"csrf\" is missing"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("nothing was saved"));
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM research_consent").await,
        0
    );
}
