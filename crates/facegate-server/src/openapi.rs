//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations, and a Swagger UI page.
//!
//! The `utoipa-swagger-ui` crate downloads its assets at build time, which
//! offline builds cannot do. Instead `/docs` is a small page that loads the
//! `swagger-ui-dist` files from `DATA_DIR/swagger-ui/` (install with
//! `npm pack swagger-ui-dist` and unpack its `package/` there); without them
//! the page links the raw document.

use std::path::PathBuf;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ApiError, ApiPath};
use crate::routes;
use crate::state::AppState;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "facegate", description = "Face recognition for access control and attendance. Errors are `{\"error\": {\"code\", \"message\"}}`; timestamps are Unix milliseconds."),
    paths(
        routes::auth::login, routes::auth::refresh, routes::auth::logout, routes::auth::me,
        routes::orgs::list, routes::orgs::create, routes::orgs::current, routes::orgs::update,
        routes::accounts::list, routes::accounts::create, routes::accounts::read, routes::accounts::update, routes::accounts::remove,
        routes::api_keys::list, routes::api_keys::read, routes::api_keys::create, routes::api_keys::revoke,
        routes::devices::list, routes::devices::create, routes::devices::read, routes::devices::update, routes::devices::remove,
        routes::people::list, routes::people::create, routes::people::read, routes::people::update, routes::people::remove,
        routes::templates::enrol, routes::templates::list, routes::templates::delete_all, routes::templates::archive_all, routes::templates::delete_one,
        routes::schedules::list, routes::schedules::create, routes::schedules::read, routes::schedules::remove,
        routes::recognition::identify_route, routes::recognition::verify, routes::recognition::detect,
        routes::attendance::mark, routes::attendance::list, routes::attendance::summary, routes::attendance::export,
        routes::access::decide, routes::audit::list, routes::audit::verify,
    ),
    modifiers(&Security),
    security(("bearer" = []), ("api_key" = [])),
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page))
        .route("/docs/assets/{file}", get(asset))
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

fn assets_dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("swagger-ui")
}

async fn docs_page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    if !state.config.swagger_ui {
        return Err(ApiError::not_found("documentation page"));
    }
    if !assets_dir(&state).join("swagger-ui-bundle.js").is_file() {
        return Ok(Html(format!(
            "<!doctype html><meta charset=utf-8><title>facegate API</title>\
             <p>The OpenAPI document is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>\
             <p>To browse it here, unpack the npm package <code>swagger-ui-dist</code> into <code>{}</code>.</p>",
            html_escape(&assets_dir(&state).display().to_string())
        )));
    }
    Ok(Html(
        "<!doctype html><html><head><meta charset=utf-8><title>facegate API</title>\
         <link rel=stylesheet href=\"/docs/assets/swagger-ui.css\"></head><body><div id=swagger-ui></div>\
         <script src=\"/docs/assets/swagger-ui-bundle.js\"></script>\
         <script src=\"/docs/assets/facegate-init.js\"></script></body></html>"
            .to_string(),
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Static files of swagger-ui-dist; names are checked so nothing outside the
/// directory can be read.
async fn asset(
    State(state): State<AppState>,
    ApiPath(file): ApiPath<String>,
) -> Result<Response, ApiError> {
    if file == "facegate-init.js" {
        // Inline scripts are blocked by the CSP, so the initialiser is a file too.
        return Ok((
            [(header::CONTENT_TYPE, "application/javascript")],
            "window.ui = SwaggerUIBundle({url: '/api/v1/openapi.json', dom_id: '#swagger-ui'});",
        )
            .into_response());
    }
    let allowed = [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "favicon-32x32.png",
    ];
    if !state.config.swagger_ui || !allowed.contains(&file.as_str()) {
        return Err(ApiError::not_found("asset"));
    }
    let bytes = tokio::fs::read(assets_dir(&state).join(&file))
        .await
        .map_err(|_| ApiError::not_found("asset"))?;
    let ct = if file.ends_with(".css") {
        "text/css"
    } else if file.ends_with(".js") {
        "application/javascript"
    } else {
        "image/png"
    };
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, ct)], bytes).into_response())
}
