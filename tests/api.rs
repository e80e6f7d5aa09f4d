//! The JSON API through `Router::oneshot` against a real database: errors as JSON naming
//! the field, an Idempotency-Key's retries, the security headers of every answer, the
//! OpenAPI document against the routes, and a 503 with Retry-After when the database is
//! unreachable.

use crate::{common, webkit};

use axum::http::{header, Method, StatusCode};
use common::*;
use serde_json::{json, Value};
use webkit::*;

fn today() -> String {
    chrono::Local::now().date_naive().to_string()
}

#[tokio::test]
async fn the_api_answers_errors_as_json_naming_the_field() {
    let app = app().await;
    let mut anonymous = Client::default();
    let reply = anonymous.get(&app, "/api/v1/journeys").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "unauthorized");

    let mut fam = Client::default();
    let me = fam
        .api_sign_in(&app, json!({ "username": "fam", "password": PASSWORD }))
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let uri = format!("/api/v1/journeys/{OWN}/entries");
    let before = sqlx_count(&app.db, "SELECT count(*) FROM entries").await;

    let bad_json = fam
        .send(
            &app,
            Method::POST,
            &uri,
            Some("application/json"),
            "{not json".into(),
            &[],
        )
        .await;
    assert_eq!(
        bad_json.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_json.body
    );
    assert_eq!(bad_json.json()["error"], "bad_request");
    let not_json = fam
        .send(
            &app,
            Method::POST,
            &uri,
            Some("text/plain"),
            "{}".into(),
            &[],
        )
        .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for (body, field) in [
        (json!({ "type": "bogus", "on": today() }), "type"),
        (json!({ "type": "self_care", "on": "2026-13-01" }), "on"),
        (
            json!({ "type": "self_care", "on": today(), "minutes": 5000 }),
            "minutes",
        ),
        (
            json!({ "type": "self_care", "on": today(), "by": "someone-else" }),
            "by",
        ),
        (
            json!({ "type": "self_care", "on": today(), "journey": OTHER }),
            "journey",
        ),
        (json!(["not", "an", "object"]), "body"),
    ] {
        let reply = fam.post_json(&app, &uri, body.clone(), &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.body
        );
        let answer = reply.json();
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    let before_start = fam
        .post_json(
            &app,
            &uri,
            json!({ "type": "self_care", "on": "2001-01-01" }),
            &[],
        )
        .await;
    assert_eq!(before_start.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        before_start.json()["message"]
            .as_str()
            .unwrap()
            .contains("2001-01-01"),
        "{}",
        before_start.body
    );
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        before
    );

    let bad_day = fam
        .get(
            &app,
            &format!("/api/v1/journeys/{OWN}/metrics?as_of=yesterday"),
        )
        .await;
    assert_eq!(bad_day.status, StatusCode::BAD_REQUEST);
    assert!(bad_day.json()["message"]
        .as_str()
        .unwrap()
        .contains("yesterday"));
    let future = fam
        .get(
            &app,
            &format!("/api/v1/journeys/{OWN}/metrics?as_of=9967-09-30"),
        )
        .await;
    assert_eq!(
        future.status,
        StatusCode::BAD_REQUEST,
        "a far future day is refused, not computed"
    );
    let mut stranger = Client::default();
    let odd = stranger
        .api_sign_in(&app, json!({ "username": "\u{0}x", "password": "p" }))
        .await;
    assert_eq!(
        odd.status,
        StatusCode::UNAUTHORIZED,
        "a NUL in a username is a failed sign-in"
    );
    let bad_page = fam
        .get(&app, &format!("/api/v1/journeys/{OWN}/entries?page=-3"))
        .await;
    assert_eq!(bad_page.status, StatusCode::BAD_REQUEST);
    let metrics = fam
        .get(
            &app,
            &format!("/api/v1/journeys/{OWN}/metrics?as_of=2026-06-30"),
        )
        .await;
    assert_eq!(metrics.status, StatusCode::OK);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("sample-12.metrics-2026-06-30.json")).unwrap(),
    )
    .unwrap();
    let golden = expected["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["journey"] == OWN)
        .unwrap();
    assert_eq!(
        &metrics.json()["summary"],
        &golden["summary"],
        "the API's figures are the metrics"
    );
}

#[tokio::test]
async fn a_retried_post_with_an_idempotency_key_stores_nothing_twice() {
    let app = app().await;
    let mut fam = Client::default();
    fam.api_sign_in(&app, json!({ "username": "fam", "password": PASSWORD }))
        .await;
    let uri = format!("/api/v1/journeys/{OWN}/entries");
    let body = json!({ "type": "positive_communication", "on": today(), "channel": "text" });
    let before = sqlx_count(&app.db, "SELECT count(*) FROM entries").await;
    let first = fam
        .post_json(&app, &uri, body.clone(), &[("Idempotency-Key", "abc-1")])
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = fam
        .post_json(&app, &uri, body.clone(), &[("Idempotency-Key", "abc-1")])
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json(), first.json());
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        before + 1
    );
    let changed = fam
        .post_json(
            &app,
            &uri,
            json!({ "type": "stepped_away", "on": today() }),
            &[("Idempotency-Key", "abc-1")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(changed.json()["field"], "Idempotency-Key");
    // Without a key, two posts are two entries; the list shows them, newest day first.
    fam.post_json(&app, &uri, body.clone(), &[]).await;
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        before + 2
    );
    let list = fam.get(&app, &uri).await.json();
    assert_eq!(list["entries"][0]["on"], today());
    assert_eq!(list["entries"][0]["by"], "fam");
    assert!(list["total"].as_i64().unwrap() > 50);
    assert_eq!(list["entries"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn every_api_write_in_a_row_is_audited_once_even_when_its_access_check_is_remembered() {
    let app = app().await;
    let mut fam = Client::default();
    fam.api_sign_in(&app, json!({ "username": "fam", "password": PASSWORD }))
        .await;
    let uri = format!("/api/v1/journeys/{OWN}/entries");
    let writes = "SELECT count(*) FROM audit_log a JOIN journeys j USING (journey_id)
                   WHERE a.action = 'write' AND a.actor = 'fam' AND j.key = 'j1-0000'";
    assert_eq!(OWN, "j1-0000");
    let (audited, entries) = (
        sqlx_count(&app.db, writes).await,
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
    );
    // Within a second: the first write's check is made and remembered, the others' rows go
    // with their writes: stored, refused by a rule, a stored idempotent answer, and one
    // refused before the store (its audit row written on its own).
    let stored = json!({ "type": "self_care", "on": today(), "minutes": 5 });
    let answers = [
        fam.post_json(&app, &uri, stored.clone(), &[]).await.status,
        fam.post_json(&app, &uri, stored.clone(), &[]).await.status,
        fam.post_json(
            &app,
            &uri,
            json!({ "type": "treatment_exited", "on": today(), "reason": "completed" }),
            &[],
        )
        .await
        .status,
        fam.post_json(&app, &uri, stored.clone(), &[("Idempotency-Key", "row-1")])
            .await
            .status,
        fam.post_json(&app, &uri, stored.clone(), &[("Idempotency-Key", "row-1")])
            .await
            .status,
        fam.post_json(
            &app,
            &uri,
            json!({ "type": "self_care", "on": "2999-01-01", "minutes": 5 }),
            &[],
        )
        .await
        .status,
    ];
    assert_eq!(answers[0], StatusCode::CREATED);
    assert_eq!(answers[1], StatusCode::CREATED);
    assert!(answers[2].is_client_error(), "{answers:?}");
    assert_eq!(answers[3], StatusCode::CREATED);
    assert_eq!(answers[4], StatusCode::CREATED);
    assert!(answers[5].is_client_error(), "{answers:?}");
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        entries + 3
    );
    assert_eq!(
        sqlx_count(&app.db, writes).await,
        audited + answers.len() as i64,
        "one audit row a write: {answers:?}"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = app().await;
    let mut fam = Client::signed_in(&app, "fam").await;
    let mut anonymous = Client::default();
    let replies = vec![
        anonymous.get(&app, "/login").await,
        anonymous.get(&app, "/api/v1/journeys").await,
        anonymous.get(&app, "/nowhere").await,
        fam.get(&app, &format!("/journeys/{OWN}")).await,
        fam.get(&app, &format!("/journeys/{OTHER}")).await,
        fam.get(&app, "/api/v1/openapi.json").await,
    ];
    for reply in replies {
        let h = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert!(
            h("content-security-policy").contains("frame-ancestors 'none'"),
            "{:?}",
            reply.headers
        );
        assert!(h("content-security-policy").contains("default-src 'none'"));
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("cache-control"), "no-store");
        assert_eq!(h("x-frame-options"), "DENY");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_api_routes() {
    let app = app().await;
    let mut client = Client::default();
    let doc = client.get(&app, "/api/v1/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut listed: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "delete", "put", "patch"].contains(&method.as_str()) {
                listed.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "DELETE /api/v1/session",
            "DELETE /api/v1/sessions/{id}",
            "GET /api/v1/journeys",
            "GET /api/v1/journeys/{key}/entries",
            "GET /api/v1/journeys/{key}/metrics",
            "GET /api/v1/sessions",
            "POST /api/v1/journeys/{key}/entries",
            "POST /api/v1/session",
        ]
    );
    // Each listed operation is served (no 404 or 405 from the router itself).
    for op in &listed {
        let (method, path) = op.split_once(' ').unwrap();
        let uri = path
            .replace("{key}", OWN)
            .replace("{id}", &uuid::Uuid::nil().to_string());
        let reply = client
            .send(
                &app,
                method.parse().unwrap(),
                &uri,
                Some("application/json"),
                "{}".into(),
                &[],
            )
            .await;
        assert!(
            ![StatusCode::METHOD_NOT_ALLOWED, StatusCode::NOT_FOUND].contains(&reply.status),
            "{op}: {}",
            reply.status
        );
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_with_retry_after() {
    let app = app().await;
    let mut fam = Client::default();
    fam.api_sign_in(&app, json!({ "username": "fam", "password": PASSWORD }))
        .await;
    app.db.pool.close().await;
    let reply = fam.get(&app, "/api/v1/journeys").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(reply.json()["error"], "unavailable");
}

#[tokio::test]
async fn a_journey_held_longer_than_a_write_waits_is_a_503_busy_and_the_retry_stores_once() {
    let app = app().await;
    let mut fam = Client::default();
    fam.api_sign_in(&app, json!({ "username": "fam", "password": PASSWORD }))
        .await;
    let uri = format!("/api/v1/journeys/{OWN}/entries");
    let body = json!({ "type": "positive_communication", "on": today(), "channel": "call" });
    let before = sqlx_count(&app.db, "SELECT count(*) FROM entries").await;
    // Another transaction holds the journey's turn, as an import of a file naming it does.
    let mut holder = app.db.pool.begin().await.unwrap();
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM snapshots s
           JOIN journey_keys k ON k.journey_id = s.aggregate_id
          WHERE k.key = $1 FOR UPDATE OF s) AS held",
    )
    .bind(OWN)
    .fetch_one(&mut *holder)
    .await
    .unwrap();
    assert_eq!(held, 1);
    let started = std::time::Instant::now();
    let busy = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        fam.post_json(&app, &uri, body.clone(), &[("Idempotency-Key", "held-1")]),
    )
    .await
    .expect("a write waits a bounded time");
    assert_eq!(
        busy.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        busy.body
    );
    assert!(
        started.elapsed() >= journey_postgres::store::LOCK_WAIT / 2,
        "it waited for its turn before giving up"
    );
    assert!(busy.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(busy.json()["error"], "busy");
    assert!(busy.json()["message"]
        .as_str()
        .unwrap()
        .contains("nothing was saved"));
    holder.rollback().await.unwrap();
    // Nothing of the refused write stayed: not the entry, not the key's claim.
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        before
    );
    let claims = sqlx_count(
        &app.db,
        "SELECT count(*) FROM idempotency_keys WHERE key = 'held-1'",
    )
    .await;
    assert_eq!(claims, 0);
    // The retry with the same key writes it, once.
    let retry = fam
        .post_json(&app, &uri, body, &[("Idempotency-Key", "held-1")])
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        before + 1
    );
}
