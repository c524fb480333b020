//! [`Engine`]: an installed model pack wired into one thread-safe object.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use facegate_core::{BoundingBox, DetectedFace, Embedding, Point};
use facegate_models::pack::{
    Alignment, DetectorKind, InstalledPack, LandmarksKind, Manifest, RecognizerSpec, load_verified,
};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::align::Similarity;
use crate::align::{ARCFACE_112, align_to_template};
use crate::decode::{DecodeLimits, decode_rgb};
use crate::detect::refine::{Detection, detect_faces, detect_plausible, orientation_vote};
use crate::detect::{Detector, DetectorSettings, mmod::Mmod, mtcnn::Mtcnn, yunet::YuNet};
use crate::dlib::{DLIB_TEMPLATE_5, FACE_CHIP_PADDING, ShapePredictor, face_chip, face_chip_68};
use crate::embed::Recognizer;
use crate::liveness::{LazyPredictor, LivenessModel, LivenessScore};
use crate::quality::{Quality, assess};
use crate::rotate::Rotation;
use crate::session::{SessionPool, Threading};
use crate::{VisionError, runtime};

/// How to load an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Where `runtime/` and `packs/` live.
    pub data_dir: PathBuf,
    pub threading: Threading,
    pub decode_limits: DecodeLimits,
    /// [`Engine::analyze`]'s default for [`AnalyzeOptions::auto_rotate`]
    /// (off here; the CLI turns it on).
    pub auto_rotate: bool,
}

impl EngineOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            threading: Threading::single_caller(),
            decode_limits: DecodeLimits::default(),
            auto_rotate: false,
        }
    }
}

/// Per-call choices for [`Engine::analyze_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnalyzeOptions {
    /// When no plausible upright face is found, try the image turned by 90°,
    /// 270° and 180° (in that order) and keep the first turn that has one.
    /// Costs up to three more detections on images without a usable face.
    pub auto_rotate: bool,
}

/// Milliseconds spent in each stage of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub decode_ms: f32,
    pub detect_ms: f32,
    pub align_ms: f32,
    pub embed_ms: f32,
    /// Passive liveness of all faces (0 when the pack has no liveness model).
    #[serde(default)]
    pub liveness_ms: f32,
}

/// One detected face with its embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzedFace {
    pub face: DetectedFace,
    pub embedding: Embedding,
    pub quality: Quality,
    /// Live-class probability when the pack has a liveness model.
    pub liveness: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Size of the analysed image: the decoded one turned by `rotation`.
    pub width: u32,
    pub height: u32,
    /// Every box and landmark is in the decoded image turned clockwise by
    /// this (`auto_rotate`); 0 when the faces were found upright.
    #[serde(default)]
    pub rotation: Rotation,
    pub faces: Vec<AnalyzedFace>,
    pub timings: Timings,
}

pub struct Engine {
    manifest: Manifest,
    /// The installed pack's `[decision]`, or the built-in definition's when it
    /// runs the same models (`facegate_models::pack::current_decision`).
    decision: facegate_models::pack::DecisionSpec,
    model_id: String,
    detector: Box<dyn Detector>,
    detector_settings: DetectorSettings,
    /// The pack's `[landmarks]` models, in order: one chip each.
    shape_predictors: Vec<(LandmarksKind, Arc<ShapePredictor>)>,
    recognizers: Vec<Recognizer>,
    liveness: Option<LivenessModel>,
    /// The pack whose files `liveness` runs: this one, or the add-on's.
    liveness_pack: Option<String>,
    landmarks68: Option<LazyPredictor>,
    decode_limits: DecodeLimits,
    auto_rotate: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("model_id", &self.model_id)
            .finish_non_exhaustive()
    }
}

fn read(pack: &InstalledPack, file: &str) -> Result<Vec<u8>, VisionError> {
    let path = pack.path(file);
    std::fs::read(&path).map_err(|e| VisionError::Model {
        model: file.to_owned(),
        message: format!("{}: {e}", path.display()),
    })
}

impl Engine {
    /// Verify and load the installed pack `name` from `options.data_dir`.
    /// `name` may be [`facegate_models::pack::AUTO`]: the best installed pack.
    pub fn load_installed(name: &str, options: &EngineOptions) -> Result<Self, VisionError> {
        let name = facegate_models::pack::resolve(&options.data_dir, name);
        let pack = load_verified(&options.data_dir, &name)?;
        if let Some((installed, builtin)) = facegate_models::pack::outdated_manifest(&pack.manifest)
        {
            tracing::warn!(
                pack = %name,
                installed,
                builtin,
                "this pack's definition has changed since it was installed; \
                 `facegate models install {name}` updates it"
            );
        }
        // A pack without its own liveness model runs the installed add-on's.
        let addon = facegate_models::pack::liveness_addon(&options.data_dir, &pack.manifest)?;
        if let Some(addon) = &addon {
            tracing::debug!(pack = %name, from = %addon.manifest.name, "liveness add-on");
        }
        Self::load_with_liveness(&pack, addon.as_ref(), options)
    }

    /// Load an already-verified pack with only its own components (no
    /// liveness add-on; [`Engine::load_installed`] adds that).
    pub fn load(pack: &InstalledPack, options: &EngineOptions) -> Result<Self, VisionError> {
        Self::load_with_liveness(pack, None, options)
    }

    /// Load an already-verified pack; when it has no `[liveness]`, take the
    /// liveness component of `liveness_from` (verified by the caller for
    /// those files, e.g. by [`facegate_models::pack::liveness_addon`]).
    pub fn load_with_liveness(
        pack: &InstalledPack,
        liveness_from: Option<&InstalledPack>,
        options: &EngineOptions,
    ) -> Result<Self, VisionError> {
        let env = runtime::init(&options.data_dir)?;
        let manifest = pack.manifest.clone();
        let pool = |file: &str| -> Result<SessionPool, VisionError> {
            SessionPool::from_bytes(env, file, &read(pack, file)?, options.threading)
        };
        // Session creation (ONNX Runtime's graph optimisation) is most of a
        // start-up: the recognizers and the liveness models are built on
        // their own threads while this one builds the detector.
        std::thread::scope(|scope| {
            let recognizers = scope.spawn(|| {
                manifest
                    .recognizers
                    .iter()
                    .map(|spec| Ok(Recognizer::new(spec.clone(), pool(&spec.file)?)))
                    .collect::<Result<Vec<_>, VisionError>>()
            });
            let liveness = scope.spawn(|| -> Result<_, VisionError> {
                // `[liveness] files`: the ONNX models in the kind's order, plus
                // optionally a dlib 68-point predictor (`.dat`) for blink challenges.
                // Files are read from the pack that holds the component.
                let liveness_source = match &manifest.liveness {
                    Some(spec) => Some((pack, spec)),
                    None => liveness_from
                        .and_then(|from| from.manifest.liveness.as_ref().map(|s| (from, s))),
                };
                match liveness_source {
                    Some((from, spec)) => {
                        let is_dat = |f: &&String| f.ends_with(".dat");
                        let pools = spec
                            .files
                            .iter()
                            .filter(|f| !is_dat(f))
                            .map(|f| {
                                SessionPool::from_bytes(env, f, &read(from, f)?, options.threading)
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        let lazy = spec
                            .files
                            .iter()
                            .find(is_dat)
                            .map(|f| LazyPredictor::new(from.path(f)));
                        let model = LivenessModel::new(spec, pools)?;
                        Ok((Some((model, from.manifest.name.clone())), lazy))
                    }
                    None => Ok((None, None)),
                }
            });
            let shape_predictors = manifest
                .landmarks
                .iter()
                .map(|spec| {
                    let model_error = |message: String| VisionError::Model {
                        model: spec.file.clone(),
                        message,
                    };
                    let predictor = ShapePredictor::from_dat(&read(pack, &spec.file)?)
                        .map_err(|e| model_error(e.to_string()))?;
                    let parts = match spec.kind {
                        LandmarksKind::Dlib5 => 5,
                        LandmarksKind::Dlib68 => 68,
                    };
                    if predictor.num_parts() != parts {
                        return Err(model_error(format!(
                            "a {parts}-point model was expected, this one has {} points",
                            predictor.num_parts()
                        )));
                    }
                    Ok((spec.kind, Arc::new(predictor)))
                })
                .collect::<Result<Vec<_>, VisionError>>()?;
            let d = &manifest.detector;
            let detector: Box<dyn Detector> = match d.kind {
                DetectorKind::Yunet => Box::new(YuNet::new(pool(&d.files[0])?)),
                DetectorKind::Mtcnn => Box::new(Mtcnn::new(
                    pool(&d.files[0])?,
                    pool(&d.files[1])?,
                    pool(&d.files[2])?,
                )),
                DetectorKind::Mmod => {
                    let model_error = |message: String| VisionError::Model {
                        model: d.files[0].clone(),
                        message,
                    };
                    let model = facegate_models::dlib::mmod_to_onnx(&read(pack, &d.files[0])?)
                        .map_err(|e| model_error(e.to_string()))?;
                    let landmarks = shape_predictors
                        .iter()
                        .find(|(kind, _)| *kind == LandmarksKind::Dlib5)
                        .map(|(_, p)| Arc::clone(p))
                        .ok_or_else(|| model_error("needs a dlib5 shape predictor".into()))?;
                    let session =
                        SessionPool::from_bytes(env, &d.files[0], &model.onnx, options.threading)?;
                    Box::new(Mmod::new(session, model, landmarks))
                }
            };
            let detector_settings = DetectorSettings {
                score_threshold: d.score_threshold,
                nms_iou: d.nms_iou,
                min_face_size: d.min_face_size,
                max_side: d.max_side,
            };
            let joined = |what: &str| VisionError::internal(format!("loading the {what} panicked"));
            let recognizers = recognizers.join().map_err(|_| joined("recognizers"))??;
            let (liveness, landmarks68) =
                liveness.join().map_err(|_| joined("liveness models"))??;
            let (liveness, liveness_pack) = liveness.unzip();
            crate::session::return_freed_memory();
            Ok(Self {
                liveness,
                liveness_pack,
                landmarks68,
                model_id: manifest.model_id(),
                decision: facegate_models::pack::current_decision(&manifest),
                manifest: manifest.clone(),
                detector,
                detector_settings,
                shape_predictors,
                recognizers,
                decode_limits: options.decode_limits,
                auto_rotate: options.auto_rotate,
            })
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Identifies the embedding space; only embeddings of the same id compare.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Fused cosine similarity at or above which two faces are the same
    /// person in a 1:1 comparison (the pack's best-accuracy point on lfw-dev,
    /// near equal error: not an identification threshold; see
    /// [`Engine::far_curve`]).
    pub fn match_threshold(&self) -> f32 {
        self.decision.match_threshold
    }

    /// The pack's measured false-accept curve, from which open-set
    /// identification derives its threshold for a target FPIR and gallery
    /// size. `None` for a pack without calibration.
    pub fn far_curve(&self) -> Option<&facegate_core::FarCurve> {
        self.decision.far_curve.as_ref()
    }

    /// Offsets for people enrolled with 2, 3, 4+ photos (see
    /// `facegate_core::calibration::template_offset`); empty when uncalibrated.
    pub fn mean_template_offsets(&self) -> &[f32] {
        &self.decision.mean_template_offsets
    }

    pub fn embedding_dim(&self) -> usize {
        self.recognizers
            .iter()
            .map(|r| r.spec().embedding_dim)
            .sum()
    }

    pub fn detector_settings(&self) -> &DetectorSettings {
        &self.detector_settings
    }

    pub fn decode(&self, bytes: &[u8]) -> Result<RgbImage, VisionError> {
        Ok(decode_rgb(bytes, &self.decode_limits)?)
    }

    /// The plausible faces in `image` at the pack's settings (see
    /// [`crate::detect::refine::detect_faces`]), by descending score.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<DetectedFace>, VisionError> {
        self.detect_with(image, &self.detector_settings)
    }

    /// [`Engine::detect`] with other detector settings.
    pub fn detect_with(
        &self,
        image: &RgbImage,
        settings: &DetectorSettings,
    ) -> Result<Vec<DetectedFace>, VisionError> {
        Ok(detect_faces(self.detector.as_ref(), image, settings)?.faces)
    }

    /// [`Engine::detect`] without the per-face orientation vote (see
    /// [`crate::detect::refine::detect_plausible`]): for video, where a
    /// caller checks each track once with [`Engine::is_upright`].
    pub fn detect_unvoted(&self, image: &RgbImage) -> Result<Vec<DetectedFace>, VisionError> {
        Ok(detect_plausible(self.detector.as_ref(), image, &self.detector_settings)?.faces)
    }

    /// Whether `face` (found in `image`) is upright by the detector's own
    /// vote over four turned copies of it (see
    /// [`crate::detect::refine::orientation_vote`]); costs one detection on
    /// a ~350 px mosaic.
    pub fn is_upright(&self, image: &RgbImage, face: &DetectedFace) -> Result<bool, VisionError> {
        Ok(
            orientation_vote(self.detector.as_ref(), image, face, &self.detector_settings)?
                == Rotation::None,
        )
    }

    /// The detector's own output, before the close-up pass, nested-box
    /// suppression and the plausibility check (for measurements).
    pub fn detect_raw(
        &self,
        image: &RgbImage,
        settings: &DetectorSettings,
    ) -> Result<Vec<DetectedFace>, VisionError> {
        self.detector.detect(image, settings)
    }

    /// Detect in `image` upright and, when `auto_rotate` and no plausible
    /// upright face was found, turned until a turn has one: first the turns
    /// the orientation check voted for on faces it dropped, then the rest
    /// of [`Rotation::RETRIES`]. Returns the turn kept (none when no turn
    /// found a face), the image as turned, and what was found in it.
    pub fn detect_upright<'a>(
        &self,
        image: &'a RgbImage,
        settings: &DetectorSettings,
        auto_rotate: bool,
    ) -> Result<(Rotation, std::borrow::Cow<'a, RgbImage>, Detection), VisionError> {
        let upright = detect_faces(self.detector.as_ref(), image, settings)?;
        if !upright.faces.is_empty() || !auto_rotate {
            return Ok((Rotation::None, std::borrow::Cow::Borrowed(image), upright));
        }
        let mut order: Vec<Rotation> = Vec::with_capacity(3);
        for rotation in upright.turned.iter().chain(&Rotation::RETRIES) {
            if !order.contains(rotation) {
                order.push(*rotation);
            }
        }
        for rotation in order {
            let turned = rotation.apply(image);
            let found = detect_faces(self.detector.as_ref(), &turned, settings)?;
            if !found.faces.is_empty() {
                tracing::debug!(
                    degrees = rotation.degrees(),
                    "auto_rotate: faces found turned"
                );
                return Ok((rotation, std::borrow::Cow::Owned(turned), found));
            }
        }
        Ok((Rotation::None, std::borrow::Cow::Borrowed(image), upright))
    }

    /// Decode, detect, align and embed every face in an encoded image, with
    /// the engine's default options ([`EngineOptions::auto_rotate`]).
    pub fn analyze(&self, bytes: &[u8]) -> Result<Analysis, VisionError> {
        self.analyze_with(
            bytes,
            &AnalyzeOptions {
                auto_rotate: self.auto_rotate,
            },
        )
    }

    /// [`Engine::analyze`] with per-call options.
    pub fn analyze_with(
        &self,
        bytes: &[u8],
        options: &AnalyzeOptions,
    ) -> Result<Analysis, VisionError> {
        let start = Instant::now();
        let image = self.decode(bytes)?;
        let decode_ms = ms(start);
        let mut analysis = self.analyze_image_with(&image, options)?;
        analysis.timings.decode_ms = decode_ms;
        Ok(analysis)
    }

    /// Detect, align and embed every face in a decoded image, with the
    /// engine's default options.
    pub fn analyze_image(&self, image: &RgbImage) -> Result<Analysis, VisionError> {
        self.analyze_image_with(
            image,
            &AnalyzeOptions {
                auto_rotate: self.auto_rotate,
            },
        )
    }

    /// [`Engine::analyze_image`] with per-call options. With `auto_rotate`,
    /// the faces and the reported size are those of the turned image.
    pub fn analyze_image_with(
        &self,
        image: &RgbImage,
        options: &AnalyzeOptions,
    ) -> Result<Analysis, VisionError> {
        let start = Instant::now();
        let (rotation, image, detection) =
            self.detect_upright(image, &self.detector_settings, options.auto_rotate)?;
        let faces = detection.faces;
        let detect_ms = ms(start);
        let (analyzed, timings) = self.embed_faces(&image, &faces)?;
        Ok(Analysis {
            width: image.width(),
            height: image.height(),
            rotation,
            faces: analyzed,
            timings: Timings {
                detect_ms,
                ..timings
            },
        })
    }

    /// Align, embed (and score liveness of) the given faces of `image`, all
    /// faces batched per model; the timings cover those stages only.
    pub fn embed_faces(
        &self,
        image: &RgbImage,
        faces: &[DetectedFace],
    ) -> Result<(Vec<AnalyzedFace>, Timings), VisionError> {
        if faces.is_empty() {
            return Ok((Vec::new(), Timings::default()));
        }
        let start = Instant::now();
        // crops[recognizer][face] = that face's views (one, or one chip per
        // shape predictor); a face's descriptor is the sum over its views.
        let crops: Vec<Vec<Vec<RgbImage>>> = self
            .recognizers
            .iter()
            .map(|r| {
                faces
                    .iter()
                    .map(|f| self.align(image, f, r.spec()))
                    .collect()
            })
            .collect::<Result<_, _>>()?;
        let align_ms = ms(start);
        let start = Instant::now();
        let mut fused: Vec<Vec<f32>> = vec![Vec::with_capacity(self.embedding_dim()); faces.len()];
        let total_weight: f32 = self.recognizers.iter().map(|r| r.spec().weight).sum();
        for (recognizer, crops) in self.recognizers.iter().zip(&crops) {
            let refs: Vec<&RgbImage> = crops.iter().flatten().collect();
            let started = Instant::now();
            let mut raw = recognizer.embed(&refs)?.into_iter();
            tracing::trace!(
                recognizer = recognizer.spec().id,
                crops = refs.len(),
                ms = ms(started),
                "embedded"
            );
            // Score-level fusion as one vector: concatenating unit vectors scaled
            // by sqrt(w / Σw) makes the dot product the weighted mean of the
            // per-model cosines, so the gallery still needs one dot product.
            let factor = (recognizer.spec().weight / total_weight).sqrt();
            for (out, views) in fused.iter_mut().zip(crops) {
                let mut summed = raw.next().ok_or_else(|| {
                    VisionError::internal("recognizer returned fewer embeddings than crops")
                })?;
                for _ in 1..views.len() {
                    let more = raw.next().ok_or_else(|| {
                        VisionError::internal("recognizer returned fewer embeddings than crops")
                    })?;
                    summed.iter_mut().zip(more).for_each(|(a, b)| *a += b);
                }
                let unit = Embedding::from_raw(summed).map_err(|err| VisionError::Model {
                    model: recognizer.spec().id.clone(),
                    message: err.to_string(),
                })?;
                out.extend(unit.as_slice().iter().map(|v| v * factor));
            }
        }
        let embed_ms = ms(start);
        let start = Instant::now();
        let live = self.liveness_scores(image, faces)?;
        let liveness_ms = ms(start);
        let analyzed = faces
            .iter()
            .zip(fused)
            .enumerate()
            .map(|(i, (face, values))| {
                let embedding = Embedding::from_raw(values)
                    .map_err(|e| VisionError::internal(e.to_string()))?;
                let quality = assess(face, &crops[0][i][0]);
                let liveness = live.as_ref().and_then(|l| l.get(i)).map(|s| s.live);
                Ok(AnalyzedFace {
                    face: *face,
                    embedding,
                    quality,
                    liveness,
                })
            })
            .collect::<Result<Vec<_>, VisionError>>()?;
        Ok((
            analyzed,
            Timings {
                decode_ms: 0.0,
                detect_ms: 0.0,
                align_ms,
                embed_ms,
                liveness_ms,
            },
        ))
    }

    /// The passive liveness model (the pack's own or the add-on's), if any.
    pub fn liveness_model(&self) -> Option<&LivenessModel> {
        self.liveness.as_ref()
    }

    /// The pack that supplies the liveness model: this pack, or the liveness
    /// add-on ([`facegate_models::pack::LIVENESS_ADDON`]) for a pack without
    /// its own. `None` without a liveness model.
    pub fn liveness_pack(&self) -> Option<&str> {
        self.liveness_pack.as_deref()
    }

    /// Whether blink challenges can be checked: the liveness component lists
    /// a 68-point landmark model (not loaded until [`Engine::landmarks68`]).
    pub fn has_landmarks68(&self) -> bool {
        self.landmarks68.is_some()
    }

    /// Live score at or above which a face counts as live (None without a model).
    pub fn liveness_threshold(&self) -> Option<f32> {
        self.liveness.as_ref().map(LivenessModel::threshold)
    }

    /// Passive liveness of each face (None when the pack has no model).
    pub fn liveness_scores(
        &self,
        image: &RgbImage,
        faces: &[DetectedFace],
    ) -> Result<Option<Vec<LivenessScore>>, VisionError> {
        self.liveness
            .as_ref()
            .map(|m| m.score(image, faces))
            .transpose()
    }

    /// The pack's 68-point landmark predictor (blink challenges), loaded on first use.
    pub fn landmarks68(&self) -> Result<&ShapePredictor, VisionError> {
        self.landmarks68
            .as_ref()
            .ok_or_else(|| {
                VisionError::InvalidArgument(format!(
                    "pack {} has no 68-point landmark model for blink challenges",
                    self.manifest.name
                ))
            })?
            .get()
    }

    /// The crops a recognizer sees for `face`: one, or for a `dlib-chip`
    /// recognizer on shape predictors, one chip per predictor.
    pub fn align(
        &self,
        image: &RgbImage,
        face: &DetectedFace,
        spec: &RecognizerSpec,
    ) -> Result<Vec<RgbImage>, VisionError> {
        let size = spec.input_size;
        match (spec.alignment, spec.chip_landmarks.as_ref()) {
            (Alignment::Arcface, _) => {
                align_to_template(image, &face.landmarks, &ARCFACE_112, 112.0, size)
                    .map(|crop| vec![crop])
                    .ok_or_else(|| VisionError::InvalidArgument("degenerate landmarks".into()))
            }
            (Alignment::DlibChip, Some(template)) => {
                let points = dlib_points_from_landmarks(face, template)?;
                Ok(vec![face_chip(image, &points, size, FACE_CHIP_PADDING)])
            }
            (Alignment::DlibChip, None) => {
                if self.shape_predictors.is_empty() {
                    return Err(VisionError::internal(
                        "dlib-chip alignment without a shape predictor",
                    ));
                }
                let bbox = dlib_box_for(face);
                self.shape_predictors
                    .iter()
                    .map(|(kind, predictor)| {
                        let chip = match kind {
                            LandmarksKind::Dlib5 => predictor
                                .predict5(image, bbox)
                                .map(|points| face_chip(image, &points, size, FACE_CHIP_PADDING)),
                            LandmarksKind::Dlib68 => face_chip_68(
                                image,
                                &predictor.predict(image, bbox),
                                size,
                                FACE_CHIP_PADDING,
                            ),
                        };
                        chip.ok_or_else(|| {
                            VisionError::internal(format!(
                                "the {kind:?} shape predictor gave the wrong number of points"
                            ))
                        })
                    })
                    .collect()
            }
        }
    }
}

/// dlib 5-point-predictor positions (eye corners, nose base) implied by the
/// detector's landmarks: fit the similarity taking `template` (the detector's
/// landmarks in dlib's chip frame) onto the detected landmarks, and apply it
/// to dlib's own template. The chip cut from these points is the chip dlib
/// would cut if its predictor agreed with the detector.
fn dlib_points_from_landmarks(
    face: &DetectedFace,
    template: &[[f32; 2]; 5],
) -> Result<[Point; 5], VisionError> {
    let template = template.map(|[x, y]| Point::new(x, y));
    let to_image = Similarity::estimate(&template, face.landmarks.points())
        .ok_or_else(|| VisionError::InvalidArgument("degenerate landmarks".into()))?;
    Ok(DLIB_TEMPLATE_5.map(|[x, y]| to_image.apply(Point::new(x as f32, y as f32))))
}

/// The box dlib's HOG detector would give for this face, which is what its
/// shape predictor was trained on. Derived from the landmarks (not the
/// detector's box, whose proportions differ between detectors): centred
/// between the eye centre and the mouth, sized from the eye–mouth distance.
/// Constants fitted on the dlib reference set.
pub fn dlib_box_for(face: &DetectedFace) -> BoundingBox {
    let lm = &face.landmarks;
    let eyes = Point::new(
        (lm.left_eye().x + lm.right_eye().x) / 2.0,
        (lm.left_eye().y + lm.right_eye().y) / 2.0,
    );
    let mouth = Point::new(
        (lm.mouth_left().x + lm.mouth_right().x) / 2.0,
        (lm.mouth_left().y + lm.mouth_right().y) / 2.0,
    );
    let span = eyes.distance(mouth).max(1.0);
    let centre = Point::new(
        (eyes.x + mouth.x) / 2.0 + DLIB_BOX_DX * span,
        (eyes.y + mouth.y) / 2.0 + DLIB_BOX_DY * span,
    );
    let half = DLIB_BOX_HALF * span;
    BoundingBox::new(
        centre.x - half,
        centre.y - half,
        centre.x + half,
        centre.y + half,
    )
}

// Fitted on the 27 faces of ../shared/datasets/reference/dlib (dlib's HOG
// boxes vs. our detectors' landmarks): centre offset mean (-0.03, -0.02),
// half-side mean 1.17 (sd 0.12), in eye–mouth spans. The horizontal offset is
// kept at 0 so the box stays mirror-symmetric.
const DLIB_BOX_DX: f32 = 0.0;
const DLIB_BOX_DY: f32 = -0.02;
const DLIB_BOX_HALF: f32 = 1.17;

fn ms(start: Instant) -> f32 {
    start.elapsed().as_secs_f32() * 1000.0
}

/// Default data directory: `FACEGATE_DATA_DIR`, else `$XDG_DATA_HOME/facegate`,
/// else `~/.local/share/facegate`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FACEGATE_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return Path::new(&dir).join("facegate");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/facegate")
}
