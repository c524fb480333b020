//! identify (1:N), verify (1:1) and detect. Every response reports faces
//! found, scores, the decision and timings.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use facegate_core::{BoundingBox, Landmarks5};
use facegate_store::{Role, SpoofSource};
use facegate_vision::quality::Quality;
use facegate_vision::rotate::Rotation;
use facegate_vision::{AnalyzeOptions, Timings};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::auth::{Caller, Scope};
use crate::engine::{primary_face, quality_score};
use crate::error::{ApiError, ApiResult};
use crate::flows::{
    IdentifyOut, Purpose, effective_threshold, identify, record_identify_spoofs, with_auto_rotate,
};
use crate::image_input::ImageInput;
use crate::routes::responses::Verification;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recognition/identify", post(identify_route))
        .route("/recognition/verify", post(verify))
        .route("/recognition/detect", post(detect))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentifyParams {
    /// Candidates per face (1–50, default 5).
    pub top_k: Option<usize>,
    /// Override the organisation's match threshold (cosine similarity).
    pub threshold: Option<f32>,
    /// Retry the image turned by 90°, 270° and 180° when no upright face is
    /// found (default: the organisation's `auto_rotate`, off for recognition).
    pub auto_rotate: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/recognition/identify", tag = "recognition",
    request_body(content_type = "multipart/form-data", description = "image (multipart `image`, JSON base64 `image`, or raw bytes); params top_k, threshold"),
    responses((status = 200, description = "faces with candidates and the decision", body = IdentifyOut), (status = 422, description = "not an image")))]
async fn identify_route(
    State(state): State<AppState>,
    caller: Caller,
    mut input: ImageInput<IdentifyParams>,
) -> ApiResult<Json<IdentifyOut>> {
    caller.require(Role::Operator, Scope::Recognize)?;
    let top_k = input.params.top_k.unwrap_or(5);
    if !(1..=50).contains(&top_k) {
        return Err(ApiError::invalid("`top_k` must be between 1 and 50"));
    }
    let image = input.require_image()?;
    let org = state.store.get_org(&caller.org_id).await?;
    let org = with_auto_rotate(&org, input.params.auto_rotate);
    // A copy for spoof-event snapshots, only where images are kept.
    let snapshot = org.settings.store_images.then(|| image.clone());
    let (out, _) = identify(
        &state,
        &org,
        image,
        top_k,
        input.params.threshold,
        false,
        Purpose::Access,
    )
    .await?;
    record_identify_spoofs(
        &state,
        &org,
        &out,
        SpoofSource::Identify,
        snapshot.as_deref(),
    )
    .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    /// Compare the image with this person's templates...
    pub person_id: Option<String>,
    /// ...or with a second image `image2`.
    pub threshold: Option<f32>,
    /// Retry each image turned when no upright face is found (default: the
    /// organisation's `auto_rotate`).
    pub auto_rotate: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/recognition/verify", tag = "recognition",
    request_body(content_type = "multipart/form-data", description = "`image` plus `person_id`, or `image` and `image2`"),
    responses((status = 200, description = "score and same/different", body = Verification)))]
async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    mut input: ImageInput<VerifyParams>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Recognize)?;
    let started = Instant::now();
    let image = input.require_image()?;
    let engine = state.engine()?.clone();
    let org = state.store.get_org(&caller.org_id).await?;
    // 1:1: one comparison, so the organisation's FPIR is the FAR.
    let operating_point = effective_threshold(
        &state,
        &org.settings,
        input.params.threshold,
        Purpose::Access,
        1,
    )?;
    let threshold = operating_point.threshold;
    let options = AnalyzeOptions {
        auto_rotate: input
            .params
            .auto_rotate
            .unwrap_or(org.settings.auto_rotate.applies(false)),
    };
    let a = engine.analyze_with(Arc::new(image), options).await?;
    let Some(face_a) = primary_face(&a) else {
        return Ok(Json(
            json!({"faces_found": 0, "decision": "no_face", "score": null, "threshold": threshold,
            "operating_point": operating_point, "timings": {"total_ms": started.elapsed().as_secs_f64() * 1000.0}}),
        ));
    };
    match (input.params.person_id.as_deref(), input.image2.take()) {
        (Some(person_id), None) => {
            crate::routes::check_id("person", person_id)?;
            let person = state.store.get_person(&caller.org_id, person_id).await?;
            let Some(hit) = state.store.gallery().person_score(
                &caller.org_id,
                engine.model_id(),
                &person.id,
                &face_a.embedding,
                engine.mean_template_offsets(),
            ) else {
                return Err(ApiError::conflict(
                    "the person has no active face templates for this model",
                ));
            };
            let decision = if hit.score >= threshold {
                "same"
            } else {
                "different"
            };
            state
                .metrics
                .record_recognition(decision, started.elapsed().as_secs_f64());
            Ok(Json(json!({
                "faces_found": a.faces.len(), "decision": decision, "score": hit.score,
                "best_score": hit.best_score, "min_score": hit.min_score,
                "mean_score": hit.mean_score,
                "threshold": threshold, "operating_point": operating_point, "person": {"id": person.id, "external_id": person.external_id, "name": person.name},
                "liveness": face_a.liveness, "quality": quality_score(face_a),
                "timings": {"engine": a.timings, "total_ms": started.elapsed().as_secs_f64() * 1000.0},
            })))
        }
        (None, Some(image2)) => {
            if image2.is_empty() {
                return Err(ApiError::invalid("`image2` is empty"));
            }
            let b = engine.analyze_with(Arc::new(image2), options).await?;
            let Some(face_b) = primary_face(&b) else {
                return Ok(Json(
                    json!({"faces_found": a.faces.len(), "faces_found_image2": 0, "decision": "no_face",
                    "score": null, "threshold": threshold, "operating_point": operating_point,
                    "message": "no face was found in image2"}),
                ));
            };
            let score = face_a
                .embedding
                .cosine(&face_b.embedding)
                .map_err(|_| ApiError::internal())?;
            let decision = if score >= threshold {
                "same"
            } else {
                "different"
            };
            state
                .metrics
                .record_recognition(decision, started.elapsed().as_secs_f64());
            Ok(Json(json!({
                "faces_found": a.faces.len(), "faces_found_image2": b.faces.len(), "decision": decision,
                "score": score, "threshold": threshold, "operating_point": operating_point,
                "timings": {"image": a.timings, "image2": b.timings, "total_ms": started.elapsed().as_secs_f64() * 1000.0},
            })))
        }
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "send either `person_id` or `image2`, not both",
        )),
        (None, None) => Err(ApiError::invalid(
            "send `person_id` (verify against a person) or `image2` (compare two images)",
        )),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DetectParams {
    /// Retry the image turned by 90°, 270° and 180° when no upright face is
    /// found (default: the organisation's `auto_rotate`).
    pub auto_rotate: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/recognition/detect", tag = "recognition",
    request_body(content_type = "multipart/form-data", description = "image"),
    responses((status = 200, description = "faces with boxes, landmarks, quality", body = Detection)))]
async fn detect(
    State(state): State<AppState>,
    caller: Caller,
    mut input: ImageInput<DetectParams>,
) -> ApiResult<Json<Detection>> {
    caller.require(Role::Operator, Scope::Recognize)?;
    let started = Instant::now();
    let image = input.require_image()?;
    let org = state.store.get_org(&caller.org_id).await?;
    let options = AnalyzeOptions {
        auto_rotate: input
            .params
            .auto_rotate
            .unwrap_or(org.settings.auto_rotate.applies(false)),
    };
    let a = state
        .engine()?
        .analyze_with(Arc::new(image), options)
        .await?;
    let faces: Vec<DetectedFace> = a
        .faces
        .iter()
        .map(|f| DetectedFace {
            bbox: f.face.bbox,
            score: f.face.score,
            landmarks: f.face.landmarks,
            quality: f.quality,
            quality_score: quality_score(f),
            liveness: f.liveness,
        })
        .collect();
    Ok(Json(Detection {
        faces_found: faces.len(),
        width: a.width,
        height: a.height,
        rotation: a.rotation,
        decision: if faces.is_empty() { "no_face" } else { "faces" },
        faces,
        timings: DetectTimings {
            engine: a.timings,
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
        },
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetectedFace {
    #[serde(rename = "box")]
    #[schema(value_type = crate::routes::responses::FaceBox)]
    pub bbox: BoundingBox,
    /// Detector confidence.
    pub score: f32,
    #[schema(value_type = crate::routes::responses::Landmarks)]
    pub landmarks: Landmarks5,
    #[schema(value_type = crate::routes::responses::FaceQuality)]
    pub quality: Quality,
    /// Size times pose, in [0, 1].
    pub quality_score: f64,
    /// Live probability, when the pack has a liveness model.
    pub liveness: Option<f32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetectTimings {
    #[schema(value_type = crate::routes::responses::EngineTimings)]
    pub engine: Timings,
    pub total_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Detection {
    pub faces_found: usize,
    pub width: u32,
    pub height: u32,
    /// Clockwise turn (0, 90, 180, 270) applied to the image before faces
    /// were found (`auto_rotate`); boxes, landmarks, `width` and `height`
    /// are those of the turned image.
    #[schema(value_type = u16)]
    pub rotation: Rotation,
    pub faces: Vec<DetectedFace>,
    /// `faces` or `no_face`.
    pub decision: &'static str,
    pub timings: DetectTimings,
}
