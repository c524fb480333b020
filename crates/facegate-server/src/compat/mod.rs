//! Compatibility routes for the seed clients. Each maps onto the v1 logic
//! (same auth, rules, logging); only the request/response shapes differ.
//! Request bodies here are lenient about extra fields because the seed
//! clients send some we do not use. See the README's compatibility table.

pub mod doc;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use facegate_store::{AttendanceFilter, PeopleFilter, Person, PersonStatus, Role, SpoofSource};
use serde_json::{Value, json};

use crate::auth::{Caller, Scope};
use crate::client_ip::ClientIp;
use crate::engine::primary_face;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::flows::{
    IdentifyOut, MarkParams, Purpose, Sighting, decide_access_by_name, identify, mark_attendance,
    record_identify_spoofs, record_spoof,
};
use crate::image_input::{decode_base64_image, missing_image};
use crate::routes::people::{CreatePerson, UpdatePerson, apply_update, validate_new};
use crate::routes::templates::{FaceChoice, FaceParam, enrol_image};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        // Cameras: the status of all, and one camera's MJPEG stream.
        .route("/stream/", get(stream_status))
        .route("/stream/{camera_id}", get(stream_camera))
        .route("/access", post(access))
        .route("/enroll", post(enroll))
        .route("/recognize", post(recognize))
        .route("/main", post(main_flow))
        .route("/identity", post(identity))
        .route("/liveness", post(liveness))
        // Django-style paths, with and without the trailing slash.
        .route("/auth/login", post(login))
        .route("/auth/login/", post(login))
        .route("/employees", get(employees_list).post(employees_create))
        .route("/employees/", get(employees_list).post(employees_create))
        .route("/attendance", get(attendance_list).post(attendance_mark))
        .route("/attendance/", get(attendance_list).post(attendance_mark))
        .route("/attendance/{employee_id}", get(attendance_of))
        .route("/attendance/{employee_id}/", get(attendance_of))
        .route(
            "/employees/{id}",
            get(employee_get)
                .put(employee_update)
                .patch(employee_update)
                .delete(employee_delete),
        )
        .route(
            "/employees/{id}/",
            get(employee_get)
                .put(employee_update)
                .patch(employee_update)
                .delete(employee_delete),
        )
        .route("/embeddings/enroll", post(embeddings_enroll))
        .route("/embeddings/enroll/", post(embeddings_enroll))
        .route("/embeddings/add", post(embeddings_add))
        .route("/embeddings/add/", post(embeddings_add))
        .route(
            "/embeddings/delete_all/{id}",
            post(embeddings_delete_all).delete(embeddings_delete_all),
        )
        .route(
            "/embeddings/delete_all/{id}/",
            post(embeddings_delete_all).delete(embeddings_delete_all),
        )
        .route("/embeddings/archive_all/{id}", post(embeddings_archive_all))
        .route(
            "/embeddings/archive_all/{id}/",
            post(embeddings_archive_all),
        )
}

/// First string (or number) among several accepted field names.
fn field(v: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match v.get(*n) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

fn object(v: &Value) -> ApiResult<()> {
    if v.is_object() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the JSON body must be an object",
        ))
    }
}

fn image_field(v: &Value) -> ApiResult<Vec<u8>> {
    for name in ["image", "image_base64", "img", "photo"] {
        match v.get(name) {
            Some(Value::String(s)) => return decode_base64_image(name, s),
            Some(Value::Null) | None => {}
            Some(_) => {
                return Err(ApiError::invalid(format!(
                    "`{name}` must be a base64 string"
                )));
            }
        }
    }
    Err(ApiError::bad_request(
        "missing_image",
        "no image: send the base64 image in the `image` field",
    ))
}

/// `face`: which face of a group photo to enrol (`largest` or an index);
/// without it, a photo of several faces is refused as on `/api/v1`.
fn face_choice(body: &Value) -> ApiResult<FaceChoice> {
    let param = match body.get("face") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(FaceParam::Index(n.as_u64().ok_or_else(|| {
            ApiError::invalid("`face` must be `largest` or the index of a face (0, 1, ...)")
        })?)),
        Some(Value::String(s)) => Some(FaceParam::Text(s.clone())),
        Some(_) => {
            return Err(ApiError::invalid(
                "`face` must be `largest` or the index of a face (0, 1, ...)",
            ));
        }
    };
    FaceChoice::from_params(param.as_ref(), None)
}

/// A person by uuid or by external (employee) id.
async fn find_person(state: &AppState, org_id: &str, id: &str) -> ApiResult<Person> {
    if uuid::Uuid::parse_str(id).is_ok()
        && let Ok(p) = state.store.get_person(org_id, id).await
    {
        return Ok(p);
    }
    state
        .store
        .find_person_by_external_id(org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("employee"))
}

fn employee_json(p: &Person) -> Value {
    json!({
        "id": p.id, "employee_id": p.external_id, "external_id": p.external_id, "name": p.name,
        "department": p.department, "email": p.email, "status": p.status,
        "is_active": p.status == PersonStatus::Active, "rfid_code": p.rfid_code, "nfc_tag": p.nfc_tag,
    })
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `POST /access {user}`: credential-only access decision.
async fn access(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Access)?;
    object(&body)?;
    let user = field(&body, &["user", "user_id", "credential", "card"])
        .ok_or_else(|| ApiError::invalid("`user` is required (RFID/NFC code or employee id)"))?;
    let device = field(&body, &["device_id", "device"]);
    let mut out = decide_access_by_name(&state, &caller.org_id, user.clone(), device).await?;
    out["access"] = out["decision"].clone();
    out["user"] = json!(user);
    Ok(Json(out))
}

/// `POST /enroll {user_id, name, image}`: create the person if needed, add a template.
async fn enroll(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(Role::Operator, Scope::Enroll)?;
    object(&body)?;
    let user = field(
        &body,
        &["user_id", "user", "employee_id", "external_id", "id"],
    )
    .ok_or_else(|| ApiError::invalid("`user_id` is required"))?;
    let image = image_field(&body)?;
    let person = match state
        .store
        .find_person_by_external_id(&caller.org_id, &user)
        .await?
    {
        Some(p) => p,
        None => {
            caller.require(Role::Operator, Scope::People)?;
            let name = field(&body, &["name", "full_name"]).unwrap_or_else(|| user.clone());
            let req = CreatePerson {
                external_id: user.clone(),
                name,
                department: field(&body, &["department"]),
                email: None,
                status: None,
                rfid_code: None,
                nfc_tag: None,
            };
            state
                .store
                .create_person(&caller.org_id, &validate_new(&req)?)
                .await?
        }
    };
    let choice = face_choice(&body)?;
    let (template, face) = enrol_image(&state, &caller.org_id, &person.id, image, choice).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"message": "enrolled", "user_id": person.external_id, "person_id": person.id,
            "template_id": template.id, "face": face}),
        ),
    ))
}

/// `POST /recognize {image}`: identify and record attendance under the rules.
async fn recognize(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Attendance)?;
    object(&body)?;
    let image = image_field(&body)?;
    let params = MarkParams {
        device_id: field(&body, &["device_id", "device"]),
        kind: field(&body, &["kind", "type"]),
        credential: None,
        source: "compat",
        identified: None,
    };
    let out = mark_attendance(&state, &caller.org_id, Some(image), params).await?;
    let person = &out["person"];
    Ok(Json(json!({
        "message": out["message"],
        "recognized": !person.is_null(),
        "user_id": person.get("external_id"),
        "name": person.get("name"),
        "confidence": out["score"],
        "attendance_recorded": out["recorded"],
        "reason": out["reason"],
        "details": out,
    })))
}

fn raw_image(body: &Bytes) -> ApiResult<Vec<u8>> {
    if body.is_empty() {
        return Err(missing_image());
    }
    Ok(body.to_vec())
}

/// The raw-binary routes' response: `message`, `min_sim_score`,
/// `mean_sim_score`, `liveness_score` (+ who).
async fn raw_identify(
    state: &AppState,
    caller: &Caller,
    body: &Bytes,
) -> ApiResult<(Value, IdentifyOut)> {
    let image = raw_image(body)?;
    let org = state.store.get_org(&caller.org_id).await?;
    // Access's FPIR for every raw route, `/main`'s attendance included:
    // the stricter of the two, since these clients cannot choose.
    let (out, _) = identify(state, &org, image, 1, None, true, Purpose::Access).await?;
    let face = out.faces.first();
    let best = face.and_then(|f| f.matches.first());
    let matched = face.is_some_and(|f| f.decision == "match");
    let ambiguous = face.is_some_and(|f| f.decision == "ambiguous");
    let message = match (face, matched, best) {
        (None, _, _) => "no face detected".to_string(),
        (Some(_), true, Some(m)) => format!("identified {}", m.name),
        _ if ambiguous => "ambiguous face: as close to two enrolled people".to_string(),
        _ => "unknown face".to_string(),
    };
    let decision = match (face, matched, ambiguous) {
        (None, _, _) => "no_face",
        (_, true, _) => "match",
        (_, _, true) => "ambiguous",
        _ => "no_match",
    };
    let v = json!({
        "message": message,
        "decision": decision,
        "user_id": if matched { best.map(|m| json!(m.external_id)) } else { None },
        "name": if matched { best.map(|m| json!(m.name)) } else { None },
        "score": best.map(|m| m.score),
        "min_sim_score": best.map(|m| m.min_score),
        "mean_sim_score": best.map(|m| m.mean_score),
        "liveness_score": face.and_then(|f| f.liveness),
        "threshold": out.threshold,
        "operating_point": out.operating_point,
        "faces_found": out.faces_found,
        "timings": out.timings,
    });
    Ok((v, out))
}

/// `POST /identity` (raw image): who is this?
async fn identity(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Recognize)?;
    let (v, out) = raw_identify(&state, &caller, &body).await?;
    let org = state.store.get_org(&caller.org_id).await?;
    record_identify_spoofs(&state, &org, &out, SpoofSource::Compat, Some(&body)).await?;
    Ok(Json(v))
}

/// `POST /liveness` (raw image): is this a live face?
async fn liveness(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Recognize)?;
    let image = raw_image(&body)?;
    let org = state.store.get_org(&caller.org_id).await?;
    let a = state.engine()?.analyze(Arc::new(image)).await?;
    let face = primary_face(&a);
    let score = face.and_then(|f| f.liveness);
    let threshold = crate::flows::liveness_threshold(&state, &org.settings);
    if face.is_some() {
        record_spoof(
            &state,
            &org,
            Sighting {
                source: SpoofSource::Compat,
                verdict: crate::rules::liveness_verdict(&org.settings, threshold, score),
                score,
                threshold,
                device_id: None,
                person_id: None,
                image: Some(&body),
            },
        )
        .await?;
    }
    let message = match (face, score) {
        (None, _) => "no face detected".to_string(),
        (Some(_), None) => "liveness unavailable: the model pack has no liveness model".to_string(),
        (Some(_), Some(s)) if s >= threshold => "live".to_string(),
        (Some(_), Some(_)) => "spoof".to_string(),
    };
    Ok(Json(json!({
        "message": message, "liveness_score": score, "min_sim_score": null, "mean_sim_score": null,
        "threshold": threshold, "faces_found": a.faces.len(), "timings": a.timings,
    })))
}

/// `POST /main` (raw image): the kiosk flow — identify, liveness, attendance.
async fn main_flow(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Attendance)?;
    let image = raw_image(&body)?;
    let (mut v, out) = raw_identify(&state, &caller, &body).await?;
    let params = MarkParams {
        source: "compat",
        identified: Some(out),
        ..MarkParams::default()
    };
    if v["decision"] == "match" {
        let att = mark_attendance(&state, &caller.org_id, Some(image), params).await?;
        v["message"] = att["message"].clone();
        v["attendance"] = att;
    }
    Ok(Json(v))
}

/// The login body: JSON, or the OAuth2 password form the FastAPI seed
/// posts (`application/x-www-form-urlencoded`: `username`, `password`, and
/// `grant_type`/`scope`/`client_id`, which are ignored).
fn login_body(headers: &HeaderMap, body: &Bytes) -> ApiResult<Value> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
            ApiError::bad_request("invalid_body", format!("the form is not valid: {e}"))
        })?;
        return Ok(Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ));
    }
    if content_type.starts_with("application/json") || content_type.contains("+json") {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        })?;
        object(&v)?;
        return Ok(v);
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send JSON (`application/json`) or the OAuth2 password form (`application/x-www-form-urlencoded`)",
    ))
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = login_body(&headers, &body)?;
    let email = field(&body, &["email", "username"])
        .ok_or_else(|| ApiError::invalid("`username` (email) is required"))?;
    let password = match body.get("password") {
        Some(Value::String(p)) => p.clone(),
        _ => return Err(ApiError::invalid("`password` is required")),
    };
    let req = crate::routes::auth::LoginRequest {
        email,
        password,
        organisation_id: field(&body, &["organisation_id"]),
    };
    let t = crate::routes::auth::do_login(&state, ip, req).await?;
    Ok(Json(json!({
        "access": t.access_token, "refresh": t.refresh_token,
        "access_token": t.access_token, "refresh_token": t.refresh_token,
        "token_type": t.token_type, "expires_in": t.expires_in, "role": t.role, "organisation_id": t.organisation_id,
    })))
}

async fn employees_list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let filter = PeopleFilter {
        limit: 10_000,
        ..PeopleFilter::default()
    };
    let (people, _) = state.store.list_people(&caller.org_id, &filter).await?;
    Ok(Json(Value::Array(
        people.iter().map(employee_json).collect(),
    )))
}

async fn employees_create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(Role::Operator, Scope::People)?;
    object(&body)?;
    let req = CreatePerson {
        external_id: field(&body, &["employee_id", "external_id", "user_id"])
            .ok_or_else(|| ApiError::invalid("`employee_id` is required"))?,
        name: field(&body, &["name", "full_name"])
            .ok_or_else(|| ApiError::invalid("`name` is required"))?,
        department: field(&body, &["department"]),
        email: field(&body, &["email"]),
        status: None,
        rfid_code: field(&body, &["rfid_code", "rfid"]),
        nfc_tag: field(&body, &["nfc_tag", "nfc"]),
    };
    let p = state
        .store
        .create_person(&caller.org_id, &validate_new(&req)?)
        .await?;
    Ok((StatusCode::CREATED, Json(employee_json(&p))))
}

async fn employee_get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Viewer, Scope::Read)?;
    Ok(Json(employee_json(
        &find_person(&state, &caller.org_id, &id).await?,
    )))
}

async fn employee_update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::People)?;
    object(&body)?;
    // As on /api/v1: a field that cannot be cleared is refused as null
    // rather than read as "keep".
    for name in [
        "name",
        "full_name",
        "employee_id",
        "external_id",
        "department",
        "email",
        "status",
        "is_active",
    ] {
        if body.get(name).is_some_and(Value::is_null) {
            return Err(ApiError::invalid(format!(
                "`{name}` must not be null: leave the field out to keep its value"
            )));
        }
    }
    let p = find_person(&state, &caller.org_id, &id).await?;
    let status =
        match (
            body.get("status").and_then(Value::as_str),
            body.get("is_active").and_then(Value::as_bool),
        ) {
            (Some(s), _) => Some(PersonStatus::parse(s).ok_or_else(|| {
                ApiError::invalid("`status` must be active, suspended or archived")
            })?),
            (None, Some(true)) => Some(PersonStatus::Active),
            (None, Some(false)) => Some(PersonStatus::Suspended),
            _ => None,
        };
    let req = UpdatePerson {
        external_id: field(&body, &["employee_id", "external_id"]),
        name: field(&body, &["name", "full_name"]),
        department: field(&body, &["department"]),
        email: field(&body, &["email"]),
        status,
        rfid_code: field(&body, &["rfid_code", "rfid"]).map(Some),
        nfc_tag: field(&body, &["nfc_tag", "nfc"]).map(Some),
    };
    Ok(Json(employee_json(
        &apply_update(&state, &caller.org_id, &p.id, req).await?,
    )))
}

async fn employee_delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin, Scope::People)?;
    let p = find_person(&state, &caller.org_id, &id).await?;
    state.store.delete_person(&caller.org_id, &p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn attendance_list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let (records, _) = state
        .store
        .list_attendance(
            &caller.org_id,
            &AttendanceFilter {
                limit: 1000,
                ..AttendanceFilter::default()
            },
        )
        .await?;
    Ok(Json(json!(records)))
}

/// `GET /attendance/{employee_id}`: one person's records (by external id or
/// person id), newest first, as the list route answers them.
async fn attendance_of(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let p = find_person(&state, &caller.org_id, &id).await?;
    let (records, _) = state
        .store
        .list_attendance(
            &caller.org_id,
            &AttendanceFilter {
                person_id: Some(p.id),
                limit: 1000,
                ..AttendanceFilter::default()
            },
        )
        .await?;
    Ok(Json(json!(records)))
}

async fn attendance_mark(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Attendance)?;
    object(&body)?;
    let credential = field(&body, &["credential", "rfid", "card"]);
    let image = if credential.is_some() && body.get("image").is_none() {
        None
    } else {
        Some(image_field(&body)?)
    };
    let params = MarkParams {
        device_id: field(&body, &["device_id", "device"]),
        kind: field(&body, &["kind", "type"]),
        credential,
        source: "compat",
        identified: None,
    };
    Ok(Json(
        mark_attendance(&state, &caller.org_id, image, params).await?,
    ))
}

async fn embeddings_common(
    state: &AppState,
    caller: &Caller,
    body: &Value,
    replace: bool,
) -> ApiResult<Value> {
    caller.require(Role::Operator, Scope::Enroll)?;
    object(body)?;
    let id = field(body, &["employee_id", "user_id", "person_id", "id"])
        .ok_or_else(|| ApiError::invalid("`employee_id` is required"))?;
    let image = image_field(body)?;
    let p = find_person(state, &caller.org_id, &id).await?;
    // Analyse first so a bad image leaves the old templates in place.
    let (template, face) =
        enrol_image(state, &caller.org_id, &p.id, image, face_choice(body)?).await?;
    let mut replaced = 0;
    if replace {
        for t in state.store.list_templates(&caller.org_id, &p.id).await? {
            if t.id != template.id {
                state
                    .store
                    .delete_template(&caller.org_id, &p.id, &t.id)
                    .await?;
                replaced += 1;
            }
        }
    }
    Ok(
        json!({"message": if replace { "enrolled" } else { "added" }, "employee_id": p.external_id,
        "person_id": p.id, "template_id": template.id, "replaced": replaced, "face": face}),
    )
}

async fn embeddings_enroll(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(embeddings_common(&state, &caller, &body, true).await?),
    ))
}

async fn embeddings_add(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(embeddings_common(&state, &caller, &body, false).await?),
    ))
}

async fn embeddings_delete_all(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Enroll)?;
    let p = find_person(&state, &caller.org_id, &id).await?;
    let n = state
        .store
        .delete_all_templates(&caller.org_id, &p.id)
        .await?;
    Ok(Json(
        json!({"message": "deleted", "employee_id": p.external_id, "deleted": n}),
    ))
}

async fn embeddings_archive_all(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Enroll)?;
    let p = find_person(&state, &caller.org_id, &id).await?;
    let n = state
        .store
        .archive_all_templates(&caller.org_id, &p.id)
        .await?;
    Ok(Json(
        json!({"message": "archived", "employee_id": p.external_id, "archived": n}),
    ))
}

/// `GET /stream/`: every camera of the caller's organisation with its status.
async fn stream_status(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    Ok(Json(
        crate::routes::cameras::all_statuses(&state, &caller).await?,
    ))
}

/// `GET /stream/{camera_id}`: the camera's annotated MJPEG stream.
async fn stream_camera(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(camera_id): ApiPath<String>,
) -> ApiResult<axum::response::Response> {
    crate::routes::cameras::camera_stream(&state, &caller, &camera_id).await
}
