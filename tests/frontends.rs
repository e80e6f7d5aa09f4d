//! The CLI, the pages and the API are frontends of the same journey-app use cases: a write
//! through each is recorded the same way and leaves an audit row of the same shape.

use crate::{common, webkit};

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
              ORDER BY e.sequence) t"
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
    api.api_sign_in(&app, json!({"username": "fam", "password": PASSWORD}))
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
    // An unpaired surrogate (no character at all) is bad text in its field too, not bad
    // JSON: serde_json alone would refuse the body without naming the field.
    let lone = format!(r#"{{"type": "note", "on": "{day}", "text": "calm \ud83d"}}"#);
    let posted = api
        .send(
            &app,
            axum::http::Method::POST,
            &format!("/api/v1/journeys/{OWN}/entries"),
            Some("application/json"),
            lone,
            &[],
        )
        .await;
    assert_eq!(posted.status.as_u16(), 422, "{}", posted.body);
    assert_eq!(posted.json()["field"], "text", "{}", posted.body);
    assert!(
        posted.body.contains("unpaired surrogate"),
        "{}",
        posted.body
    );
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

#[tokio::test]
async fn an_unknown_api_route_or_method_is_answered_in_the_apis_json() {
    let app = app().await;
    let mut api = api_client(&app).await;
    let unknown = api.get(&app, "/api/v1/no-such-thing").await;
    assert_eq!(unknown.status.as_u16(), 404, "{}", unknown.body);
    assert_eq!(unknown.json()["error"], "not_found", "{}", unknown.body);
    let wrong = api
        .send(
            &app,
            axum::http::Method::PUT,
            &format!("/api/v1/journeys/{OWN}/entries"),
            Some("application/json"),
            "{}".into(),
            &[],
        )
        .await;
    assert_eq!(wrong.status.as_u16(), 405, "{}", wrong.body);
    assert_eq!(
        wrong.json()["error"],
        "method_not_allowed",
        "{}",
        wrong.body
    );
    assert!(wrong.headers.contains_key("allow"), "{:?}", wrong.headers);
    // A page that does not exist is a page that says so.
    let page = api.get(&app, "/no-such-page").await;
    assert_eq!(page.status.as_u16(), 404);
    assert!(
        page.body.contains("<html") && page.body.to_lowercase().contains("not found"),
        "{}",
        page.body
    );
}
