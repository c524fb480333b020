//! UI sessions: the [`Ui`] extractor, and starting and ending sessions.
//!
//! The cookie holds 32 random bytes (hex); the store keeps only their
//! SHA-256, in a `refresh_tokens` row of kind `ui` (see
//! `facegate_store::repo::ui_sessions`). Each request re-reads the row with
//! the account's role, so logout, a disabled account, a removed membership or
//! a demotion applies at once. The CSRF token is derived from the cookie's
//! secret ([`csrf_token`]): it needs no storage and dies with the session.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use facegate_store::{Role, UiSession, now_ms};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cookies;
use super::error::UiError;
use crate::auth::tokens::{random_bytes, sha256_hex};
use crate::auth::{Caller, Principal};
use crate::state::AppState;

/// A touch of the session row at most this often (ms): the idle timeout
/// needs no write on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The logged-in UI user of a request. Extracting it sends anyone without a
/// current session to the login page (with `next` set to where they were).
#[derive(Debug, Clone)]
pub struct Ui {
    /// The same caller the API builds, for the same `require` checks.
    pub caller: Caller,
    pub session: UiSession,
    /// The CSRF token forms of this session carry.
    pub csrf: String,
    /// Cookies get `Secure` (reached over https).
    pub secure: bool,
}

impl Ui {
    /// The caller's role is at least `role` (else a 403 page).
    pub fn require(&self, role: Role) -> Result<(), UiError> {
        self.caller
            .require(role, crate::auth::Scope::Read)
            .map_err(UiError::from)
    }

    pub fn org_id(&self) -> &str {
        &self.caller.org_id
    }

    pub fn role(&self) -> Role {
        self.caller.role
    }
}

/// The CSRF token of the session (or pre-login cookie) secret `secret`:
/// HMAC-SHA256 keyed by the secret, so only whoever holds the HttpOnly
/// cookie's value (the page the server rendered) can know it.
pub fn csrf_token(secret: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"facegate-ui-csrf-v1");
    hex::encode(mac.finalize().into_bytes())
}

/// A fresh random cookie secret (64 hex characters).
pub fn new_secret() -> String {
    hex::encode(random_bytes::<32>())
}

/// Where to go after login: only paths inside the UI (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui/")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 1000 =>
        {
            n.to_string()
        }
        _ => "/ui/".to_string(),
    }
}

impl FromRequestParts<AppState> for Ui {
    type Rejection = UiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = || {
            let uri = &parts.uri;
            let path = uri
                .path_and_query()
                .map_or_else(|| "/ui/".to_string(), |p| p.as_str().to_string());
            UiError::Login {
                // Only pages come back after login, never a POST target.
                next: (parts.method == axum::http::Method::GET).then_some(path),
            }
        };
        let Some(secret) = cookies::get(&parts.headers, cookies::SESSION) else {
            return Err(next());
        };
        let cfg = &state.config.ui;
        let idle_cutoff = now_ms() - cfg.session_idle_secs as i64 * 1000;
        let Some(session) = state
            .store
            .ui_session(&sha256_hex(&secret), idle_cutoff)
            .await
            .map_err(|e| UiError::from(crate::error::ApiError::from(e)))?
        else {
            return Err(next());
        };
        if now_ms() - session.seen_at > TOUCH_EVERY_MS
            && let Err(e) = state.store.touch_ui_session(&session.id).await
        {
            tracing::warn!("cannot record UI session use: {e}");
        }
        Ok(Ui {
            caller: Caller {
                org_id: session.org_id.clone(),
                role: session.role,
                principal: Principal::Account {
                    id: session.account_id.clone(),
                },
            },
            csrf: csrf_token(&secret),
            secure: cookies::secure(state, parts),
            session,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_ui() {
        assert_eq!(safe_next(Some("/ui/people?q=a")), "/ui/people?q=a");
        for bad in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/api/v1/people",
            "/ui/\\evil",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn csrf_tokens_differ_per_secret_and_are_stable() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert_eq!(csrf_token(&a), csrf_token(&a));
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert_eq!(csrf_token(&a).len(), 64);
    }
}
