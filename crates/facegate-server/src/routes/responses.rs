//! Response bodies shared by several routes, and OpenAPI descriptions of
//! bodies that are serialised from types this crate does not own or built
//! as JSON by the decision flows.
//!
//! The flows (`mark_attendance`, `decide_access`, verify) answer with shapes
//! that vary with the outcome, and the compatibility routes re-shape the same
//! values, so they stay `serde_json::Value`; the structs marked "described
//! only" below document them for the OpenAPI document and are never built.
//! `ToSchema` cannot be derived for `facegate-core`/`facegate-vision` types
//! from here (orphan rule), hence their descriptions too. The OpenAPI test
//! in `tests/api/openapi.rs` checks real responses against these.

use facegate_store::{AttendanceRecord, PersonStatus};
use serde::Serialize;
use utoipa::ToSchema;

/// A whole collection, unpaged.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// How many templates a bulk delete removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: u64,
}

/// How many templates a bulk archive changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Archived {
    pub archived: u64,
}

/// A face box in upright-image pixels (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct FaceBox {
    pub left: f32,
    pub top: f32,
    /// Exclusive.
    pub right: f32,
    /// Exclusive.
    pub bottom: f32,
}

/// A landmark in upright-image pixels (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct LandmarkPoint {
    pub x: f32,
    pub y: f32,
}

/// Five landmarks: left eye, right eye, nose tip, left and right mouth
/// corner, "left" as seen in the image (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct Landmarks(pub Vec<LandmarkPoint>);

/// Measurements behind `quality_score` (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct FaceQuality {
    /// Distance between the eyes in source pixels.
    pub inter_eye_px: f32,
    /// Variance of the Laplacian of the aligned crop (higher = sharper).
    pub sharpness: f32,
    /// Degrees; positive = turned to the image's right.
    pub yaw_deg: f32,
    /// Degrees: the angle of the eye line.
    pub roll_deg: f32,
}

/// Milliseconds per engine stage (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct EngineTimings {
    pub decode_ms: f32,
    pub detect_ms: f32,
    pub align_ms: f32,
    pub embed_ms: f32,
    /// 0 when the pack has no liveness model.
    pub liveness_ms: f32,
}

/// Engine stages plus the gallery search and the whole request, in
/// milliseconds (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct SearchTimings {
    pub decode_ms: f32,
    pub detect_ms: f32,
    pub align_ms: f32,
    pub embed_ms: f32,
    pub liveness_ms: f32,
    pub search_ms: f64,
    pub total_ms: f64,
}

/// The person a decision is about (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct PersonBrief {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub department: String,
    pub status: PersonStatus,
}

/// Where a decision landed in the hash-chained access log (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct AccessLogRef {
    pub seq: i64,
    pub hash: String,
}

/// `POST /access/decide` (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct AccessDecision {
    /// `granted` or `denied`.
    #[schema(example = "granted")]
    pub decision: String,
    pub granted: bool,
    /// `ok`, `unknown`, `ambiguous`, `schedule`, `suspended`, `liveness`,
    /// `second_factor_missing`, `mismatch`, `no_face` or `device_disabled`.
    pub reason: String,
    pub message: String,
    pub person: Option<PersonBrief>,
    /// Best match's cosine similarity, when a face was searched.
    pub score: Option<f32>,
    /// Live probability of the face, when the pack has a liveness model.
    pub liveness: Option<f32>,
    pub device_id: Option<String>,
    /// `null` only when an unknown face was not logged (`unknown_face_policy = ignore`).
    pub log: Option<AccessLogRef>,
    /// What the face threshold stood for (absent without a face image).
    pub operating_point: Option<crate::flows::OperatingPointOut>,
    /// `null` when no image was analysed.
    pub timings: Option<SearchTimings>,
}

/// `POST /attendance/mark` (described only). Business refusals are `200`
/// with `recorded: false`; fields other than `recorded`, `reason`,
/// `message` and `person` depend on how far the request got.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct AttendanceMark {
    pub recorded: bool,
    /// Recorded: `ok` or `liveness_flagged`. Refused: `unknown_face`,
    /// `ambiguous`, `unknown_credential`, `suspended`, `liveness`, `max_per_day` or
    /// `min_interval`.
    pub reason: String,
    pub message: String,
    pub person: Option<PersonBrief>,
    /// The new record, when `recorded`.
    pub record: Option<AttendanceRecord>,
    pub score: Option<f32>,
    pub liveness: Option<f32>,
    /// Sequence number of the access-log entry written for this mark.
    pub log_seq: Option<i64>,
    pub faces_found: Option<usize>,
    /// What the face threshold stood for (absent without a face image).
    pub operating_point: Option<crate::flows::OperatingPointOut>,
    /// `null` for credential marks.
    pub timings: Option<SearchTimings>,
    pub total_ms: Option<f64>,
}

/// `POST /recognition/verify` (described only). With `person_id`: the
/// person's template scores; with `image2`: the two images' similarity.
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct Verification {
    pub faces_found: usize,
    /// Faces in `image2` (image comparison only).
    pub faces_found_image2: Option<usize>,
    /// `same`, `different` or `no_face`.
    pub decision: String,
    /// Cosine similarity (against a person: with their mean template);
    /// `null` when a face is missing.
    pub score: Option<f32>,
    /// Against a person: the best single template's cosine.
    pub best_score: Option<f32>,
    pub min_score: Option<f32>,
    pub mean_score: Option<f32>,
    pub threshold: f32,
    /// What the threshold stands for (1:1: the organisation's FPIR is the FAR).
    pub operating_point: crate::flows::OperatingPointOut,
    /// Against a person: who.
    pub person: Option<VerifiedPerson>,
    pub liveness: Option<f32>,
    pub quality: Option<f64>,
    /// Set when `image2` has no face.
    pub message: Option<String>,
    /// Per image (`engine`, or `image` and `image2`) and `total_ms`.
    #[schema(value_type = Option<Object>)]
    pub timings: Option<()>,
}

/// (described only)
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct VerifiedPerson {
    pub id: String,
    pub external_id: String,
    pub name: String,
}

/// What a liveness challenge asks the person to do (described only):
/// turn the head to their own left or right, or blink.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum ChallengePrompt {
    TurnLeft,
    TurnRight,
    Blink,
}

/// One frame of a challenge answer, in upload order (described only).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct ChallengeFrame {
    pub face_found: bool,
    /// Yaw proxy in inter-ocular distances: positive when the head is
    /// turned to the person's left.
    pub yaw: Option<f32>,
    /// Mean eye aspect ratio of both eyes (blink challenges only).
    pub ear: Option<f32>,
    /// Passive live score, when the pack has a liveness model.
    pub live: Option<f32>,
    /// Cosine similarity with the first frame's face.
    pub similarity: Option<f32>,
}
