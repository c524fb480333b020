//! The face engine as the service uses it: CPU-bound calls go to the
//! blocking pool, bounded by a semaphore so a burst of uploads queues
//! instead of spawning unbounded threads.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use facegate_vision::decode::{DecodeError, DecodeLimits, decode_rgb};
use facegate_vision::liveness::challenge::{self, ChallengeOptions, ChallengeResult, Prompt};
use facegate_vision::session::Threading;
use facegate_vision::{Analysis, AnalyzeOptions, AnalyzedFace, Engine, EngineOptions, VisionError};
use image::RgbImage;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::ApiError;

pub struct FaceEngine {
    engine: Arc<Engine>,
    slots: Semaphore,
    decode_limits: DecodeLimits,
}

impl FaceEngine {
    /// Load the configured pack from the models directory.
    pub fn load(config: &Config) -> Result<FaceEngine, VisionError> {
        let decode_limits = DecodeLimits {
            max_bytes: config.max_body_bytes,
            max_pixels: config.max_image_pixels,
            ..DecodeLimits::default()
        };
        let options = EngineOptions {
            data_dir: config.models_dir(),
            threading: Threading {
                sessions: config.engine_sessions,
                intra_threads: config.engine_threads,
            },
            decode_limits,
            // Per request: routes pass the request's or organisation's choice.
            auto_rotate: false,
        };
        let engine = Engine::load_installed(&config.pack, &options)?;
        Ok(FaceEngine {
            engine: Arc::new(engine),
            slots: Semaphore::new(config.engine_concurrency),
            decode_limits,
        })
    }

    pub fn model_id(&self) -> &str {
        self.engine.model_id()
    }

    /// The engine itself, for callers that run it on their own threads
    /// (camera workers, bounded by their own `EngineGate`, not by this
    /// adapter's request slots).
    pub fn shared_engine(&self) -> Arc<Engine> {
        self.engine.clone()
    }

    /// The limits request images are decoded under.
    pub fn decode_limits(&self) -> DecodeLimits {
        self.decode_limits
    }

    pub fn match_threshold(&self) -> f32 {
        self.engine.match_threshold()
    }

    /// The pack's liveness threshold, when it has a liveness model.
    /// The pack's calibrated FAR curve (open-set thresholds).
    pub fn far_curve(&self) -> Option<&facegate_core::FarCurve> {
        self.engine.far_curve()
    }

    /// Score offsets for people with several templates.
    pub fn mean_template_offsets(&self) -> &[f32] {
        self.engine.mean_template_offsets()
    }

    pub fn liveness_threshold(&self) -> Option<f32> {
        self.engine.liveness_threshold()
    }

    /// Decode, detect, align and embed on the blocking pool.
    pub async fn analyze(&self, bytes: Arc<Vec<u8>>) -> Result<Analysis, ApiError> {
        let engine = self.engine.clone();
        self.on_blocking_pool("engine", move || engine.analyze(&bytes))
            .await?
            .map_err(ApiError::from)
    }

    /// [`FaceEngine::analyze`] with per-request options (`auto_rotate`).
    pub async fn analyze_with(
        &self,
        bytes: Arc<Vec<u8>>,
        options: AnalyzeOptions,
    ) -> Result<Analysis, ApiError> {
        let engine = self.engine.clone();
        self.on_blocking_pool("engine", move || engine.analyze_with(&bytes, &options))
            .await?
            .map_err(ApiError::from)
    }

    /// Run `work` on the blocking pool once a slot is free; a task that
    /// panics is logged (as a `{what} task`) and answered with a 500.
    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .slots
            .acquire()
            .await
            .map_err(|_| ApiError::internal())?;
        tokio::task::spawn_blocking(work).await.map_err(|e| {
            tracing::error!("{what} task failed: {e}");
            ApiError::internal()
        })
    }
}

impl FaceEngine {
    /// The challenge prompts this pack can check: turns need only the
    /// detector's five landmarks; a blink needs the 68-point predictor that
    /// the liveness component (the pack's own or the add-on's) lists as a
    /// `.dat`. Asked without loading the predictor.
    pub fn challenge_prompts(&self) -> Vec<Prompt> {
        let blink = self.engine.has_landmarks68();
        Prompt::ALL
            .into_iter()
            .filter(|p| *p != Prompt::Blink || blink)
            .collect()
    }

    /// Decode a challenge's frames on the blocking pool. Each frame is held
    /// to the usual image limits, and all of them together to one image's
    /// pixel budget, so a burst costs no more memory than a single upload.
    /// Returns the frames and the milliseconds spent.
    pub async fn decode_frames(
        &self,
        frames: Vec<Vec<u8>>,
    ) -> Result<(Vec<RgbImage>, f64), ApiError> {
        let limits = self.decode_limits;
        self.on_blocking_pool("decode", move || decode_all(&frames, &limits))
            .await?
    }

    /// Check decoded frames against a prompt on the blocking pool. Returns
    /// the result and the milliseconds spent.
    pub async fn evaluate_challenge(
        &self,
        prompt: Prompt,
        frames: Vec<RgbImage>,
        options: ChallengeOptions,
    ) -> Result<(ChallengeResult, f64), ApiError> {
        let engine = self.engine.clone();
        self.on_blocking_pool("challenge", move || {
            let start = Instant::now();
            challenge::evaluate_with(&engine, prompt, &frames, &options)
                .map(|r| (r, start.elapsed().as_secs_f64() * 1000.0))
        })
        .await?
        .map_err(ApiError::from)
    }
}

fn decode_all(frames: &[Vec<u8>], limits: &DecodeLimits) -> Result<(Vec<RgbImage>, f64), ApiError> {
    let start = Instant::now();
    let mut left = limits.max_pixels;
    let mut out = Vec::with_capacity(frames.len());
    for (i, bytes) in frames.iter().enumerate() {
        let frame_limits = DecodeLimits {
            max_pixels: left,
            ..*limits
        };
        let image = decode_rgb(bytes, &frame_limits).map_err(|e| match e {
            // Within one image's limit but over what the earlier frames left.
            DecodeError::TooManyPixels { width, height, .. }
                if u64::from(width) * u64::from(height) <= limits.max_pixels
                    && width.max(height) <= limits.max_side =>
            {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "image_too_large",
                    format!(
                        "frame {}: the frames together are over the limit of {} pixels",
                        i + 1,
                        limits.max_pixels
                    ),
                )
            }
            other => {
                let mut err = ApiError::from(VisionError::from(other));
                err.message = format!("frame {}: {}", i + 1, err.message);
                err
            }
        })?;
        left = left.saturating_sub(u64::from(image.width()) * u64::from(image.height()));
        out.push(image);
    }
    Ok((out, start.elapsed().as_secs_f64() * 1000.0))
}

/// The face a single-person operation acts on: the largest one.
pub fn primary_face(analysis: &Analysis) -> Option<&AnalyzedFace> {
    analysis
        .faces
        .iter()
        .max_by(|a, b| a.face.bbox.area().total_cmp(&b.face.bbox.area()))
}

/// One number in `[0, 1]` summarising a face's quality for storage and
/// sorting: size (inter-eye distance ≥ 60 px is full marks) times pose.
pub fn quality_score(face: &AnalyzedFace) -> f64 {
    let q = &face.quality;
    let size = (f64::from(q.inter_eye_px) / 60.0).clamp(0.0, 1.0);
    let pose = (1.0 - f64::from(q.yaw_deg.abs()) / 90.0).clamp(0.0, 1.0);
    (size * pose * 1000.0).round() / 1000.0
}
