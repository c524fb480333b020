//! One module per screen. Each handler takes the [`super::session::Ui`]
//! extractor, checks the role the screen needs (the same `Caller::require`
//! as the API), calls store functions or `flows`, and renders a template.

pub mod attendance;
pub mod audit;
pub mod auth;
pub mod cameras;
pub mod dashboard;
pub mod me;
pub mod people;
pub mod recognitions;
pub mod recognize;
pub mod settings;

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use facegate_store::{OrgSettings, Role};

use super::session::Ui;

/// What every logged-in page shows around its content: who is logged in,
/// the navigation their role allows, the CSRF token for forms.
pub struct Chrome {
    pub name: String,
    pub email: String,
    pub org: String,
    pub role: Role,
    pub csrf: String,
    /// Which menu entry is current.
    pub active: &'static str,
}

impl Chrome {
    pub fn new(ui: &Ui, active: &'static str) -> Chrome {
        Chrome {
            name: if ui.session.name.is_empty() {
                ui.session.email.clone()
            } else {
                ui.session.name.clone()
            },
            email: ui.session.email.clone(),
            org: ui.session.org_name.clone(),
            role: ui.session.role,
            csrf: ui.csrf.clone(),
            active,
        }
    }
    /// Operators and above run the system day to day.
    pub fn operator(&self) -> bool {
        self.role >= Role::Operator
    }
    /// Admins and owners manage settings, keys, the access log, erasure.
    pub fn admin(&self) -> bool {
        self.role >= Role::Admin
    }
    pub fn css(&self) -> String {
        super::assets::url("app.css")
    }
    pub fn js(&self) -> String {
        super::assets::url("app.js")
    }
    /// `aria-current` for the menu entry `name`.
    pub fn current(&self, name: &str) -> &'static str {
        if self.active == name { "page" } else { "false" }
    }
}

/// Render a template as an HTML response (a 500 page if rendering fails,
/// which askama's compile-time checks make a bug, not an input).
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("template rendering failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html><title>Error</title><p>Internal error: the page could not be rendered.</p>",
            )
                .into_response()
        }
    }
}

/// 303 See Other to `to` (POST-redirect-GET).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// `ts` (Unix ms) as local `YYYY-MM-DD HH:MM` in the organisation's zone.
pub fn local(settings: &OrgSettings, ts: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts)
        .map(|t| {
            t.with_timezone(&crate::rules::tz_of(settings))
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// Today's local date in the organisation's zone.
pub fn today(settings: &OrgSettings) -> chrono::NaiveDate {
    crate::rules::local_time(settings, facegate_store::now_ms()).date
}

/// The message for a `?ok=` code after a redirect (fixed texts only, so a
/// link cannot make the page say anything).
pub fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "created" => "Saved: the person was created. Enrol a face below.",
        "saved" => "Saved.",
        "template_deleted" => "The template was deleted.",
        "erased" => "The person and all their data (templates, attendance, schedules) were erased.",
        "bulk" => "The selected people were updated.",
        "revoked" => "The API key was revoked.",
        "schedule_added" => "The schedule was added.",
        "schedule_deleted" => "The schedule was deleted.",
        _ => return None,
    })
}

/// `axum::Form` whose rejection (a malformed body, a repeated field) is a
/// readable 422 page rather than the API's JSON error.
pub struct UiForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for UiForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = super::error::UiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| UiForm(v))
            .map_err(|e| {
                super::error::UiError::invalid(format!(
                    "The form could not be read: {}",
                    e.body_text()
                ))
            })
    }
}

/// Form field value: trimmed, `None` when empty.
pub fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
