//! The "Remember this device" cookie: its token read from a request, its `Set-Cookie`
//! value, and the words for the device a request comes from. A leaf: the sign-in (auth)
//! and the devices page both use it.

use axum::http::{header, HeaderMap};
use journey_app::devices::REMEMBER_DAYS;
use tower_sessions::cookie::{Cookie, SameSite};

/// The cookie that holds a remembered device's token.
pub const COOKIE: &str = "journey_device";

/// The device token the request carries, if any.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What the browser says it is, in words ("Chrome 120 on Android"), for the lists of
/// devices and sessions (the woothee crate reads the User-Agent; the raw string is kept
/// nowhere).
pub fn description(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    describe(agent)
}

fn describe(agent: &str) -> String {
    const UNKNOWN: &str = "UNKNOWN";
    if agent.trim().is_empty() {
        return "a program that did not say what it is".into();
    }
    let Some(found) = woothee::parser::Parser::new().parse(agent) else {
        return "a browser or program this app does not recognize".into();
    };
    let major = found.version.split('.').next().unwrap_or("");
    let browser = match (found.name, major) {
        (UNKNOWN, _) => "a browser".to_string(),
        (name, "" | UNKNOWN) => name.to_string(),
        (name, major) => format!("{name} {major}"),
    };
    match found.os {
        UNKNOWN => browser,
        os => format!("{browser} on {os}"),
    }
}

/// The `Set-Cookie` value that keeps `token` on the device (empty: forget it).
pub fn set_cookie(token: &str, secure: bool) -> String {
    let mut cookie = Cookie::build((COOKIE, token.to_string()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    let days = if token.is_empty() {
        0
    } else {
        i64::from(REMEMBER_DAYS)
    };
    cookie.set_max_age(tower_sessions::cookie::time::Duration::days(days));
    cookie.to_string()
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_user_agent_is_said_in_words() {
        let phone = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
        assert_eq!(describe(phone), "Chrome 120 on Android");
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15";
        assert_eq!(describe(mac), "Safari 17 on Mac OSX");
        assert_eq!(describe(""), "a program that did not say what it is");
    }
}
