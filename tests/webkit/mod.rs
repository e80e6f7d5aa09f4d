//! The web app's test kit: a fixture database with accounts, the router over it, and a
//! browser-like client (one session cookie, the last CSRF token) driven through
//! `Router::oneshot`.

#![allow(dead_code)]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use journey_postgres::accounts::{self, Role};
use journey_postgres::import::{import, ImportOptions};
use journey_web::{self as web, Options};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::*;

pub const PASSWORD: &str = "correct horse battery";
/// The journey the family member `fam` and the counselor `coun` are assigned to.
pub const OWN: &str = "j1-0000";
/// A journey neither of them may see.
pub const OTHER: &str = "j1-0001";

pub fn hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| journey_app::accounts::hash_password(PASSWORD).expect("hashing"))
}

pub struct App {
    pub db: TestDb,
    pub router: Router,
    /// The second factors of the staff accounts (`coun`, `res`, `adm`), enrolled as
    /// `journey user totp` does.
    pub factors: std::collections::HashMap<String, journey_app::Enrolment>,
    /// Per account: the last time step whose code was used, and the recovery codes used.
    used: std::sync::Mutex<std::collections::HashMap<String, (u64, usize)>>,
}

/// The TOTP code of a base-32 `secret` at Unix time `time` (what an authenticator app shows).
pub fn totp_code(secret: &str, time: u64) -> String {
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base 32"))
        .build()
        .expect("a TOTP")
        .generate(time)
        .to_string()
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl App {
    /// A second factor code of `username` that has not been used: the app's code now, or,
    /// when this time step's was used already, the next recovery code.
    pub fn fresh_code(&self, username: &str) -> String {
        let enrolment = &self.factors[username];
        let now = unix_now();
        let mut used = self.used.lock().unwrap();
        let (step, recovery) = used.entry(username.to_string()).or_insert((0, 0));
        if now / 30 > *step {
            *step = now / 30;
            return totp_code(&enrolment.secret, now);
        }
        let code = enrolment.recovery_codes[*recovery].clone();
        *recovery += 1;
        code
    }
}

pub async fn app_with(options: Options) -> App {
    let db = TestDb::fresh().await;
    let text = std::fs::read(fixture("sample-12.jsonl")).expect("the fixture");
    let report = import(
        &db.pool,
        &db.master,
        &text,
        &ImportOptions::all_or_nothing(),
    )
    .await
    .expect("the fixture imports");
    assert!(report.invalid.is_empty());
    journey_postgres::projector::catch_up(&db.pool)
        .await
        .unwrap();
    for (name, role) in [
        ("fam", Role::Family),
        ("fam2", Role::Family),
        ("coun", Role::Counselor),
        ("res", Role::Researcher),
        ("adm", Role::Admin),
    ] {
        accounts::create_user(&db.pool, name, name, role, hash())
            .await
            .unwrap()
            .expect("a new user");
    }
    for (user, key) in [("fam", OWN), ("fam2", OWN), ("coun", OWN)] {
        accounts::assign(&db.pool, user, key)
            .await
            .unwrap()
            .unwrap();
    }
    let app = journey_app::App::new(db.pool.clone(), db.master.clone());
    let operator = journey_app::Actor::operator("test", journey_app::Via::Cli);
    let mut factors = std::collections::HashMap::new();
    for name in ["coun", "res", "adm"] {
        let enrolment = app
            .enrol_second_factor(
                &operator,
                &journey_app::Username::parse(name).expect("a username"),
            )
            .await
            .expect("enrolled");
        factors.insert(name.to_string(), enrolment);
    }
    let router = web::router(app, options).await.expect("the app");
    App {
        db,
        router,
        factors,
        used: Default::default(),
    }
}

pub async fn app() -> App {
    app_with(Options {
        secure_cookies: false,
        logins_per_minute: 1000,
        ..Options::default()
    })
    .await
}

/// A browser-like client: one session cookie, the last CSRF token seen.
#[derive(Clone, Default)]
pub struct Client {
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
    /// The body as sent (a PDF, a zip).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Client {
    pub async fn send(
        &mut self,
        app: &App,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: String,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = app
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(set) = headers.get(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            // An emptied cookie (sign-out) has no value.
            self.cookie = pair
                .split_once('=')
                .filter(|(_, v)| !v.is_empty())
                .map(|_| pair.clone());
        }
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[at + 19..];
            self.csrf = Some(rest[..rest.find('"').unwrap()].to_string());
        }
        Reply {
            status,
            headers,
            body,
            bytes: bytes.to_vec(),
        }
    }

    pub async fn get(&mut self, app: &App, uri: &str) -> Reply {
        self.send(app, Method::GET, uri, None, String::new(), &[])
            .await
    }

    /// Posts a form with the client's CSRF token added.
    pub async fn form(&mut self, app: &App, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let mut pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            pairs.push(("csrf".into(), self.csrf.clone().unwrap_or_default()));
        }
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        self.send(
            app,
            Method::POST,
            uri,
            Some("application/x-www-form-urlencoded"),
            body,
            &[],
        )
        .await
    }

    pub async fn post_json(
        &mut self,
        app: &App,
        uri: &str,
        body: Value,
        extra: &[(&str, &str)],
    ) -> Reply {
        self.send(
            app,
            Method::POST,
            uri,
            Some("application/json"),
            body.to_string(),
            extra,
        )
        .await
    }

    /// The sign-in page's first step: opens `/login` (for its CSRF token) and sends the
    /// username and password; the answer sends on to `/login/code` for a second factor.
    pub async fn password_step(&mut self, app: &App, username: &str, password: &str) -> Reply {
        let page = self.get(app, "/login").await;
        assert_eq!(page.status, StatusCode::OK);
        self.form(
            app,
            "/login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// `POST /api/v1/session` with `credentials`.
    pub async fn api_sign_in(&mut self, app: &App, credentials: Value) -> Reply {
        self.post_json(app, "/api/v1/session", credentials, &[])
            .await
    }

    pub async fn signed_in(app: &App, username: &str) -> Client {
        let mut client = Client::default();
        let reply = client.password_step(app, username, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        if app.factors.contains_key(username) {
            assert_eq!(
                reply.location(),
                "/login/code",
                "{username} is asked for a code"
            );
            let page = client.get(app, "/login/code").await;
            assert_eq!(page.status, StatusCode::OK);
            let code = app.fresh_code(username);
            let reply = client.form(app, "/login/code", &[("code", &code)]).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
            assert_eq!(reply.location(), "/journeys");
        }
        // A page with the signed-in session's CSRF token (researchers and admins are sent on
        // from the journeys page to their own).
        let page = client.get(app, "/journeys").await;
        if page.status == StatusCode::SEE_OTHER {
            let next = page.location().to_string();
            client.get(app, &next).await;
        }
        client
    }
}

/// The key to type in by hand, as the second-factor page shows it.
pub fn secret_on_page(page: &Reply) -> String {
    page.body
        .split(r#"<code class="secret">"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the key to type in")
        .to_string()
}

/// The page at a redirect's target.
pub async fn follow(app: &App, client: &mut Client, reply: &Reply) -> Reply {
    assert_eq!(reply.status.as_u16(), 303, "{}", reply.body);
    let to = reply.location().split('#').next().unwrap().to_string();
    client.get(app, &to).await
}
