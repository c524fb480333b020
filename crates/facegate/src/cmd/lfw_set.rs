//! An LFW-layout folder (`<name>/<name>_<nnnn>.jpg`) embedded once, for the
//! evaluations that score it: `eval lfw`, `eval calibrate`, `eval identify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use facegate_core::{DetectedFace, Embedding, Landmarks5, Point, dot};
use facegate_vision::Engine;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::output::progress;

/// `(identity, image number)`, as LFW names its files.
pub type ImageKey = (String, u32);

pub fn image_path(root: &Path, (name, number): &ImageKey) -> PathBuf {
    root.join(name).join(format!("{name}_{number:04}.jpg"))
}

/// Every `<name>/<name>_<nnnn>.jpg` under `root`, sorted by name then number.
pub fn all_images(root: &Path) -> anyhow::Result<Vec<ImageKey>> {
    let mut keys = Vec::new();
    let dirs = std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))?;
    for dir in dirs.filter_map(Result::ok) {
        let Ok(name) = dir.file_name().into_string() else {
            continue;
        };
        if !dir.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path())?.filter_map(Result::ok) {
            let Ok(file) = file.file_name().into_string() else {
                continue;
            };
            let number = file
                .strip_prefix(&format!("{name}_"))
                .and_then(|f| f.strip_suffix(".jpg"))
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(number) = number {
                keys.push((name.clone(), number));
            }
        }
    }
    if keys.is_empty() {
        bail!(
            "no <name>/<name>_<nnnn>.jpg images under {}",
            root.display()
        );
    }
    keys.sort();
    Ok(keys)
}

/// Embeddings of a set of images, in the order of `keys`.
pub struct EmbeddedSet {
    pub keys: Vec<ImageKey>,
    pub embeddings: Vec<Embedding>,
    /// Images where no face was found (embedded at the mean landmarks).
    pub failed_to_detect: usize,
    /// Wall time of detection and embedding (0 when read from a cache).
    pub seconds: f64,
}

#[derive(Serialize, Deserialize)]
struct Cache {
    model_id: String,
    pack: String,
    failed_to_detect: usize,
    images: Vec<(String, u32, Vec<f32>)>,
}

/// Embed `keys` under `root` with `engine`, or read them from `cache` when it
/// holds this pack's embeddings of exactly these images (then written there
/// for the next run). The cache is a plain JSON file: delete it after a model
/// change, though a different model id is detected and recomputed anyway.
pub fn embed(
    engine: &Engine,
    pack: &str,
    root: &Path,
    keys: Vec<ImageKey>,
    cache: Option<&Path>,
) -> anyhow::Result<EmbeddedSet> {
    if let Some(path) = cache.filter(|p| p.is_file()) {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cached: Cache = serde_json::from_str(&text)
            .with_context(|| format!("parsing the embedding cache {}", path.display()))?;
        let cached_keys: Vec<ImageKey> = cached
            .images
            .iter()
            .map(|(n, i, _)| (n.clone(), *i))
            .collect();
        if cached.model_id == engine.model_id() && cached.pack == pack && cached_keys == keys {
            let embeddings = cached
                .images
                .into_iter()
                .map(|(_, _, v)| Embedding::from_raw(v))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(EmbeddedSet {
                keys,
                embeddings,
                failed_to_detect: cached.failed_to_detect,
                seconds: 0.0,
            });
        }
        eprintln!(
            "note: {} holds other embeddings; recomputing",
            path.display()
        );
    }
    let set = compute(engine, root, keys)?;
    if let Some(path) = cache {
        let cached = Cache {
            model_id: engine.model_id().to_owned(),
            pack: pack.to_owned(),
            failed_to_detect: set.failed_to_detect,
            images: set
                .keys
                .iter()
                .zip(&set.embeddings)
                .map(|((n, i), e)| (n.clone(), *i, e.as_slice().to_vec()))
                .collect(),
        };
        std::fs::write(path, serde_json::to_string(&cached)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(set)
}

/// [`embed`] every image of the folder ([`all_images`]).
pub fn embed_folder(
    engine: &Engine,
    pack: &str,
    root: &Path,
    cache: Option<&Path>,
) -> anyhow::Result<EmbeddedSet> {
    embed(engine, pack, root, all_images(root)?, cache)
}

fn compute(engine: &Engine, root: &Path, keys: Vec<ImageKey>) -> anyhow::Result<EmbeddedSet> {
    let bar = progress(keys.len(), "embedding");
    let start = Instant::now();
    let detections: Vec<anyhow::Result<(image::RgbImage, Option<DetectedFace>)>> = keys
        .par_iter()
        .map(|key| {
            let r = detect_central_face(engine, &image_path(root, key));
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    // Faces the detector misses are aligned with the mean landmarks of the
    // found ones: LFW crops are centred, so this is what a fixed crop would do.
    let found: Vec<&DetectedFace> = detections
        .iter()
        .filter_map(|d| d.as_ref().ok()?.1.as_ref())
        .collect();
    let failed_to_detect = detections.len() - found.len();
    let fallback = mean_face(&found).context("no face detected in any image")?;
    let embeddings: Vec<anyhow::Result<Embedding>> = detections
        .into_par_iter()
        .map(|d| {
            let (image, face) = d?;
            let face = face.unwrap_or(fallback);
            let (mut faces, _) = engine.embed_faces(&image, &[face])?;
            faces.pop().map(|f| f.embedding).context("no embedding")
        })
        .collect();
    let seconds = start.elapsed().as_secs_f64();
    let embeddings = keys
        .iter()
        .zip(embeddings)
        .map(|(key, e)| e.with_context(|| format!("{}", image_path(root, key).display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(EmbeddedSet {
        keys,
        embeddings,
        failed_to_detect,
        seconds,
    })
}

/// The detected face nearest the image centre (LFW centres its subject);
/// retries with a low score threshold before giving up.
fn detect_central_face(
    engine: &Engine,
    path: &Path,
) -> anyhow::Result<(image::RgbImage, Option<DetectedFace>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let image = engine.decode(&bytes)?;
    let centre = Point::new(image.width() as f32 / 2.0, image.height() as f32 / 2.0);
    let pick = |faces: Vec<DetectedFace>| {
        faces.into_iter().min_by(|a, b| {
            a.bbox
                .center()
                .distance(centre)
                .total_cmp(&b.bbox.center().distance(centre))
        })
    };
    let mut face = pick(engine.detect(&image)?);
    if face.is_none() {
        let mut relaxed = *engine.detector_settings();
        relaxed.score_threshold = 0.3;
        face = pick(engine.detect_with(&image, &relaxed)?);
    }
    Ok((image, face))
}

fn mean_face(faces: &[&DetectedFace]) -> Option<DetectedFace> {
    let first = faces.first()?;
    let n = faces.len() as f32;
    let mut points = [Point::default(); 5];
    for (i, p) in points.iter_mut().enumerate() {
        *p = Point::new(
            faces.iter().map(|f| f.landmarks.0[i].x).sum::<f32>() / n,
            faces.iter().map(|f| f.landmarks.0[i].y).sum::<f32>() / n,
        );
    }
    let mut bbox = first.bbox;
    bbox.left = faces.iter().map(|f| f.bbox.left).sum::<f32>() / n;
    bbox.top = faces.iter().map(|f| f.bbox.top).sum::<f32>() / n;
    bbox.right = faces.iter().map(|f| f.bbox.right).sum::<f32>() / n;
    bbox.bottom = faces.iter().map(|f| f.bbox.bottom).sum::<f32>() / n;
    Some(DetectedFace {
        bbox,
        score: 0.0,
        landmarks: Landmarks5(points),
    })
}

impl EmbeddedSet {
    /// Index of each key, for pair lookups.
    pub fn index(&self) -> BTreeMap<&ImageKey, usize> {
        self.keys.iter().enumerate().map(|(i, k)| (k, i)).collect()
    }

    /// Cosine scores of every unordered pair of images: `(impostor, genuine)`,
    /// different and same identity. About 1.25 million impostor pairs for the
    /// 1,583 images of lfw-dev.
    pub fn all_pair_scores(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.keys.len();
        let (impostor, genuine): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (0..n)
            .into_par_iter()
            .map(|i| {
                let (mut imp, mut gen_) = (Vec::new(), Vec::new());
                let a = self.embeddings[i].as_slice();
                for j in i + 1..n {
                    let s = dot(a, self.embeddings[j].as_slice());
                    if self.keys[i].0 == self.keys[j].0 {
                        gen_.push(s);
                    } else {
                        imp.push(s);
                    }
                }
                (imp, gen_)
            })
            .unzip();
        (
            impostor.into_iter().flatten().collect(),
            genuine.into_iter().flatten().collect(),
        )
    }
}
