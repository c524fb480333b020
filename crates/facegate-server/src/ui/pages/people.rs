//! People: list/search/filter/page, create, edit, suspend/archive (one or
//! in bulk), enrol from uploaded photos, templates with their quality,
//! export of a person's data and erasure.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use facegate_store::{
    AttendanceFilter, PeopleFilter, Person, PersonPrivacy, PersonStatus, Role, SpoofEventFilter,
    Template as Tpl,
};
use serde::Deserialize;
use serde_json::json;

use super::{Chrome, local, non_empty, notice, render, see_other};
use crate::error::ApiError;
use crate::routes::people::{CreatePerson, UpdatePerson, apply_update, validate_new};
use crate::routes::templates::{FaceChoice, enrol_image};
use crate::routes::{check_id, optional_text};
use crate::rules::{day_string, parse_day};
use crate::state::AppState;
use crate::ui::error::{UiError, UiResult};
use crate::ui::session::Ui;

const PER_PAGE: i64 = 25;

#[derive(Template)]
#[template(path = "people/list.html")]
struct ListPage {
    c: Chrome,
    people: Vec<Person>,
    total: i64,
    page: i64,
    pages: i64,
    q: String,
    status: String,
    notice: Option<&'static str>,
    /// Query string of the filter, for the page links.
    filter_qs: String,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<i64>,
    ok: Option<String>,
}

fn parse_status(s: Option<&str>) -> Result<Option<PersonStatus>, UiError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => PersonStatus::parse(s)
            .map(Some)
            .ok_or_else(|| UiError::invalid("The status must be active, suspended or archived.")),
    }
}

/// `GET /ui/people`.
pub async fn list(State(state): State<AppState>, ui: Ui, Query(q): Query<ListQuery>) -> UiResult {
    ui.require(Role::Operator)?;
    let status = parse_status(q.status.as_deref())?;
    let text = non_empty(q.q.as_deref())
        .map(|t| optional_text("q", &t, 200))
        .transpose()?;
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let filter = PeopleFilter {
        q: text.clone(),
        status,
        department: None,
        limit: PER_PAGE,
        offset: (page - 1) * PER_PAGE,
    };
    let (people, total) = state.store.list_people(ui.org_id(), &filter).await?;
    let q_s = text.unwrap_or_default();
    let status_s = status.map(|s| s.as_str().to_string()).unwrap_or_default();
    let filter_qs =
        serde_urlencoded::to_string([("q", q_s.as_str()), ("status", status_s.as_str())])
            .unwrap_or_default();
    Ok(render(&ListPage {
        c: Chrome::new(&ui, "people"),
        people,
        total,
        page,
        pages: ((total + PER_PAGE - 1) / PER_PAGE).max(1),
        q: q_s,
        status: status_s,
        notice: notice(q.ok.as_deref()),
        filter_qs,
    }))
}

#[derive(Template)]
#[template(path = "people/new.html")]
struct NewPage {
    c: Chrome,
}

/// `GET /ui/people/new`.
pub async fn new_form(ui: Ui) -> UiResult {
    ui.require(Role::Operator)?;
    Ok(render(&NewPage {
        c: Chrome::new(&ui, "people"),
    }))
}

/// The person form (create and edit).
#[derive(Debug, Deserialize)]
pub struct PersonForm {
    #[serde(default)]
    external_id: String,
    #[serde(default)]
    name: String,
    department: Option<String>,
    email: Option<String>,
    status: Option<String>,
    rfid_code: Option<String>,
    nfc_tag: Option<String>,
}

/// `POST /ui/people`.
pub async fn create(State(state): State<AppState>, ui: Ui, Form(f): Form<PersonForm>) -> UiResult {
    ui.require(Role::Operator)?;
    let fields = validate_new(&CreatePerson {
        external_id: f.external_id,
        name: f.name,
        department: f.department,
        email: f.email,
        status: parse_status(f.status.as_deref())?,
        rfid_code: non_empty(f.rfid_code.as_deref()),
        nfc_tag: non_empty(f.nfc_tag.as_deref()),
    })?;
    let p = state.store.create_person(ui.org_id(), &fields).await?;
    tracing::info!(person = %p.id, by = %ui.caller.label(), "person created (web UI)");
    Ok(see_other(&format!("/ui/people/{}?ok=created", p.id)))
}

/// A template as the person page shows it.
pub struct TemplateRow {
    pub t: Tpl,
    pub created: String,
    /// `good`, `fair` or `poor`, from the stored quality score.
    pub badge: &'static str,
}

/// One enrolment result of a multi-file upload.
pub struct EnrolResult {
    pub file: String,
    pub ok: bool,
    pub message: String,
}

#[derive(Template)]
#[template(path = "people/show.html")]
struct ShowPage {
    c: Chrome,
    p: Person,
    templates: Vec<TemplateRow>,
    attendance: Vec<(String, String, String)>,
    notice: Option<&'static str>,
    results: Vec<EnrolResult>,
    engine: bool,
    privacy: PersonPrivacy,
    /// `privacy.consent_at` as a local day (for the date input).
    consent_day: String,
    /// The retention day has passed: the templates are kept too long.
    retention_overdue: bool,
    /// The schedules that decide this person's access (their own and the
    /// ones for everyone).
    schedules: Vec<ScheduleRow>,
    devices: Vec<facegate_store::Device>,
    /// Faces on this person's "not them" list.
    negatives: i64,
}

/// A schedule as the person page lists it.
pub struct ScheduleRow {
    pub id: String,
    pub name: String,
    /// Only this person (else it applies to everyone and is edited elsewhere).
    pub own: bool,
    pub days: String,
    pub hours: String,
    pub device: String,
    pub valid: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn schedule_row(s: &facegate_store::Schedule, devices: &[facegate_store::Device]) -> ScheduleRow {
    let days: Vec<&str> = DAYS
        .iter()
        .enumerate()
        .filter(|(i, _)| s.weekdays & (1 << i) != 0)
        .map(|(_, d)| *d)
        .collect();
    ScheduleRow {
        id: s.id.clone(),
        name: s.name.clone(),
        own: s.person_id.is_some(),
        days: days.join(" "),
        hours: if s.start_minute == s.end_minute {
            "all day".into()
        } else {
            format!("{}–{}", hhmm(s.start_minute), hhmm(s.end_minute))
        },
        device: s.device_id.as_ref().map_or_else(
            || "every device".into(),
            |d| {
                devices
                    .iter()
                    .find(|x| &x.id == d)
                    .map_or_else(|| d.clone(), |x| x.name.clone())
            },
        ),
        valid: match (&s.valid_from, &s.valid_until) {
            (None, None) => "always".into(),
            (f, u) => format!(
                "{} → {}",
                f.as_deref().unwrap_or("…"),
                u.as_deref().unwrap_or("…")
            ),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct OkQuery {
    ok: Option<String>,
}

fn badge(quality: f64) -> &'static str {
    if quality >= 0.7 {
        "good"
    } else if quality >= 0.4 {
        "fair"
    } else {
        "poor"
    }
}

async fn show_page(
    state: &AppState,
    ui: &Ui,
    id: &str,
    notice: Option<&'static str>,
    results: Vec<EnrolResult>,
) -> UiResult {
    ui.require(Role::Operator)?;
    check_id("person", id)?;
    let org = state.store.get_org(ui.org_id()).await?;
    let p = state.store.get_person(ui.org_id(), id).await?;
    let templates = state
        .store
        .list_templates(ui.org_id(), id)
        .await?
        .into_iter()
        .map(|t| TemplateRow {
            created: local(&org.settings, t.created_at),
            badge: badge(t.quality),
            t,
        })
        .collect();
    let (records, _) = state
        .store
        .list_attendance(
            ui.org_id(),
            &AttendanceFilter {
                person_id: Some(id.to_string()),
                limit: 20,
                ..AttendanceFilter::default()
            },
        )
        .await?;
    let attendance = records
        .iter()
        .map(|r| {
            (
                local(&org.settings, r.ts),
                r.kind.clone(),
                r.confidence.map(|c| format!("{c:.3}")).unwrap_or_default(),
            )
        })
        .collect();
    let privacy = state.store.person_privacy(ui.org_id(), id).await?;
    let consent_day = privacy
        .consent_at
        .map(|t| local(&org.settings, t).chars().take(10).collect())
        .unwrap_or_default();
    let today = day_string(super::today(&org.settings));
    let retention_overdue = privacy
        .retain_until
        .as_deref()
        .is_some_and(|d| d < today.as_str());
    let devices = state.store.list_devices(ui.org_id()).await?;
    let schedules = state
        .store
        .schedules_for(ui.org_id(), id, None)
        .await?
        .iter()
        .map(|s| schedule_row(s, &devices))
        .collect();
    // `schedules_for(.., None)` leaves out device-bound schedules: add them.
    let mut schedules: Vec<ScheduleRow> = schedules;
    for s in state.store.list_schedules(ui.org_id()).await? {
        if s.device_id.is_some() && s.person_id.as_deref().is_none_or(|p| p == id) {
            schedules.push(schedule_row(&s, &devices));
        }
    }
    let negatives = state.store.count_negatives(ui.org_id(), id).await?;
    Ok(render(&ShowPage {
        c: Chrome::new(ui, "people"),
        schedules,
        devices,
        negatives,
        p,
        templates,
        attendance,
        notice,
        results,
        engine: state.engine.is_some(),
        privacy,
        consent_day,
        retention_overdue,
    }))
}

/// `GET /ui/people/{id}`.
pub async fn show(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Query(q): Query<OkQuery>,
) -> UiResult {
    show_page(&state, &ui, &id, notice(q.ok.as_deref()), Vec::new()).await
}

/// `POST /ui/people/{id}`: save the edit form.
pub async fn update(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Form(f): Form<PersonForm>,
) -> UiResult {
    ui.require(Role::Operator)?;
    check_id("person", &id)?;
    let req = UpdatePerson {
        external_id: Some(f.external_id),
        name: Some(f.name),
        department: Some(f.department.unwrap_or_default()),
        email: Some(f.email.unwrap_or_default()),
        status: parse_status(f.status.as_deref())?,
        rfid_code: Some(non_empty(f.rfid_code.as_deref())),
        nfc_tag: Some(non_empty(f.nfc_tag.as_deref())),
    };
    apply_update(&state, ui.org_id(), &id, req).await?;
    Ok(see_other(&format!("/ui/people/{id}?ok=saved")))
}

/// `POST /ui/people/{id}/templates`: enrol every uploaded photo (field
/// `photos`, several allowed); the page lists each file's outcome.
pub async fn enrol(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    mut form: Multipart,
) -> UiResult {
    ui.require(Role::Operator)?;
    check_id("person", &id)?;
    let mut results = Vec::new();
    while let Some(field) = form.next_field().await.map_err(ApiError::from)? {
        if field.name() != Some("photos") {
            continue;
        }
        let file = field.file_name().unwrap_or("photo").to_string();
        let bytes = field.bytes().await.map_err(ApiError::from)?;
        if bytes.is_empty() {
            continue;
        }
        let result =
            match enrol_image(&state, ui.org_id(), &id, bytes.to_vec(), FaceChoice::Only).await {
                Ok((t, face)) => EnrolResult {
                    file,
                    ok: true,
                    message: format!(
                        "enrolled: quality {:.2}, eyes {:.0} px apart, yaw {:.0}°",
                        t.quality, face.quality.inter_eye_px, face.quality.yaw_deg
                    ),
                },
                Err(e) if e.status.is_client_error() || e.status.as_u16() == 503 => EnrolResult {
                    file,
                    ok: false,
                    message: e.message.replace('`', ""),
                },
                Err(e) => return Err(e.into()),
            };
        results.push(result);
    }
    if results.is_empty() {
        return Err(UiError::invalid("Choose at least one photo to enrol."));
    }
    show_page(&state, &ui, &id, None, results).await
}

/// `POST /ui/people/{id}/templates/{template_id}/delete`.
pub async fn delete_template(
    State(state): State<AppState>,
    ui: Ui,
    Path((id, template_id)): Path<(String, String)>,
) -> UiResult {
    ui.require(Role::Operator)?;
    check_id("person", &id)?;
    check_id("template", &template_id)?;
    state
        .store
        .delete_template(ui.org_id(), &id, &template_id)
        .await?;
    Ok(see_other(&format!("/ui/people/{id}?ok=template_deleted")))
}

#[derive(Debug, Deserialize)]
pub struct EraseForm {
    confirm: Option<String>,
}

/// `POST /ui/people/{id}/erase`: delete the person with their templates,
/// attendance and schedules (a GDPR/BIPA erasure request). The hash-chained
/// access log keeps its rows (it cannot change without breaking the chain)
/// but they hold only the person's id, which now names nobody.
pub async fn erase(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Form(f): Form<EraseForm>,
) -> UiResult {
    ui.require(Role::Admin)?;
    check_id("person", &id)?;
    let p = state.store.get_person(ui.org_id(), &id).await?;
    if f.confirm.as_deref().map(str::trim) != Some(p.external_id.as_str()) {
        return Err(UiError::invalid(
            "To erase this person, type their external id exactly in the confirmation box.",
        ));
    }
    state.store.delete_person(ui.org_id(), &id).await?;
    state.outputs.person_removed(&id);
    tracing::info!(person = %id, by = %ui.caller.label(), "person erased (web UI)");
    Ok(see_other("/ui/people?ok=erased"))
}

/// `GET /ui/people/{id}/export`: everything stored about the person, as a
/// JSON download (a subject access request). Embeddings are not included:
/// they are only meaningful to this model, and their metadata is.
pub async fn export(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult {
    ui.require(Role::Admin)?;
    check_id("person", &id)?;
    let org_id = ui.org_id();
    let p = state.store.get_person(org_id, &id).await?;
    let templates = state.store.list_templates(org_id, &id).await?;
    let (attendance, _) = state
        .store
        .list_attendance(
            org_id,
            &AttendanceFilter {
                person_id: Some(id.clone()),
                limit: 1_000_000,
                ..AttendanceFilter::default()
            },
        )
        .await?;
    let schedules = state.store.schedules_for(org_id, &id, None).await?;
    let privacy = state.store.person_privacy(org_id, &id).await?;
    let (spoofs, _) = state
        .store
        .list_spoof_events(
            org_id,
            &SpoofEventFilter {
                limit: 100_000,
                ..SpoofEventFilter::default()
            },
        )
        .await?;
    let spoofs: Vec<_> = spoofs
        .into_iter()
        .filter(|e| e.person_id.as_deref() == Some(id.as_str()))
        .collect();
    let body = json!({
        "exported_at": chrono::Utc::now().to_rfc3339(),
        "person": p,
        "consent_and_retention": privacy,
        "templates": templates,
        "attendance": attendance,
        "schedules": schedules,
        "spoof_events": spoofs,
    });
    let name: String = p
        .external_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"person-{name}.json\""),
            ),
        ],
        serde_json::to_string_pretty(&body).map_err(|_| ApiError::internal())?,
    )
        .into_response())
}

/// `POST /ui/people/bulk`: `id` (repeated) and `action` = activate,
/// suspend or archive.
pub async fn bulk(
    State(state): State<AppState>,
    ui: Ui,
    Form(fields): Form<Vec<(String, String)>>,
) -> UiResult {
    ui.require(Role::Operator)?;
    let action = fields
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str());
    let status = match action {
        Some("activate") => PersonStatus::Active,
        Some("suspend") => PersonStatus::Suspended,
        Some("archive") => PersonStatus::Archived,
        _ => {
            return Err(UiError::invalid(
                "Choose an action: activate, suspend or archive.",
            ));
        }
    };
    let ids: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.as_str())
        .collect();
    if ids.is_empty() {
        return Err(UiError::invalid("Select at least one person."));
    }
    if ids.len() > 500 {
        return Err(UiError::invalid("Select at most 500 people at once."));
    }
    for id in ids {
        check_id("person", id)?;
        apply_update(
            &state,
            ui.org_id(),
            id,
            UpdatePerson {
                status: Some(status),
                ..UpdatePerson::default()
            },
        )
        .await?;
    }
    Ok(see_other("/ui/people?ok=bulk"))
}

#[derive(Debug, Deserialize)]
pub struct PrivacyForm {
    consent_date: Option<String>,
    consent_note: Option<String>,
    retain_until: Option<String>,
}

/// `POST /ui/people/{id}/privacy`: the consent and retention record.
pub async fn privacy(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    Form(f): Form<PrivacyForm>,
) -> UiResult {
    ui.require(Role::Operator)?;
    check_id("person", &id)?;
    let consent_at = match non_empty(f.consent_date.as_deref()) {
        // Noon UTC of the day: the same local day in every zone within ±11 h.
        Some(d) => parse_day("consent_date", &d)?
            .and_hms_opt(12, 0, 0)
            .map(|t| t.and_utc().timestamp_millis()),
        None => None,
    };
    let retain_until = match non_empty(f.retain_until.as_deref()) {
        Some(d) => Some(day_string(parse_day("retain_until", &d)?)),
        None => None,
    };
    let record = PersonPrivacy {
        consent_at,
        consent_note: optional_text("consent_note", f.consent_note.as_deref().unwrap_or(""), 500)?,
        retain_until,
    };
    state
        .store
        .set_person_privacy(ui.org_id(), &id, &record)
        .await?;
    Ok(see_other(&format!("/ui/people/{id}?ok=saved")))
}

/// `POST /ui/people/{id}/schedules` (admins): add a schedule for this
/// person, checked by the API's own `create_schedule`.
pub async fn add_schedule(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    super::UiForm(fields): super::UiForm<Vec<(String, String)>>,
) -> UiResult {
    ui.require(Role::Admin)?;
    check_id("person", &id)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let weekdays: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "weekday")
        .map(|(_, v)| v.clone())
        .collect();
    let opt = |v: String| (!v.is_empty()).then_some(v);
    crate::routes::schedules::create_schedule(
        &state,
        &ui.caller,
        crate::routes::schedules::CreateSchedule {
            name: field("name"),
            person_id: Some(id.clone()),
            device_id: opt(field("device_id")),
            weekdays,
            start: field("start"),
            end: field("end"),
            valid_from: opt(field("valid_from")),
            valid_until: opt(field("valid_until")),
        },
    )
    .await?;
    Ok(see_other(&format!(
        "/ui/people/{id}?ok=schedule_added#schedules"
    )))
}

/// `POST /ui/people/{id}/schedules/{schedule_id}/delete` (admins): only a
/// schedule of this person (one for everyone is not deleted from here).
pub async fn delete_schedule(
    State(state): State<AppState>,
    ui: Ui,
    Path((id, schedule_id)): Path<(String, String)>,
) -> UiResult {
    ui.require(Role::Admin)?;
    check_id("person", &id)?;
    check_id("schedule", &schedule_id)?;
    let s = state.store.get_schedule(ui.org_id(), &schedule_id).await?;
    if s.person_id.as_deref() != Some(id.as_str()) {
        return Err(ApiError::not_found("schedule of this person").into());
    }
    state
        .store
        .delete_schedule(ui.org_id(), &schedule_id)
        .await?;
    Ok(see_other(&format!(
        "/ui/people/{id}?ok=schedule_deleted#schedules"
    )))
}

/// `POST /ui/enrol/check` (operators; the body is one JPEG or PNG frame,
/// the CSRF token in `X-CSRF-Token`): live feedback while enrolling from
/// the webcam. `app.js` posts a small frame every second or so and shows
/// whether one face was found, its quality (the badge the template would
/// get) and its liveness. Answers JSON, errors included, for the script.
pub async fn enrol_check(
    State(state): State<AppState>,
    ui: Ui,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::Json;
    use axum::http::StatusCode;
    let fail = |status: StatusCode, message: String| {
        (status, Json(json!({ "error": message }))).into_response()
    };
    if ui.require(Role::Operator).is_err() {
        return fail(
            StatusCode::FORBIDDEN,
            "Your role cannot enrol faces.".into(),
        );
    }
    if body.is_empty() {
        return fail(StatusCode::BAD_REQUEST, "No frame was sent.".into());
    }
    let engine = match state.engine() {
        Ok(e) => e.clone(),
        Err(e) => return fail(e.status, e.message),
    };
    let org = match state.store.get_org(ui.org_id()).await {
        Ok(o) => o,
        Err(e) => {
            let e = ApiError::from(e);
            return fail(e.status, e.message);
        }
    };
    let analysis = match engine.analyze(std::sync::Arc::new(body.to_vec())).await {
        Ok(a) => a,
        Err(e) if e.status.is_client_error() => return fail(e.status, e.message),
        Err(e) => return fail(e.status, "The frame could not be analysed.".into()),
    };
    let faces = analysis.faces.len();
    let Some(face) = crate::engine::primary_face(&analysis) else {
        return Json(json!({
            "faces": 0, "face_found": false,
            "message": "No face found: look at the camera, with your face lit from the front.",
        }))
        .into_response();
    };
    let quality = crate::engine::quality_score(face);
    let threshold = crate::flows::liveness_threshold(&state, &org.settings);
    let live = face.liveness.map(|l| l >= threshold);
    let q = &face.quality;
    let mut message = format!(
        "Face found · quality {} ({quality:.2}: eyes {:.0} px apart, turned {:.0}°)",
        badge(quality),
        q.inter_eye_px,
        q.yaw_deg.abs()
    );
    if let Some(l) = face.liveness {
        message.push_str(&format!(
            " · liveness {l:.2} ({})",
            if l >= threshold {
                "live"
            } else {
                "looks like a photo or screen"
            }
        ));
    }
    if faces > 1 {
        message.push_str(&format!(
            " · {faces} faces: the largest is enrolled; better one person at a time"
        ));
    }
    Json(json!({
        "faces": faces,
        "face_found": true,
        "quality": quality,
        "badge": badge(quality),
        "inter_eye_px": q.inter_eye_px,
        "yaw_deg": q.yaw_deg,
        "sharpness": q.sharpness,
        "liveness": face.liveness,
        "live": live,
        "message": message,
    }))
    .into_response()
}
