//! The only place UI cookies are read and built.
//!
//! Two cookies, both HttpOnly and SameSite=Strict, `Secure` when the page was
//! reached over https (see [`super::UiConfig::secure_cookies`]):
//! - [`SESSION`], path `/ui`: the session secret (its hash is the session row);
//! - [`LOGIN`], path `/ui/login`: a random value that the login form echoes
//!   (signed double-submit for the one form shown before a session exists).
//!
//! Parsing the `Cookie` header and writing `Set-Cookie` are a few lines, so
//! no cookie crate: values are our own hex strings, never user text.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;

/// The session cookie's name.
pub const SESSION: &str = "fg_session";
/// The pre-login cookie's name.
pub const LOGIN: &str = "fg_login";

/// The value of cookie `name` in the request, if any.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        // Ours are hex; anything else is not ours (and never reaches a query).
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether cookies set in answer to this request get `Secure`.
pub fn secure(state: &AppState, parts: &Parts) -> bool {
    if let Some(on) = state.config.ui.secure_cookies {
        return on;
    }
    let from_trusted_proxy = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| state.trusted_proxies.is_trusted(c.0.ip()));
    from_trusted_proxy
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` value for `name=value` on `path`, living `max_age_secs`
/// (0 deletes it).
pub fn set(name: &str, value: &str, path: &str, max_age_secs: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` value that deletes cookie `name` on `path`.
pub fn clear(name: &str, path: &str, secure: bool) -> String {
    set(name, "", path, 0, secure)
}

/// Extractor: whether cookies set in this answer get `Secure` ([`secure`]).
pub struct Secure(pub bool);

impl axum::extract::FromRequestParts<AppState> for Secure {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Secure(secure(state, parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_hex_values_of_the_named_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            "a=1; fg_session=abcDEF0123; other=x".parse().unwrap(),
        );
        assert_eq!(get(&h, SESSION).as_deref(), Some("abcDEF0123"));
        assert_eq!(get(&h, LOGIN), None);
        h.insert("cookie", "fg_session=<script>".parse().unwrap());
        assert_eq!(get(&h, SESSION), None);
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set(SESSION, "ab", "/ui", 60, true);
        assert_eq!(
            c,
            "fg_session=ab; Path=/ui; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!clear(SESSION, "/ui", false).contains("Secure"));
        assert!(clear(SESSION, "/ui", false).contains("Max-Age=0"));
    }
}
