//! Face detectors. Each returns faces with a box, a score and five landmarks
//! in source-image pixels, after score filtering and non-maximum suppression.

pub mod mmod;
pub mod mtcnn;
pub mod refine;
pub mod yunet;

use facegate_core::{BoundingBox, DetectedFace};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::VisionError;

/// Tuning shared by every detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorSettings {
    /// Minimum confidence to report a face.
    pub score_threshold: f32,
    /// Overlap above which the weaker of two boxes is suppressed.
    pub nms_iou: f32,
    /// Faces smaller than this (shorter box side, pixels) are ignored.
    pub min_face_size: f32,
    /// Images are scaled down so their longer side is at most this before
    /// detection (0 = never scale).
    pub max_side: u32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self {
            score_threshold: 0.6,
            nms_iou: 0.3,
            min_face_size: 20.0,
            max_side: 640,
        }
    }
}

pub trait Detector: Send + Sync {
    fn detect(
        &self,
        image: &RgbImage,
        settings: &DetectorSettings,
    ) -> Result<Vec<DetectedFace>, VisionError>;
}

/// Greedy non-maximum suppression; returns faces sorted by descending score.
pub fn non_maximum_suppression(
    mut faces: Vec<DetectedFace>,
    iou_threshold: f32,
) -> Vec<DetectedFace> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<DetectedFace> = Vec::with_capacity(faces.len().min(64));
    for face in faces {
        if kept.iter().all(|k| k.bbox.iou(&face.bbox) <= iou_threshold) {
            kept.push(face);
        }
    }
    kept
}

/// `image` scaled by `wanted` (1 for no change, above 1 to upsample) but
/// never so far that its longer side exceeds `max_side` (0 = no limit);
/// borrowed when nothing changes. Returns the factor applied.
pub(crate) fn scaled_for_detection(
    image: &RgbImage,
    max_side: u32,
    wanted: f32,
) -> (std::borrow::Cow<'_, RgbImage>, f32) {
    let longer = image.width().max(image.height()).max(1) as f32;
    let scale = if max_side == 0 {
        wanted
    } else {
        wanted.min(max_side as f32 / longer)
    };
    if scale == 1.0 {
        return (std::borrow::Cow::Borrowed(image), 1.0);
    }
    let w = (image.width() as f32 * scale).round().max(1.0) as u32;
    let h = (image.height() as f32 * scale).round().max(1.0) as u32;
    (
        std::borrow::Cow::Owned(crate::resize::resize_rgb(image, w, h)),
        scale,
    )
}

/// `image` scaled down so its longer side is at most `max_side`.
pub(crate) fn downscaled(image: &RgbImage, max_side: u32) -> (std::borrow::Cow<'_, RgbImage>, f32) {
    scaled_for_detection(image, max_side, 1.0)
}

pub(crate) fn big_enough(bbox: &BoundingBox, min_face_size: f32) -> bool {
    bbox.width().min(bbox.height()) >= min_face_size
}

#[cfg(test)]
mod tests {
    use super::*;
    use facegate_core::Landmarks5;

    fn face(left: f32, score: f32) -> DetectedFace {
        DetectedFace {
            bbox: BoundingBox::new(left, 0.0, left + 10.0, 10.0),
            score,
            landmarks: Landmarks5::default(),
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept =
            non_maximum_suppression(vec![face(0.0, 0.7), face(1.0, 0.9), face(50.0, 0.8)], 0.3);
        let scores: Vec<f32> = kept.iter().map(|f| f.score).collect();
        assert_eq!(scores, vec![0.9, 0.8]);
    }

    #[test]
    fn downscale_only_shrinks() {
        let factor = |w, h, max_side| {
            let image = RgbImage::new(w, h);
            downscaled(&image, max_side).1
        };
        assert_eq!(factor(320, 240, 640), 1.0);
        assert_eq!(factor(1280, 720, 640), 0.5);
        assert_eq!(factor(1280, 720, 0), 1.0);
        let source = RgbImage::new(1280, 720);
        let (image, scale) = downscaled(&source, 640);
        assert_eq!((image.dimensions(), scale), ((640, 360), 0.5));
    }

    #[test]
    fn upsampling_stops_at_max_side() {
        let scaled = |w, h, max_side, wanted| {
            let source = RgbImage::new(w, h);
            let (image, scale) = scaled_for_detection(&source, max_side, wanted);
            (image.dimensions(), scale)
        };
        assert_eq!(scaled(250, 250, 1024, 2.0), ((500, 500), 2.0));
        assert_eq!(scaled(640, 480, 1024, 2.0), ((1024, 768), 1.6));
        assert_eq!(scaled(2048, 1024, 1024, 2.0), ((1024, 512), 0.5));
        assert_eq!(scaled(100, 50, 0, 2.0), ((200, 100), 2.0));
    }
}
