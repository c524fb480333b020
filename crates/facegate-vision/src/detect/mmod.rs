//! dlib's CNN face detector (`mmod_human_face_detector.dat`,
//! face_recognition's `model="cnn"`), converted to ONNX when the engine
//! loads: the image is laid out as dlib's tiled pyramid, the network scores
//! every window position, and [`decode_mmod`] maps the peaks back to boxes
//! with dlib's own suppression. MMOD gives boxes only; the five landmarks
//! come from dlib's 5-point shape predictor on each box, as face_recognition
//! gets them.

use std::sync::Arc;

use facegate_core::{BoundingBox, DetectedFace};
use facegate_models::dlib::{MMOD_FACE_PYRAMID_DOWN, MMOD_INPUT, MMOD_OUTPUT, MmodModel};
use image::RgbImage;
use ort::value::TensorRef;

use super::{
    Detector, DetectorSettings, big_enough, non_maximum_suppression, scaled_for_detection,
};
use crate::VisionError;
use crate::dlib::{ShapePredictor, decode_mmod, landmarks5_from_dlib, tiled_pyramid};
use crate::session::SessionPool;

/// Largest tiled-pyramid canvas we run (pixels): about what a 1024×1024
/// image needs. Guards memory when `max_side` is set to 0 (no downscaling).
const MAX_CANVAS_PIXELS: usize = 4_000_000;

pub struct Mmod {
    pool: SessionPool,
    /// The converted model's geometry; its ONNX bytes are dropped after load.
    model: MmodModel,
    landmarks: Arc<ShapePredictor>,
}

impl Mmod {
    /// `model.onnx` must already be in `pool`; `landmarks` must be a
    /// 5-point dlib predictor.
    pub fn new(pool: SessionPool, mut model: MmodModel, landmarks: Arc<ShapePredictor>) -> Self {
        model.onnx = Vec::new();
        Self {
            pool,
            model,
            landmarks,
        }
    }
}

/// At most this much upsampling, like face_recognition's default single
/// `pyramid_up` for its CNN detector.
const MAX_UPSAMPLE: f32 = 2.0;

impl Mmod {
    /// The network only sees faces about as large as its detector window,
    /// so images are upsampled (up to [`MAX_UPSAMPLE`]) until a face of
    /// `min_face_size` fills the window, and never beyond `max_side`.
    fn wanted_scale(&self, settings: &DetectorSettings) -> f32 {
        let window = self
            .model
            .options
            .detector_windows
            .iter()
            .map(|w| w.width.min(w.height))
            .min()
            .unwrap_or(0) as f32;
        (window / settings.min_face_size.max(1.0)).clamp(1.0, MAX_UPSAMPLE)
    }
}

/// MMOD's raw window score (dlib reports a face above 0) as a probability-like
/// value in `(0, 1)`, so `score_threshold = 0.5` is dlib's own threshold and
/// API clients see the same range as for the other detectors.
fn squash(raw: f32) -> f32 {
    1.0 / (1.0 + (-raw).exp())
}

impl Detector for Mmod {
    fn detect(
        &self,
        image: &RgbImage,
        settings: &DetectorSettings,
    ) -> Result<Vec<DetectedFace>, VisionError> {
        let (scaled, scale) =
            scaled_for_detection(image, settings.max_side, self.wanted_scale(settings));
        let input_image = scaled.as_ref();
        let pyramid = tiled_pyramid(input_image, &self.model, MMOD_FACE_PYRAMID_DOWN);
        if pyramid.levels.is_empty() {
            return Ok(Vec::new());
        }
        if pyramid.width * pyramid.height > MAX_CANVAS_PIXELS {
            return Err(VisionError::InvalidArgument(format!(
                "the image is too large for the CNN detector ({}×{} pyramid); set a max_side",
                pyramid.width, pyramid.height
            )));
        }
        let input = ndarray::ArrayView4::from_shape(
            (1, 3, pyramid.height, pyramid.width),
            pyramid.data.as_slice(),
        )
        .map_err(|e| VisionError::internal(format!("pyramid tensor: {e}")))?;
        // dlib's threshold is 0 on the raw score; anything squashed below
        // the caller's threshold is dropped here already.
        let threshold = settings.score_threshold.clamp(1e-6, 1.0 - 1e-6);
        let raw_threshold = (threshold / (1.0 - threshold)).ln();
        let detections = self.pool.with_session(|session| {
            let outputs =
                session.run(ort::inputs![MMOD_INPUT => TensorRef::from_array_view(input)?])?;
            let (shape, scores) = outputs[MMOD_OUTPUT].try_extract_tensor::<f32>()?;
            let dims = match shape.as_ref() {
                [_, k, r, c] => [*k as usize, *r as usize, *c as usize],
                _ => [0, 0, 0],
            };
            Ok(decode_mmod(
                &self.model,
                &pyramid,
                scores,
                dims,
                raw_threshold,
            ))
        })?;
        let (iw, ih) = (image.width(), image.height());
        let faces = detections
            .into_iter()
            .filter_map(|d| {
                let b = d.bbox;
                let bbox = BoundingBox::new(
                    b.left / scale,
                    b.top / scale,
                    b.right / scale,
                    b.bottom / scale,
                );
                if !big_enough(&bbox, settings.min_face_size) {
                    return None;
                }
                let points = self.landmarks.predict5(image, bbox)?;
                Some(DetectedFace {
                    bbox: bbox.clamped(iw, ih),
                    score: squash(d.score),
                    landmarks: landmarks5_from_dlib(&points),
                })
            })
            .collect();
        // dlib already suppressed overlaps its own way; this applies the
        // pack's `nms_iou` on top, like every other detector.
        Ok(non_maximum_suppression(faces, settings.nms_iou))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squashed_scores_put_dlibs_threshold_at_one_half() {
        assert!((squash(0.0) - 0.5).abs() < 1e-6);
        assert!(squash(2.0) > 0.85 && squash(-2.0) < 0.15);
        let t: f32 = 0.5;
        assert!(((t / (1.0 - t)).ln()).abs() < 1e-6);
    }
}
