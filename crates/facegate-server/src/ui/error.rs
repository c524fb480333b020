//! What the user sees when a UI request fails: one type, [`UiError`].
//!
//! No session: a redirect to the login page (with `next`). Anything else: a
//! full page with the status, a title and a readable message. Internal
//! details never reach the page; the log has them under the request id
//! (the `x-request-id` response header).

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// A failed UI request.
#[derive(Debug)]
pub enum UiError {
    /// Not logged in (or the session ended): go to the login page, then
    /// back to `next` (a page path) after logging in.
    Login { next: Option<String> },
    /// An error page.
    Page {
        status: StatusCode,
        title: String,
        message: String,
    },
}

/// Page handlers' result.
pub type UiResult<T = Response> = Result<T, UiError>;

impl UiError {
    pub fn page(status: StatusCode, title: &str, message: impl Into<String>) -> UiError {
        UiError::Page {
            status,
            title: title.to_string(),
            message: message.into(),
        }
    }

    pub fn forbidden() -> UiError {
        UiError::page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Your role does not allow this page. Ask an administrator if you need it.",
        )
    }

    pub fn invalid(message: impl Into<String>) -> UiError {
        UiError::page(StatusCode::UNPROCESSABLE_ENTITY, "Cannot do that", message)
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        let title = match e.status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::TOO_MANY_REQUESTS => "Too many requests",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            s if s.is_server_error() => "Something went wrong",
            _ => "Cannot do that",
        };
        let message = if e.status.is_server_error() && e.status != StatusCode::SERVICE_UNAVAILABLE {
            "An internal error happened; the server log has the details under this request's id \
             (the x-request-id response header)."
                .to_string()
        } else {
            // API messages quote fields as `name`; pages show them plainly
            // and speak to the person reading.
            let m = e
                .message
                .replace('`', "")
                .replace("this requires the", "This page needs the")
                .replace("; the caller is ", "; your role is ");
            let mut chars = m.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => m,
            }
        };
        UiError::Page {
            status: e.status,
            title: title.into(),
            message,
        }
    }
}

impl From<facegate_store::StoreError> for UiError {
    fn from(e: facegate_store::StoreError) -> Self {
        UiError::from(ApiError::from(e))
    }
}

/// The error page (no navigation: it must render without a session).
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::Login { next } => {
                let location = match next {
                    Some(n) if n != "/ui/" => format!(
                        "/ui/login?{}",
                        serde_urlencoded::to_string([("next", n.as_str())]).unwrap_or_default()
                    ),
                    _ => "/ui/login".to_string(),
                };
                (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
            }
            UiError::Page {
                status,
                title,
                message,
            } => {
                let page = ErrorPage {
                    status: status.as_u16(),
                    title: &title,
                    message: &message,
                };
                (status, super::pages::render(&page)).into_response()
            }
        }
    }
}

/// The 404 page for unknown `/ui` paths.
pub async fn not_found() -> Response {
    UiError::page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page. Use the menu to find your way.",
    )
    .into_response()
}
