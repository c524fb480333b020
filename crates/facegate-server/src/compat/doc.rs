//! The compatibility routes and the probes in the OpenAPI document.
//!
//! Their bodies are the seed clients' loose JSON (several accepted field
//! names, extra fields ignored), which no typed schema describes, so they are
//! declared here from one table rather than with `#[utoipa::path]` on each
//! handler: every path the router serves, trailing-slash twins included,
//! is listed with what it takes and answers. The house conventions (error
//! responses, operation-id prefixes) are applied afterwards like everywhere.

use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Required, ResponseBuilder, Type};

/// What a route's request body is.
#[derive(Clone, Copy)]
enum Body {
    None,
    /// A JSON object with the fields the summary names.
    Json,
    /// JSON, or the OAuth2 password form.
    JsonOrForm,
    /// The raw image bytes.
    Image,
}

/// One documented route: method, path, tag, public?, body, success status,
/// summary.
type Route = (
    HttpMethod,
    &'static str,
    &'static str,
    bool,
    Body,
    &'static str,
    &'static str,
);

// One route a line reads as the table it is.
#[rustfmt::skip]
const ROUTES: &[Route] = &[
    (HttpMethod::Get, "/healthz", "probes", true, Body::None, "200", "The process is up: `{\"status\": \"ok\"}`."),
    (HttpMethod::Get, "/readyz", "probes", true, Body::None, "200", "Ready: the database answers and (when required) the engine is loaded; 503 with the same body otherwise."),
    (HttpMethod::Get, "/metrics", "probes", true, Body::None, "200", "Prometheus metrics (text format)."),
    (HttpMethod::Get, "/health", "compat", true, Body::None, "200", "Seed health check: `{\"status\": \"ok\"}`."),
    (HttpMethod::Get, "/stream/", "compat", false, Body::None, "200", "Every camera of the organisation with its live status (`{cameras: [{camera, status}]}`)."),
    (HttpMethod::Get, "/stream/{camera_id}", "compat", false, Body::None, "200", "The camera's annotated frames as MJPEG (`multipart/x-mixed-replace`), as `GET /api/v1/cameras/{id}/stream`."),
    (HttpMethod::Post, "/access", "compat", false, Body::Json, "200", "`{user, device_id?}`: an access decision for a card or NFC code, an employee id, or the name of exactly one active person (a shared name is denied as `ambiguous`)."),
    (HttpMethod::Post, "/enroll", "compat", false, Body::Json, "201", "`{user_id, name?, image}` (base64): create the person if new, then enrol the face (422 `multiple_faces` for a group photo unless `face` = `largest` or an index)."),
    (HttpMethod::Post, "/recognize", "compat", false, Body::Json, "200", "`{image}` (base64): identify and mark attendance under the business rules."),
    (HttpMethod::Post, "/main", "compat", false, Body::Image, "200", "Raw image: identify, liveness and attendance (`message`, `min_sim_score`, `mean_sim_score`, `liveness_score`)."),
    (HttpMethod::Post, "/identity", "compat", false, Body::Image, "200", "Raw image: identify (same fields as `/main`)."),
    (HttpMethod::Post, "/liveness", "compat", false, Body::Image, "200", "Raw image: liveness score of the largest face."),
    (HttpMethod::Post, "/auth/login", "compat", true, Body::JsonOrForm, "200", "`{username, password}` as JSON or the OAuth2 password form: `access_token`, `token_type`, `refresh_token` (also as `access`/`refresh`)."),
    (HttpMethod::Post, "/auth/login/", "compat", true, Body::JsonOrForm, "200", "As `/auth/login`."),
    (HttpMethod::Get, "/employees", "compat", false, Body::None, "200", "Every person, as employees."),
    (HttpMethod::Get, "/employees/", "compat", false, Body::None, "200", "As `/employees`."),
    (HttpMethod::Post, "/employees", "compat", false, Body::Json, "201", "`{employee_id, name, department?, email?, rfid_code?, nfc_tag?}`: create a person."),
    (HttpMethod::Post, "/employees/", "compat", false, Body::Json, "201", "As `POST /employees`."),
    (HttpMethod::Get, "/employees/{id}", "compat", false, Body::None, "200", "One employee by person id or employee id."),
    (HttpMethod::Put, "/employees/{id}", "compat", false, Body::Json, "200", "Change the fields sent (`null` is refused for fields that cannot be cleared)."),
    (HttpMethod::Patch, "/employees/{id}", "compat", false, Body::Json, "200", "As `PUT`."),
    (HttpMethod::Delete, "/employees/{id}", "compat", false, Body::None, "204", "Delete the employee."),
    (HttpMethod::Get, "/employees/{id}/", "compat", false, Body::None, "200", "As `/employees/{id}`."),
    (HttpMethod::Put, "/employees/{id}/", "compat", false, Body::Json, "200", "As `PUT /employees/{id}`."),
    (HttpMethod::Patch, "/employees/{id}/", "compat", false, Body::Json, "200", "As `PATCH /employees/{id}`."),
    (HttpMethod::Delete, "/employees/{id}/", "compat", false, Body::None, "204", "As `DELETE /employees/{id}`."),
    (HttpMethod::Get, "/attendance", "compat", false, Body::None, "200", "The latest attendance records."),
    (HttpMethod::Get, "/attendance/", "compat", false, Body::None, "200", "As `/attendance`."),
    (HttpMethod::Post, "/attendance", "compat", false, Body::Json, "200", "`{image}` (base64) or `{credential}`: mark attendance."),
    (HttpMethod::Post, "/attendance/", "compat", false, Body::Json, "200", "As `POST /attendance`."),
    (HttpMethod::Get, "/attendance/{employee_id}", "compat", false, Body::None, "200", "One employee's records (person id or employee id)."),
    (HttpMethod::Get, "/attendance/{employee_id}/", "compat", false, Body::None, "200", "As `/attendance/{employee_id}`."),
    (HttpMethod::Post, "/embeddings/enroll", "compat", false, Body::Json, "201", "`{employee_id, image}`: enrol and replace the old templates."),
    (HttpMethod::Post, "/embeddings/enroll/", "compat", false, Body::Json, "201", "As `/embeddings/enroll`."),
    (HttpMethod::Post, "/embeddings/add", "compat", false, Body::Json, "201", "`{employee_id, image}`: add a template."),
    (HttpMethod::Post, "/embeddings/add/", "compat", false, Body::Json, "201", "As `/embeddings/add`."),
    (HttpMethod::Post, "/embeddings/delete_all/{id}", "compat", false, Body::None, "200", "Delete all the employee's templates."),
    (HttpMethod::Delete, "/embeddings/delete_all/{id}", "compat", false, Body::None, "200", "As `POST`."),
    (HttpMethod::Post, "/embeddings/delete_all/{id}/", "compat", false, Body::None, "200", "As `/embeddings/delete_all/{id}`."),
    (HttpMethod::Delete, "/embeddings/delete_all/{id}/", "compat", false, Body::None, "200", "As `DELETE /embeddings/delete_all/{id}`."),
    (HttpMethod::Post, "/embeddings/archive_all/{id}", "compat", false, Body::None, "200", "Archive all the employee's templates."),
    (HttpMethod::Post, "/embeddings/archive_all/{id}/", "compat", false, Body::None, "200", "As `/embeddings/archive_all/{id}`."),
];

fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Patch => "patch",
        HttpMethod::Delete => "delete",
        HttpMethod::Head => "head",
        HttpMethod::Options => "options",
        HttpMethod::Trace => "trace",
    }
}

/// `get_employees_id_slash` for `GET /employees/{id}/`: unique per route.
fn operation_id(method: &HttpMethod, path: &str) -> String {
    let mut id = method_name(method).to_string();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.push_str(segment.trim_start_matches('{').trim_end_matches('}'));
    }
    if path.len() > 1 && path.ends_with('/') {
        id.push_str("_slash");
    }
    id
}

fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// Adds [`ROUTES`] to the document.
pub struct CompatRoutes;

impl Modify for CompatRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (method, path, tag, public, body, status, summary) in ROUTES {
            let mut op = OperationBuilder::new()
                .tag(*tag)
                .operation_id(Some(operation_id(method, path)))
                .summary(Some(*summary));
            if *public {
                op = op.security(SecurityRequirement::default());
            }
            for name in path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description(Some("a person id or the employee (external) id"))
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
                );
            }
            let json = || ContentBuilder::new().schema(Some(object())).build();
            let request = match body {
                Body::None => None,
                Body::Json => Some(
                    RequestBodyBuilder::new()
                        .content("application/json", json())
                        .required(Some(Required::True))
                        .build(),
                ),
                Body::JsonOrForm => Some(
                    RequestBodyBuilder::new()
                        .content("application/json", json())
                        .content("application/x-www-form-urlencoded", json())
                        .required(Some(Required::True))
                        .build(),
                ),
                Body::Image => Some(
                    RequestBodyBuilder::new()
                        .content(
                            "application/octet-stream",
                            ContentBuilder::new()
                                .schema(Some(
                                    ObjectBuilder::new().schema_type(Type::String).format(Some(
                                        utoipa::openapi::SchemaFormat::KnownFormat(
                                            utoipa::openapi::KnownFormat::Binary,
                                        ),
                                    )),
                                ))
                                .build(),
                        )
                        .required(Some(Required::True))
                        .build(),
                ),
            };
            op = op.request_body(request);
            let response = if *status == "204" {
                ResponseBuilder::new().description("done").build()
            } else if *path == "/metrics" {
                ResponseBuilder::new()
                    .description("metrics")
                    .content(
                        "text/plain",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                            .build(),
                    )
                    .build()
            } else {
                ResponseBuilder::new()
                    .description("the seed client's JSON shape")
                    .content("application/json", json())
                    .build()
            };
            op = op.response(*status, response);
            openapi
                .paths
                .add_path_operation(path, vec![method.clone()], op.build());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_unique() {
        let mut ids: Vec<String> = ROUTES.iter().map(|r| operation_id(&r.0, r.1)).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(
            operation_id(&HttpMethod::Get, "/employees/{id}/"),
            "get_employees_id_slash"
        );
    }
}
