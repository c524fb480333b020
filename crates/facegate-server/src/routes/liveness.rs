//! Liveness: the spoof-event log (faces the organisation's policy flagged or
//! rejected) and challenge (active) liveness: issue a random prompt, receive
//! a burst of frames, say whether the person followed it, stayed the same
//! person and looked live.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use axum::RequestExt;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use facegate_store::{Role, SpoofAction, SpoofEvent, SpoofEventFilter, SpoofSource};
use facegate_vision::liveness::challenge::{
    self, ChallengeOptions, ChallengeResult, FrameReport, Prompt,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Page, Paging, check_id};
use crate::auth::{Caller, Scope};
use crate::engine::FaceEngine;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult, body_rejection};
use crate::flows::{Sighting, check_device, liveness_threshold, record_spoof};
use crate::rules::LivenessVerdict;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/liveness/events", get(list_events))
        .route("/liveness/events/{id}/snapshot", get(snapshot))
        .route("/liveness/challenges", post(create_challenge))
        .route("/liveness/challenges/{id}", post(submit_challenge))
}

/// Most frames one challenge answer may carry. Well under the engine's own
/// ceiling: a couple of seconds of a head turn at a few frames per second
/// is enough, and every frame costs a detection and an embedding.
pub const MAX_FRAMES: usize = 16;
/// Fewest frames: before, during and after the motion (the engine's minimum).
pub const MIN_FRAMES: usize = challenge::MIN_FRAMES;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Earliest `occurred_at`, Unix milliseconds (inclusive).
    pub from: Option<i64>,
    /// Latest `occurred_at`, Unix milliseconds (inclusive).
    pub to: Option<i64>,
    pub device_id: Option<String>,
    /// `flagged` or `rejected`.
    pub action: Option<String>,
    /// `identify`, `attendance`, `access`, `compat`, `challenge` or `camera`.
    pub source: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

fn filter_of(q: &EventsQuery, limit: i64, offset: i64) -> ApiResult<SpoofEventFilter> {
    if let (Some(f), Some(t)) = (q.from, q.to)
        && f > t
    {
        return Err(ApiError::invalid("`from` must not be after `to`"));
    }
    if let Some(d) = &q.device_id
        && uuid::Uuid::parse_str(d).is_err()
    {
        return Err(ApiError::invalid("`device_id` must be a device id (UUID)"));
    }
    let action = match q.action.as_deref() {
        None => None,
        Some(a) => Some(
            SpoofAction::parse(a)
                .ok_or_else(|| ApiError::invalid("`action` must be `flagged` or `rejected`"))?,
        ),
    };
    let source = match q.source.as_deref() {
        None => None,
        Some(s) => Some(SpoofSource::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "`source` must be `identify`, `attendance`, `access`, `compat`, `challenge` or `camera`",
            )
        })?),
    };
    Ok(SpoofEventFilter {
        from: q.from,
        to: q.to,
        device_id: q.device_id.clone(),
        action,
        source,
        limit,
        offset,
    })
}

#[utoipa::path(get, path = "/api/v1/liveness/events", tag = "liveness", params(EventsQuery),
    responses((status = 200, description = "spoof events of the caller's organisation, newest first", body = Page<SpoofEvent>), (status = 422, description = "invalid filter")))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<Page<SpoofEvent>>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let (limit, offset, page, per_page) = Paging::resolve(q.page, q.per_page)?;
    let (items, total) = state
        .store
        .list_spoof_events(&caller.org_id, &filter_of(&q, limit, offset)?)
        .await?;
    Ok(Json(Page {
        items,
        total,
        page,
        per_page,
    }))
}

/// The content type of a kept image, from its magic bytes (the formats the
/// decoder accepts); anything else is served as opaque bytes.
fn image_content_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [b'B', b'M', ..] => "image/bmp",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "image/webp",
        _ => "application/octet-stream",
    }
}

#[utoipa::path(get, path = "/api/v1/liveness/events/{id}/snapshot", tag = "liveness",
    params(("id" = String, Path, description = "spoof event id")),
    responses((status = 200, description = "the image submitted with the event", content_type = "image/*"),
        (status = 404, description = "no such event, or no image was kept (`store_images` was off)")))]
async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer, Scope::Read)?;
    check_id("spoof event", &id)?;
    let Some(bytes) = state
        .store
        .spoof_event_snapshot(&caller.org_id, &id)
        .await?
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no image was kept for this event (the organisation's `store_images` setting was off)",
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, image_content_type(&bytes)),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChallenge {
    /// The device the person stands at; spoof events name it.
    pub device_id: Option<String>,
}

/// `POST /liveness/challenges`: a challenge to answer once, before
/// `expires_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedChallenge {
    pub id: String,
    #[schema(value_type = super::responses::ChallengePrompt)]
    pub prompt: Prompt,
    /// Unix milliseconds; an answer after this is refused (410).
    pub expires_at: i64,
    /// The lifetime in seconds (`liveness.challenge_ttl_secs`).
    pub ttl_secs: f64,
    /// Most `frame` files an answer may carry.
    pub max_frames: usize,
    /// Fewest `frame` files an answer must carry.
    pub min_frames: usize,
    /// The device named when the challenge was issued.
    pub device_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/liveness/challenges", tag = "liveness",
    request_body(content = CreateChallenge, description = "optional; an empty body is fine"),
    responses((status = 201, description = "the challenge: answer it within its lifetime, once", body = IssuedChallenge),
        (status = 503, description = "no face engine, or too many open challenges")))]
async fn create_challenge(
    State(state): State<AppState>,
    caller: Caller,
    req: Request,
) -> ApiResult<(StatusCode, Json<IssuedChallenge>)> {
    caller.require(Role::Operator, Scope::Recognize)?;
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    let body = Bytes::from_request(req, &state)
        .await
        .map_err(|e| body_rejection(e.status(), e.body_text()))?;
    let params: CreateChallenge = if body.iter().all(u8::is_ascii_whitespace) {
        CreateChallenge::default()
    } else if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send no body, or a JSON body with `Content-Type: application/json`",
        ));
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                e.to_string(),
            )
        })?
    };
    let engine = state.engine()?.clone();
    if check_device(&state, &caller.org_id, params.device_id.as_deref()).await? == Some(false) {
        return Err(ApiError::conflict("the device is disabled"));
    }
    let prompts = engine.challenge_prompts();
    // `rand::random_range` draws from the thread-local ChaCha generator,
    // seeded from the operating system: a CSPRNG, so the next prompt cannot
    // be predicted from earlier ones.
    let Some(&prompt) = prompts.get(rand::random_range(0..prompts.len().max(1))) else {
        return Err(ApiError::internal());
    };
    let c = state
        .challenges
        .issue(&caller.org_id, params.device_id, prompt)?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedChallenge {
            id: c.id,
            prompt: c.prompt,
            expires_at: c.expires_at,
            ttl_secs: state.challenges.ttl().as_secs_f64(),
            max_frames: MAX_FRAMES,
            min_frames: MIN_FRAMES,
            device_id: c.device_id,
        }),
    ))
}

/// The frames of an answer and its options.
struct Upload {
    frames: Vec<Vec<u8>>,
    mirrored: bool,
}

const FRAME_FIELDS: [&str; 5] = ["frame", "frames", "frame[]", "frames[]", "image"];

/// Read what is left of a request body and drop it, within the body limit.
/// When a handler answers without reading the whole body, hyper closes the
/// connection with the rest unread, and a client that is still sending its
/// frames sees a reset connection instead of the answer (404, 409, 410,
/// 422...). The error paths of an answer therefore read the upload first;
/// nothing is buffered or decoded.
async fn discard(mut body: Body) {
    while let Some(Ok(_)) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {}
}

/// [`discard`] for an upload already being read as multipart.
async fn discard_fields(multipart: &mut Multipart) {
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

async fn read_upload(req: Request, state: &AppState) -> ApiResult<Upload> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if mime != "multipart/form-data" {
        discard(req.into_limited_body()).await;
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the frames as multipart/form-data, one `frame` file field per frame",
        ));
    }
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
    let upload = read_fields(&mut multipart).await;
    if upload.is_err() {
        discard_fields(&mut multipart).await;
    }
    upload
}

async fn read_fields(multipart: &mut Multipart) -> ApiResult<Upload> {
    let mut upload = Upload {
        frames: Vec::new(),
        mirrored: false,
    };
    while let Some(field) = multipart.next_field().await? {
        let name = field.name().unwrap_or("").to_string();
        if FRAME_FIELDS.contains(&name.as_str()) {
            // Stop reading at the first frame too many rather than buffer them all.
            if upload.frames.len() == MAX_FRAMES {
                return Err(frame_count_error(MAX_FRAMES + 1));
            }
            let bytes = field.bytes().await?;
            if bytes.is_empty() {
                return Err(ApiError::invalid(format!(
                    "frame {} is empty",
                    upload.frames.len() + 1
                )));
            }
            upload.frames.push(bytes.to_vec());
        } else if name == "mirrored" {
            let text = field.text().await?;
            upload.mirrored = match text.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(ApiError::invalid("`mirrored` must be true or false")),
            };
        } else {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_parameter",
                format!("unknown field {name:?}: send `frame` files (and optionally `mirrored`)"),
            ));
        }
    }
    if upload.frames.len() < MIN_FRAMES {
        return Err(frame_count_error(upload.frames.len()));
    }
    Ok(upload)
}

fn frame_count_error(got: usize) -> ApiError {
    let got = if got > MAX_FRAMES {
        "more".to_string()
    } else {
        got.to_string()
    };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_frame_count",
        format!("a challenge answer takes {MIN_FRAMES} to {MAX_FRAMES} `frame` files, got {got}"),
    )
}

/// The service's reading of an engine result: the passive check is judged
/// against the organisation's liveness threshold (as everywhere else in the
/// service), not only the pack's, which the engine uses.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    passed: bool,
    faces_found: usize,
    /// `None` when the pack has no passive liveness model.
    passive_ok: Option<bool>,
    reasons: Vec<String>,
    motion: ChallengeMotion,
}

/// `threshold` is the organisation's liveness threshold, `None` when the pack
/// has no liveness model.
fn outcome(r: &ChallengeResult, threshold: Option<f32>, options: &ChallengeOptions) -> Outcome {
    let faces_found = r.frames.iter().filter(|f| f.face_found).count();
    let mut reasons = r.reasons.clone();
    if r.passive_ok == Some(false) {
        // The engine adds its passive reason last, judged with the pack's
        // threshold; it is replaced by ours below.
        reasons.pop();
    }
    let passive_ok = threshold.map(|t| r.passive_live.is_some_and(|l| l >= t));
    if passive_ok == Some(false) {
        reasons.push(format!(
            "the frames do not look live (median live score {:.3} < {:.3})",
            r.passive_live.unwrap_or(0.0),
            threshold.unwrap_or(0.0)
        ));
    }
    Outcome {
        passed: faces_found >= MIN_FRAMES
            && r.motion_ok
            && r.same_person
            && passive_ok != Some(false),
        faces_found,
        passive_ok,
        reasons,
        motion: motion_figure(r, options),
    }
}

/// The unit a challenge's motion is judged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MotionMeasure {
    /// Turns: the largest yaw change toward the asked side, in inter-ocular
    /// distances.
    YawChange,
    /// Blinks: the most-closed frame's eye aspect ratio as a share of the
    /// most open one.
    EyeClosure,
}

/// How far the motion of a challenge answer went.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChallengeMotion {
    pub ok: bool,
    pub measure: MotionMeasure,
    /// `null` when no frame had the measurement.
    pub value: Option<f32>,
    /// Turns only: the least yaw change that passes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_min: Option<f32>,
    /// Blinks only: the largest eye-closure share that passes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_max: Option<f32>,
}

/// The passive check of a challenge answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeLiveness {
    /// `null` when the pack has no passive liveness model.
    pub ok: Option<bool>,
    /// Median live score over the frames with a face.
    pub median: Option<f32>,
    /// The organisation's liveness threshold; `null` without a model.
    pub threshold: Option<f32>,
}

/// Milliseconds spent on a challenge answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeTimings {
    pub decode_ms: f64,
    pub evaluate_ms: f64,
    pub total_ms: f64,
}

/// `POST /liveness/challenges/{id}`: whether the person followed the prompt,
/// stayed the same person and looked live.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeAnswer {
    pub id: String,
    #[schema(value_type = super::responses::ChallengePrompt)]
    pub prompt: Prompt,
    /// Every check passed.
    pub passed: bool,
    /// One line per failed check.
    pub reasons: Vec<String>,
    pub motion: ChallengeMotion,
    /// The same face in every frame.
    pub same_person: bool,
    pub liveness: ChallengeLiveness,
    /// The same as `liveness.median`.
    pub median_liveness: Option<f32>,
    pub frames_received: usize,
    pub faces_found: usize,
    /// Per frame, in upload order.
    #[schema(value_type = Vec<super::responses::ChallengeFrame>)]
    pub frames: Vec<FrameReport>,
    /// The spoof event recorded when the passive check failed.
    pub spoof_event_id: Option<String>,
    pub timings: ChallengeTimings,
}

/// How far the motion went, in the unit the engine judges it by: for turns
/// the largest yaw change toward the asked side (inter-ocular distances,
/// at least `required_min`); for blinks the most-closed frame's eye aspect
/// ratio as a share of the most open one (at most `required_max`).
fn motion_figure(r: &ChallengeResult, options: &ChallengeOptions) -> ChallengeMotion {
    let found = r.frames.iter().filter(|f| f.face_found);
    match r.prompt {
        Prompt::TurnLeft | Prompt::TurnRight => {
            let sign = if r.prompt == Prompt::TurnLeft {
                1.0
            } else {
                -1.0
            };
            let yaws: Vec<f32> = found.filter_map(|f| f.yaw).map(|y| y * sign).collect();
            let turn = yaws
                .first()
                .map(|start| yaws.iter().map(|y| y - start).fold(f32::MIN, f32::max));
            ChallengeMotion {
                ok: r.motion_ok,
                measure: MotionMeasure::YawChange,
                value: turn,
                required_min: Some(options.min_turn),
                required_max: None,
            }
        }
        Prompt::Blink => {
            let ears: Vec<f32> = found.filter_map(|f| f.ear).collect();
            let open = ears.iter().copied().fold(0.0f32, f32::max);
            let closed = ears.iter().copied().fold(f32::INFINITY, f32::min);
            let share = (open > 0.0).then(|| closed / open);
            ChallengeMotion {
                ok: r.motion_ok,
                measure: MotionMeasure::EyeClosure,
                value: share,
                required_min: None,
                required_max: Some(options.closed_ratio),
            }
        }
    }
}

/// May the caller answer challenge `id` now, and is there an engine to
/// check the frames with.
fn admit(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Arc<FaceEngine>> {
    caller.require(Role::Operator, Scope::Recognize)?;
    check_id("challenge", id)?;
    state.challenges.peek(&caller.org_id, id)?;
    Ok(state.engine()?.clone())
}

#[utoipa::path(post, path = "/api/v1/liveness/challenges/{id}", tag = "liveness",
    params(("id" = String, Path, description = "challenge id from POST /liveness/challenges")),
    request_body(content_type = "multipart/form-data", description = "3 to 16 `frame` files (in order), optional `mirrored` (true for a front-camera preview)"),
    responses((status = 200, description = "whether the person followed the prompt, stayed the same person and looked live", body = ChallengeAnswer),
        (status = 404, description = "unknown challenge"), (status = 409, description = "already answered"),
        (status = 410, description = "expired"), (status = 413, description = "frames over the size limits"),
        (status = 415, description = "not multipart"), (status = 422, description = "wrong number of frames, or a frame is not an image")))]
async fn submit_challenge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    req: Request,
) -> ApiResult<Json<ChallengeAnswer>> {
    let started = Instant::now();
    // Before the frames are decoded: a stale or foreign id costs nothing more
    // than reading the upload.
    let engine = match admit(&state, &caller, &id) {
        Ok(engine) => engine,
        Err(e) => {
            discard(req.into_limited_body()).await;
            return Err(e);
        }
    };
    let upload = read_upload(req, &state).await?;
    let org = state.store.get_org(&caller.org_id).await?;
    let frame_count = upload.frames.len();
    // The first frame is the snapshot, copied only where images are kept.
    let first_frame = org
        .settings
        .store_images
        .then(|| upload.frames.first().cloned())
        .flatten();
    let (images, decode_ms) = engine.decode_frames(upload.frames).await?;
    // Used up only now: a malformed upload may be corrected and resent, but
    // frames are evaluated at most once per challenge, even if two answers
    // race (the second is told 409).
    let c = state.challenges.take(&caller.org_id, &id)?;
    let options = ChallengeOptions {
        mirrored: upload.mirrored,
        ..ChallengeOptions::default()
    };
    let (result, evaluate_ms) = engine.evaluate_challenge(c.prompt, images, options).await?;
    let threshold = engine
        .liveness_threshold()
        .map(|_| liveness_threshold(&state, &org.settings));
    let out = outcome(&result, threshold, &options);
    let mut spoof_event = None;
    if !out.passed
        && out.passive_ok == Some(false)
        && let Some(t) = threshold
    {
        spoof_event = record_spoof(
            &state,
            &org,
            Sighting {
                source: SpoofSource::Challenge,
                verdict: LivenessVerdict::Reject,
                score: result.passive_live,
                threshold: t,
                device_id: c.device_id.as_deref(),
                person_id: None,
                image: first_frame.as_deref(),
            },
        )
        .await?
        .map(|e| e.id);
    }
    Ok(Json(ChallengeAnswer {
        id: c.id,
        prompt: c.prompt,
        passed: out.passed,
        reasons: out.reasons,
        motion: out.motion,
        same_person: result.same_person,
        liveness: ChallengeLiveness {
            ok: out.passive_ok,
            median: result.passive_live,
            threshold,
        },
        median_liveness: result.passive_live,
        frames_received: frame_count,
        faces_found: out.faces_found,
        frames: result.frames,
        spoof_event_id: spoof_event,
        timings: ChallengeTimings {
            decode_ms,
            evaluate_ms,
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(yaw: f32, live: f32) -> FrameReport {
        FrameReport {
            face_found: true,
            yaw: Some(yaw),
            ear: None,
            live: Some(live),
            similarity: Some(1.0),
        }
    }

    fn result(passive_ok: Option<bool>, reasons: &[&str]) -> ChallengeResult {
        ChallengeResult {
            prompt: Prompt::TurnRight,
            passed: false,
            motion_ok: false,
            same_person: true,
            passive_ok,
            passive_live: Some(0.8),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            frames: vec![frame(0.1, 0.8), frame(0.0, 0.8), frame(-0.1, 0.8)],
        }
    }

    #[test]
    fn passive_check_uses_the_organisation_threshold() {
        let o = ChallengeOptions::default();
        // The pack's threshold passed it; the organisation's 0.9 does not.
        let r = result(Some(true), &["the head did not turn"]);
        let out = outcome(&r, Some(0.9), &o);
        assert_eq!(out.passive_ok, Some(false));
        assert_eq!(out.reasons.len(), 2);
        assert!(out.reasons[1].contains("0.900"), "{:?}", out.reasons);
        // The pack's threshold failed it; the organisation's 0.5 passes: the
        // engine's passive reason (always last) is dropped.
        let r = result(
            Some(false),
            &["the head did not turn", "pack says not live"],
        );
        let out = outcome(&r, Some(0.5), &o);
        assert_eq!(out.passive_ok, Some(true));
        assert_eq!(out.reasons, ["the head did not turn"]);
        // No liveness model: no passive verdict at all.
        let out = outcome(&result(None, &[]), None, &o);
        assert_eq!(out.passive_ok, None);
        assert_eq!(out.faces_found, 3);
    }

    #[test]
    fn passes_only_when_every_check_does() {
        let o = ChallengeOptions::default();
        let mut r = result(Some(true), &[]);
        r.motion_ok = true;
        assert!(outcome(&r, Some(0.5), &o).passed);
        r.same_person = false;
        assert!(!outcome(&r, Some(0.5), &o).passed);
        r.same_person = true;
        r.frames[0].face_found = false;
        assert!(
            !outcome(&r, Some(0.5), &o).passed,
            "a face in 2 of 3 frames"
        );
    }

    #[test]
    fn motion_figure_is_signed_toward_the_prompt() {
        let o = ChallengeOptions::default();
        // Turn right = yaw decreasing: 0.1 → -0.1 is a 0.2 turn.
        let m = motion_figure(&result(None, &[]), &o);
        assert_eq!(m.measure, MotionMeasure::YawChange);
        assert!((m.value.unwrap() - 0.2).abs() < 1e-6, "{m:?}");
        assert_eq!((m.required_min, m.required_max), (Some(o.min_turn), None));
        let mut r = result(None, &[]);
        r.prompt = Prompt::TurnLeft;
        let m = motion_figure(&r, &o);
        assert!(m.value.unwrap().abs() < 1e-6, "{m:?}");
        r.prompt = Prompt::Blink;
        for (f, ear) in r.frames.iter_mut().zip([0.3, 0.15, 0.3]) {
            f.ear = Some(ear);
        }
        let m = motion_figure(&r, &o);
        assert_eq!(m.measure, MotionMeasure::EyeClosure);
        assert!((m.value.unwrap() - 0.5).abs() < 1e-6, "{m:?}");
        assert_eq!(
            (m.required_min, m.required_max),
            (None, Some(o.closed_ratio))
        );
        // Each kind names only its own bound.
        let keys = |m: &ChallengeMotion| {
            let v = serde_json::to_value(m).unwrap();
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&m), ["measure", "ok", "required_max", "value"]);
        let m = motion_figure(&result(None, &[]), &o);
        assert_eq!(keys(&m), ["measure", "ok", "required_min", "value"]);
        assert_eq!(serde_json::to_value(&m).unwrap()["measure"], "yaw_change");
    }

    #[test]
    fn snapshot_types_from_magic_bytes() {
        assert_eq!(image_content_type(b"\xFF\xD8\xFF\xE0"), "image/jpeg");
        assert_eq!(image_content_type(b"\x89PNG\r\n"), "image/png");
        assert_eq!(image_content_type(b"RIFF1234WEBPVP8 "), "image/webp");
        assert_eq!(image_content_type(b"hello"), "application/octet-stream");
    }
}
