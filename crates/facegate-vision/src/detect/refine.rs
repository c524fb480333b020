//! What every detector's raw output goes through before anyone sees it
//! ([`detect_faces`]): a second pass for close-ups, suppression of boxes
//! nested in a bigger face, the landmark plausibility check
//! ([`facegate_core::plausibility`]) and an orientation check.
//!
//! Orientation: on a face turned by 90° or 180° all three detectors can
//! report a box whose five landmarks sit in an *upright* layout (YuNet
//! always, MTCNN at 180°, MMOD's shape predictor at 270°): the layout is
//! plausible, only the face under it is turned, and no rule on the points
//! can tell. The detector itself can, by comparison: each face is cut out,
//! laid out four times — as is and turned by 90°, 180° and 270° — in one
//! small 2×2 mosaic, and detected once more; a face is upright when no
//! turned copy scores higher than the copy as is. Cost: one detection on a
//! ~340 px mosaic per face found (see `facegate bench`). A face that loses
//! the vote is dropped, and the winning turn is what `auto_rotate` tries
//! first.
//!
//! Close-ups: detectors are trained on faces that are a fraction of the
//! picture. When a face fills the frame (a face 600–1200 px wide in a crop
//! of about that size) YuNet also fires on parts of it — a box over
//! nose–mouth–chin scored above the real face — and its box regression is
//! stretched beyond what its strides anchor. The fix is to make the face a
//! fraction of the input again: when any detection is large relative to the
//! image, the image is detected again centred on a mid-grey canvas twice
//! its size, which the detector's own `max_side` downscale then brings back
//! to its usual input size. The padded pass replaces the first when it
//! finds a plausible face (it sees everything the first did, only smaller).

use facegate_core::plausibility;
use facegate_core::{BoundingBox, DetectedFace, Landmarks5, Point};
use image::{Rgb, RgbImage};

use super::{Detector, DetectorSettings};
use crate::VisionError;
use crate::rotate::Rotation;

/// A detection whose longer box side is at least this fraction of the
/// image's shorter side makes the image a close-up. Portraits framed like
/// lfw (faces ~0.45 of the side) stay below it and cost nothing extra.
pub const CLOSE_UP_FRACTION: f32 = 0.6;

/// Padding on each side of a close-up, as a fraction of the image's side:
/// 0.5 doubles both sides, halving the face in the detector's input.
const CLOSE_UP_PAD: f32 = 0.5;

/// A box counts as nested in a bigger face when at least this fraction of
/// its area lies inside the bigger box.
const NESTED_FRACTION: f32 = 0.6;

/// Two faces' landmarks describe the same face when their eye centres and
/// mouth centres are within this many eye–mouth spans (of the bigger face).
const SAME_FACE_SPANS: f32 = 0.35;

/// The outcome of [`detect_faces`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection {
    /// Plausible faces, by descending score.
    pub faces: Vec<DetectedFace>,
    /// Detections dropped because their landmarks were not a plausible
    /// upright face (see [`plausibility::check`]).
    pub implausible: usize,
    /// For each face dropped because a turned copy of it scored higher, the
    /// turn of the image that would make it upright.
    pub turned: Vec<Rotation>,
    /// Detections dropped as nested inside a bigger face.
    pub nested: usize,
    /// The image was a close-up and was detected again padded.
    pub close_up: bool,
}

/// Run `detector` on `image` and keep only faces a recogniser can use:
/// close-ups are detected again padded, boxes nested inside a bigger face
/// are suppressed, faces whose landmarks are not a plausible upright face
/// are dropped, and so is each face a turned copy of which scores higher
/// ([`orientation_vote`]). Geometry is in `image`'s pixels.
///
/// # Errors
/// Whatever the detector returns.
pub fn detect_faces(
    detector: &dyn Detector,
    image: &RgbImage,
    settings: &DetectorSettings,
) -> Result<Detection, VisionError> {
    let mut refined = detect_plausible(detector, image, settings)?;
    let mut upright = Vec::with_capacity(refined.faces.len());
    for face in std::mem::take(&mut refined.faces) {
        match orientation_vote(detector, image, &face, settings)? {
            Rotation::None => upright.push(face),
            turn => refined.turned.push(turn),
        }
    }
    refined.faces = upright;
    Ok(refined)
}

/// [`detect_faces`] without the orientation vote: the close-up pass,
/// nested-box suppression and the plausibility check only.
///
/// For video, where the vote is worth taking once per track rather than once
/// per face per frame: it costs one more detection per face, which on a
/// 720p camera frame with a few people is most of the frame's detection
/// time, while a face's orientation does not change between frames (see
/// `facegate_streams::pipeline`).
///
/// # Errors
/// Whatever the detector returns.
pub fn detect_plausible(
    detector: &dyn Detector,
    image: &RgbImage,
    settings: &DetectorSettings,
) -> Result<Detection, VisionError> {
    let first = detector.detect(image, settings)?;
    let shorter = image.width().min(image.height()) as f32;
    let close_up = first
        .iter()
        .any(|f| f.bbox.width().max(f.bbox.height()) >= CLOSE_UP_FRACTION * shorter);
    let mut refined = refine(first);
    if close_up {
        let padded = refine(detect_padded(detector, image, settings)?);
        if !padded.faces.is_empty() {
            refined = padded;
        }
    }
    refined.close_up = close_up;
    Ok(refined)
}

/// Side of each of the mosaic's four tiles, pixels.
const TILE: u32 = 160;
/// The face's box side is this fraction of its tile (the rest is context).
const TILE_FACE: f32 = 0.625;
/// Grey gap between tiles, so no detection straddles two.
const TILE_GAP: u32 = 16;
/// Smallest face the vote looks for, as a fraction of the tile's face
/// (50 px). Turned copies are often boxed smaller than the face: at 0.8
/// the vote missed YuNet's and MMOD's turned faces of obama2.jpg, obama.jpg
/// and obama3.jpg.
const VOTE_MIN_FACE: f32 = 0.5;
/// How much higher (log-odds) a turned copy must score than the copy as is
/// to overrule it. MMOD is the tight case: on dlib's labelled sets upright
/// faces had turned copies up to 0.10 above them, while obama2.jpg turned
/// 90° scores 0.15 higher once turned upright (YuNet and MTCNN: above 1).
const VOTE_MARGIN: f32 = 0.12;

/// The turn of `image` that makes `face` upright, by the detector's own
/// vote: `Rotation::None` unless a turned copy of the face scores higher
/// than the copy as is (ties and faces no copy finds stay upright).
pub fn orientation_vote(
    detector: &dyn Detector,
    image: &RgbImage,
    face: &DetectedFace,
    settings: &DetectorSettings,
) -> Result<Rotation, VisionError> {
    let side = face.bbox.width().max(face.bbox.height()) / TILE_FACE;
    let c = face.bbox.center();
    let tile = crate::resize::crop_resize_rgb(
        image,
        (c.x - side / 2.0).round() as i64,
        (c.y - side / 2.0).round() as i64,
        side.round().max(1.0) as u32,
        side.round().max(1.0) as u32,
        TILE,
        TILE,
    );
    let turns = [
        Rotation::None,
        Rotation::Cw90,
        Rotation::Cw180,
        Rotation::Cw270,
    ];
    let cell = TILE + TILE_GAP;
    let mut mosaic = RgbImage::from_pixel(
        2 * cell + TILE_GAP,
        2 * cell + TILE_GAP,
        Rgb([128, 128, 128]),
    );
    let origin = |k: usize| {
        (
            TILE_GAP + (k as u32 % 2) * cell,
            TILE_GAP + (k as u32 / 2) * cell,
        )
    };
    for (k, turn) in turns.iter().enumerate() {
        let (x, y) = origin(k);
        image::imageops::replace(&mut mosaic, &turn.apply(&tile), i64::from(x), i64::from(y));
    }
    // The faces in the tiles are ~100 px: no need to look for small ones,
    // which keeps MTCNN's pyramid and MMOD's upsampling short.
    let vote_settings = DetectorSettings {
        min_face_size: (TILE as f32 * TILE_FACE * VOTE_MIN_FACE).max(settings.min_face_size),
        max_side: 0,
        ..*settings
    };
    let mut best = [0.0f32; 4];
    for found in detector.detect(&mosaic, &vote_settings)? {
        let centre = found.bbox.center();
        // Only detections centred in a tile's middle half are that tile's face.
        let tile_of = (0..4).find(|&k| {
            let (x, y) = origin(k);
            let (lo, hi) = (TILE as f32 / 4.0, TILE as f32 * 3.0 / 4.0);
            let (dx, dy) = (centre.x - x as f32, centre.y - y as f32);
            (lo..=hi).contains(&dx) && (lo..=hi).contains(&dy)
        });
        if let Some(k) = tile_of {
            best[k] = best[k].max(found.score);
        }
    }
    // Compared as log-odds, so detectors whose scores crowd near 1 (MTCNN)
    // or near 0.74 (MMOD) get the same margin; the copy as is wins ties.
    let logit = |p: f32| {
        let p = p.clamp(1e-6, 1.0 - 1e-6);
        (p / (1.0 - p)).ln()
    };
    let winner = (1..4).fold(0, |w, k| {
        let needed = if w == 0 { VOTE_MARGIN } else { 0.0 };
        if logit(best[k]) > logit(best[w]) + needed {
            k
        } else {
            w
        }
    });
    tracing::trace!(?best, "orientation vote (as is, 90°, 180°, 270°)");
    Ok(turns[winner])
}

fn refine(faces: Vec<DetectedFace>) -> Detection {
    let total = faces.len();
    let plausible: Vec<DetectedFace> = faces
        .into_iter()
        .filter(plausibility::is_plausible)
        .collect();
    let implausible = total - plausible.len();
    let before = plausible.len();
    let mut faces = suppress_nested(plausible);
    let nested = before - faces.len();
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    Detection {
        faces,
        implausible,
        turned: Vec::new(),
        nested,
        close_up: false,
    }
}

/// `image` centred on a mid-grey canvas padded by [`CLOSE_UP_PAD`] of its
/// size on every side, detected, and mapped back (boxes clamped to `image`).
fn detect_padded(
    detector: &dyn Detector,
    image: &RgbImage,
    settings: &DetectorSettings,
) -> Result<Vec<DetectedFace>, VisionError> {
    let (w, h) = image.dimensions();
    let px = (w as f32 * CLOSE_UP_PAD).round() as u32;
    let py = (h as f32 * CLOSE_UP_PAD).round() as u32;
    let mut canvas = RgbImage::from_pixel(w + 2 * px, h + 2 * py, Rgb([128, 128, 128]));
    image::imageops::replace(&mut canvas, image, i64::from(px), i64::from(py));
    let (dx, dy) = (px as f32, py as f32);
    let shift = |p: Point| Point::new(p.x - dx, p.y - dy);
    Ok(detector
        .detect(&canvas, settings)?
        .into_iter()
        .map(|f| DetectedFace {
            bbox: BoundingBox::new(
                f.bbox.left - dx,
                f.bbox.top - dy,
                f.bbox.right - dx,
                f.bbox.bottom - dy,
            )
            .clamped(w, h),
            landmarks: Landmarks5(f.landmarks.0.map(shift)),
            ..f
        })
        .filter(|f| f.bbox.area() > 0.0)
        .collect())
}

/// Drop faces whose box lies mostly ([`NESTED_FRACTION`]) inside a bigger
/// face's box. A box inside a face whose landmarks disagree with that face's
/// (eyes on the nose, "mouth" on the chin) is a part of the face taken for a
/// whole one; one whose landmarks agree is a duplicate of the same face, of
/// which the better scored is kept. Greedy from the biggest box down.
pub fn suppress_nested(mut faces: Vec<DetectedFace>) -> Vec<DetectedFace> {
    faces.sort_by(|a, b| b.bbox.area().total_cmp(&a.bbox.area()));
    let mut kept: Vec<DetectedFace> = Vec::with_capacity(faces.len());
    for face in faces {
        let outer = kept
            .iter()
            .position(|k| inside_fraction(&face.bbox, &k.bbox) >= NESTED_FRACTION);
        match outer {
            None => kept.push(face),
            Some(i) => {
                if same_face(&kept[i], &face) && face.score > kept[i].score {
                    kept[i] = face;
                }
            }
        }
    }
    kept
}

/// The fraction of `inner`'s area that lies inside `outer`.
fn inside_fraction(inner: &BoundingBox, outer: &BoundingBox) -> f32 {
    let overlap = BoundingBox::new(
        inner.left.max(outer.left),
        inner.top.max(outer.top),
        inner.right.min(outer.right),
        inner.bottom.min(outer.bottom),
    )
    .area();
    let area = inner.area();
    if area <= 0.0 { 1.0 } else { overlap / area }
}

fn same_face(a: &DetectedFace, b: &DetectedFace) -> bool {
    let centres = |f: &DetectedFace| {
        let lm = &f.landmarks;
        let mid = |p: Point, q: Point| Point::new((p.x + q.x) / 2.0, (p.y + q.y) / 2.0);
        (
            mid(lm.left_eye(), lm.right_eye()),
            mid(lm.mouth_left(), lm.mouth_right()),
        )
    };
    let ((ae, am), (be, bm)) = (centres(a), centres(b));
    let span = ae.distance(am).max(be.distance(bm)).max(1.0);
    ae.distance(be) <= SAME_FACE_SPANS * span && am.distance(bm) <= SAME_FACE_SPANS * span
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face with frontal landmarks filling `bbox`.
    fn face(bbox: BoundingBox, score: f32) -> DetectedFace {
        let at = |fx: f32, fy: f32| {
            Point::new(bbox.left + fx * bbox.width(), bbox.top + fy * bbox.height())
        };
        DetectedFace {
            bbox,
            score,
            landmarks: Landmarks5([
                at(0.3, 0.4),
                at(0.7, 0.4),
                at(0.5, 0.6),
                at(0.35, 0.78),
                at(0.65, 0.78),
            ]),
        }
    }

    #[test]
    fn a_false_face_inside_a_real_one_is_dropped_even_when_scored_higher() {
        let real = face(BoundingBox::new(0.0, 0.0, 600.0, 700.0), 0.82);
        // Over nose, mouth and chin: its "eyes" sit on the real nose.
        let part = face(BoundingBox::new(150.0, 330.0, 450.0, 700.0), 0.88);
        let kept = suppress_nested(vec![part, real]);
        assert_eq!(kept, vec![real]);
    }

    #[test]
    fn a_nested_duplicate_of_the_same_face_keeps_the_better_score() {
        let outer = face(BoundingBox::new(0.0, 0.0, 200.0, 200.0), 0.7);
        let inner = face(BoundingBox::new(10.0, 10.0, 190.0, 190.0), 0.9);
        assert_eq!(suppress_nested(vec![outer, inner]), vec![inner]);
    }

    #[test]
    fn separate_and_partly_overlapping_faces_stay() {
        let a = face(BoundingBox::new(0.0, 0.0, 100.0, 100.0), 0.9);
        let b = face(BoundingBox::new(70.0, 0.0, 170.0, 100.0), 0.8);
        let c = face(BoundingBox::new(300.0, 0.0, 340.0, 40.0), 0.7);
        assert_eq!(suppress_nested(vec![a, b, c]).len(), 3);
    }
}
