//! Evaluating dlib's regression-tree shape predictor, bit-for-bit the way
//! `dlib::shape_predictor::operator()` does.
//!
//! Per cascade level: fit the similarity transform from the mean shape to the
//! current estimate; place each feature pixel (mean-shape anchor + offset,
//! carried along by that transform) in the image through the box mapping
//! (box corners ↔ unit square); read its grey level (dlib's `(r+g+b)/3`,
//! 0 outside the image); walk every tree on pixel differences and add its
//! leaf to the shape. dlib keeps shapes and the per-level transform in `f32`
//! and rounds points with `floor(x + 0.5)`; so does this code.

use facegate_core::{BoundingBox, Point};
use facegate_models::dlib::{DlibError, ShapePredictorModel};
use image::{GrayImage, RgbImage};

use super::geometry::{round_half_up, similarity};

/// A dlib shape predictor ready to run (e.g. `shape_predictor_5_face_landmarks.dat`).
#[derive(Debug, Clone)]
pub struct ShapePredictor {
    model: ShapePredictorModel,
}

/// Pixel access the predictor needs: size and dlib's grey intensity.
trait Intensity {
    fn size(&self) -> (u32, u32);
    /// Caller guarantees `x < width`, `y < height`.
    fn intensity(&self, x: u32, y: u32) -> u8;
}

impl Intensity for RgbImage {
    fn size(&self) -> (u32, u32) {
        self.dimensions()
    }
    fn intensity(&self, x: u32, y: u32) -> u8 {
        let p = self.get_pixel(x, y).0;
        ((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3) as u8
    }
}

impl Intensity for GrayImage {
    fn size(&self) -> (u32, u32) {
        self.dimensions()
    }
    fn intensity(&self, x: u32, y: u32) -> u8 {
        self.get_pixel(x, y).0[0]
    }
}

impl ShapePredictor {
    pub fn new(model: ShapePredictorModel) -> Self {
        Self { model }
    }

    /// Parse a dlib `.dat` shape predictor.
    pub fn from_dat(bytes: &[u8]) -> Result<Self, DlibError> {
        ShapePredictorModel::from_dat(bytes).map(Self::new)
    }

    /// Number of landmarks predicted (5 or 68 for dlib's face models).
    pub fn num_parts(&self) -> usize {
        self.model.num_parts()
    }

    /// Landmarks for the face in `bbox`, in dlib's order for the model (for
    /// the 5-point model: image-right eye outer and inner corner, image-left
    /// eye outer and inner corner, base of the nose), as dlib's integer
    /// pixel positions.
    ///
    /// `bbox` uses facegate's convention (right/bottom exclusive); dlib's
    /// inclusive rectangle `[l, t, r, b]` is `BoundingBox::new(l, t, r + 1, b + 1)`.
    /// Grey levels are dlib's `(r + g + b) / 3`, as when face_recognition
    /// passes an RGB image.
    pub fn predict(&self, image: &RgbImage, bbox: BoundingBox) -> Vec<Point> {
        self.run(image, bbox)
    }

    /// As [`predict`](Self::predict), on an already grey image.
    pub fn predict_gray(&self, image: &GrayImage, bbox: BoundingBox) -> Vec<Point> {
        self.run(image, bbox)
    }

    /// The 5 points of a 5-point model; `None` for other models.
    pub fn predict5(&self, image: &RgbImage, bbox: BoundingBox) -> Option<[Point; 5]> {
        if self.num_parts() != 5 {
            return None;
        }
        let p = self.predict(image, bbox);
        Some([p[0], p[1], p[2], p[3], p[4]])
    }

    fn run(&self, image: &impl Intensity, bbox: BoundingBox) -> Vec<Point> {
        let m = &self.model;
        // dlib's rectangle: inclusive right/bottom.
        let (l, t) = (f64::from(bbox.left), f64::from(bbox.top));
        let (r, b) = (f64::from(bbox.right) - 1.0, f64::from(bbox.bottom) - 1.0);
        let to_img = |x: f32, y: f32| [l + f64::from(x) * (r - l), t + f64::from(y) * (b - t)];
        let (w, h) = image.size();

        let mean_pts: Vec<[f64; 2]> = m
            .initial_shape
            .chunks_exact(2)
            .map(|p| [f64::from(p[0]), f64::from(p[1])])
            .collect();
        let mut shape = m.initial_shape.clone();
        let mut features: Vec<f32> = Vec::new();
        for (level, forest) in m.forests.iter().enumerate() {
            // Similarity from the mean shape to the current one, as f32.
            let cur: Vec<[f64; 2]> = shape
                .chunks_exact(2)
                .map(|p| [f64::from(p[0]), f64::from(p[1])])
                .collect();
            let tf = similarity(&mean_pts, &cur)
                .m
                .map(|row| row.map(|v| v as f32));
            features.clear();
            for (anchor, d) in m.anchor_idx[level].iter().zip(&m.deltas[level]) {
                let a = *anchor as usize * 2;
                let x = (tf[0][0] * d[0] + tf[0][1] * d[1]) + shape[a];
                let y = (tf[1][0] * d[0] + tf[1][1] * d[1]) + shape[a + 1];
                let p = to_img(x, y);
                let (px, py) = (round_half_up(p[0]), round_half_up(p[1]));
                let inside = px >= 0 && py >= 0 && px < i64::from(w) && py < i64::from(h);
                features.push(if inside {
                    f32::from(image.intensity(px as u32, py as u32))
                } else {
                    0.0
                });
            }
            let len = shape.len();
            for tree in forest {
                let mut i = 0usize;
                while i < tree.splits.len() {
                    let s = tree.splits[i];
                    let diff = features[s.idx1 as usize] - features[s.idx2 as usize];
                    i = if diff > s.thresh {
                        2 * i + 1
                    } else {
                        2 * i + 2
                    };
                }
                let leaf = i - tree.splits.len();
                let values = &tree.leaf_values[leaf * len..(leaf + 1) * len];
                for (s, v) in shape.iter_mut().zip(values) {
                    *s += *v;
                }
            }
        }
        shape
            .chunks_exact(2)
            .map(|p| {
                let q = to_img(p[0], p[1]);
                Point::new(round_half_up(q[0]) as f32, round_half_up(q[1]) as f32)
            })
            .collect()
    }
}
