//! Is a detection's five-point layout that of a face?
//!
//! Detectors regress landmarks whether or not the box holds an upright face:
//! on a face rotated by 90° or 180° they put points in template positions
//! that do not match the face, or collapse them into a corner; a false box
//! over the nose–mouth–chin of a close-up carries "eyes" on the cheeks. Such
//! faces align to garbage and give embeddings that match nobody (or the
//! wrong person). [`check`] rejects layouts no real, roughly upright face
//! has, using only the points and the box, so it is cheap enough to run on
//! every detection (well under a microsecond).
//!
//! Everything is measured in the face's own frame: the vertical axis runs
//! from the eye centre to the mouth centre (its length is the *span*), the
//! horizontal axis is perpendicular to it, pointing from the subject's right
//! eye (image left) to their left eye. Ratios are in spans, so they do not
//! depend on the face's size; the roll (tilt of that axis from image-down)
//! is limited separately. Limits were set to pass every face the three
//! detectors find in lfw-dev and dlib's labelled sets (profiles and tilted
//! heads included) with margin; see the tests and the README for figures.

use crate::{DetectedFace, Point};

/// Why a face's landmarks are not a plausible upright face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Implausible {
    #[error("a landmark or the box is not a finite number")]
    NotFinite,
    /// The points span too little of the box (collapsed landmarks) or more than it.
    #[error("the landmarks do not fit the box's size")]
    Scale,
    #[error("a landmark lies outside the face box")]
    OutsideBox,
    /// Eyes not level in the face's frame, mouth corners not level, or
    /// eye and mouth widths out of proportion with the eye–mouth span.
    #[error("the eye and mouth layout is not a face's")]
    Layout,
    /// Right and left are swapped (a mirror image of a face's layout).
    #[error("the landmarks are mirrored")]
    Mirrored,
    #[error("the nose is not between the eyes and the mouth")]
    Nose,
    /// The face is rolled further than [`MAX_ROLL_DEGREES`] from upright.
    #[error("the face is not upright (rolled {0}°)")]
    Rolled(i16),
}

/// Largest roll (in-plane tilt, degrees) a face may have and still count as
/// upright. Beyond it detectors' landmark heads are unreliable (they were
/// trained on upright faces) and `auto_rotate` is the remedy.
pub const MAX_ROLL_DEGREES: f32 = 60.0;

/// The face's roll in degrees, `(-180, 180]`: 0 upright, positive when the
/// head is turned clockwise in the image (chin towards image left).
pub fn roll_degrees(face: &DetectedFace) -> f32 {
    let (eyes, mouth) = centres(face);
    let down = Point::new(mouth.x - eyes.x, mouth.y - eyes.y);
    // Angle of the eye→mouth direction from image-down (0, 1).
    (-down.x).atan2(down.y).to_degrees()
}

/// `Ok` when `face`'s landmarks and box have the layout of a real face no
/// more than [`MAX_ROLL_DEGREES`] from upright; otherwise the first rule it
/// breaks.
pub fn check(face: &DetectedFace) -> Result<(), Implausible> {
    let lm = face.landmarks.points();
    let b = face.bbox;
    let finite = lm.iter().all(|p| p.x.is_finite() && p.y.is_finite())
        && [b.left, b.top, b.right, b.bottom]
            .iter()
            .all(|v| v.is_finite());
    if !finite {
        return Err(Implausible::NotFinite);
    }
    let (eyes, mouth) = centres(face);
    let down = Point::new(mouth.x - eyes.x, mouth.y - eyes.y);
    let span = (down.x * down.x + down.y * down.y).sqrt();
    let box_side = b.width().min(b.height());
    // Collapsed points (MTCNN on a rotated face put all five within 15 px of
    // a 200 px box) or points spread wider than any face box.
    if box_side <= 0.0 || span < MIN_SPAN_OF_BOX * box_side || span > MAX_SPAN_OF_BOX * box_side {
        return Err(Implausible::Scale);
    }
    // Measured on the longer side: a face cut by the image edge has its box
    // clamped to the image and its points (rightly) beyond the short side.
    let margin = OUTSIDE_MARGIN * b.width().max(b.height());
    let inside = lm.iter().all(|p| {
        p.x >= b.left - margin
            && p.x <= b.right + margin
            && p.y >= b.top - margin
            && p.y <= b.bottom + margin
    });
    if !inside {
        return Err(Implausible::OutsideBox);
    }
    // The face's frame, in spans: origin at the eye centre, y towards the
    // mouth, x towards the image-right eye.
    let ey = Point::new(down.x / span, down.y / span);
    let ex = Point::new(ey.y, -ey.x);
    let local = |p: Point| {
        let d = Point::new(p.x - eyes.x, p.y - eyes.y);
        Point::new(
            (d.x * ex.x + d.y * ex.y) / span,
            (d.x * ey.x + d.y * ey.y) / span,
        )
    };
    let [le, re, nose, ml, mr] = lm.map(local);
    let eye_width = re.x - le.x;
    let mouth_width = mr.x - ml.x;
    // Near-profile faces bring the two eyes (and mouth corners) together
    // and may cross them slightly; a mirrored layout crosses them by a
    // face's width.
    if eye_width < -MAX_CROSSING || mouth_width < -MAX_CROSSING {
        return Err(Implausible::Mirrored);
    }
    let level = |a: Point, b: Point, at: f32| (a.y - at).abs().max((b.y - at).abs()) <= MAX_TILT;
    if !level(le, re, 0.0)
        || !level(ml, mr, 1.0)
        || eye_width > MAX_WIDTH
        || mouth_width > MAX_WIDTH
    {
        return Err(Implausible::Layout);
    }
    if !(NOSE_Y.0..=NOSE_Y.1).contains(&nose.y) || nose.x.abs() > MAX_NOSE_X {
        return Err(Implausible::Nose);
    }
    let roll = roll_degrees(face);
    if roll.abs() > MAX_ROLL_DEGREES {
        return Err(Implausible::Rolled(roll.round() as i16));
    }
    Ok(())
}

/// Whether [`check`] passes.
pub fn is_plausible(face: &DetectedFace) -> bool {
    check(face).is_ok()
}

fn centres(face: &DetectedFace) -> (Point, Point) {
    let lm = &face.landmarks;
    let mid = |a: Point, b: Point| Point::new((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
    (
        mid(lm.left_eye(), lm.right_eye()),
        mid(lm.mouth_left(), lm.mouth_right()),
    )
}

// Limits, in spans (eye centre to mouth centre) unless said otherwise.
// Typical frontal faces: span 0.35–0.5 of the box side, eye width 0.9–1.3,
// mouth width 0.7–1.0, nose at 0.45–0.65 down, eyes level within 0.1.
/// Smallest eye–mouth span as a fraction of the box's shorter side.
const MIN_SPAN_OF_BOX: f32 = 0.15;
/// Largest eye–mouth span as a fraction of the box's shorter side.
const MAX_SPAN_OF_BOX: f32 = 1.2;
/// How far outside the box a landmark may lie, as a fraction of its longer
/// side (boxes are clamped to the image; faces cut by the edge keep their points).
const OUTSIDE_MARGIN: f32 = 0.25;
/// How far the eyes (or mouth corners) may cross over before the layout
/// counts as mirrored.
const MAX_CROSSING: f32 = 0.15;
/// Largest distance of each eye from the eye line (and each mouth corner
/// from the mouth line) in the face's frame.
const MAX_TILT: f32 = 0.5;
/// Widest eye distance or mouth width.
const MAX_WIDTH: f32 = 2.5;
/// Where the nose may sit between the eye line (0) and the mouth line (1).
const NOSE_Y: (f32, f32) = (0.0, 1.1);
/// How far sideways the nose may sit from the eye–mouth axis (profiles
/// put it beyond the eyes).
const MAX_NOSE_X: f32 = 1.5;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoundingBox, Landmarks5};

    /// A frontal face of yunet proportions in a 100×120 box at (100, 100).
    fn frontal() -> DetectedFace {
        DetectedFace {
            bbox: BoundingBox::new(100.0, 100.0, 200.0, 220.0),
            score: 0.9,
            landmarks: Landmarks5([
                Point::new(130.0, 150.0),
                Point::new(170.0, 150.0),
                Point::new(150.0, 172.0),
                Point::new(134.0, 192.0),
                Point::new(166.0, 192.0),
            ]),
        }
    }

    fn map(face: DetectedFace, f: impl Fn(Point) -> Point) -> DetectedFace {
        DetectedFace {
            landmarks: Landmarks5(face.landmarks.0.map(f)),
            ..face
        }
    }

    /// `face` rotated by `degrees` about its box centre (box kept).
    fn rotated(face: DetectedFace, degrees: f32) -> DetectedFace {
        let c = face.bbox.center();
        let (s, co) = degrees.to_radians().sin_cos();
        map(face, |p| {
            let (dx, dy) = (p.x - c.x, p.y - c.y);
            Point::new(c.x + dx * co - dy * s, c.y + dx * s + dy * co)
        })
    }

    #[test]
    fn a_frontal_face_and_moderate_tilts_pass() {
        assert_eq!(check(&frontal()), Ok(()));
        for degrees in [-45.0, -20.0, 20.0, 45.0] {
            assert_eq!(check(&rotated(frontal(), degrees)), Ok(()), "{degrees}°");
        }
        assert!(roll_degrees(&frontal()).abs() < 1e-3);
        assert!((roll_degrees(&rotated(frontal(), 30.0)) - 30.0).abs() < 1e-3);
    }

    #[test]
    fn a_profile_layout_passes() {
        // Turned to the image right: eyes and mouth corners close together,
        // nose beyond them.
        let face = map(frontal(), |p| p);
        let face = DetectedFace {
            landmarks: Landmarks5([
                Point::new(160.0, 150.0),
                Point::new(172.0, 151.0),
                Point::new(188.0, 172.0),
                Point::new(163.0, 193.0),
                Point::new(172.0, 193.0),
            ]),
            ..face
        };
        assert_eq!(check(&face), Ok(()));
    }

    #[test]
    fn faces_rolled_past_the_limit_are_not_upright() {
        for degrees in [90.0, -90.0, 180.0] {
            assert!(
                matches!(
                    check(&rotated(frontal(), degrees)),
                    Err(Implausible::Rolled(_))
                ),
                "{degrees}°"
            );
        }
    }

    #[test]
    fn collapsed_mirrored_and_scrambled_layouts_are_rejected() {
        let c = frontal().bbox.center();
        let collapsed = map(frontal(), |p| {
            Point::new(c.x + (p.x - c.x) * 0.2, c.y + (p.y - c.y) * 0.2)
        });
        assert_eq!(check(&collapsed), Err(Implausible::Scale));

        let mirrored = map(frontal(), |p| Point::new(2.0 * c.x - p.x, p.y));
        let f = mirrored.landmarks.0;
        // Keep the index order (left eye first) but with the points mirrored
        // the "left" eye is now on the image right.
        assert!(f[0].x > f[1].x);
        assert_eq!(check(&mirrored), Err(Implausible::Mirrored));

        let mut nose_below = frontal();
        nose_below.landmarks.0[2] = Point::new(150.0, 215.0);
        assert_eq!(check(&nose_below), Err(Implausible::Nose));

        let mut eye_dropped = frontal();
        eye_dropped.landmarks.0[0] = Point::new(130.0, 185.0);
        assert_eq!(check(&eye_dropped), Err(Implausible::Layout));

        let mut outside = frontal();
        outside.landmarks.0[4] = Point::new(260.0, 192.0);
        assert!(check(&outside).is_err());

        let mut nan = frontal();
        nan.landmarks.0[1].x = f32::NAN;
        assert_eq!(check(&nan), Err(Implausible::NotFinite));
    }
}
