//! The web app through `Router::oneshot` against a real database: sign-in and sessions, CSRF,
//! quick entry and the timeline, retraction, the access-control matrix (every route x role x
//! own/other journey) and the audit log. The JSON API's own tests are in `tests/api.rs`.

use crate::{common, webkit};

use axum::http::{header, StatusCode};
use common::*;
use journey_web::Options;
use serde_json::json;
use webkit::*;

fn today() -> String {
    chrono::Local::now().date_naive().to_string()
}

#[tokio::test]
async fn sign_in_rotates_the_session_and_sign_out_ends_it() {
    let app = app().await;
    let mut client = Client::default();
    client.get(&app, "/login").await;
    let before = client
        .cookie
        .clone()
        .expect("a session before sign-in (for its CSRF token)");
    let wrong = client
        .form(
            &app,
            "/login",
            &[("username", "fam"), ("password", "not it at all")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("wrong"), "{}", wrong.body);
    let reply = client
        .form(
            &app,
            "/login",
            &[("username", "fam"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let after = client.cookie.clone().expect("a session cookie");
    assert_ne!(before, after, "the session id changes at sign-in");
    let set = reply
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    // The old id is not a session any more.
    let mut stale = Client {
        cookie: Some(before),
        csrf: None,
    };
    assert_eq!(
        stale.get(&app, "/api/v1/journeys").await.status,
        StatusCode::UNAUTHORIZED
    );

    let list = client.get(&app, "/journeys").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains(OWN) && !list.body.contains(OTHER),
        "{}",
        list.body
    );

    let out = client.form(&app, "/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // Replaying the signed-in cookie after sign-out: the session is gone from the store.
    let mut replay = Client {
        cookie: Some(after),
        csrf: None,
    };
    let page = replay.get(&app, "/journeys").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login");
    assert_eq!(
        replay.get(&app, "/api/v1/journeys").await.status,
        StatusCode::UNAUTHORIZED
    );
    let sessions = sqlx_count(&app.db, "SELECT count(*) FROM tower_sessions.session").await;
    assert_eq!(
        sessions, 0,
        "sign-out deleted the session; the pre-sign-in one was cycled"
    );
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_a_session() {
    for (idle, absolute) in [(30, 0), (0, 12)] {
        let app = app_with(Options {
            secure_cookies: false,
            logins_per_minute: 1000,
            idle_minutes: idle,
            absolute_hours: absolute,
        })
        .await;
        let mut client = Client::default();
        let reply = client.password_step(&app, "fam", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let page = client.get(&app, "/journeys").await;
        assert_eq!(
            page.location(),
            "/login",
            "idle {idle} min, absolute {absolute} h: the session is over"
        );
        assert_eq!(
            client.get(&app, "/api/v1/journeys").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let app = app().await;
    let mut fam = Client::signed_in(&app, "fam").await;
    let before = sqlx_count(&app.db, "SELECT count(*) FROM entries").await;
    for token in ["", "0000"] {
        let reply = fam
            .form(
                &app,
                &format!("/journeys/{OWN}/entries"),
                &[("csrf", token), ("on", &today()), ("saw", "no_use")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    }
    let logout = fam.form(&app, "/logout", &[("csrf", "nope")]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        before
    );
}

#[tokio::test]
async fn a_family_member_records_a_day_and_sees_it_on_the_timeline() {
    let app = app().await;
    let mut fam = Client::signed_in(&app, "fam").await;
    let day = today();
    let reply = fam
        .form(
            &app,
            &format!("/journeys/{OWN}/entries"),
            &[
                ("on", &day),
                ("saw", "no_use"),
                ("reward_given", "on"),
                ("self_care", "on"),
                ("minutes", "25"),
                ("rescued", "on"),
                ("for_safety", "on"),
                ("note", "Went for a walk together <b>today</b>"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(
        reply.location(),
        format!("/journeys/{OWN}?saved=5&day={day}#saved")
    );
    let stored = journey_postgres::testing::json_rows(
        &app.db.pool,
        &format!(
            r#"SELECT to_jsonb(t) FROM (SELECT e.type, e."by", e.fields FROM entries e JOIN journey_keys k USING (journey_id)
                WHERE k.key = '{OWN}' AND e."on" = '{day}' ORDER BY e.sequence) t"#
        ),
    )
    .await;
    let types: Vec<&str> = stored.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "clean_day_observed",
            "reward_given",
            "rescued",
            "self_care",
            "note"
        ]
    );
    // At rest, the handle and the note are sealed with the journey's key.
    assert!(
        stored
            .iter()
            .all(|r| r["by"].as_str().unwrap().starts_with("sealed:v1:")),
        "{stored:?}"
    );
    assert!(stored[4]["fields"]["text"]
        .as_str()
        .unwrap()
        .starts_with("sealed:v1:"));
    let listed = fam
        .get(&app, &format!("/api/v1/journeys/{OWN}/entries"))
        .await
        .json();
    let today_by: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["on"] == day.as_str())
        .map(|e| e["by"].as_str().unwrap())
        .collect();
    assert_eq!(today_by, ["fam"; 5], "opened for the family");
    assert_eq!(stored[2]["fields"]["for_safety"], true);
    assert_eq!(stored[3]["fields"]["minutes"], 25);

    let page = fam.get(&app, &format!("/journeys/{OWN}?saved=5")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Saved 5 entries"));
    assert!(page.body.contains("Rewarded a day without use"));
    assert!(page.body.contains("Self-care: 25 minutes"));
    assert!(page.body.contains("Rescued: for safety"));
    // The note is shown escaped, never as markup.
    assert!(
        page.body
            .contains("Went for a walk together &lt;b&gt;today&lt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>today</b>"));
    assert!(page.body.contains("<svg"), "the calendar and weekly charts");
    let newest = page.body.find("<tbody>").unwrap();
    assert!(page.body[newest..].find(&day).is_some());

    // A second family member records on the same journey under their own name.
    let mut fam2 = Client::signed_in(&app, "fam2").await;
    let reply = fam2
        .form(
            &app,
            &format!("/journeys/{OWN}/entries"),
            &[("on", &day), ("saw", "use")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let listed = fam
        .get(&app, &format!("/api/v1/journeys/{OWN}/entries"))
        .await
        .json();
    let mut by: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["on"] == day.as_str())
        .map(|e| e["by"].as_str().unwrap())
        .collect();
    by.dedup();
    // Newest day first through the whole page, and the last recorded first within a day.
    let days: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["on"].as_str().unwrap_or(""))
        .collect();
    assert!(days.len() > 10, "{days:?}");
    assert!(days.windows(2).all(|d| d[0] >= d[1]), "{days:?}");
    assert_eq!(listed["entries"][0]["by"], "fam2");
    assert_eq!(
        by,
        ["fam2", "fam"],
        "each member under their own name, newest first"
    );

    // Bad input names the field and stores nothing.
    let before = sqlx_count(&app.db, "SELECT count(*) FROM entries").await;
    for (fields, field) in [
        (vec![("on", "2026-02-30"), ("saw", "use")], "problem-on"),
        (vec![("on", day.as_str()), ("saw", "drunk")], "problem-saw"),
        (
            vec![
                ("on", day.as_str()),
                ("self_care", "on"),
                ("minutes", "lots"),
            ],
            "Minutes are a whole number",
        ),
        (vec![("on", day.as_str())], "Nothing to save yet"),
        (
            vec![("on", "1990-01-01"), ("saw", "use")],
            "before this journey began",
        ),
    ] {
        let reply = fam
            .form(&app, &format!("/journeys/{OWN}/entries"), &fields)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}: {}",
            reply.body
        );
        assert!(reply.body.contains(field), "{field}: {}", reply.body);
    }
    assert_eq!(
        sqlx_count(&app.db, "SELECT count(*) FROM entries").await,
        before
    );
}

/// The answer of each route to each role, for the assigned journey and another one.
#[tokio::test]
async fn access_control_matrix() {
    let app = app().await;
    let mut clients = vec![("anonymous", Client::default())];
    for user in ["fam", "coun", "res", "adm"] {
        clients.push((user, Client::signed_in(&app, user).await));
    }
    // The anonymous client still needs a CSRF token for its forms to reach the access check.
    clients[0].1.get(&app, "/login").await;
    let entry_ids: Vec<String> = sqlx::query_scalar(
        "SELECT e.entry FROM entries e JOIN journey_keys k USING (journey_id)
          WHERE k.key = ANY($1) AND e.type = 'use_observed' ORDER BY k.key LIMIT 100",
    )
    .bind(vec![OWN, OTHER])
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert!(!entry_ids.is_empty());
    use StatusCode as S;
    const SEE: S = S::SEE_OTHER;
    const OK: S = S::OK;
    const NF: S = S::NOT_FOUND;
    const FB: S = S::FORBIDDEN;
    const UN: S = S::UNAUTHORIZED;
    // Expected answers: [anonymous, family, counselor, researcher, admin].
    type Row = (&'static str, [S; 5]);
    let journey_routes: Vec<(String, Row, Row)> = vec![
        (
            "GET /journeys/{k}".into(),
            ("own", [SEE, OK, SEE, NF, NF]),
            ("other", [SEE, NF, NF, NF, NF]),
        ),
        (
            "POST /journeys/{k}/entries".into(),
            ("own", [SEE, SEE, FB, NF, NF]),
            ("other", [SEE, NF, NF, NF, NF]),
        ),
        (
            "POST /journeys/{k}/consent".into(),
            ("own", [SEE, SEE, FB, NF, NF]),
            ("other", [SEE, NF, NF, NF, NF]),
        ),
        (
            "GET /journeys/{k}/report".into(),
            ("own", [SEE, OK, OK, NF, NF]),
            ("other", [SEE, NF, NF, NF, NF]),
        ),
        (
            "GET /api/v1/journeys/{k}/entries".into(),
            ("own", [UN, OK, FB, NF, NF]),
            ("other", [UN, NF, NF, NF, NF]),
        ),
        (
            "POST /api/v1/journeys/{k}/entries".into(),
            ("own", [UN, S::CREATED, FB, NF, NF]),
            ("other", [UN, NF, NF, NF, NF]),
        ),
        (
            "GET /api/v1/journeys/{k}/metrics".into(),
            ("own", [UN, OK, OK, NF, NF]),
            ("other", [UN, NF, NF, NF, NF]),
        ),
    ];
    let mut failures = Vec::new();
    for (route, own, other) in &journey_routes {
        for (which, key, expected) in [(own.0, OWN, own.1), (other.0, OTHER, other.1)] {
            for (index, (user, client)) in clients.iter_mut().enumerate() {
                let (method, path) = route.split_once(' ').unwrap();
                let uri = path.replace("{k}", key);
                let reply = match (method, uri.starts_with("/api/")) {
                    ("GET", _) => client.get(&app, &uri).await,
                    ("POST", true) => {
                        client
                            .post_json(
                                &app,
                                &uri,
                                json!({ "type": "self_care", "on": today() }),
                                &[],
                            )
                            .await
                    }
                    _ if uri.ends_with("/consent") => {
                        client.form(&app, &uri, &[("decision", "grant")]).await
                    }
                    _ => {
                        client
                            .form(&app, &uri, &[("on", &today()), ("saw", "no_use")])
                            .await
                    }
                };
                if reply.status != expected[index] {
                    failures.push(format!(
                        "{route} ({which}) as {user}: {} expected {}",
                        reply.status, expected[index]
                    ));
                }
                if which == "other" {
                    assert!(
                        !reply.body.contains("\"relationship\"") && !reply.body.contains("<svg"),
                        "{route} leaked data of another journey to {user}"
                    );
                }
            }
        }
    }
    // Retract: the other journey's entry id, guessed, through the own journey's URL too.
    let other_entry: String = sqlx::query_scalar(
        "SELECT e.entry FROM entries e JOIN journey_keys k USING (journey_id) WHERE k.key = $1 AND e.type = 'use_observed' LIMIT 1",
    )
    .bind(OTHER)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let fam = &mut clients[1].1;
    let reply = fam
        .form(
            &app,
            &format!("/journeys/{OTHER}/entries/{other_entry}/retract"),
            &[],
        )
        .await;
    if reply.status != NF {
        failures.push(format!("retract on another journey: {}", reply.status));
    }
    let reply = fam
        .form(
            &app,
            &format!("/journeys/{OWN}/entries/{other_entry}/retract"),
            &[],
        )
        .await;
    if reply.status != S::UNPROCESSABLE_ENTITY {
        failures.push(format!(
            "retract of another journey's entry id: {}",
            reply.status
        ));
    }
    let other_retracted: bool =
        sqlx::query_scalar("SELECT retracted FROM entries WHERE entry = $1")
            .bind(&other_entry)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(!other_retracted);

    // Pages of one role: [anonymous, family, counselor, researcher, admin].
    let role_pages: [(&str, [S; 5]); 9] = [
        ("/cohort/report", [SEE, NF, OK, NF, NF]),
        ("/admin/audit", [SEE, NF, NF, NF, OK]),
        ("/account", [SEE, OK, OK, OK, OK]),
        ("/api/v1/sessions", [UN, OK, OK, OK, OK]),
        // Everyone signed in has the second-factor page (staff are enrolled here).
        ("/account/second-factor", [SEE, OK, OK, OK, OK]),
        // The code step is only for a password step waiting for it.
        ("/login/code", [SEE, SEE, SEE, SEE, SEE]),
        ("/admin", [SEE, NF, NF, NF, OK]),
        ("/research", [SEE, NF, NF, OK, NF]),
        ("/api/v1/journeys", [UN, OK, OK, OK, OK]),
    ];
    for (path, expected) in role_pages {
        for (index, (user, client)) in clients.iter_mut().enumerate() {
            let reply = client.get(&app, path).await;
            if reply.status != expected[index] {
                failures.push(format!(
                    "GET {path} as {user}: {} expected {}",
                    reply.status, expected[index]
                ));
            }
        }
    }
    let listed = clients[3].1.get(&app, "/api/v1/journeys").await.json();
    assert_eq!(listed, json!([]), "a researcher is assigned to no journey");
    let listed = clients[2].1.get(&app, "/api/v1/journeys").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["key"], OWN);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A counselor's cohort report holds only their families.
    let cohort = clients[2].1.get(&app, "/cohort/report").await;
    assert!(cohort.body.contains(OWN) && !cohort.body.contains(OTHER));
}

#[tokio::test]
async fn every_read_and_write_of_a_journey_is_in_the_audit_log() {
    let app = app().await;
    let mut fam = Client::signed_in(&app, "fam").await;
    let mut coun = Client::signed_in(&app, "coun").await;
    fam.get(&app, &format!("/journeys/{OWN}")).await;
    fam.form(
        &app,
        &format!("/journeys/{OWN}/entries"),
        &[("on", &today()), ("saw", "use")],
    )
    .await;
    coun.get(&app, &format!("/journeys/{OWN}/report")).await;
    coun.get(&app, &format!("/api/v1/journeys/{OTHER}/metrics"))
        .await;
    // Reads are audited by a batch writer a moment later: wait for the three rows.
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = journey_postgres::testing::json_rows(
            &app.db.pool,
            &format!(
                "SELECT to_jsonb(t) FROM (SELECT a.actor, a.action FROM audit_log a JOIN journey_keys k USING (journey_id)
                  WHERE k.key = '{OWN}' ORDER BY a.id) t"
            ),
        )
        .await;
        if rows.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["actor"].as_str().unwrap().into(),
                r["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("fam", "read_entries"),
        ("fam", "write"),
        ("coun", "read_report"),
    ] {
        assert!(
            seen.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {seen:?}"
        );
    }
    let other = sqlx_count(
        &app.db,
        &format!("SELECT count(*) FROM audit_log a JOIN journey_keys k USING (journey_id) WHERE k.key = '{OTHER}'"),
    )
    .await;
    assert_eq!(other, 0, "a refused read touched nothing");
}
