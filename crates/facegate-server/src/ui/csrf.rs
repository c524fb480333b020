//! CSRF defence for every state-changing UI request, applied as middleware
//! in front of the UI routes, so no handler can forget it.
//!
//! A request that is not GET/HEAD must pass both checks:
//! 1. **Origin**: `Origin` (or, when a browser leaves it out, `Referer`) names
//!    this host. A forged cross-site form post fails here even before the
//!    token is looked at. A request with neither header is refused: every
//!    browser sends `Origin` on a form POST.
//! 2. **Token**: the `_csrf` form field (urlencoded or multipart) or the
//!    `X-CSRF-Token` header (for `fetch`) equals the token derived from the
//!    session cookie's secret ([`super::session::csrf_token`]); on
//!    `/ui/login`, from the pre-login cookie's. Compared in constant time.
//!
//! The session cookie itself is SameSite=Strict, a third layer.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::cookies;
use super::error::UiError;
use super::session::csrf_token;
use crate::state::AppState;

/// The form field that carries the token.
pub const FIELD: &str = "_csrf";
/// The header that carries the token for script requests.
pub const HEADER: &str = "x-csrf-token";

/// The middleware (see the module docs).
pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    match check(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn refused(message: &str) -> UiError {
    UiError::page(
        axum::http::StatusCode::FORBIDDEN,
        "Request refused",
        format!("{message} Reload the page and try again."),
    )
}

async fn check(state: &AppState, req: Request) -> Result<Request, UiError> {
    if !same_origin(req.headers()) {
        return Err(refused(
            "This form was not sent from a facegate page (cross-site request).",
        ));
    }
    let cookie = if req.uri().path() == "/ui/login" {
        cookies::LOGIN
    } else {
        cookies::SESSION
    };
    let Some(secret) = cookies::get(req.headers(), cookie) else {
        return Err(refused("Your session has ended or cookies are blocked."));
    };
    let expected = csrf_token(&secret);
    if let Some(sent) = req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        return if equal(sent, &expected) {
            Ok(req)
        } else {
            Err(refused("The form's security token is wrong."))
        };
    }
    // The token is in the body: read it (within the body limit), find the
    // field, and hand the same bytes on.
    let (parts, body) = req.into_parts();
    let limit = state.config.max_body_bytes;
    let bytes = to_bytes(body, limit).await.map_err(|_| {
        UiError::page(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "Too large",
            format!(
                "The upload is over the limit of {} MB.",
                limit / (1024 * 1024)
            ),
        )
    })?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let sent = if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|fields| fields.into_iter().find(|(k, _)| k == FIELD).map(|(_, v)| v))
    } else if content_type.starts_with("multipart/form-data") {
        multipart_field(&parts.headers, bytes.clone()).await
    } else {
        None
    };
    match sent {
        Some(s) if equal(&s, &expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Some(_) => Err(refused("The form's security token is wrong.")),
        None => Err(refused("The form has no security token.")),
    }
}

/// The `_csrf` field of a multipart body, read with axum's own parser.
async fn multipart_field(headers: &axum::http::HeaderMap, bytes: Bytes) -> Option<String> {
    let mut req = Request::new(Body::from(bytes));
    *req.headers_mut() = headers.clone();
    let mut form = Multipart::from_request(req, &()).await.ok()?;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(FIELD) {
            return field.text().await.ok();
        }
    }
    None
}

fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `Origin` (else `Referer`) names the host the request was sent to.
fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else { return false };
    // scheme://authority[/path]: compare the authority. The scheme is not
    // compared: behind a TLS proxy the page is https and the hop to us http.
    let Some((scheme, rest)) = source.split_once("://") else {
        return false;
    };
    if scheme != "http" && scheme != "https" {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origin_must_name_this_host() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(same_origin(&headers(&[
            host,
            ("referer", "https://127.0.0.1:8080/ui/people")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080.evil.example")
        ])));
        assert!(!same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!same_origin(&headers(&[host])), "neither header");
        // Origin wins over a same-site Referer.
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "https://evil.example"),
            ("referer", "http://127.0.0.1:8080/ui/")
        ])));
    }
}
