//! Static files of the UI, embedded in the binary (no files to install, no
//! build step). Pages link them as `/ui/static/NAME?v=HASH`, the hash of the
//! content, so they can be cached for a year and a new binary's files are
//! fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// (name, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/favicon.svg"),
    ),
];

/// name → `?v=` value (first 16 hex digits of the content's SHA-256).
static VERSIONS: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, _, bytes)| (*name, hex::encode(&Sha256::digest(bytes)[..8])))
        .collect()
});

/// The URL of static file `name`, versioned by its content.
pub fn url(name: &str) -> String {
    let v = VERSIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| v.as_str());
    format!("/ui/static/{name}?v={v}")
}

/// Total bytes of the embedded CSS and JS (reported as page weight).
pub fn css_js_bytes() -> usize {
    FILES
        .iter()
        .filter(|(n, _, _)| n.ends_with(".css") || n.ends_with(".js"))
        .map(|(_, _, b)| b.len())
        .sum()
}

/// `GET /ui/static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
