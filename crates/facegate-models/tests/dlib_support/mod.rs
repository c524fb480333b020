//! Shared helpers for the dlib parity tests: where the shared reference data,
//! the `face_recognition_models` archive and ONNX Runtime live, and how to
//! read them. Every locator returns `None` (after printing why) so tests can
//! skip on machines without the data.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

/// The pinned PyPI sdist holding dlib's models (CC0).
pub const ARCHIVE: &str = "face_recognition_models-0.3.0.tar.gz";

/// `../shared` next to the workspace, or `$FACEGATE_SHARED`.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    if dir.join("datasets/reference/dlib/reference.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: dlib reference data not found under {} (set FACEGATE_SHARED)",
            dir.display()
        );
        None
    }
}

/// The parsed `datasets/reference/dlib/reference.json`.
pub fn reference(shared: &std::path::Path) -> serde_json::Value {
    let path = shared.join("datasets/reference/dlib/reference.json");
    let text = std::fs::read_to_string(&path).expect("read reference.json");
    serde_json::from_str(&text).expect("parse reference.json")
}

fn download_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("FACEGATE_DOWNLOAD_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/facegate/downloads")
}

/// One model file (e.g. `dlib_face_recognition_resnet_model_v1.dat`) read
/// straight out of the cached `face_recognition_models` sdist.
pub fn model_file(name: &str) -> Option<Vec<u8>> {
    let archive = download_cache().join(ARCHIVE);
    let file = match std::fs::File::open(&archive) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "SKIP: {} not readable ({e}); set FACEGATE_DOWNLOAD_CACHE",
                archive.display()
            );
            return None;
        }
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let suffix = format!("face_recognition_models/models/{name}");
    for entry in tar.entries().expect("read tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry
            .path()
            .expect("tar path")
            .to_string_lossy()
            .into_owned();
        if path.ends_with(&suffix) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read tar member");
            return Some(bytes);
        }
    }
    eprintln!("SKIP: {name} not in {}", archive.display());
    None
}

/// The ONNX Runtime library: `$ORT_DYLIB_PATH` or the facegate runtime dir.
pub fn ort_library() -> Option<PathBuf> {
    let path = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".local/share/facegate/runtime/libonnxruntime.so.1.31.1")
        });
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIP: ONNX Runtime not found at {} (set ORT_DYLIB_PATH)",
            path.display()
        );
        None
    }
}

/// The process-wide ONNX Runtime environment (ort allows only one).
pub fn ort_env() -> Option<ort::environment::Environment> {
    static ENV: std::sync::OnceLock<Option<ort::environment::Environment>> =
        std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let lib = ort_library()?;
        let builder = ort::init_from(&lib).expect("load ONNX Runtime");
        Some(
            builder
                .with_name("facegate-dlib-tests")
                .build()
                .expect("create ONNX Runtime environment"),
        )
    })
    .clone()
}

/// One face of the reference data set.
pub struct RefFace {
    /// Image path relative to the shared directory.
    pub image: String,
    /// dlib rectangle `[left, top, right, bottom]` (right/bottom inclusive).
    pub rect_ltrb: [i64; 4],
    /// The 5-point shape predictor's points, dlib order.
    pub points: [[f32; 2]; 5],
    /// Chip path relative to `datasets/reference/dlib/`, or `None` where
    /// another face's chip of the same file name overwrote it (the data set
    /// names chips `<image stem>_<i>.png`, and e.g. two `img1.jpg` collide).
    pub chip: Option<String>,
    pub descriptor: Vec<f32>,
}

/// All faces of `reference.json`, in document order.
pub fn reference_faces(shared: &std::path::Path) -> Vec<RefFace> {
    let reference = reference(shared);
    let mut faces = Vec::new();
    for img in reference["images"].as_array().expect("images") {
        let image = img["image"].as_str().expect("image").to_owned();
        for face in img["faces"].as_array().expect("faces") {
            let num = |v: &serde_json::Value| v.as_f64().expect("number");
            let rect: Vec<i64> = face["rect_ltrb"]
                .as_array()
                .expect("rect")
                .iter()
                .map(|v| num(v) as i64)
                .collect();
            let pts: Vec<[f32; 2]> = face["sp5_points"]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| [num(&p[0]) as f32, num(&p[1]) as f32])
                .collect();
            faces.push(RefFace {
                image: image.clone(),
                rect_ltrb: [rect[0], rect[1], rect[2], rect[3]],
                points: [pts[0], pts[1], pts[2], pts[3], pts[4]],
                chip: face["chip"].as_str().map(str::to_owned),
                descriptor: face["descriptor_from_chip"]
                    .as_array()
                    .expect("descriptor")
                    .iter()
                    .map(|v| num(v) as f32)
                    .collect(),
            });
        }
    }
    // A chip file written for several faces holds the last one.
    for i in 0..faces.len() {
        let overwritten = faces[i + 1..]
            .iter()
            .any(|f| f.chip.is_some() && f.chip == faces[i].chip);
        if overwritten {
            eprintln!(
                "note: {} chip {:?} was overwritten by a later face; not compared",
                faces[i].image, faces[i].chip
            );
            faces[i].chip = None;
        }
    }
    faces
}

/// A reference image (path relative to `shared/datasets/`), decoded by the
/// `image` crate as the product does.
pub fn load_image(shared: &std::path::Path, rel: &str) -> image::RgbImage {
    image::open(shared.join("datasets").join(rel))
        .expect("decode reference image")
        .to_rgb8()
}

/// The pixels dlib's reference run saw, where available: JPEG decoders differ
/// by ±1 on some values, so where `FACEGATE_DLIB_REFERENCE_RGB` names a
/// directory of raw `H×W×3` dumps (`<path with '/' as '__'>.rgb`, e.g. written with
/// `numpy.asarray(PIL.Image.open(f).convert("RGB")).tofile(...)`, the decoder
/// face_recognition uses) those are returned, with `true`. Otherwise the
/// `image` crate's decode and `false`.
pub fn load_as_reference(shared: &std::path::Path, rel: &str) -> (image::RgbImage, bool) {
    let img = load_image(shared, rel);
    let Some(dir) = std::env::var_os("FACEGATE_DLIB_REFERENCE_RGB") else {
        return (img, false);
    };
    let name = rel.replace('/', "__");
    let (w, h) = img.dimensions();
    match std::fs::read(PathBuf::from(dir).join(format!("{name}.rgb"))) {
        Ok(raw) => match image::RgbImage::from_raw(w, h, raw) {
            Some(exact) => (exact, true),
            None => (img, false),
        },
        Err(_) => (img, false),
    }
}
