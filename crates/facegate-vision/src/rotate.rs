//! Quarter-turn rotations for `auto_rotate`: photos taken sideways or upside
//! down whose file carries no EXIF orientation. Detectors and recognisers
//! expect upright faces, so the engine turns the image, not the geometry.

use facegate_core::{BoundingBox, DetectedFace, Landmarks5, Point};
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// A clockwise rotation by a multiple of 90° applied to a decoded image.
/// Serialised as its degrees (`0`, `90`, `180`, `270`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub enum Rotation {
    #[default]
    None,
    Cw90,
    Cw180,
    Cw270,
}

impl Rotation {
    /// The rotations `auto_rotate` tries after upright, in order: the two
    /// sideways ones (phones held in portrait or landscape the other way
    /// round are the usual case), then upside down.
    pub const RETRIES: [Rotation; 3] = [Rotation::Cw90, Rotation::Cw270, Rotation::Cw180];

    /// Clockwise degrees: 0, 90, 180 or 270.
    pub fn degrees(self) -> u16 {
        match self {
            Rotation::None => 0,
            Rotation::Cw90 => 90,
            Rotation::Cw180 => 180,
            Rotation::Cw270 => 270,
        }
    }

    /// `image` rotated clockwise by this rotation.
    pub fn apply(self, image: &RgbImage) -> RgbImage {
        match self {
            Rotation::None => image.clone(),
            Rotation::Cw90 => image::imageops::rotate90(image),
            Rotation::Cw180 => image::imageops::rotate180(image),
            Rotation::Cw270 => image::imageops::rotate270(image),
        }
    }

    /// Where the point `p` of a `width × height` image lands once the image
    /// is rotated (continuous coordinates: pixel edges, as box sides are).
    pub fn map_point(self, p: Point, width: u32, height: u32) -> Point {
        let (w, h) = (width as f32, height as f32);
        match self {
            Rotation::None => p,
            Rotation::Cw90 => Point::new(h - p.y, p.x),
            Rotation::Cw180 => Point::new(w - p.x, h - p.y),
            Rotation::Cw270 => Point::new(p.y, w - p.x),
        }
    }

    /// The rotation that undoes this one.
    pub fn inverse(self) -> Rotation {
        match self {
            Rotation::Cw90 => Rotation::Cw270,
            Rotation::Cw270 => Rotation::Cw90,
            other => other,
        }
    }

    /// `face`, found in a `width × height` image, as it lies in that image
    /// rotated by `self`. Landmarks keep their meaning (the subject's eyes
    /// stay eyes); only their coordinates move.
    pub fn map_face(self, face: &DetectedFace, width: u32, height: u32) -> DetectedFace {
        let map = |p| self.map_point(p, width, height);
        let (a, b) = (
            map(Point::new(face.bbox.left, face.bbox.top)),
            map(Point::new(face.bbox.right, face.bbox.bottom)),
        );
        DetectedFace {
            bbox: BoundingBox::new(a.x.min(b.x), a.y.min(b.y), a.x.max(b.x), a.y.max(b.y)),
            score: face.score,
            landmarks: Landmarks5(face.landmarks.0.map(map)),
        }
    }
}

impl From<Rotation> for u16 {
    fn from(r: Rotation) -> u16 {
        r.degrees()
    }
}

impl TryFrom<u16> for Rotation {
    type Error = String;

    fn try_from(degrees: u16) -> Result<Self, Self::Error> {
        match degrees {
            0 => Ok(Rotation::None),
            90 => Ok(Rotation::Cw90),
            180 => Ok(Rotation::Cw180),
            270 => Ok(Rotation::Cw270),
            other => Err(format!("rotation must be 0, 90, 180 or 270, not {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_the_pixels() {
        // A 4×2 image with one marked pixel at (3, 0): its centre must map
        // onto the same pixel's centre in each rotated image.
        let mut image = RgbImage::new(4, 2);
        image.put_pixel(3, 0, image::Rgb([255, 0, 0]));
        for r in [
            Rotation::None,
            Rotation::Cw90,
            Rotation::Cw180,
            Rotation::Cw270,
        ] {
            let turned = r.apply(&image);
            let p = r.map_point(Point::new(3.5, 0.5), 4, 2);
            let (x, y) = (p.x.floor() as u32, p.y.floor() as u32);
            assert_eq!(turned.get_pixel(x, y).0, [255, 0, 0], "{r:?}");
        }
    }

    #[test]
    fn inverse_undoes_and_degrees_round_trip() {
        let face = DetectedFace {
            bbox: BoundingBox::new(1.0, 2.0, 5.0, 9.0),
            score: 0.5,
            landmarks: Landmarks5([Point::new(2.0, 3.0); 5]),
        };
        for r in [
            Rotation::None,
            Rotation::Cw90,
            Rotation::Cw180,
            Rotation::Cw270,
        ] {
            let (w, h) = (20, 10);
            let there = r.map_face(&face, w, h);
            let (rw, rh) = if r.degrees() % 180 == 0 {
                (w, h)
            } else {
                (h, w)
            };
            assert_eq!(r.inverse().map_face(&there, rw, rh), face, "{r:?}");
            assert_eq!(Rotation::try_from(u16::from(r)), Ok(r));
        }
        assert!(Rotation::try_from(45).is_err());
    }
}
