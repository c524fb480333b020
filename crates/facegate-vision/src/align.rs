//! Face alignment: a least-squares similarity transform from detected
//! landmarks to a model's template, and the warp that applies it.
//!
//! Pixel convention (as OpenCV's `warpAffine`): integer coordinates are pixel
//! centres; samples outside the source are black.

use facegate_core::{Landmarks5, Point};
use image::RgbImage;

/// The standard 112×112 five-point template (ArcFace / InsightFace), in
/// `Landmarks5` order: left eye, right eye, nose, left and right mouth corner.
pub const ARCFACE_112: [Point; 5] = [
    Point::new(38.2946, 51.6963),
    Point::new(73.5318, 51.5014),
    Point::new(56.0252, 71.7366),
    Point::new(41.5493, 92.3655),
    Point::new(70.7299, 92.2041),
];

/// A 2-D similarity transform `p' = s·R·p + t`, stored as the affine
/// `[a -b tx; b a ty]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    pub const IDENTITY: Similarity = Similarity {
        a: 1.0,
        b: 0.0,
        tx: 0.0,
        ty: 0.0,
    };

    /// Least-squares fit mapping `src[i]` onto `dst[i]` (Umeyama's method
    /// without reflection). `None` when the source points coincide.
    pub fn estimate(src: &[Point], dst: &[Point]) -> Option<Similarity> {
        let n = src.len().min(dst.len());
        if n < 2 {
            return None;
        }
        let mean = |pts: &[Point]| {
            let (sx, sy) = pts[..n].iter().fold((0.0f64, 0.0f64), |(x, y), p| {
                (x + f64::from(p.x), y + f64::from(p.y))
            });
            (sx / n as f64, sy / n as f64)
        };
        let (smx, smy) = mean(src);
        let (dmx, dmy) = mean(dst);
        let (mut dot, mut cross, mut norm) = (0.0f64, 0.0f64, 0.0f64);
        for (s, d) in src[..n].iter().zip(&dst[..n]) {
            let (sx, sy) = (f64::from(s.x) - smx, f64::from(s.y) - smy);
            let (dx, dy) = (f64::from(d.x) - dmx, f64::from(d.y) - dmy);
            dot += sx * dx + sy * dy;
            cross += sx * dy - sy * dx;
            norm += sx * sx + sy * sy;
        }
        if norm < 1e-12 {
            return None;
        }
        let a = dot / norm;
        let b = cross / norm;
        let tx = dmx - (a * smx - b * smy);
        let ty = dmy - (b * smx + a * smy);
        Some(Similarity {
            a: a as f32,
            b: b as f32,
            tx: tx as f32,
            ty: ty as f32,
        })
    }

    pub fn apply(&self, p: Point) -> Point {
        Point::new(
            self.a * p.x - self.b * p.y + self.tx,
            self.b * p.x + self.a * p.y + self.ty,
        )
    }

    /// Uniform scale factor of the transform.
    pub fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }

    /// The inverse transform; `None` for a degenerate (zero-scale) one.
    pub fn inverse(&self) -> Option<Similarity> {
        let det = self.a * self.a + self.b * self.b;
        if det <= f32::EPSILON {
            return None;
        }
        let (a, b) = (self.a / det, -self.b / det);
        Some(Similarity {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        })
    }
}

/// Warp `source` into a `width × height` image where output pixel `q` takes
/// the source colour at `to_output⁻¹(q)`, bilinearly interpolated.
pub fn warp(source: &RgbImage, to_output: &Similarity, width: u32, height: u32) -> RgbImage {
    let mut out = RgbImage::new(width, height);
    let Some(inv) = to_output.inverse() else {
        return out;
    };
    let (sw, sh) = (source.width() as i64, source.height() as i64);
    let raw = source.as_raw();
    let stride = source.width() as usize * 3;
    let fetch = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= sw || y >= sh {
            0.0
        } else {
            f32::from(raw[y as usize * stride + x as usize * 3 + c])
        }
    };
    for (ox, oy, pixel) in out.enumerate_pixels_mut() {
        let p = inv.apply(Point::new(ox as f32, oy as f32));
        let (x0, y0) = (p.x.floor(), p.y.floor());
        let (fx, fy) = (p.x - x0, p.y - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        for c in 0..3 {
            let top = fetch(x0, y0, c) * (1.0 - fx) + fetch(x0 + 1, y0, c) * fx;
            let bottom = fetch(x0, y0 + 1, c) * (1.0 - fx) + fetch(x0 + 1, y0 + 1, c) * fx;
            pixel.0[c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Align a face to a five-point template scaled to `size × size` (the
/// template is given for `template_size`).
pub fn align_to_template(
    source: &RgbImage,
    landmarks: &Landmarks5,
    template: &[Point; 5],
    template_size: f32,
    size: u32,
) -> Option<RgbImage> {
    let scale = size as f32 / template_size;
    let dst: Vec<Point> = template
        .iter()
        .map(|p| Point::new(p.x * scale, p.y * scale))
        .collect();
    let transform = Similarity::estimate(landmarks.points(), &dst)?;
    Some(warp(source, &transform, size, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Point, b: Point) -> bool {
        (a.x - b.x).abs() < 1e-3 && (a.y - b.y).abs() < 1e-3
    }

    #[test]
    fn recovers_a_known_similarity_exactly() {
        let truth = Similarity {
            a: 0.8,
            b: 0.6,
            tx: 12.0,
            ty: -3.5,
        };
        let src = [
            Point::new(10.0, 20.0),
            Point::new(50.0, 22.0),
            Point::new(30.0, 40.0),
            Point::new(15.0, 60.0),
        ];
        let dst: Vec<Point> = src.iter().map(|p| truth.apply(*p)).collect();
        let fitted = Similarity::estimate(&src, &dst).unwrap();
        for p in &src {
            assert!(close(fitted.apply(*p), truth.apply(*p)));
        }
        assert!((fitted.scale() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn inverse_round_trips() {
        let t = Similarity {
            a: 1.7,
            b: -0.4,
            tx: 3.0,
            ty: 9.0,
        };
        let inv = t.inverse().unwrap();
        let p = Point::new(-4.0, 11.0);
        assert!(close(inv.apply(t.apply(p)), p));
        assert!(
            Similarity {
                a: 0.0,
                b: 0.0,
                tx: 1.0,
                ty: 1.0
            }
            .inverse()
            .is_none()
        );
    }

    #[test]
    fn coincident_points_give_no_transform() {
        let p = [Point::new(1.0, 1.0); 5];
        assert!(Similarity::estimate(&p, &ARCFACE_112).is_none());
    }

    #[test]
    fn template_landmarks_align_to_identity() {
        let image = RgbImage::from_fn(112, 112, |x, y| {
            image::Rgb([x as u8, y as u8, (x ^ y) as u8])
        });
        let aligned =
            align_to_template(&image, &Landmarks5(ARCFACE_112), &ARCFACE_112, 112.0, 112).unwrap();
        assert_eq!(aligned, image);
    }

    #[test]
    fn warp_translates_pixels_and_fills_outside_black() {
        let image = RgbImage::from_fn(8, 8, |x, y| image::Rgb([(x * 10) as u8, (y * 10) as u8, 0]));
        let shift = Similarity {
            a: 1.0,
            b: 0.0,
            tx: 2.0,
            ty: 1.0,
        };
        let out = warp(&image, &shift, 8, 8);
        assert_eq!(out.get_pixel(2, 1).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(5, 4).0, [30, 30, 0]);
        assert_eq!(out.get_pixel(0, 0).0, [0, 0, 0]);
    }
}
