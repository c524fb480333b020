//! Cameras (issue #11): CRUD, live status, snapshots, the annotated MJPEG
//! stream, and frames pushed by clients (`source_url = push`) over HTTP or
//! a WebSocket.
//!
//! Source URLs keep their credentials in the database and never leave it:
//! every answer shows `source_url` with the password as `***` and
//! `has_credentials`. A PATCH that sends the redacted URL back keeps the
//! stored one (clients can round-trip what they read).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use facegate_store::{Camera as CameraRow, CameraFields, Role};
use facegate_streams::{Camera, CameraState, CameraStatus, SourceKind, redact_url};
use facegate_vision::VisionError;
use facegate_vision::decode::decode_rgb;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use super::responses::Items;
use super::{check_id, double_option, non_null, required_text};
use crate::auth::{Caller, Scope};
use crate::cameras::{CameraError, source_kind};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cameras", get(list).post(create))
        .route("/cameras/{id}", get(read).patch(update).delete(remove))
        .route("/cameras/{id}/status", get(status))
        .route("/cameras/{id}/snapshot", get(snapshot))
        .route("/cameras/{id}/stream", get(stream))
        .route("/cameras/{id}/frames", post(push_frame))
        .route("/cameras/{id}/ws", get(websocket))
}

const PURPOSES: [&str; 3] = ["attendance", "access", "watch"];

/// A camera as the API shows it: never with its credentials.
#[derive(Debug, Serialize, ToSchema)]
pub struct CameraOut {
    pub id: String,
    pub name: String,
    /// The source with any password replaced by `***`.
    pub source_url: String,
    /// The stored URL carries credentials (`user:password@`).
    pub has_credentials: bool,
    /// `rtsp`, `http`, `file`, `v4l2` or `push`.
    pub source_kind: String,
    /// `tcp` or `udp` (RTSP only).
    pub rtsp_transport: String,
    /// The door or kiosk whose access or attendance this camera decides.
    pub device_id: Option<String>,
    /// `attendance`, `access` or `watch`.
    pub purpose: String,
    pub detection_fps: f64,
    pub min_face_px: i64,
    /// Frames whose face is blurrier than this (variance of the Laplacian
    /// of the aligned face) are not recognised.
    pub min_sharpness: f64,
    /// This camera's target FPIR (overrides the organisation's).
    pub fpir: Option<f64>,
    /// This camera's fixed threshold (overrides every FPIR).
    pub match_threshold: Option<f64>,
    /// The same person is reported at most once per this many seconds.
    pub cooldown_s: i64,
    pub enabled: bool,
    /// The worker's state now: connecting, streaming, reconnecting,
    /// waiting (push), failed, ended or stopped.
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Whether a URL's authority carries `user[:password]@`.
pub fn has_credentials(url: &str) -> bool {
    url.find("://").is_some_and(|i| {
        let rest = &url[i + 3..];
        rest[..rest.find('/').unwrap_or(rest.len())].contains('@')
    })
}

pub(crate) fn state_name(state: CameraState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn out(state: &AppState, row: &CameraRow) -> CameraOut {
    let f = &row.fields;
    let live = state.cameras.status(&row.org_id, &row.id, f.enabled).state;
    CameraOut {
        id: row.id.clone(),
        name: f.name.clone(),
        source_url: redact_url(&f.source_url),
        has_credentials: has_credentials(&f.source_url),
        source_kind: source_kind(&f.source_url)
            .ok()
            .and_then(|k| serde_json::to_value(k).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        rtsp_transport: f.rtsp_transport.clone(),
        device_id: f.device_id.clone(),
        purpose: f.purpose.clone(),
        detection_fps: f.detection_fps,
        min_face_px: f.min_face_px,
        min_sharpness: f.min_sharpness,
        fpir: f.fpir,
        match_threshold: f.match_threshold,
        cooldown_s: f.cooldown_s,
        enabled: f.enabled,
        state: state_name(live),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Check a source URL: a kind the workers can open, with a host for
/// network sources and an absolute path for files.
fn check_source(url: &str) -> ApiResult<String> {
    let url = url.trim();
    if url.is_empty() {
        return Err(ApiError::invalid("`source_url` must not be empty"));
    }
    if url.len() > 2048 {
        return Err(ApiError::invalid(
            "`source_url` must be at most 2048 characters",
        ));
    }
    let kind = source_kind(url).map_err(|m| ApiError::invalid(format!("`source_url`: {m}")))?;
    match kind {
        SourceKind::Rtsp | SourceKind::Http => {
            let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
            let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
            let host = authority.rsplit('@').next().unwrap_or("");
            if host.is_empty() || host.starts_with(':') || url.contains(char::is_whitespace) {
                return Err(ApiError::invalid(format!(
                    "`source_url` {} has no host: use e.g. rtsp://user:password@192.168.1.64:554/Streaming/Channels/101",
                    redact_url(url)
                )));
            }
        }
        SourceKind::File => {
            let path = url.strip_prefix("file://").unwrap_or(url);
            if !path.starts_with('/') {
                return Err(ApiError::invalid(
                    "`source_url`: a video file must be an absolute path (/srv/clips/door.mp4 or file:///srv/clips/door.mp4)",
                ));
            }
        }
        SourceKind::V4l2 | SourceKind::Push => {}
    }
    Ok(url.to_owned())
}

/// Check every field; the first problem is reported, naming the field.
fn validate(f: &mut CameraFields) -> ApiResult<()> {
    f.name = required_text("name", &f.name, 200)?;
    f.source_url = check_source(&f.source_url)?;
    if !["tcp", "udp"].contains(&f.rtsp_transport.as_str()) {
        return Err(ApiError::invalid("`rtsp_transport` must be `tcp` or `udp`"));
    }
    if !PURPOSES.contains(&f.purpose.as_str()) {
        return Err(ApiError::invalid(
            "`purpose` must be `attendance`, `access` or `watch`",
        ));
    }
    if let Some(d) = &f.device_id
        && uuid::Uuid::parse_str(d).is_err()
    {
        return Err(ApiError::not_found("device"));
    }
    if !(f.detection_fps.is_finite() && f.detection_fps > 0.0 && f.detection_fps <= 30.0) {
        return Err(ApiError::invalid(format!(
            "`detection_fps` must be in (0, 30], got {}",
            f.detection_fps
        )));
    }
    if !(16..=2000).contains(&f.min_face_px) {
        return Err(ApiError::invalid(
            "`min_face_px` must be between 16 and 2000",
        ));
    }
    if !(f.min_sharpness.is_finite() && (0.0..=1000.0).contains(&f.min_sharpness)) {
        return Err(ApiError::invalid(
            "`min_sharpness` must be between 0 and 1000",
        ));
    }
    if let Some(p) = f.fpir
        && !(p.is_finite() && p > 0.0 && p <= 0.5)
    {
        return Err(ApiError::invalid("`fpir` must be in (0, 0.5]"));
    }
    if let Some(t) = f.match_threshold
        && !(t.is_finite() && (-1.0..=1.0).contains(&t))
    {
        return Err(ApiError::invalid(
            "`match_threshold` must be between -1 and 1",
        ));
    }
    if !(0..=86_400).contains(&f.cooldown_s) {
        return Err(ApiError::invalid(
            "`cooldown_s` must be between 0 and 86400",
        ));
    }
    Ok(())
}

fn camera_error(e: CameraError) -> ApiError {
    match e {
        CameraError::TooMany { .. } => {
            ApiError::new(StatusCode::CONFLICT, "too_many_streams", e.to_string())
        }
        CameraError::Config(m) => ApiError::invalid(m),
    }
}

#[utoipa::path(get, path = "/api/v1/cameras", tag = "cameras", responses((status = 200, description = "the organisation's cameras (credentials redacted)", body = Items<CameraOut>)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Items<CameraOut>>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let rows = state.store.list_cameras(&caller.org_id).await?;
    Ok(Json(Items {
        items: rows.iter().map(|r| out(&state, r)).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCamera {
    pub name: String,
    /// `rtsp://user:password@host:554/path`, `http(s)://host/mjpeg`, an
    /// absolute file path, `/dev/video0`, or `push` (clients send frames).
    pub source_url: String,
    /// `tcp` (default) or `udp`.
    pub rtsp_transport: Option<String>,
    pub device_id: Option<String>,
    /// `attendance`, `access` or `watch` (default).
    pub purpose: Option<String>,
    /// In (0, 30]; default `streams.detection_fps` (5).
    pub detection_fps: Option<f64>,
    /// Faces narrower than this (pixels) are tracked, never recognised; default 36.
    pub min_face_px: Option<i64>,
    /// Blurrier faces are not recognised (variance of the Laplacian); default 5,
    /// lower (1.5) for cameras that must catch small or soft faces.
    pub min_sharpness: Option<f64>,
    pub fpir: Option<f64>,
    pub match_threshold: Option<f64>,
    /// Default 30.
    pub cooldown_s: Option<i64>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/cameras", tag = "cameras", request_body = CreateCamera,
    responses((status = 201, description = "created (and started when enabled)", body = CameraOut),
        (status = 409, description = "`too_many_streams`: `streams.max_concurrent_streams` cameras already run")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateCamera>,
) -> ApiResult<(StatusCode, Json<CameraOut>)> {
    let row = create_camera(&state, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(out(&state, &row))))
}

/// Create (and start, when enabled) a camera of the caller's organisation:
/// the one path for `POST /api/v1/cameras` and the web UI's camera form.
pub(crate) async fn create_camera(
    state: &AppState,
    caller: &Caller,
    req: CreateCamera,
) -> ApiResult<CameraRow> {
    caller.require(Role::Admin, Scope::Admin)?;
    let mut f = CameraFields {
        name: req.name,
        source_url: req.source_url,
        rtsp_transport: req.rtsp_transport.unwrap_or_else(|| "tcp".into()),
        device_id: req.device_id,
        purpose: req.purpose.unwrap_or_else(|| "watch".into()),
        detection_fps: req
            .detection_fps
            .unwrap_or(f64::from(state.config.streams.detection_fps)),
        min_face_px: req.min_face_px.unwrap_or(36),
        min_sharpness: req.min_sharpness.unwrap_or(5.0),
        fpir: req.fpir,
        match_threshold: req.match_threshold,
        cooldown_s: req.cooldown_s.unwrap_or(30),
        enabled: req.enabled.unwrap_or(true),
    };
    validate(&mut f)?;
    if f.enabled {
        state.cameras.check_capacity(None).map_err(camera_error)?;
    }
    let row = state.store.create_camera(&caller.org_id, &f).await?;
    if let Err(e) = state.cameras.apply(state, &row).await {
        // Saved; the status says why it does not run.
        tracing::warn!(camera = %row.id, "camera not started: {e}");
    }
    Ok(row)
}

pub(crate) async fn row_of(state: &AppState, caller: &Caller, id: &str) -> ApiResult<CameraRow> {
    check_id("camera", id)?;
    Ok(state.store.get_camera(&caller.org_id, id).await?)
}

#[utoipa::path(get, path = "/api/v1/cameras/{id}", tag = "cameras", responses((status = 200, description = "the camera", body = CameraOut)))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CameraOut>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let row = row_of(&state, &caller, &id).await?;
    Ok(Json(out(&state, &row)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCamera {
    #[serde(default, deserialize_with = "non_null")]
    pub name: Option<String>,
    /// The redacted URL as read (`***`) keeps the stored credentials.
    #[serde(default, deserialize_with = "non_null")]
    pub source_url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub rtsp_transport: Option<String>,
    /// `null` unlinks the device.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub device_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "non_null")]
    pub purpose: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub detection_fps: Option<f64>,
    #[serde(default, deserialize_with = "non_null")]
    pub min_face_px: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub min_sharpness: Option<f64>,
    /// `null` returns to the organisation's FPIR.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub fpir: Option<Option<f64>>,
    /// `null` returns to the organisation's threshold.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    pub match_threshold: Option<Option<f64>>,
    #[serde(default, deserialize_with = "non_null")]
    pub cooldown_s: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub enabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/cameras/{id}", tag = "cameras", request_body = UpdateCamera,
    responses((status = 200, description = "updated; a running camera restarts with the new settings", body = CameraOut),
        (status = 409, description = "`too_many_streams` when enabling one camera too many")))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateCamera>,
) -> ApiResult<Json<CameraOut>> {
    let row = update_camera(&state, &caller, &id, req).await?;
    Ok(Json(out(&state, &row)))
}

/// Change a camera (restarting or stopping it to match): the one path for
/// `PATCH /api/v1/cameras/{id}` and the web UI's edit form.
pub(crate) async fn update_camera(
    state: &AppState,
    caller: &Caller,
    id: &str,
    req: UpdateCamera,
) -> ApiResult<CameraRow> {
    caller.require(Role::Admin, Scope::Admin)?;
    let row = row_of(state, caller, id).await?;
    let mut f = row.fields.clone();
    if let Some(v) = req.name {
        f.name = v;
    }
    if let Some(v) = req.source_url
        && v.trim() != redact_url(&row.fields.source_url)
    {
        f.source_url = v;
    }
    if let Some(v) = req.rtsp_transport {
        f.rtsp_transport = v;
    }
    if let Some(v) = req.device_id {
        f.device_id = v;
    }
    if let Some(v) = req.purpose {
        f.purpose = v;
    }
    if let Some(v) = req.detection_fps {
        f.detection_fps = v;
    }
    if let Some(v) = req.min_face_px {
        f.min_face_px = v;
    }
    if let Some(v) = req.min_sharpness {
        f.min_sharpness = v;
    }
    if let Some(v) = req.fpir {
        f.fpir = v;
    }
    if let Some(v) = req.match_threshold {
        f.match_threshold = v;
    }
    if let Some(v) = req.cooldown_s {
        f.cooldown_s = v;
    }
    if let Some(v) = req.enabled {
        f.enabled = v;
    }
    validate(&mut f)?;
    if f.enabled {
        state
            .cameras
            .check_capacity(Some(id))
            .map_err(camera_error)?;
    }
    let row = state.store.update_camera(&caller.org_id, id, &f).await?;
    if let Err(e) = state.cameras.apply(state, &row).await {
        tracing::warn!(camera = %row.id, "camera not started: {e}");
    }
    Ok(row)
}

#[utoipa::path(delete, path = "/api/v1/cameras/{id}", tag = "cameras", responses((status = 204, description = "stopped and deleted (its events stay in the log)")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    delete_camera(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop and delete a camera (its events stay in the log).
pub(crate) async fn delete_camera(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    caller.require(Role::Admin, Scope::Admin)?;
    row_of(state, caller, id).await?;
    state.cameras.remove(id).await;
    state.store.delete_camera(&caller.org_id, id).await?;
    state.outputs.camera_removed(id);
    Ok(())
}

/// A camera's health, as its worker reports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    pub camera_id: String,
    pub name: String,
    pub enabled: bool,
    /// connecting, streaming, reconnecting, waiting (push), failed, ended or stopped.
    pub state: String,
    /// Everything the worker reports: fps in and processed, lag, frames in,
    /// processed, dropped (the machine could not keep up) and skipped (engine
    /// busy), reconnects, events, active tracks, the last error (kind, time),
    /// connected since, per-stage milliseconds.
    #[schema(value_type = Object)]
    pub status: CameraStatus,
}

pub(crate) fn status_of(state: &AppState, row: &CameraRow) -> StatusOut {
    let status = state
        .cameras
        .status(&row.org_id, &row.id, row.fields.enabled);
    StatusOut {
        camera_id: row.id.clone(),
        name: row.fields.name.clone(),
        enabled: row.fields.enabled,
        state: state_name(status.state),
        status,
    }
}

#[utoipa::path(get, path = "/api/v1/cameras/{id}/status", tag = "cameras", responses((status = 200, description = "the camera's live status", body = StatusOut)))]
async fn status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<StatusOut>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let row = row_of(&state, &caller, &id).await?;
    Ok(Json(status_of(&state, &row)))
}

/// Every camera of the caller's organisation with its status (`GET /stream/`).
pub(crate) async fn all_statuses(state: &AppState, caller: &Caller) -> ApiResult<Value> {
    caller.require(Role::Viewer, Scope::Read)?;
    let rows = state.store.list_cameras(&caller.org_id).await?;
    let cameras: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "camera": out(state, r),
                "status": status_of(state, r),
            })
        })
        .collect();
    Ok(json!({ "cameras": cameras }))
}

fn not_running(row: &CameraRow, state: &AppState) -> ApiError {
    let why = state
        .cameras
        .status(&row.org_id, &row.id, row.fields.enabled)
        .last_error
        .unwrap_or_else(|| "the camera is not running".into());
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "camera_not_running",
        format!("camera {} is not running: {why}", row.fields.name),
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SnapshotParams {
    /// Draw the faces, names and scores (default true).
    pub annotate: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/cameras/{id}/snapshot", tag = "cameras", params(SnapshotParams),
    responses((status = 200, description = "the latest processed frame", content_type = "image/jpeg"),
        (status = 503, description = "`camera_not_running`, or `no_frame_yet` before the first frame")))]
async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SnapshotParams>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer, Scope::Read)?;
    let row = row_of(&state, &caller, &id).await?;
    let camera = state
        .cameras
        .get(&caller.org_id, &id)
        .ok_or_else(|| not_running(&row, &state))?;
    let annotate = q.annotate.unwrap_or(true);
    let jpeg = tokio::task::spawn_blocking(move || camera.snapshot(annotate))
        .await
        .map_err(|_| ApiError::internal())?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_frame_yet",
                "the camera has not processed a frame yet; try again in a moment",
            )
            .with_retry_after(1)
        })?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

/// A frame is repeated when no new one came for this long, so proxies and
/// viewers see a live connection while the camera reconnects.
const MJPEG_KEEPALIVE: Duration = Duration::from_secs(5);
const BOUNDARY: &str = "facegate-frame";

fn mjpeg_part(jpeg: &[u8]) -> Bytes {
    let mut part = Vec::with_capacity(jpeg.len() + 96);
    part.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        )
        .as_bytes(),
    );
    part.extend_from_slice(jpeg);
    part.extend_from_slice(b"\r\n");
    Bytes::from(part)
}

/// The annotated frames of a running camera as `multipart/x-mixed-replace`.
/// Each JPEG is encoded once per frame for all viewers; a viewer that falls
/// behind skips to the newest frame (counted); the response ends when the
/// camera stops or the server shuts down.
pub(crate) fn mjpeg_response(state: AppState, org_id: String, camera: &Camera) -> Response {
    let id = camera.id().to_owned();
    let rx = camera.subscribe_jpeg();
    let cancel = state.cameras.cancel_token();
    let frames = futures_util::stream::unfold(
        (rx, state, org_id, id),
        |(mut rx, state, org, id)| async move {
            loop {
                match tokio::time::timeout(MJPEG_KEEPALIVE, rx.recv()).await {
                    Ok(Ok(jpeg)) => {
                        return Some((
                            Ok::<_, Infallible>(mjpeg_part(&jpeg)),
                            (rx, state, org, id),
                        ));
                    }
                    Ok(Err(RecvError::Lagged(n))) => state.cameras.record_lag(n),
                    Ok(Err(RecvError::Closed)) => return None,
                    Err(_) => {
                        let camera = state.cameras.get(&org, &id)?;
                        let jpeg = tokio::task::spawn_blocking(move || camera.snapshot(true))
                            .await
                            .ok()
                            .flatten();
                        if let Some(jpeg) = jpeg {
                            return Some((Ok(mjpeg_part(&jpeg)), (rx, state, org, id)));
                        }
                    }
                }
            }
        },
    )
    .take_until(cancel.cancelled_owned());
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            format!("multipart/x-mixed-replace; boundary={BOUNDARY}"),
        )
        .header(header::CACHE_CONTROL, "no-cache, no-store")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(frames))
        .unwrap_or_else(|_| ApiError::internal().into_response())
}

#[utoipa::path(get, path = "/api/v1/cameras/{id}/stream", tag = "cameras",
    responses((status = 200, description = "annotated frames as MJPEG (`multipart/x-mixed-replace`), until the camera stops", content_type = "multipart/x-mixed-replace"),
        (status = 503, description = "`camera_not_running`")))]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer, Scope::Read)?;
    camera_stream(&state, &caller, &id).await
}

/// `GET /api/v1/cameras/{id}/stream` and the seed route `GET /stream/{id}`.
pub(crate) async fn camera_stream(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<Response> {
    caller.require(Role::Viewer, Scope::Read)?;
    let row = row_of(state, caller, id).await?;
    let camera = state
        .cameras
        .get(&caller.org_id, id)
        .ok_or_else(|| not_running(&row, state))?;
    Ok(mjpeg_response(
        state.clone(),
        caller.org_id.clone(),
        &camera,
    ))
}

/// The push camera a frame is for, running.
async fn push_target(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Arc<Camera>> {
    let row = row_of(state, caller, id).await?;
    if source_kind(&row.fields.source_url).ok() != Some(SourceKind::Push) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_a_push_camera",
            "frames can only be sent to a camera whose source_url is `push`",
        ));
    }
    state.engine()?;
    state
        .cameras
        .get(&caller.org_id, id)
        .ok_or_else(|| not_running(&row, state))
}

/// Decode a pushed frame under the image limits (on the blocking pool) and
/// hand it to the camera; `accepted` is false when it came faster than the
/// camera's fps (dropped, counted in its status).
async fn push_bytes(state: &AppState, camera: Arc<Camera>, bytes: Bytes) -> ApiResult<Value> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "missing_image",
            "no frame: send the JPEG or PNG bytes as the body",
        ));
    }
    let limits = state.engine()?.decode_limits();
    let image = tokio::task::spawn_blocking(move || decode_rgb(&bytes, &limits))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| ApiError::from(VisionError::from(e)))?;
    let accepted = camera
        .push(image)
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    Ok(json!({ "accepted": accepted, "state": state_name(camera.status().state) }))
}

/// Whether a pushed frame was taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushOut {
    /// False when the frame came faster than the camera's `detection_fps`
    /// or while the previous one still waited (dropped, counted).
    pub accepted: bool,
    pub state: String,
}

#[utoipa::path(post, path = "/api/v1/cameras/{id}/frames", tag = "cameras",
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "one JPEG or PNG frame, under the image size and pixel limits"),
    responses((status = 200, description = "the frame was taken or skipped", body = PushOut),
        (status = 409, description = "`not_a_push_camera`"), (status = 413, description = "over the size or pixel limit")))]
async fn push_frame(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Recognize)?;
    let camera = push_target(&state, &caller, &id).await?;
    Ok(Json(push_bytes(&state, camera, body).await?))
}

#[utoipa::path(get, path = "/api/v1/cameras/{id}/ws", tag = "cameras",
    responses((status = 101, description = "a WebSocket: send each frame as a binary JPEG or PNG message; each is answered with a text message `{accepted, state}` or `{error}`"),
        (status = 200, description = "never: the route only upgrades", body = PushOut),
        (status = 409, description = "`not_a_push_camera`")))]
async fn websocket(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Operator, Scope::Recognize)?;
    let camera = push_target(&state, &caller, &id).await?;
    drop(camera);
    let ws = ws.map_err(|e| ApiError::bad_request("not_a_websocket", e.to_string()))?;
    let org_id = caller.org_id.clone();
    let max = state.config.max_body_bytes;
    Ok(ws
        .max_message_size(max)
        .on_upgrade(move |socket| ws_session(socket, state, org_id, id)))
}

async fn ws_session(mut socket: WebSocket, state: AppState, org_id: String, id: String) {
    let cancel = state.cameras.cancel_token();
    loop {
        let message = tokio::select! {
            () = cancel.cancelled() => break,
            m = socket.recv() => m,
        };
        let reply = match message {
            Some(Ok(Message::Binary(bytes))) => {
                let Some(camera) = state.cameras.get(&org_id, &id) else {
                    break;
                };
                match push_bytes(&state, camera, bytes).await {
                    Ok(v) => v,
                    Err(e) => json!({"error": {"code": e.code, "message": e.message}}),
                }
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        if socket
            .send(Message::Text(reply.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
