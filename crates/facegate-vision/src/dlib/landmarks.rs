//! dlib's 5 points vs facegate's [`Landmarks5`].
//!
//! dlib's 5-point predictor gives eye *corners* and the base of the nose:
//! `[0]` outer and `[1]` inner corner of the eye on the image's right (the
//! subject's left eye), `[2]` outer and `[3]` inner corner of the eye on the
//! image's left, `[4]` the base of the nose (subnasale). facegate's
//! `Landmarks5` wants eye centres, nose tip and mouth corners (image left
//! first). The dlib pipeline itself never needs this: its face chip is built
//! from dlib's own points ([`face_chip`](super::face_chip)). The conversion
//! is for showing dlib landmarks next to other detectors' or feeding them to
//! a non-dlib aligner.

use facegate_core::{Landmarks5, Point};

use super::chip::DLIB_TEMPLATE_5;
use super::geometry::similarity;

/// Nose tip and mouth corners of dlib's mean face (points 30, 48 and 54 of
/// `get_face_chip_details`' 68-point mean shape), in the same unit frame as
/// [`DLIB_TEMPLATE_5`] (whose eye corners coincide with that mean shape's).
const MEAN_NOSE_TIP: [f64; 2] = [0.490127, 0.515625];
const MEAN_MOUTH_LEFT: [f64; 2] = [0.254149, 0.780233];
const MEAN_MOUTH_RIGHT: [f64; 2] = [0.726104, 0.780233];

/// Convert dlib 5-point output to facegate's `Landmarks5`.
///
/// - eyes: midpoints of each eye's two measured corners (exact);
/// - nose tip, mouth corners: *estimated* — dlib's mean-face positions
///   carried by the similarity transform that best maps the template's five
///   points onto the measured ones. Expect a few pixels of error on
///   non-neutral expressions or strong yaw; the mouth is not observed.
pub fn landmarks5_from_dlib(points: &[Point; 5]) -> Landmarks5 {
    let mid = |a: Point, b: Point| Point::new((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
    let to: Vec<[f64; 2]> = points
        .iter()
        .map(|p| [f64::from(p.x), f64::from(p.y)])
        .collect();
    let tf = similarity(&DLIB_TEMPLATE_5, &to);
    let map = |p: [f64; 2]| {
        let q = tf.apply(p);
        Point::new(q[0] as f32, q[1] as f32)
    };
    Landmarks5([
        mid(points[2], points[3]),
        mid(points[0], points[1]),
        map(MEAN_NOSE_TIP),
        map(MEAN_MOUTH_LEFT),
        map(MEAN_MOUTH_RIGHT),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_points_map_to_the_mean_face() {
        let s = 200.0f32;
        let pts =
            DLIB_TEMPLATE_5.map(|p| Point::new(p[0] as f32 * s + 10.0, p[1] as f32 * s + 20.0));
        let l = landmarks5_from_dlib(&pts);
        assert!(l.left_eye().x < l.right_eye().x);
        assert!((l.mouth_left().x - (0.254149 * s + 10.0)).abs() < 0.5);
        assert!((l.mouth_right().y - (0.780233 * s + 20.0)).abs() < 0.5);
        assert!((l.nose().y - (0.515625 * s + 20.0)).abs() < 0.5);
        let left_eye_x = (DLIB_TEMPLATE_5[2][0] + DLIB_TEMPLATE_5[3][0]) as f32 / 2.0 * s + 10.0;
        assert!((l.left_eye().x - left_eye_x).abs() < 1e-3);
    }
}
