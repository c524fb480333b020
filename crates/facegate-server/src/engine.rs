//! The face engine as the service uses it: CPU-bound calls go to the
//! blocking pool, bounded by a semaphore so a burst of uploads queues
//! instead of spawning unbounded threads.

use std::sync::Arc;

use facegate_vision::decode::DecodeLimits;
use facegate_vision::session::Threading;
use facegate_vision::{Analysis, AnalyzedFace, Engine, EngineOptions, VisionError};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::ApiError;

pub struct FaceEngine {
    engine: Arc<Engine>,
    slots: Semaphore,
}

impl FaceEngine {
    /// Load the configured pack from the models directory.
    pub fn load(config: &Config) -> Result<FaceEngine, VisionError> {
        let options = EngineOptions {
            data_dir: config.models_dir(),
            threading: Threading {
                sessions: config.engine_sessions,
                intra_threads: config.engine_threads,
            },
            decode_limits: DecodeLimits {
                max_bytes: config.max_body_bytes,
                max_pixels: config.max_image_pixels,
                ..DecodeLimits::default()
            },
        };
        let engine = Engine::load_installed(&config.pack, &options)?;
        Ok(FaceEngine {
            engine: Arc::new(engine),
            slots: Semaphore::new(config.engine_sessions * 2),
        })
    }

    pub fn model_id(&self) -> &str {
        self.engine.model_id()
    }

    pub fn match_threshold(&self) -> f32 {
        self.engine.match_threshold()
    }

    /// The pack's liveness threshold, when it has a liveness model.
    pub fn liveness_threshold(&self) -> Option<f32> {
        self.engine.liveness_threshold()
    }

    /// Decode, detect, align and embed on the blocking pool.
    pub async fn analyze(&self, bytes: Arc<Vec<u8>>) -> Result<Analysis, ApiError> {
        let _permit = self
            .slots
            .acquire()
            .await
            .map_err(|_| ApiError::internal())?;
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.analyze(&bytes))
            .await
            .map_err(|e| {
                tracing::error!("engine task failed: {e}");
                ApiError::internal()
            })?
            .map_err(ApiError::from)
    }
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
