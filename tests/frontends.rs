//! The CLI, the pages and the API are frontends of the same journey-app use cases: a write
//! through each is recorded the same way and leaves an audit row of the same shape.

mod common;
mod webkit;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};
use webkit::*;

/// A client signed in to the API as the family member `fam`.
async fn api_client(app: &App) -> Client {
    let mut api = Client::default();
    let signed = api
        .post_json(
            app,
            "/api/v1/session",
            json!({"username": "fam", "password": PASSWORD}),
            &[],
        )
        .await;
    assert_eq!(signed.status.as_u16(), 200, "{}", signed.body);
    api
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_write_from_each_frontend_leaves_the_same_audit_row_shape() {
    let app = app().await;
    let day = chrono::Local::now().date_naive().to_string();
    // The page's quick entry.
    let mut fam = Client::signed_in(&app, "fam").await;
    let page = fam
        .form(
            &app,
            &format!("/journeys/{OWN}/entries"),
            &[("on", &day), ("saw", "no_use")],
        )
        .await;
    assert_eq!(page.status.as_u16(), 303, "{}", page.body);
    // The API.
    let mut api = api_client(&app).await;
    let posted = api
        .post_json(
            &app,
            &format!("/api/v1/journeys/{OWN}/entries"),
            json!({"type": "reward_given", "on": day}),
            &[],
        )
        .await;
    assert_eq!(posted.status.as_u16(), 201, "{}", posted.body);
    // The command.
    let line = json!({"journey": OWN, "type": "stepped_away", "on": day}).to_string();
    let out = journey(&app.db, &["record", &line]);
    assert!(out.status.success(), "{}", stderr(&out));

    let rows = journey_postgres::testing::json_rows(
        &app.db.pool,
        &format!(
            "SELECT to_jsonb(t) FROM (SELECT a.actor, a.action, a.journey_id, a.detail
               FROM audit_log a JOIN journey_keys k USING (journey_id)
              WHERE k.key = '{OWN}' AND a.action = 'write' ORDER BY a.id) t"
        ),
    )
    .await;
    let via: Vec<&str> = rows
        .iter()
        .map(|r| r["detail"]["via"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(via, ["web", "api", "cli"], "{rows:?}");
    for row in &rows {
        assert_eq!(keys(row), keys(&rows[0]), "{rows:?}");
        assert_eq!(keys(&row["detail"]), ["via", "what"], "{row}");
        assert!(row["journey_id"].is_string(), "{row}");
    }
    assert_eq!(rows[0]["actor"], "fam");
    assert_eq!(rows[1]["actor"], "fam");
    // The three entries are stored alike, each once, with the frontend it came through.
    let stored = journey_postgres::testing::json_rows(
        &app.db.pool,
        &format!(
            "SELECT to_jsonb(t) FROM (SELECT e.metadata->>'via' AS via, e.event_type
               FROM events e JOIN journey_keys k ON k.journey_id = e.aggregate_id
              WHERE k.key = '{OWN}' AND e.metadata->>'via' IN ('web', 'api', 'cli')
              ORDER BY e.global_position) t"
        ),
    )
    .await;
    assert_eq!(stored.len(), 3, "{stored:?}");
    let stored: Vec<(&str, &str)> = stored
        .iter()
        .map(|r| {
            (
                r["via"].as_str().unwrap_or("?"),
                r["event_type"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        stored,
        [
            ("web", "CleanDayObserved"),
            ("api", "RewardGiven"),
            ("cli", "SteppedAway")
        ]
    );
}

#[tokio::test]
async fn a_nul_character_is_bad_input_from_every_frontend_never_an_outage() {
    let app = app().await;
    let day = chrono::Local::now().date_naive().to_string();
    let mut api = Client::default();
    api.post_json(
        &app,
        "/api/v1/session",
        json!({"username": "fam", "password": PASSWORD}),
        &[],
    )
    .await;
    let posted = api
        .post_json(
            &app,
            &format!("/api/v1/journeys/{OWN}/entries"),
            json!({"type": "note", "on": day, "text": "calm\u{0}"}),
            &[],
        )
        .await;
    assert_eq!(posted.status.as_u16(), 422, "{}", posted.body);
    assert_eq!(posted.json()["field"], "text", "{}", posted.body);
    let listed = api
        .get(&app, &format!("/api/v1/journeys/{OWN}%00/entries"))
        .await;
    assert_eq!(listed.status.as_u16(), 404, "{}", listed.body);
    let line = json!({"journey": OWN, "type": "note", "on": day, "text": "x\u{0}"}).to_string();
    let out = journey(&app.db, &["record", &line]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("text: "), "{}", stderr(&out));
}

#[tokio::test]
async fn a_broken_rule_names_the_field_it_is_about() {
    let app = app().await;
    let mut api = api_client(&app).await;
    let future = (chrono::Local::now().date_naive() + chrono::Days::new(5)).to_string();
    for (body, field) in [
        (json!({"type": "reward_given", "on": future}), "on"),
        (
            json!({"type": "retract", "target": "no-such-entry"}),
            "target",
        ),
    ] {
        let reply = api
            .post_json(
                &app,
                &format!("/api/v1/journeys/{OWN}/entries"),
                body.clone(),
                &[],
            )
            .await;
        assert_eq!(reply.status.as_u16(), 422, "{body}: {}", reply.body);
        assert_eq!(reply.json()["field"], field, "{body}: {}", reply.body);
    }
    // The command names it too.
    let line = json!({"journey": OWN, "type": "reward_given", "on": future}).to_string();
    let out = journey(&app.db, &["record", &line]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("on: day"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_in_the_apis_json() {
    let app = app().await;
    let mut api = api_client(&app).await;
    let huge = "x".repeat(3 << 20);
    let reply = api
        .post_json(
            &app,
            &format!("/api/v1/journeys/{OWN}/entries"),
            json!({"type": "note", "on": "2025-03-10", "text": huge}),
            &[],
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        413,
        "{}",
        &reply.body[..200.min(reply.body.len())]
    );
    assert_eq!(reply.json()["error"], "too_large", "{}", reply.body);
}

/// The page at a redirect's target.
async fn follow(app: &App, client: &mut Client, reply: &Reply) -> Reply {
    assert_eq!(reply.status.as_u16(), 303, "{}", reply.body);
    let to = reply.location().split('#').next().unwrap().to_string();
    client.get(app, &to).await
}

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
    let rows: [(&str, String, [u16; 5]); 4] = [
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
