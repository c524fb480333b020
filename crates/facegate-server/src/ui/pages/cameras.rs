//! Cameras: the list with each camera's health, add / edit / enable /
//! disable / delete, and the live view (the annotated MJPEG stream and the
//! camera's events as they happen).
//!
//! A browser cannot put an `Authorization` header on an `<img src>` or an
//! `EventSource`, so the live view reads `/ui/cameras/{id}/live.mjpeg` and
//! `/ui/events/stream`: the session cookie authenticates them, and they
//! answer with the very responses `/api/v1/cameras/{id}/stream` and
//! `/api/v1/events/stream` build (`routes::cameras::camera_stream`,
//! `routes::events::sse_response`), for the session's organisation only.
//!
//! Writes go through `routes::cameras::{create_camera, update_camera,
//! delete_camera}`, the functions behind the JSON API, so validation,
//! capacity checks and starting or stopping the worker are the same. A
//! source URL's credentials are never shown back: forms show the URL with
//! the password as `***`, and sending that back keeps the stored one.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use facegate_store::{Camera as CameraRow, Device, Role};
use facegate_streams::redact_url;
use serde::Deserialize;

use super::{Chrome, UiForm, local, non_empty, render, see_other};
use crate::routes::cameras::{
    CreateCamera, UpdateCamera, camera_stream, create_camera, delete_camera, has_credentials,
    row_of, state_name, status_of, update_camera,
};
use crate::routes::events::{StreamQuery, check_kind, check_uuid, sse_response};
use crate::state::AppState;
use crate::ui::error::{UiError, UiResult};
use crate::ui::session::Ui;

/// A camera with its health, formatted for a table row.
pub struct CameraRowView {
    pub id: String,
    pub name: String,
    pub source: String,
    pub purpose: String,
    pub enabled: bool,
    pub state: String,
    pub fps: String,
    pub dropped: u64,
    pub skipped: u64,
    pub reconnects: u64,
    pub events: u64,
    pub last_error: String,
}

/// The health line of every camera of the organisation (list and dashboard).
pub async fn health(state: &AppState, ui: &Ui) -> Result<Vec<CameraRowView>, UiError> {
    let rows = state.store.list_cameras(ui.org_id()).await?;
    let org = state.store.get_org(ui.org_id()).await?;
    Ok(rows.iter().map(|r| view(state, r, &org.settings)).collect())
}

fn view(
    state: &AppState,
    row: &CameraRow,
    settings: &facegate_store::OrgSettings,
) -> CameraRowView {
    let s = status_of(state, row);
    let st = &s.status;
    let last_error = match (&st.last_error, st.last_error_at) {
        (Some(e), Some(at)) => format!("{e} ({})", local(settings, at.timestamp_millis())),
        (Some(e), None) => e.clone(),
        _ => String::new(),
    };
    CameraRowView {
        id: row.id.clone(),
        name: row.fields.name.clone(),
        source: redact_url(&row.fields.source_url),
        purpose: row.fields.purpose.clone(),
        enabled: row.fields.enabled,
        state: s.state,
        fps: format!(
            "{:.1} in / {:.1} recognised",
            st.input_fps, st.processed_fps
        ),
        dropped: st.dropped_frames,
        skipped: st.skipped_busy,
        reconnects: st.reconnects,
        events: st.events,
        last_error,
    }
}

#[derive(Template)]
#[template(path = "cameras/list.html")]
struct ListPage {
    c: Chrome,
    cameras: Vec<CameraRowView>,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    ok: Option<String>,
}

fn camera_notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "created" => "The camera was added (and started when enabled).",
        "saved" => "Saved; a running camera restarted with the new settings.",
        "enabled" => "The camera was enabled.",
        "disabled" => "The camera was disabled.",
        "deleted" => "The camera was deleted; its events stay in the log.",
        _ => return None,
    })
}

/// `GET /ui/cameras`: every camera with its health.
pub async fn list(State(state): State<AppState>, ui: Ui, Query(q): Query<Notice>) -> UiResult {
    ui.require(Role::Operator)?;
    Ok(render(&ListPage {
        cameras: health(&state, &ui).await?,
        c: Chrome::new(&ui, "cameras"),
        notice: camera_notice(q.ok.as_deref()),
    }))
}

/// What the camera form shows (new: the defaults; edit: the camera, with
/// the source URL redacted).
pub struct FormValues {
    pub name: String,
    pub source_url: String,
    pub has_credentials: bool,
    pub rtsp_transport: String,
    pub purpose: String,
    pub device_id: String,
    pub detection_fps: String,
    pub min_face_px: String,
    pub min_sharpness: String,
    pub fpir: String,
    pub match_threshold: String,
    pub cooldown_s: String,
    pub enabled: bool,
}

#[derive(Template)]
#[template(path = "cameras/form.html")]
struct FormPage {
    c: Chrome,
    /// `None` for a new camera.
    id: Option<String>,
    v: FormValues,
    devices: Vec<Device>,
}

/// `GET /ui/cameras/new` (admins).
pub async fn new_form(State(state): State<AppState>, ui: Ui) -> UiResult {
    ui.require(Role::Admin)?;
    Ok(render(&FormPage {
        c: Chrome::new(&ui, "cameras"),
        id: None,
        v: FormValues {
            name: String::new(),
            source_url: String::new(),
            has_credentials: false,
            rtsp_transport: "tcp".into(),
            purpose: "watch".into(),
            device_id: String::new(),
            detection_fps: state.config.streams.detection_fps.to_string(),
            min_face_px: "36".into(),
            min_sharpness: "5".into(),
            fpir: String::new(),
            match_threshold: String::new(),
            cooldown_s: "30".into(),
            enabled: true,
        },
        devices: state.store.list_devices(ui.org_id()).await?,
    }))
}

/// `GET /ui/cameras/{id}/edit` (admins).
pub async fn edit_form(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult {
    ui.require(Role::Admin)?;
    let row = row_of(&state, &ui.caller, &id).await?;
    let f = &row.fields;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    Ok(render(&FormPage {
        c: Chrome::new(&ui, "cameras"),
        id: Some(row.id.clone()),
        v: FormValues {
            name: f.name.clone(),
            source_url: redact_url(&f.source_url),
            has_credentials: has_credentials(&f.source_url),
            rtsp_transport: f.rtsp_transport.clone(),
            purpose: f.purpose.clone(),
            device_id: f.device_id.clone().unwrap_or_default(),
            detection_fps: f.detection_fps.to_string(),
            min_face_px: f.min_face_px.to_string(),
            min_sharpness: f.min_sharpness.to_string(),
            fpir: opt(f.fpir),
            match_threshold: opt(f.match_threshold),
            cooldown_s: f.cooldown_s.to_string(),
            enabled: f.enabled,
        },
        devices: state.store.list_devices(ui.org_id()).await?,
    }))
}

/// The camera form as posted: every number as text, so a typo is a
/// readable page naming the field rather than a deserialisation error.
#[derive(Debug, Deserialize)]
pub struct CameraForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    source_url: String,
    rtsp_transport: Option<String>,
    purpose: Option<String>,
    device_id: Option<String>,
    detection_fps: Option<String>,
    min_face_px: Option<String>,
    min_sharpness: Option<String>,
    fpir: Option<String>,
    match_threshold: Option<String>,
    cooldown_s: Option<String>,
    enabled: Option<String>,
}

/// An optional number field: empty is `None`, anything else must parse.
fn number<T: std::str::FromStr>(label: &str, v: Option<&str>) -> Result<Option<T>, UiError> {
    match non_empty(v) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| UiError::invalid(format!("{label} must be a number, not “{s}”."))),
    }
}

struct Parsed {
    detection_fps: Option<f64>,
    min_face_px: Option<i64>,
    min_sharpness: Option<f64>,
    fpir: Option<f64>,
    match_threshold: Option<f64>,
    cooldown_s: Option<i64>,
}

fn parse_numbers(f: &CameraForm) -> Result<Parsed, UiError> {
    Ok(Parsed {
        detection_fps: number("Detection fps", f.detection_fps.as_deref())?,
        min_face_px: number("Smallest face", f.min_face_px.as_deref())?,
        min_sharpness: number("Minimum sharpness", f.min_sharpness.as_deref())?,
        fpir: number("FPIR", f.fpir.as_deref())?,
        match_threshold: number("Fixed threshold", f.match_threshold.as_deref())?,
        cooldown_s: number("Cooldown", f.cooldown_s.as_deref())?,
    })
}

/// `POST /ui/cameras` (admins): add a camera.
pub async fn create(
    State(state): State<AppState>,
    ui: Ui,
    UiForm(f): UiForm<CameraForm>,
) -> UiResult {
    ui.require(Role::Admin)?;
    let n = parse_numbers(&f)?;
    let row = create_camera(
        &state,
        &ui.caller,
        CreateCamera {
            name: f.name,
            source_url: f.source_url,
            rtsp_transport: non_empty(f.rtsp_transport.as_deref()),
            device_id: non_empty(f.device_id.as_deref()),
            purpose: non_empty(f.purpose.as_deref()),
            detection_fps: n.detection_fps,
            min_face_px: n.min_face_px,
            min_sharpness: n.min_sharpness,
            fpir: n.fpir,
            match_threshold: n.match_threshold,
            cooldown_s: n.cooldown_s,
            enabled: Some(f.enabled.is_some()),
        },
    )
    .await?;
    tracing::info!(camera = %row.id, by = %ui.caller.label(), "camera created (web UI)");
    Ok(see_other("/ui/cameras?ok=created"))
}

/// `POST /ui/cameras/{id}` (admins): save the edit form. Every field is
/// sent; an empty FPIR, threshold or device clears it.
pub async fn update(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    UiForm(f): UiForm<CameraForm>,
) -> UiResult {
    ui.require(Role::Admin)?;
    let n = parse_numbers(&f)?;
    update_camera(
        &state,
        &ui.caller,
        &id,
        UpdateCamera {
            name: Some(f.name),
            // The redacted URL sent back keeps the stored one.
            source_url: Some(f.source_url),
            rtsp_transport: non_empty(f.rtsp_transport.as_deref()),
            device_id: Some(non_empty(f.device_id.as_deref())),
            purpose: non_empty(f.purpose.as_deref()),
            detection_fps: n.detection_fps,
            min_face_px: n.min_face_px,
            min_sharpness: n.min_sharpness,
            fpir: Some(n.fpir),
            match_threshold: Some(n.match_threshold),
            cooldown_s: n.cooldown_s,
            enabled: Some(f.enabled.is_some()),
        },
    )
    .await?;
    tracing::info!(camera = %id, by = %ui.caller.label(), "camera updated (web UI)");
    Ok(see_other("/ui/cameras?ok=saved"))
}

#[derive(Debug, Deserialize)]
pub struct EnabledForm {
    enabled: Option<String>,
}

/// `POST /ui/cameras/{id}/enabled` (admins): `enabled=on` starts the
/// camera, anything else stops it.
pub async fn set_enabled(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    UiForm(f): UiForm<EnabledForm>,
) -> UiResult {
    ui.require(Role::Admin)?;
    let on = f.enabled.as_deref() == Some("on");
    update_camera(
        &state,
        &ui.caller,
        &id,
        UpdateCamera {
            name: None,
            source_url: None,
            rtsp_transport: None,
            device_id: None,
            purpose: None,
            detection_fps: None,
            min_face_px: None,
            min_sharpness: None,
            fpir: None,
            match_threshold: None,
            cooldown_s: None,
            enabled: Some(on),
        },
    )
    .await?;
    Ok(see_other(if on {
        "/ui/cameras?ok=enabled"
    } else {
        "/ui/cameras?ok=disabled"
    }))
}

/// `POST /ui/cameras/{id}/delete` (admins).
pub async fn delete(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult {
    ui.require(Role::Admin)?;
    delete_camera(&state, &ui.caller, &id).await?;
    tracing::info!(camera = %id, by = %ui.caller.label(), "camera deleted (web UI)");
    Ok(see_other("/ui/cameras?ok=deleted"))
}

#[derive(Template)]
#[template(path = "cameras/live.html")]
struct LivePage {
    c: Chrome,
    cam: CameraRowView,
    running: bool,
    events: Vec<EventLine>,
}

/// A stored event as the live page lists it (newest first; the script adds
/// new ones on top as they arrive).
pub struct EventLine {
    pub when: String,
    pub kind: String,
    pub who: String,
    pub score: String,
}

/// `GET /ui/cameras/{id}`: the live view (operators and above).
pub async fn live(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult {
    ui.require(Role::Operator)?;
    let row = row_of(&state, &ui.caller, &id).await?;
    let org = state.store.get_org(ui.org_id()).await?;
    let (rows, _) = state
        .store
        .list_camera_events(
            ui.org_id(),
            &facegate_store::CameraEventFilter {
                camera_id: Some(row.id.clone()),
                limit: 20,
                ..facegate_store::CameraEventFilter::default()
            },
        )
        .await?;
    let events = rows
        .iter()
        .map(|r| {
            let p: serde_json::Value = serde_json::from_str(&r.payload).unwrap_or_default();
            EventLine {
                when: local(&org.settings, r.occurred_at),
                kind: r.kind.clone(),
                who: p["name"].as_str().unwrap_or("unknown").to_string(),
                score: p["score"]
                    .as_f64()
                    .map(|s| format!("{s:.3}"))
                    .unwrap_or_default(),
            }
        })
        .collect();
    Ok(render(&LivePage {
        c: Chrome::new(&ui, "cameras"),
        running: state.cameras.get(ui.org_id(), &row.id).is_some(),
        cam: view(&state, &row, &org.settings),
        events,
    }))
}

/// `GET /ui/cameras/{id}/status.json`: the live page polls it to keep the
/// health figures current (the API's status, session-authenticated).
pub async fn status_json(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult<Response> {
    ui.require(Role::Operator)?;
    let row = row_of(&state, &ui.caller, &id).await?;
    let s = status_of(&state, &row);
    let st = &s.status;
    Ok(Json(serde_json::json!({
        "state": state_name(st.state),
        "input_fps": st.input_fps,
        "processed_fps": st.processed_fps,
        "dropped_frames": st.dropped_frames,
        "skipped_busy": st.skipped_busy,
        "reconnects": st.reconnects,
        "events": st.events,
        "active_tracks": st.active_tracks,
        "last_error": st.last_error,
    }))
    .into_response())
}

/// `GET /ui/cameras/{id}/live.mjpeg`: the annotated stream for an `<img>`.
pub async fn live_mjpeg(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult<Response> {
    ui.require(Role::Operator)?;
    Ok(camera_stream(&state, &ui.caller, &id).await?)
}

/// `GET /ui/events/stream[?camera_id=]`: camera events as SSE for an
/// `EventSource` (the session's organisation only).
pub async fn events_stream(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<StreamQuery>,
) -> UiResult<Response> {
    ui.require(Role::Operator)?;
    check_kind(q.kind.as_deref())?;
    check_uuid("camera_id", q.camera_id.as_deref())?;
    Ok(sse_response(state, ui.org_id().to_string(), q))
}
