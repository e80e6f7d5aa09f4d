//! A person's sessions through `Router::oneshot` against a real database: listing and
//! ending them through the API and the account page, a password change that ends every
//! other session, an admin who ends all of someone's, their audit rows, and the sign-in
//! attempt limit.

use crate::{common, webkit};

use axum::http::{header, Method, StatusCode};
use journey_web::Options;
use serde_json::{json, Value};
use webkit::*;

const PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";

async fn api_client(app: &App, username: &str, agent: &str) -> Client {
    let mut client = Client::default();
    let mut body = json!({ "username": username, "password": PASSWORD });
    if app.factors.contains_key(username) {
        body["totp"] = json!(app.fresh_code(username));
    }
    let reply = client
        .post_json(app, "/api/v1/session", body, &[("user-agent", agent)])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    client
}

async fn delete(app: &App, client: &mut Client, path: &str) -> Reply {
    client
        .send(app, Method::DELETE, path, None, String::new(), &[])
        .await
}

#[tokio::test]
async fn a_person_lists_their_sessions_and_an_ended_one_is_refused() {
    let app = app().await;
    let mut phone = api_client(&app, "fam", PHONE).await;
    let mut other = api_client(&app, "fam", "curl/8.5.0").await;
    let mut coun = api_client(&app, "coun", PHONE).await;

    let listed = phone.get(&app, "/api/v1/sessions").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let sessions = listed.json();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "fam's own two, not coun's: {sessions:?}");
    let mine: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["device"], "Chrome 120 on Android");
    assert_eq!(mine[0]["via"], "api");
    assert!(mine[0]["created"].as_str().unwrap().ends_with('Z'), "UTC");
    let theirs = sessions.iter().find(|s| s["current"] == false).unwrap();
    let theirs_id = theirs["id"].as_str().unwrap().to_string();
    assert!(
        !listed.body.contains("curl/8.5.0"),
        "no raw User-Agent: {}",
        listed.body
    );

    // Another person's session is not found; nor is one that does not exist.
    let coun_id = coun.get(&app, "/api/v1/sessions").await.json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let foreign = delete(&app, &mut phone, &format!("/api/v1/sessions/{coun_id}")).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let missing = delete(
        &app,
        &mut phone,
        "/api/v1/sessions/00000000-0000-4000-8000-000000000000",
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = delete(&app, &mut phone, "/api/v1/sessions/not-a-uuid").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"], "bad_request");
    assert_eq!(
        coun.get(&app, "/api/v1/journeys").await.status,
        StatusCode::OK
    );

    // Ending the other session: its cookie is refused at once; this one goes on.
    assert_eq!(
        other.get(&app, "/api/v1/journeys").await.status,
        StatusCode::OK
    );
    let ended = delete(&app, &mut phone, &format!("/api/v1/sessions/{theirs_id}")).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.body);
    assert_eq!(
        other.get(&app, "/api/v1/journeys").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        phone.get(&app, "/api/v1/journeys").await.status,
        StatusCode::OK
    );
    let again = delete(&app, &mut phone, &format!("/api/v1/sessions/{theirs_id}")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "ended once");

    // Ending this one signs out.
    let own = phone.get(&app, "/api/v1/sessions").await.json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = delete(&app, &mut phone, &format!("/api/v1/sessions/{own}")).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = phone.get(&app, "/api/v1/sessions").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE actor = 'fam' AND action = 'session_ended'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn the_account_page_ends_a_session_and_a_password_change_ends_the_others() {
    let app = app().await;
    let mut api = api_client(&app, "fam", "curl/8.5.0").await;
    let mut web = Client::signed_in(&app, "fam").await;
    let page = web.get(&app, "/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("(this one)"));
    assert!(page.body.contains("the API, signed in"), "{}", page.body);
    assert_eq!(page.body.matches("/end\">").count(), 2, "{}", page.body);

    // A wrong current password, and two new ones that differ, change nothing.
    let password = web.get(&app, "/account/password").await;
    assert_eq!(password.status, StatusCode::OK);
    let wrong = web
        .form(
            &app,
            "/account/password",
            &[
                ("current", "not my password"),
                ("new", "a brand new password"),
                ("repeat", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("not your current password"),
        "{}",
        wrong.body
    );
    let differ = web
        .form(
            &app,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "a brand new password"),
                ("repeat", "a brand new passwort"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.body.contains("not the same"));
    let short = web
        .form(
            &app,
            "/account/password",
            &[("current", PASSWORD), ("new", "short"), ("repeat", "short")],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short.body.contains("at least 10 characters"),
        "{}",
        short.body
    );
    assert_eq!(
        api.get(&app, "/api/v1/journeys").await.status,
        StatusCode::OK
    );

    let changed = web
        .form(
            &app,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "a brand new password"),
                ("repeat", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    let done = follow(&app, &mut web, &changed).await;
    assert!(done.body.contains("1 other session ended"), "{}", done.body);
    assert_eq!(
        api.get(&app, "/api/v1/journeys").await.status,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert_eq!(
        web.get(&app, "/journeys").await.status,
        StatusCode::OK,
        "this one goes on"
    );
    let old = Client::default()
        .api_sign_in(&app, json!({ "username": "fam", "password": PASSWORD }))
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = Client::default()
        .api_sign_in(
            &app,
            json!({ "username": "fam", "password": "a brand new password" }),
        )
        .await;
    assert_eq!(new.status, StatusCode::OK);

    // "Sign out here" on the page ends this session.
    let page = web.get(&app, "/account").await;
    let own = page
        .body
        .split("(this one)")
        .nth(1)
        .and_then(|rest| rest.split("/account/sessions/").nth(1))
        .and_then(|rest| rest.split('/').next())
        .expect("this session's form")
        .to_string();
    let out = web
        .form(&app, &format!("/account/sessions/{own}/end"), &[])
        .await;
    assert_eq!(out.location(), "/login");
    assert_eq!(web.get(&app, "/journeys").await.location(), "/login");
    let rows: Vec<(String, Value)> = sqlx::query_as(
        "SELECT action, detail FROM audit_log WHERE actor = 'fam' AND action = 'password_changed'",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1["other_sessions_ended"], 1);
    assert!(
        !rows[0].1.to_string().contains("brand new"),
        "no password in the log"
    );
}

#[tokio::test]
async fn an_admin_ends_all_of_someones_sessions() {
    let app = app().await;
    let mut one = api_client(&app, "coun", PHONE).await;
    let mut two = Client::signed_in(&app, "coun").await;
    let mut fam = Client::signed_in(&app, "fam").await;
    let mut adm = Client::signed_in(&app, "adm").await;
    let admin = adm.get(&app, "/admin").await;
    assert!(admin.body.contains("End all sessions"), "{}", admin.body);
    let reply = adm
        .form(&app, "/admin/sessions/end", &[("username", "coun")])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let page = follow(&app, &mut adm, &reply).await;
    assert!(
        page.body.contains("2 sessions of coun ended"),
        "{}",
        page.body
    );
    assert_eq!(
        one.get(&app, "/api/v1/journeys").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(two.get(&app, "/journeys").await.location(), "/login");
    assert_eq!(
        fam.get(&app, "/journeys").await.status,
        StatusCode::OK,
        "others go on"
    );
    // Again: nothing to end, and it says so.
    let again = adm
        .form(&app, "/admin/sessions/end", &[("username", "coun")])
        .await;
    let page = follow(&app, &mut adm, &again).await;
    assert!(page
        .body
        .contains("Nothing changed: coun was signed in nowhere"));
    // Only an admin may.
    let refused = fam
        .form(&app, "/admin/sessions/end", &[("username", "adm")])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(adm.get(&app, "/admin").await.status, StatusCode::OK);
    let audited: Vec<Value> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE actor = 'adm' AND action = 'sessions_ended'",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 2);
    assert_eq!(audited[0]["user"], "coun");
    assert_eq!(audited[0]["sessions"], 2);
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_username() {
    let app = app_with(Options {
        secure_cookies: false,
        logins_per_minute: 3,
        ..Options::default()
    })
    .await;
    let mut client = Client::default();
    let wrong = json!({ "username": "fam", "password": "guess guess" });
    for _ in 0..3 {
        let reply = client.api_sign_in(&app, wrong.clone()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    }
    let limited = client
        .api_sign_in(&app, json!({ "username": "fam", "password": PASSWORD }))
        .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    // Another username is not held up.
    let other = client
        .api_sign_in(
            &app,
            json!({ "username": "coun", "password": PASSWORD, "totp": app.fresh_code("coun") }),
        )
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    assert_eq!(other.json()["role"], "counselor");
}

#[tokio::test]
async fn the_audit_log_holds_sign_ins_refusals_and_sessions_and_an_admin_reads_it() {
    let app = app().await;
    let mut fam = Client::signed_in(&app, "fam").await;
    // A journey the member may not see, and a counselor's write: both refused, both logged.
    let refused = fam
        .get(&app, &format!("/api/v1/journeys/{OTHER}/entries"))
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let mut coun = api_client(&app, "coun", PHONE).await;
    let write = coun
        .post_json(
            &app,
            &format!("/api/v1/journeys/{OWN}/entries"),
            json!({ "type": "self_care", "on": "2025-03-10", "minutes": 5 }),
            &[],
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let wrong = Client::default()
        .api_sign_in(
            &app,
            json!({ "username": "fam", "password": "not the password" }),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let mut adm = Client::signed_in(&app, "adm").await;
    let page = adm.get(&app, "/admin/audit?user=fam").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for action in ["sign_in", "sign_in_failed", "access_refused"] {
        assert!(
            page.body.contains(&format!(">{action}<")),
            "{action}: {}",
            page.body
        );
    }
    assert!(!page.body.contains(">coun<"), "only fam's rows");
    let today = chrono::Utc::now().date_naive();
    let by_day = adm
        .get(&app, &format!("/admin/audit?user=coun&day={today}"))
        .await;
    assert!(by_day.body.contains(">access_refused<"), "{}", by_day.body);
    assert!(
        by_day.body.contains(OWN),
        "the counselor's refused write names its journey"
    );
    let yesterday = today - chrono::Days::new(1);
    let none = adm
        .get(&app, &format!("/admin/audit?user=coun&day={yesterday}"))
        .await;
    assert!(none.body.contains("No rows match"));
    let bad = adm.get(&app, "/admin/audit?day=31.12.2025").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("not a day"));
    assert!(!page.body.contains(PASSWORD) && !page.body.contains("not the password"));
    // Only admins: a page of another role and a form with a wrong CSRF token are refused,
    // and both refusals are in the log, with what was refused and nothing of the token.
    assert_eq!(
        fam.get(&app, "/admin/audit").await.status,
        StatusCode::NOT_FOUND
    );
    let forged = fam
        .form(
            &app,
            "/account/password",
            &[
                ("csrf", "forged-token"),
                ("current", PASSWORD),
                ("new", "new password 2"),
                ("repeat", "new password 2"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    let refusals: Vec<Value> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE actor = 'fam' AND action = 'access_refused'
          ORDER BY id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let what: Vec<&str> = refusals
        .iter()
        .map(|d| d["what"].as_str().unwrap())
        .collect();
    assert!(what.contains(&"audit_page"), "{refusals:?}");
    let role = refusals.iter().find(|d| d["what"] == "audit_page").unwrap();
    assert_eq!(role["needs"], "admin");
    let csrf = refusals.iter().find(|d| d["refused"] == "csrf").unwrap();
    assert_eq!(csrf["what"], "password", "{refusals:?}");
    assert!(!format!("{refusals:?}").contains("forged-token"));
}

#[tokio::test]
async fn the_operator_signs_someone_out_everywhere() {
    let app = app().await;
    let mut phone = api_client(&app, "coun", PHONE).await;
    let mut page = Client::signed_in(&app, "coun").await;
    let ended = common::journey(&app.db, &["user", "sign-out", "coun"]);
    assert!(ended.status.success(), "{}", common::stderr(&ended));
    assert_eq!(
        String::from_utf8_lossy(&ended.stdout).trim(),
        "2 session(s) of coun ended"
    );
    // The app's cache of sessions holds for at most a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        phone.get(&app, "/api/v1/journeys").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(page.get(&app, "/journeys").await.location(), "/login");
    let unknown = common::journey(&app.db, &["user", "sign-out", "nobody"]);
    assert!(!unknown.status.success());
    assert!(
        common::stderr(&unknown).contains("no user \"nobody\""),
        "{}",
        common::stderr(&unknown)
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'sessions_ended' AND detail->>'user' = 'coun'
            AND detail->>'via' = 'cli'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}
