//! The admin web UI under `/ui`: server-rendered pages (askama templates in
//! `templates/`), plain HTML forms with POST-redirect-GET, one small
//! hand-written script (`static/app.js`) for what the browser must do
//! (drag-and-drop, webcam capture), charts drawn server-side as SVG.
//!
//! Handlers call the same store functions, `flows` and role checks
//! ([`crate::auth::Caller::require`]) as `/api/v1`; they never call the JSON
//! API over HTTP.
//!
//! Security, in layers (see `session`, `csrf`, `cookies`):
//! - a server-side session (a `refresh_tokens` row, so everything that ends
//!   API sessions ends UI sessions too) in an HttpOnly, SameSite=Strict cookie,
//!   a new id at every login, idle and absolute timeouts;
//! - on every state-changing request, [`csrf::protect`] checks `Origin` (or
//!   `Referer`) and a token derived from the session secret, before routing,
//!   so no route can forget it;
//! - the service's Content-Security-Policy (no inline script) plus
//!   `form-action 'self'` on UI pages.

pub mod assets;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod pages;
pub mod session;
pub mod svg;

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

/// `[ui]` in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Serve the web UI at `/ui`.
    pub enabled: bool,
    /// A session unused for this long ends (seconds).
    pub session_idle_secs: u64,
    /// A session ends this long after login, used or not (seconds).
    pub session_absolute_secs: u64,
    /// Mark cookies `Secure`. Unset: only when a trusted proxy says the
    /// request came over https (`X-Forwarded-Proto: https`); facegate itself
    /// serves plain HTTP, so TLS is always a proxy's job.
    pub secure_cookies: Option<bool>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            enabled: true,
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            secure_cookies: None,
        }
    }
}

impl UiConfig {
    /// Checked with the rest of the configuration.
    pub fn validate(&self) -> Result<(), String> {
        if !(60..=7 * 24 * 3600).contains(&self.session_idle_secs) {
            return Err("ui.session_idle_secs must be between 60 and 604800".into());
        }
        if self.session_absolute_secs < self.session_idle_secs
            || self.session_absolute_secs > 30 * 24 * 3600
        {
            return Err(
                "ui.session_absolute_secs must be at least ui.session_idle_secs and at most 2592000"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Every state-changing route of the UI (method POST), with `{id}`
/// placeholders. The CSRF middleware guards all POSTs whether listed or not;
/// this list is what the tests iterate over, and a unit test checks that the
/// router answers each of them (so a new route is added here too).
pub const STATE_CHANGING_ROUTES: &[&str] = &[
    "/ui/login",
    "/ui/logout",
    "/ui/people",
    "/ui/people/bulk",
    "/ui/people/{id}",
    "/ui/people/{id}/templates",
    "/ui/people/{id}/templates/{template_id}/delete",
    "/ui/people/{id}/erase",
    "/ui/people/{id}/privacy",
    "/ui/people/{id}/schedules",
    "/ui/people/{id}/schedules/{template_id}/delete",
    "/ui/recognize",
    "/ui/settings/keys",
    "/ui/settings/keys/{id}/revoke",
    "/ui/cameras",
    "/ui/cameras/{id}",
    "/ui/cameras/{id}/enabled",
    "/ui/cameras/{id}/delete",
    "/ui/recognitions/label",
    "/ui/recognitions/review",
    "/ui/recognize/not",
    "/ui/enrol/check",
];

/// The `/ui` routes (empty when `ui.enabled` is false).
pub fn router(state: AppState) -> Router<AppState> {
    if !state.config.ui.enabled {
        return Router::new();
    }
    use pages::*;
    let routes = Router::new()
        .route("/ui", get(dashboard::redirect_root))
        .route("/ui/", get(dashboard::page))
        .route("/ui/login", get(auth::login_page).post(auth::login))
        .route("/ui/logout", post(auth::logout))
        .route("/ui/me", get(me::page))
        .route("/ui/people", get(people::list).post(people::create))
        .route("/ui/people/new", get(people::new_form))
        .route("/ui/people/bulk", post(people::bulk))
        .route("/ui/people/{id}", get(people::show).post(people::update))
        .route("/ui/people/{id}/templates", post(people::enrol))
        .route(
            "/ui/people/{id}/templates/{template_id}/delete",
            post(people::delete_template),
        )
        .route("/ui/people/{id}/erase", post(people::erase))
        .route("/ui/people/{id}/privacy", post(people::privacy))
        .route("/ui/people/{id}/export", get(people::export))
        .route("/ui/people/{id}/schedules", post(people::add_schedule))
        .route(
            "/ui/people/{id}/schedules/{schedule_id}/delete",
            post(people::delete_schedule),
        )
        .route("/ui/recognize", get(recognize::page).post(recognize::run))
        .route("/ui/attendance", get(attendance::page))
        .route("/ui/attendance.csv", get(attendance::csv))
        .route("/ui/access-log", get(audit::page))
        .route("/ui/spoof-events", get(audit::spoof_events))
        .route("/ui/spoof-events/{id}/snapshot", get(audit::spoof_snapshot))
        .route("/ui/settings", get(settings::page))
        .route("/ui/settings/keys", post(settings::create_key_route))
        .route("/ui/settings/keys/{id}/revoke", post(settings::revoke_key))
        .route("/ui/cameras", get(cameras::list).post(cameras::create))
        .route("/ui/cameras/new", get(cameras::new_form))
        .route("/ui/cameras/{id}", get(cameras::live).post(cameras::update))
        .route("/ui/cameras/{id}/edit", get(cameras::edit_form))
        .route("/ui/cameras/{id}/enabled", post(cameras::set_enabled))
        .route("/ui/cameras/{id}/delete", post(cameras::delete))
        .route("/ui/cameras/{id}/status.json", get(cameras::status_json))
        .route("/ui/cameras/{id}/live.mjpeg", get(cameras::live_mjpeg))
        .route("/ui/events/stream", get(cameras::events_stream))
        .route("/ui/events/{id}/crop", get(recognitions::crop))
        .route("/ui/recognitions", get(recognitions::page))
        .route("/ui/recognitions/label", post(recognitions::label))
        .route("/ui/recognitions/review", post(recognitions::review))
        .route("/ui/recognize/not", post(recognize::not_x))
        .route("/ui/enrol/check", post(people::enrol_check))
        .route("/ui/static/{file}", get(assets::serve))
        .layer(middleware::from_fn_with_state(state, csrf::protect));
    // The service's `Referrer-Policy: no-referrer` would make browsers send
    // `Origin: null` on the UI's own form posts (Fetch: a non-CORS request
    // under no-referrer serialises its origin as null), so UI pages use
    // same-origin: our own posts carry our origin, other sites get nothing.
    let routes = routes.layer(SetResponseHeaderLayer::if_not_present(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("same-origin"),
    ));
    // Pages may only submit forms to this origin; the service-wide CSP
    // (set when absent) adds nothing for forms.
    routes.layer(SetResponseHeaderLayer::if_not_present(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
             form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
        ),
    ))
}
