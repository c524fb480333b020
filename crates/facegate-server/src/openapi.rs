//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations, and a Swagger UI page.
//!
//! The `utoipa-swagger-ui` crate downloads its assets at build time, which
//! offline builds cannot do. Instead `/docs` is a small page that loads the
//! `swagger-ui-dist` files `facegate setup` installs (pinned by version and
//! sha256) into `swagger-ui/` of the data directory, or of `models_dir`
//! where setup put the packs; without them the page links the raw document
//! and says how to install them.

use std::path::PathBuf;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    Content, ObjectBuilder, Ref, RefOr, Required, Response as DocResponse, SchemaFormat, Type,
};
use utoipa::{Modify, OpenApi};

use crate::compat::doc::CompatRoutes;
use crate::error::{ApiError, ApiPath, ErrorBody};
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

/// House rules every operation follows, applied to the generated document
/// instead of being repeated on each handler:
///
/// - every 4xx/5xx answer is an [`ErrorBody`], so each error response
///   without content gets that schema, and the answers any route of its
///   kind can give (401/403 behind auth, 404 with an id in the path, 400/
///   413/422 with a body or query, 503 where the engine runs, 429 and
///   `default` everywhere) are listed when the handler did not;
/// - ids in paths are declared as parameters: handlers take them through
///   `ApiPath`, which utoipa cannot see through; and parameter structs
///   read with `ApiQuery` (also opaque to utoipa, so it files them under
///   `path` unless told) are query parameters when the path has no such
///   segment;
/// - operation ids are `<tag>_<handler>` (`people_list`): handlers are
///   named `list`, `create`, ... per module, and OpenAPI tools need the ids
///   unique.
struct Conventions;

fn error_response(description: &str) -> RefOr<DocResponse> {
    let mut r = DocResponse::new(description);
    r.content.insert(
        "application/json".into(),
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    );
    RefOr::T(r)
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

impl Conventions {
    fn apply(op: &mut Operation, params: &[&str]) {
        if let (Some(tag), Some(id)) = (
            op.tags.as_ref().and_then(|t| t.first()),
            op.operation_id.as_ref(),
        ) {
            let prefix = format!("{}_", tag.replace('-', "_"));
            if !id.starts_with(&prefix) {
                op.operation_id = Some(format!("{prefix}{id}"));
            }
        }
        let declared = op.parameters.get_or_insert_with(Vec::new);
        for p in declared.iter_mut() {
            if p.parameter_in == ParameterIn::Path && !params.contains(&p.name.as_str()) {
                p.parameter_in = ParameterIn::Query;
                p.required = Required::False;
            }
        }
        for name in params {
            if !declared
                .iter()
                .any(|p| p.name == *name && p.parameter_in == ParameterIn::Path)
            {
                declared.push(
                    ParameterBuilder::new()
                        .name(*name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description(Some("a UUID; another organisation's reads as not found"))
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .format(Some(SchemaFormat::Custom("uuid".into()))),
                        ))
                        .build(),
                );
            }
        }
        let has_query = declared
            .iter()
            .any(|p| p.parameter_in == ParameterIn::Query);
        // `security(())` on a handler marks it public (login, refresh, logout).
        let public = op
            .security
            .as_ref()
            .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
        let body_types: Vec<String> = op
            .request_body
            .as_ref()
            .map(|b| b.content.keys().cloned().collect())
            .unwrap_or_default();
        let mut standard: Vec<(&str, &str)> = Vec::new();
        if !public {
            standard.push(("401", "missing, invalid or expired credentials"));
            standard.push((
                "403",
                "the caller's role or API-key scope does not allow this",
            ));
        }
        if !params.is_empty() {
            standard.push(("404", "not found (another organisation's ids too)"));
        }
        if !body_types.is_empty() || has_query {
            standard.push(("400", "malformed body or query string"));
            standard.push(("422", "a field is missing or invalid"));
        }
        if !body_types.is_empty() {
            standard.push(("413", "the body or the image is over the size limit"));
        }
        if body_types.iter().any(|t| t != "application/json") {
            standard.push(("503", "the face engine is not loaded"));
        }
        standard.push(("429", "rate limited (per client IP, API key or login)"));
        standard.push(("default", "an unexpected error"));
        for (code, description) in standard {
            op.responses
                .responses
                .entry(code.to_string())
                .or_insert_with(|| error_response(description));
        }
        for (code, response) in op.responses.responses.iter_mut() {
            let is_error = code == "default" || code.starts_with('4') || code.starts_with('5');
            if let (true, RefOr::T(r)) = (is_error, response)
                && r.content.is_empty()
            {
                r.content.insert(
                    "application/json".into(),
                    Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                );
            }
        }
    }
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let params = path_params(path);
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                Self::apply(op, &params);
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "facegate", description = "Face recognition for access control and attendance. Errors are `{\"error\": {\"code\", \"message\"}}`; timestamps are Unix milliseconds."),
    paths(
        routes::auth::login, routes::auth::refresh, routes::auth::logout, routes::auth::me,
        routes::orgs::list, routes::orgs::create, routes::orgs::current, routes::orgs::update, routes::orgs::remove,
        routes::accounts::list, routes::accounts::create, routes::accounts::read, routes::accounts::update, routes::accounts::remove,
        routes::api_keys::list, routes::api_keys::read, routes::api_keys::create, routes::api_keys::revoke,
        routes::devices::list, routes::devices::create, routes::devices::read, routes::devices::update, routes::devices::remove,
        routes::people::list, routes::people::create, routes::people::read, routes::people::update, routes::people::remove,
        routes::templates::enrol, routes::templates::list, routes::templates::delete_all, routes::templates::archive_all, routes::templates::delete_one,
        routes::schedules::list, routes::schedules::create, routes::schedules::read, routes::schedules::update, routes::schedules::remove,
        routes::recognition::identify_route, routes::recognition::verify, routes::recognition::detect,
        routes::attendance::mark, routes::attendance::list, routes::attendance::summary, routes::attendance::export,
        routes::access::decide, routes::audit::list, routes::audit::verify,
        routes::liveness::list_events, routes::liveness::snapshot,
        routes::liveness::create_challenge, routes::liveness::submit_challenge,
        routes::cameras::list, routes::cameras::create, routes::cameras::read, routes::cameras::update, routes::cameras::remove,
        routes::cameras::status, routes::cameras::snapshot, routes::cameras::stream, routes::cameras::push_frame, routes::cameras::websocket,
        routes::events::list, routes::events::stream, routes::events::crop,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security, &CompatRoutes, &Conventions),
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

/// Where `facegate setup` installed the assets: with the data, or with the
/// packs when `models_dir` is elsewhere.
fn assets_dir(state: &AppState) -> PathBuf {
    let in_data = state.config.data_dir.join("swagger-ui");
    let in_models = state.config.models_dir().join("swagger-ui");
    if !in_data.join("swagger-ui-bundle.js").is_file()
        && in_models.join("swagger-ui-bundle.js").is_file()
    {
        in_models
    } else {
        in_data
    }
}

async fn docs_page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    if !state.config.swagger_ui {
        return Err(ApiError::not_found("documentation page"));
    }
    if !assets_dir(&state).join("swagger-ui-bundle.js").is_file() {
        return Ok(Html(format!(
            "<!doctype html><meta charset=utf-8><title>facegate API</title>\
             <p>The OpenAPI document is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>\
             <p>To browse it here, install Swagger UI: run <code>facegate setup</code> (it fetches the npm package \
             <code>swagger-ui-dist</code>, pinned by version and sha256, into <code>{}</code>), then reload.</p>",
            html_escape(&assets_dir(&state).display().to_string())
        )));
    }
    Ok(Html(
        "<!doctype html><html><head><meta charset=utf-8><title>facegate API</title>\
         <link rel=stylesheet href=\"/docs/assets/swagger-ui.css\"></head><body><div id=swagger-ui></div>\
         <noscript>The OpenAPI document is at <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</noscript>\
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
