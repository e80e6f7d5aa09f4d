//! Second factors (TOTP, RFC 6238) through `Router::oneshot` against a real database: the
//! API's sign-in with `totp`, the pages' two steps, single use of codes and recovery codes,
//! the attempt limit, enrolment on the web (required of staff before any journey data,
//! a choice for families), the audit rows, and `journey user totp`.

use crate::{common, webkit};

use axum::http::StatusCode;
use common::*;
use journey_web::Options;
use serde_json::{json, Value};
use webkit::*;

async fn api_sign_in_as(app: &App, body: Value) -> Reply {
    Client::default()
        .post_json(app, "/api/v1/session", body, &[])
        .await
}

#[tokio::test]
async fn a_counselor_with_totp_signs_in_through_the_api_only_with_a_fresh_code() {
    let app = app().await;
    let secret = app.factors["coun"].secret.clone();

    let without = api_sign_in_as(&app, json!({ "username": "coun", "password": PASSWORD })).await;
    assert_eq!(without.status, StatusCode::UNAUTHORIZED, "{}", without.body);
    assert_eq!(without.json()["error"], "second_factor_required");
    assert!(
        without.headers.get("set-cookie").is_none(),
        "no session without the code"
    );

    let now = unix_now();
    let code = totp_code(&secret, now);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = api_sign_in_as(
        &app,
        json!({ "username": "coun", "password": PASSWORD, "totp": wrong }),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"], "second_factor_refused");

    // The right password with a right code from another account's app is refused too.
    let others = totp_code(&app.factors["res"].secret, now);
    if others != code {
        let crossed = api_sign_in_as(
            &app,
            json!({ "username": "coun", "password": PASSWORD, "totp": others }),
        )
        .await;
        assert_eq!(crossed.status, StatusCode::UNAUTHORIZED);
    }

    // A wrong password with the right code tells nothing about the code.
    let bad_password = api_sign_in_as(
        &app,
        json!({ "username": "coun", "password": "not the password", "totp": code }),
    )
    .await;
    assert_eq!(bad_password.json()["error"], "unauthorized");

    let mut client = Client::default();
    let ok = client
        .api_sign_in(
            &app,
            json!({ "username": "coun", "password": PASSWORD, "totp": code }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["role"], "counselor");
    let listed = client.get(&app, "/api/v1/journeys").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.json()[0]["key"], OWN);

    // The same code again (same time step) is refused: a code is accepted once.
    let again = api_sign_in_as(
        &app,
        json!({ "username": "coun", "password": PASSWORD, "totp": code }),
    )
    .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a reused code");
    assert_eq!(again.json()["error"], "second_factor_refused");
    // So is the previous step's code, which the skew would accept otherwise.
    let earlier = totp_code(&secret, now - 30);
    let older = api_sign_in_as(
        &app,
        json!({ "username": "coun", "password": PASSWORD, "totp": earlier }),
    )
    .await;
    assert_eq!(
        older.status,
        StatusCode::UNAUTHORIZED,
        "an older step's code"
    );

    // A recovery code works once, typed with or without its hyphens, in any case.
    let recovery = app.factors["coun"].recovery_codes[0].clone();
    assert_eq!(recovery.len(), 14, "{recovery}");
    let first = api_sign_in_as(
        &app,
        json!({ "username": "coun", "password": PASSWORD, "totp": recovery.to_uppercase() }),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let second = api_sign_in_as(
        &app,
        json!({ "username": "coun", "password": PASSWORD, "totp": recovery.replace('-', "") }),
    )
    .await;
    assert_eq!(
        second.status,
        StatusCode::UNAUTHORIZED,
        "a used recovery code"
    );

    // Every step is in the audit log, and no code is.
    let rows: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT actor, action, detail FROM audit_log WHERE journey_id IS NULL ORDER BY at, id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let actions: Vec<&str> = rows
        .iter()
        .filter(|(actor, _, _)| actor == "coun")
        .map(|(_, action, _)| action.as_str())
        .collect();
    for expected in [
        "second_factor_failed",
        "sign_in_failed",
        "sign_in",
        "recovery_code_used",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    let failures = actions
        .iter()
        .filter(|a| **a == "second_factor_failed")
        .count();
    assert!(
        failures >= 4,
        "wrong, reused, older and used recovery codes: {actions:?}"
    );
    let text = serde_json::to_string(&rows).unwrap();
    assert!(!text.contains(&code) && !text.contains(&recovery), "{text}");
    assert!(rows
        .iter()
        .any(|(_, action, d)| action == "recovery_code_used" && d["left"] == 9));
}

#[tokio::test]
async fn pages_sign_in_in_two_steps_and_the_password_step_alone_is_not_a_session() {
    let app = app().await;
    let mut client = Client::default();
    let first = client.password_step(&app, "coun", PASSWORD).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.location(), "/login/code");
    let waiting = client.get(&app, "/journeys").await;
    assert_eq!(waiting.status, StatusCode::SEE_OTHER);
    assert_eq!(
        waiting.location(),
        "/login",
        "the password step alone is not a session"
    );
    let api = client.get(&app, "/api/v1/journeys").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);

    let page = client.get(&app, "/login/code").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"autocomplete="one-time-code""#),
        "{}",
        page.body
    );
    let wrong = client
        .form(&app, "/login/code", &[("code", "12345x")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .body
            .contains("the code is wrong, or was used already"),
        "{}",
        wrong.body
    );

    let code = app.fresh_code("coun");
    let done = client.form(&app, "/login/code", &[("code", &code)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/journeys");
    let journeys = client.get(&app, "/journeys").await;
    assert_eq!(journeys.status, StatusCode::OK);
    assert!(journeys.body.contains(OWN));

    // Without a password step first, the code page sends back to the sign-in page.
    let mut stranger = Client::default();
    let nothing = stranger.get(&app, "/login/code").await;
    assert_eq!(nothing.location(), "/login");
}

#[tokio::test]
async fn codes_count_against_the_sign_in_attempt_limit() {
    let app = app_with(Options {
        secure_cookies: false,
        logins_per_minute: 3,
        ..Options::default()
    })
    .await;
    let mut client = Client::default();
    let first = client.password_step(&app, "adm", PASSWORD).await;
    assert_eq!(first.location(), "/login/code");
    client.get(&app, "/login/code").await;
    for _ in 0..2 {
        let wrong = client
            .form(&app, "/login/code", &[("code", "999999x")])
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    }
    // The password and two codes were three attempts: the right code now waits too.
    let code = app.fresh_code("adm");
    let limited = client.form(&app, "/login/code", &[("code", &code)]).await;
    assert_eq!(limited.status, StatusCode::UNAUTHORIZED);
    assert!(
        limited.body.contains("too many sign-in attempts"),
        "{}",
        limited.body
    );
    let api = api_sign_in_as(
        &app,
        json!({ "username": "adm", "password": PASSWORD, "totp": app.fresh_code("adm") }),
    )
    .await;
    assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn staff_without_a_second_factor_reach_only_its_set_up_and_families_may_choose_one() {
    let app = app().await;
    journey_postgres::accounts::create_user(
        &app.db.pool,
        "coun2",
        "coun2",
        journey_postgres::accounts::Role::Counselor,
        hash(),
    )
    .await
    .unwrap()
    .unwrap();
    journey_postgres::accounts::assign(&app.db.pool, "coun2", OWN)
        .await
        .unwrap()
        .unwrap();

    // Signed in with the password alone, the counselor sees no journey data anywhere.
    let mut client = Client::default();
    let signed = client.password_step(&app, "coun2", PASSWORD).await;
    assert_eq!(signed.location(), "/journeys");
    for page in [
        "/journeys",
        &format!("/journeys/{OWN}/report"),
        "/cohort/report",
    ] {
        let reply = client.get(&app, page).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(reply.location(), "/account/second-factor", "{page}");
    }
    for route in [
        "/api/v1/journeys",
        &format!("/api/v1/journeys/{OWN}/metrics"),
    ] {
        let reply = client.get(&app, route).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{route}");
        assert_eq!(reply.json()["error"], "second_factor_enrolment_required");
    }

    let page = client.get(&app, "/account/second-factor").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<svg role=\"img\""),
        "a QR code drawn as SVG"
    );
    assert!(page.body.contains("set up a second factor to go on"));
    assert!(!page.body.contains("<script"), "no script");
    let secret = secret_on_page(&page);
    // The same key until it is confirmed (a reload does not change what was scanned).
    let again = client.get(&app, "/account/second-factor").await;
    assert!(again.body.contains(&secret));

    let wrong = client
        .form(&app, "/account/second-factor", &[("code", "000000x")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("not the code the app shows"));
    let code = totp_code(&secret, unix_now());
    let confirmed = client
        .form(&app, "/account/second-factor", &[("code", &code)])
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let codes: Vec<&str> = confirmed
        .body
        .split("<li><code>")
        .skip(1)
        .filter_map(|rest| rest.split('<').next())
        .collect();
    assert_eq!(codes.len(), 10, "{}", confirmed.body);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recovery_codes r JOIN users u USING (user_id)
          WHERE u.username = 'coun2' AND r.used_at IS NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(stored, 10);
    // The secret is sealed: neither its bytes nor its base 32 are in the table.
    let sealed: Vec<u8> = sqlx::query_scalar(
        "SELECT f.sealed_secret FROM second_factors f JOIN users u USING (user_id)
          WHERE u.username = 'coun2'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let raw = totp_rs::Secret::try_from_base32(&secret).unwrap();
    let raw = raw.as_ref();
    assert!(!sealed.windows(raw.len()).any(|w| w == raw));
    assert!(!String::from_utf8_lossy(&sealed).contains(&secret));

    let journeys = client.get(&app, "/journeys").await;
    assert_eq!(
        journeys.status,
        StatusCode::OK,
        "enrolled: the families are there"
    );
    assert!(journeys.body.contains(OWN));
    let enrolled = client.get(&app, "/account/second-factor").await;
    assert!(
        enrolled.body.contains("10 recovery codes left"),
        "{}",
        enrolled.body
    );

    // The next sign-in asks for a code; a recovery code from the page works.
    let mut next = Client::default();
    let first = next.password_step(&app, "coun2", PASSWORD).await;
    assert_eq!(first.location(), "/login/code");
    next.get(&app, "/login/code").await;
    let done = next.form(&app, "/login/code", &[("code", codes[3])]).await;
    assert_eq!(done.location(), "/journeys", "{}", done.body);

    // A family member is not made to, and may choose to.
    let mut fam = Client::signed_in(&app, "fam").await;
    let journeys = fam.get(&app, "/journeys").await;
    assert_eq!(journeys.status, StatusCode::OK);
    let offer = fam.get(&app, "/account/second-factor").await;
    assert_eq!(offer.status, StatusCode::OK);
    assert!(!offer.body.contains("set up a second factor to go on"));
    let secret = secret_on_page(&offer);
    let on = fam
        .form(
            &app,
            "/account/second-factor",
            &[("code", &totp_code(&secret, unix_now()))],
        )
        .await;
    assert_eq!(on.status, StatusCode::OK);
    let asked = api_sign_in_as(&app, json!({ "username": "fam", "password": PASSWORD })).await;
    assert_eq!(asked.json()["error"], "second_factor_required");
    let enrolled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'second_factor_enrolled'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(enrolled, 3 + 2, "the fixture's three, coun2 and fam");
}

#[tokio::test]
async fn journey_user_totp_enrols_from_the_command_line_and_names_an_unknown_user() {
    let db = TestDb::fresh().await;
    add_user(&db, "coun", "counselor", "a long password", None);
    let listed = stdout(&journey(&db, &["user", "list"]));
    assert!(listed.contains("no-totp!"), "{listed}");
    let secret = enrol_totp(&db, "coun");
    assert_eq!(secret.len(), 32, "160 bits in base 32: {secret}");
    let listed = stdout(&journey(&db, &["user", "list"]));
    assert!(listed.contains(" totp "), "{listed}");
    // Enrolling again replaces the secret (a lost phone).
    let replaced = enrol_totp(&db, "coun");
    assert_ne!(secret, replaced);
    let unknown = journey(&db, &["user", "totp", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("nobody"), "{}", stderr(&unknown));
    // `journey audit` prints the enrolments, newest first, and nothing of the secret.
    let audit = journey(&db, &["audit", "--limit", "5"]);
    assert!(audit.status.success(), "{}", stderr(&audit));
    let lines: Vec<String> = stdout(&audit).lines().map(str::to_string).collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("second_factor_enrolled") && l.contains(r#""user":"coun""#))
            .count(),
        2,
        "{lines:?}"
    );
    assert!(
        lines[0].ends_with('}') && lines[0].contains('Z'),
        "{lines:?}"
    );
    assert!(!stdout(&audit).contains(&replaced) && !stdout(&audit).contains(&secret));
    let bad = journey(&db, &["audit", "--day", "yesterday"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--day"), "{}", stderr(&bad));
}
