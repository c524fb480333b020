//! Recognizers: batched embedding of aligned face crops.

use facegate_models::pack::{ColorOrder, Layout, RecognizerSpec};
use image::RgbImage;
use ndarray::Array4;
use ort::value::TensorRef;

use crate::VisionError;
use crate::session::SessionPool;

/// One recognizer model with its preprocessing.
pub struct Recognizer {
    spec: RecognizerSpec,
    pool: SessionPool,
    /// Largest batch run at once for dynamic-batch models: bigger batches
    /// add latency for the first face without improving throughput on CPU.
    max_batch: usize,
}

impl Recognizer {
    pub fn new(spec: RecognizerSpec, pool: SessionPool) -> Self {
        let max_batch = if spec.fixed_batch > 0 {
            spec.fixed_batch
        } else {
            16
        };
        Self {
            spec,
            pool,
            max_batch,
        }
    }

    pub fn spec(&self) -> &RecognizerSpec {
        &self.spec
    }

    /// Raw (not normalised) embeddings of `faces`, each `input_size` square,
    /// in order. With `flip_average` the mirrored crop's embedding is added.
    pub fn embed(&self, faces: &[&RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        let size = self.spec.input_size;
        if let Some(bad) = faces
            .iter()
            .find(|f| f.width() != size || f.height() != size)
        {
            return Err(VisionError::InvalidArgument(format!(
                "recognizer {} needs {size}×{size} crops, got {}×{}",
                self.spec.id,
                bad.width(),
                bad.height()
            )));
        }
        let mut out = Vec::with_capacity(faces.len());
        if self.spec.flip_average {
            let flipped: Vec<RgbImage> = faces
                .iter()
                .map(|f| image::imageops::flip_horizontal(*f))
                .collect();
            let mut all: Vec<&RgbImage> = faces.to_vec();
            all.extend(flipped.iter());
            let embeddings = self.embed_batches(&all)?;
            let (plain, mirrored) = embeddings.split_at(faces.len());
            for (a, b) in plain.iter().zip(mirrored) {
                out.push(a.iter().zip(b).map(|(x, y)| x + y).collect());
            }
        } else {
            out = self.embed_batches(faces)?;
        }
        Ok(out)
    }

    fn embed_batches(&self, faces: &[&RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        let mut out = Vec::with_capacity(faces.len());
        for chunk in faces.chunks(self.max_batch) {
            // Fixed-batch models get the chunk padded with black crops.
            let batch = if self.spec.fixed_batch > 0 {
                self.spec.fixed_batch
            } else {
                chunk.len()
            };
            let input = self.tensor(chunk, batch);
            let dim = self.spec.embedding_dim;
            let embeddings = self.pool.with_session(|session| {
                let outputs = session.run(ort::inputs![TensorRef::from_array_view(&input)?])?;
                let (_, data) = outputs[0].try_extract_tensor::<f32>()?;
                Ok(data
                    .chunks(dim)
                    .take(chunk.len())
                    .map(<[f32]>::to_vec)
                    .collect::<Vec<_>>())
            })?;
            if embeddings.len() != chunk.len() || embeddings.iter().any(|e| e.len() != dim) {
                return Err(VisionError::Model {
                    model: self.spec.id.clone(),
                    message: format!("expected {} embeddings of {dim} values", chunk.len()),
                });
            }
            out.extend(embeddings);
        }
        Ok(out)
    }

    fn tensor(&self, faces: &[&RgbImage], batch: usize) -> Array4<f32> {
        let size = self.spec.input_size as usize;
        let shape = match self.spec.layout {
            Layout::Nchw => (batch, 3, size, size),
            Layout::Nhwc => (batch, size, size, 3),
        };
        let channel_of = |c: usize| match self.spec.color {
            ColorOrder::Rgb => c,
            ColorOrder::Bgr => 2 - c,
        };
        let scale: [f32; 3] = self.spec.std.map(|s| 1.0 / s);
        let mean = self.spec.mean;
        let pixels = size * size;
        let mut data = vec![0f32; batch * pixels * 3];
        // Faces beyond `faces.len()` (fixed-batch padding) stay zero.
        for (face, out) in faces.iter().zip(data.chunks_exact_mut(pixels * 3)) {
            let raw = face.as_raw();
            match self.spec.layout {
                Layout::Nhwc => {
                    for (o, px) in out.chunks_exact_mut(3).zip(raw.chunks_exact(3)) {
                        for c in 0..3 {
                            o[c] = (f32::from(px[channel_of(c)]) - mean[c]) * scale[c];
                        }
                    }
                }
                Layout::Nchw => {
                    for c in 0..3 {
                        let plane = &mut out[c * pixels..(c + 1) * pixels];
                        let source = channel_of(c);
                        for (o, px) in plane.iter_mut().zip(raw.chunks_exact(3)) {
                            *o = (f32::from(px[source]) - mean[c]) * scale[c];
                        }
                    }
                }
            }
        }
        // `data` holds exactly the shape's element count by construction.
        Array4::from_shape_vec(shape, data).unwrap_or_else(|_| Array4::zeros(shape))
    }
}
