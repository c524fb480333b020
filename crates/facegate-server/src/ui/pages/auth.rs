//! Login and logout.
//!
//! Login goes through the API's own [`crate::routes::auth::authenticate`],
//! so the per-address throttle, the account lockout and the organisation
//! choice are the same. Every login issues a new session id (and ends the
//! session the browser came with); logout revokes the row server-side.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{render, see_other};
use crate::auth::tokens::sha256_hex;
use crate::client_ip::ClientIp;
use crate::routes::auth::{LoginRequest, authenticate};
use crate::state::AppState;
use crate::ui::cookies::{self, Secure};
use crate::ui::error::UiResult;
use crate::ui::session::{Ui, csrf_token, new_secret, safe_next};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The pre-login secret: the browser's, or a new one to set.
fn login_secret(headers: &HeaderMap) -> (String, bool) {
    match cookies::get(headers, cookies::LOGIN) {
        Some(s) if s.len() == 64 => (s, false),
        _ => (new_secret(), true),
    }
}

fn login_response(
    status: StatusCode,
    headers: &HeaderMap,
    secure: bool,
    next: String,
    email: String,
    error: Option<String>,
) -> Response {
    let (secret, fresh) = login_secret(headers);
    let page = LoginPage {
        csrf: csrf_token(&secret),
        next,
        email,
        error,
    };
    let mut r = (status, render(&page)).into_response();
    if fresh {
        let c = cookies::set(cookies::LOGIN, &secret, "/ui/login", 3600, secure);
        if let Ok(v) = c.parse() {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// `GET /ui/login`. Shown even to a logged-in browser (to switch accounts):
/// logging in ends the session it had.
pub async fn login_page(
    Secure(secure): Secure,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    login_response(StatusCode::OK, &headers, secure, next, String::new(), None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /ui/login`.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Secure(secure): Secure,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> UiResult {
    let next = safe_next(form.next.as_deref());
    let req = LoginRequest {
        email: form.email.clone(),
        password: form.password,
        organisation_id: None,
    };
    let (account_id, membership) = match authenticate(&state, ip, req).await {
        Ok(ok) => ok,
        Err(e) if e.status.is_client_error() => {
            let mut r = login_response(
                e.status,
                &headers,
                secure,
                next,
                form.email,
                Some(e.message.replace('`', "")),
            );
            if let Some(s) = e.retry_after_secs
                && let Ok(v) = s.to_string().parse()
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(r);
        }
        Err(e) => return Err(e.into()),
    };
    // Rotation: whatever session the browser had ends; the new one gets a
    // new secret and id.
    if let Some(old) = cookies::get(&headers, cookies::SESSION)
        && let Ok(Some(s)) = state.store.ui_session(&sha256_hex(&old), 0).await
    {
        state.store.end_ui_session(&s.id).await?;
    }
    let cfg = &state.config.ui;
    let secret = new_secret();
    state
        .store
        .create_ui_session(
            &sha256_hex(&secret),
            &account_id,
            &membership.org_id,
            facegate_store::now_ms() + cfg.session_absolute_secs as i64 * 1000,
        )
        .await?;
    tracing::info!(account = %account_id, org = %membership.org_id, "web UI login");
    let mut r = see_other(&next);
    for c in [
        cookies::set(
            cookies::SESSION,
            &secret,
            "/ui",
            cfg.session_absolute_secs,
            secure,
        ),
        cookies::clear(cookies::LOGIN, "/ui/login", secure),
    ] {
        if let Ok(v) = c.parse() {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(r)
}

/// `POST /ui/logout`: end the session server-side and drop the cookie.
pub async fn logout(State(state): State<AppState>, ui: Ui) -> UiResult {
    state.store.end_ui_session(&ui.session.id).await?;
    let mut r = see_other("/ui/login");
    if let Ok(v) = cookies::clear(cookies::SESSION, "/ui", ui.secure).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}
