//! YuNet (libfacedetection): an anchor-free detector with one prior per grid
//! cell at strides 8, 16 and 32. Input NCHW float32 BGR in 0..255 with sides
//! that are multiples of 32 (we pad right/bottom with black rather than
//! stretch, so geometry needs only the downscale factor undone).

use facegate_core::{BoundingBox, DetectedFace, Landmarks5, Point};
use image::RgbImage;
use ndarray::Array4;
use ort::value::TensorRef;

use super::{Detector, DetectorSettings, big_enough, downscaled, non_maximum_suppression};
use crate::VisionError;
use crate::session::SessionPool;

const STRIDES: [usize; 3] = [8, 16, 32];

pub struct YuNet {
    pool: SessionPool,
}

impl YuNet {
    pub fn new(pool: SessionPool) -> Self {
        Self { pool }
    }
}

impl Detector for YuNet {
    fn detect(
        &self,
        image: &RgbImage,
        settings: &DetectorSettings,
    ) -> Result<Vec<DetectedFace>, VisionError> {
        let (scaled, scale) = downscaled(image, settings.max_side);
        let input_image = scaled.as_ref();
        let (w, h) = (input_image.width() as usize, input_image.height() as usize);
        let (pw, ph) = (w.div_ceil(32) * 32, h.div_ceil(32) * 32);
        let mut input = Array4::<f32>::zeros((1, 3, ph, pw));
        {
            let slice = input
                .as_slice_mut()
                .ok_or_else(|| VisionError::internal("input tensor not contiguous"))?;
            let plane = ph * pw;
            for (x, y, p) in input_image.enumerate_pixels() {
                let offset = y as usize * pw + x as usize;
                slice[offset] = f32::from(p.0[2]);
                slice[plane + offset] = f32::from(p.0[1]);
                slice[2 * plane + offset] = f32::from(p.0[0]);
            }
        }
        let threshold = settings.score_threshold;
        let min_size = settings.min_face_size;
        let faces = self.pool.with_session(|session| {
            let outputs =
                session.run(ort::inputs!["input" => TensorRef::from_array_view(&input)?])?;
            let mut faces = Vec::new();
            for stride in STRIDES {
                let get = |name: String| {
                    outputs
                        .get(name.as_str())
                        .map(|v| v.try_extract_tensor::<f32>())
                };
                let (Some(cls), Some(obj), Some(bbox), Some(kps)) = (
                    get(format!("cls_{stride}")),
                    get(format!("obj_{stride}")),
                    get(format!("bbox_{stride}")),
                    get(format!("kps_{stride}")),
                ) else {
                    continue;
                };
                let ((_, cls), (_, obj), (_, bbox), (_, kps)) = (cls?, obj?, bbox?, kps?);
                let cols = pw / stride;
                let cells = cls
                    .len()
                    .min(obj.len())
                    .min(bbox.len() / 4)
                    .min(kps.len() / 10);
                let s = stride as f32;
                for i in 0..cells {
                    let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
                    if score < threshold {
                        continue;
                    }
                    let (row, col) = ((i / cols) as f32, (i % cols) as f32);
                    let b = &bbox[i * 4..i * 4 + 4];
                    let cx = (col + b[0]) * s;
                    let cy = (row + b[1]) * s;
                    let bw = b[2].exp() * s;
                    let bh = b[3].exp() * s;
                    let k = &kps[i * 10..i * 10 + 10];
                    let mut points = [Point::default(); 5];
                    for (n, point) in points.iter_mut().enumerate() {
                        *point = Point::new(
                            (k[2 * n] + col) * s / scale,
                            (k[2 * n + 1] + row) * s / scale,
                        );
                    }
                    let bbox = BoundingBox::from_xywh(
                        (cx - bw / 2.0) / scale,
                        (cy - bh / 2.0) / scale,
                        bw / scale,
                        bh / scale,
                    );
                    if big_enough(&bbox, min_size) {
                        faces.push(DetectedFace {
                            bbox,
                            score,
                            landmarks: Landmarks5(points),
                        });
                    }
                }
            }
            Ok(faces)
        })?;
        let (iw, ih) = (image.width(), image.height());
        Ok(non_maximum_suppression(faces, settings.nms_iou)
            .into_iter()
            .map(|mut f| {
                f.bbox = f.bbox.clamped(iw, ih);
                f
            })
            .collect())
    }
}
