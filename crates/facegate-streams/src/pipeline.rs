//! One camera's recognition, frame by frame: detect every face, track them,
//! gate on quality, embed the best frames of each track, vote across frames
//! weighted by quality, decide at the open-set operating point, and emit at
//! most one event per track (and per person per cooldown).
//!
//! Synchronous and deterministic for a given frame sequence: the live worker
//! ([`crate::camera`]), `facegate watch` and the clip tests all drive it.
//!
//! **Voting.** Each kept sample (an embedded frame of the track) is searched
//! once; a candidate's track score is the quality-weighted mean of its
//! per-sample scores. Averaging scores, not decisions, keeps the threshold's
//! meaning: for a stranger the mean of correlated per-frame impostor scores
//! has the same expectation and no more spread than one frame's score, so
//! the track is named at no more than the calibrated FPIR, while an enrolled
//! person's blurred or turned frames weigh less than their good ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use facegate_core::{BoundingBox, Decision, DetectedFace, Embedding, decide};
use facegate_vision::Engine;
use facegate_vision::quality::Quality;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::identify::{Identifier, OperatingPoint};
use crate::source::Frame;
use crate::track::{Track, Tracker, TrackerConfig};

/// Per-camera recognition settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineConfig {
    /// Faces whose box is narrower than this (frame pixels) are tracked but
    /// never embedded: too small to recognise reliably.
    pub min_face_px: f32,
    /// Frames with the head turned more than this (degrees) are not samples.
    pub max_yaw_deg: f32,
    /// Frames whose aligned crop is blurrier than this (variance of the
    /// Laplacian) are not samples.
    pub min_sharpness: f32,
    /// Samples a track needs before it is named (1 = name on the first good frame).
    pub min_samples: usize,
    /// Best samples kept per track (the vote's window).
    pub max_samples: usize,
    /// Samples after which a track nobody matches is reported unknown.
    pub unknown_after: usize,
    /// The same person is reported at most once per this many ms of stream
    /// time per camera, however many tracks they make.
    pub cooldown_ms: u64,
    /// Keep the best crop of each track for its event (`TrackEvent::crop_jpeg`).
    pub keep_crops: bool,
    /// A track whose window is full is re-embedded this often (ms of
    /// stream time): a named one to check it still follows the same person,
    /// one nobody matched (at twice this rate, and whenever its face has
    /// grown by a quarter since) for the better frames of someone walking
    /// up. Embedding every frame of such tracks cost most of a camera's
    /// recognition time while strangers stood in view.
    pub recheck_ms: u64,
    /// The per-comparison FAR whose threshold (on the pack's curve) splits
    /// a track: a new frame scoring below it against every kept sample of
    /// its track is someone else, and starts a new track.
    pub identity_switch_far: f64,
    #[serde(skip)]
    pub tracker: TrackerConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            min_face_px: 36.0,
            max_yaw_deg: 55.0,
            min_sharpness: 5.0,
            min_samples: 2,
            max_samples: 5,
            unknown_after: 4,
            cooldown_ms: 30_000,
            keep_crops: false,
            recheck_ms: 1_000,
            identity_switch_far: 0.1,
            tracker: TrackerConfig::default(),
        }
    }
}

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An enrolled person was named.
    Person,
    /// A face nobody enrolled matched (or two matched too closely to tell).
    Unknown,
}

/// One recognition event of one track.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackEvent {
    pub camera_id: String,
    pub track_id: u64,
    pub kind: EventKind,
    /// `match` for a person; `unknown` or `ambiguous` for an unknown face.
    pub decision: Decision,
    /// The named person (`kind = person`).
    pub person_id: Option<String>,
    pub name: Option<String>,
    /// The best candidate's voted score (also for unknown faces: how close
    /// the nearest enrolled person came).
    pub score: Option<f32>,
    pub second_score: Option<f32>,
    /// The nearest enrolled person, named or not (operators reviewing an
    /// unknown face see who it resembled).
    pub nearest_person_id: Option<String>,
    pub operating_point: OperatingPoint,
    /// Samples (embedded frames) the vote used.
    pub samples: usize,
    /// Weighted mean live probability of the samples, when the pack scores
    /// liveness; `live` applies the pack's threshold to it.
    pub liveness: Option<f32>,
    pub live: Option<bool>,
    /// The face's latest box, frame pixels.
    pub bbox: BoundingBox,
    pub frame_width: u32,
    pub frame_height: u32,
    /// Stream time of the track's first frame and of this event, ms.
    pub first_seen_ms: u64,
    pub media_ms: u64,
    /// Wall time from reading the track's first frame to this event, ms.
    pub latency_ms: f64,
    pub at: DateTime<Utc>,
    /// The track's best face crop as JPEG, when `keep_crops`.
    #[serde(skip)]
    pub crop_jpeg: Option<Vec<u8>>,
    /// The track's face as one unit embedding (the sample-weighted mean of
    /// its kept samples), so the service can group unknown faces by
    /// similarity and enrol a reviewed track without the video.
    #[serde(skip)]
    pub embedding: Option<Embedding>,
    /// The best kept sample's weight (size × pose × sharpness × detector
    /// confidence, 0–1): the quality of a template made from `embedding`.
    #[serde(default)]
    pub quality: Option<f32>,
}

/// A face drawn on the annotated frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceOverlay {
    pub track_id: u64,
    pub bbox: BoundingBox,
    pub label: String,
    pub score: Option<f32>,
    pub state: OverlayState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayState {
    /// Not decided yet (too few good samples).
    Pending,
    Named,
    Unknown,
}

/// Milliseconds per stage for one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimings {
    pub detect_ms: f64,
    /// Align + embed + liveness of the faces sampled this frame.
    pub embed_ms: f64,
    pub vote_ms: f64,
    pub faces: usize,
    pub embedded: usize,
}

/// The result of one frame.
#[derive(Debug, Clone, Default)]
pub struct FrameResult {
    pub faces: Vec<FaceOverlay>,
    pub events: Vec<TrackEvent>,
    pub timings: StageTimings,
}

struct Sample {
    embedding: Embedding,
    weight: f32,
    liveness: Option<f32>,
    /// Scores already computed for this sample, by person.
    scores: HashMap<String, f32>,
}

struct TrackState {
    first_captured: Instant,
    samples: Vec<Sample>,
    /// Samples ever taken (the kept ones are the best `max_samples`).
    taken: usize,
    best_crop: Option<(f32, RgbImage)>,
    named: Option<(String, f32)>,
    reported_unknown: bool,
    last_embedded_ms: u64,
    /// Box width (pixels) of the face last embedded.
    last_embedded_width: f32,
    /// The orientation vote on the track's first usable face (`None` until
    /// taken); a turned face's track is never embedded.
    upright: Option<bool>,
}

impl TrackState {
    fn new(captured: Instant, at_ms: u64) -> Self {
        Self {
            first_captured: captured,
            samples: Vec::new(),
            taken: 0,
            best_crop: None,
            named: None,
            reported_unknown: false,
            last_embedded_ms: at_ms,
            last_embedded_width: 0.0,
            upright: None,
        }
    }
}

/// The vote over a track's samples.
struct Vote {
    decision: Decision,
    best: Option<(String, f32)>,
    second: Option<f32>,
    liveness: Option<f32>,
    point: OperatingPoint,
}

/// A face this much wider than when its track was last embedded is worth
/// embedding again before the track's recheck is due.
const GROWN: f32 = 1.25;

/// One camera's recognition state.
pub struct Pipeline {
    camera_id: String,
    config: PipelineConfig,
    engine: Arc<Engine>,
    identifier: Arc<dyn Identifier>,
    tracker: Tracker,
    states: HashMap<u64, TrackState>,
    /// Stream time of each person's last event (cooldown).
    last_reported: HashMap<String, u64>,
    frame_size: (u32, u32),
}

impl Pipeline {
    pub fn new(
        camera_id: impl Into<String>,
        config: PipelineConfig,
        engine: Arc<Engine>,
        identifier: Arc<dyn Identifier>,
    ) -> Self {
        let tracker = Tracker::new(config.tracker);
        Self {
            camera_id: camera_id.into(),
            config,
            engine,
            identifier,
            tracker,
            states: HashMap::new(),
            last_reported: HashMap::new(),
            frame_size: (0, 0),
        }
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Live tracks now.
    pub fn active_tracks(&self) -> usize {
        self.tracker.tracks().len()
    }

    /// Process one frame (frames in stream-time order).
    ///
    /// # Errors
    /// A model failure; the pipeline stays usable for the next frame.
    pub fn process(&mut self, frame: &Frame) -> Result<FrameResult, facegate_vision::VisionError> {
        let mut result = FrameResult::default();
        self.frame_size = (frame.image.width(), frame.image.height());
        let started = Instant::now();
        // The orientation vote is taken once per track below, not once per
        // face per frame: it would cost a second detection for every face.
        let faces = self.engine.detect_unvoted(&frame.image)?;
        result.timings.detect_ms = ms(started);
        result.timings.faces = faces.len();
        let update = self.tracker.update(frame.media_ms, &faces);
        for id in &update.started {
            self.states
                .insert(*id, TrackState::new(frame.captured, frame.media_ms));
        }
        let mut assigned = update.assigned.clone();

        // Which faces to embed: big enough, upright, of tracks still
        // deciding or still filling their window.
        let mut chosen: Vec<(usize, DetectedFace)> = Vec::new();
        for (i, (face, id)) in faces.iter().zip(&update.assigned).enumerate() {
            if face.bbox.width() < self.config.min_face_px {
                continue;
            }
            let Some(state) = self.states.get_mut(id) else {
                continue;
            };
            if state.upright.is_none() {
                // A face turned by 90° or 180° can still have an upright
                // landmark layout (see `facegate_vision::detect::refine`);
                // the detector's vote tells, and a face's orientation does
                // not change along its track.
                let voted = Instant::now();
                state.upright = Some(self.engine.is_upright(&frame.image, face)?);
                result.timings.detect_ms += ms(voted);
            }
            if state.upright == Some(false) {
                continue;
            }
            let since = frame.media_ms.saturating_sub(state.last_embedded_ms);
            let window_full = state.samples.len() >= self.config.max_samples;
            let due = match state.named {
                Some(_) => since >= self.config.recheck_ms,
                None => {
                    since >= self.config.recheck_ms / 2
                        || face.bbox.width() >= GROWN * state.last_embedded_width
                }
            };
            if !window_full || due {
                chosen.push((i, *face));
            }
        }
        let started = Instant::now();
        let mut touched: Vec<u64> = Vec::new();
        if !chosen.is_empty() {
            let batch: Vec<DetectedFace> = chosen.iter().map(|(_, f)| *f).collect();
            let (analyzed, _) = self.engine.embed_faces(&frame.image, &batch)?;
            result.timings.embedded = analyzed.len();
            for ((i, face), analyzed) in chosen.iter().zip(analyzed) {
                let mut id = assigned[*i];
                if self.is_someone_else(id, &analyzed.embedding)
                    && let Some((ended, new_id)) = self.tracker.restart(id, frame.media_ms)
                {
                    tracing::debug!(camera = %self.camera_id, track = id, new_id, "identity switch: new track");
                    if let Some(event) = self.end_track(&ended, frame.media_ms) {
                        result.events.push(event);
                    }
                    self.states
                        .insert(new_id, TrackState::new(frame.captured, frame.media_ms));
                    assigned[*i] = new_id;
                    id = new_id;
                }
                if let Some(state) = self.states.get_mut(&id) {
                    state.last_embedded_ms = frame.media_ms;
                    state.last_embedded_width = face.bbox.width();
                }
                let Some(weight) = sample_weight(&self.config, face, &analyzed.quality) else {
                    continue;
                };
                let keep_crops = self.config.keep_crops;
                let max_samples = self.config.max_samples;
                let Some(state) = self.states.get_mut(&id) else {
                    continue;
                };
                state.taken += 1;
                let sample = Sample {
                    embedding: analyzed.embedding,
                    weight,
                    liveness: analyzed.liveness,
                    scores: HashMap::new(),
                };
                if state.samples.len() < max_samples {
                    state.samples.push(sample);
                } else if let Some(worst) = state
                    .samples
                    .iter_mut()
                    .min_by(|a, b| a.weight.total_cmp(&b.weight))
                    .filter(|w| w.weight < weight)
                {
                    *worst = sample;
                } else {
                    continue;
                }
                if keep_crops && state.best_crop.as_ref().is_none_or(|(w, _)| *w < weight) {
                    state.best_crop = Some((weight, crop(&frame.image, &face.bbox)));
                }
                touched.push(id);
            }
        }
        result.timings.embed_ms = ms(started);

        let started = Instant::now();
        for id in touched {
            if let Some(event) = self.consider(id, frame, false) {
                result.events.push(event);
            }
        }
        for ended in &update.ended {
            if let Some(event) = self.end_track(ended, frame.media_ms) {
                result.events.push(event);
            }
        }
        result.timings.vote_ms = ms(started);

        for (face, id) in faces.iter().zip(&assigned) {
            result.faces.push(self.overlay(*id, face));
        }
        Ok(result)
    }

    /// Whether `embedding` scores below the identity-switch threshold
    /// against every sample `id` has kept.
    fn is_someone_else(&self, id: u64, embedding: &Embedding) -> bool {
        let Some(state) = self.states.get(&id) else {
            return false;
        };
        if state.samples.is_empty() {
            return false;
        }
        let threshold = self.engine.far_curve().map_or(0.3, |c| {
            c.threshold_at_far(self.config.identity_switch_far).0
        });
        state
            .samples
            .iter()
            .all(|s| facegate_core::dot(s.embedding.as_slice(), embedding.as_slice()) < threshold)
    }

    /// End every track (the stream stopped) and report those still undecided.
    pub fn finish(&mut self, at_ms: u64) -> Vec<TrackEvent> {
        let tracks = self.tracker.finish();
        tracks
            .iter()
            .filter_map(|t| self.end_track(t, at_ms))
            .collect()
    }

    fn end_track(&mut self, track: &Track, at_ms: u64) -> Option<TrackEvent> {
        let frame = Frame {
            image: RgbImage::new(0, 0),
            media_ms: at_ms.max(track.last_seen_ms),
            captured: Instant::now(),
        };
        let event = self.consider_with(track.id, track, &frame, true);
        self.states.remove(&track.id);
        event
    }

    fn consider(&mut self, id: u64, frame: &Frame, ending: bool) -> Option<TrackEvent> {
        let track = self.tracker.get(id)?.clone();
        self.consider_with(id, &track, frame, ending)
    }

    /// Vote and, if the track has earned it, build its event.
    fn consider_with(
        &mut self,
        id: u64,
        track: &Track,
        frame: &Frame,
        ending: bool,
    ) -> Option<TrackEvent> {
        let state = self.states.get(&id)?;
        if state.named.is_some() || state.samples.is_empty() {
            return None;
        }
        let vote = self.vote(id);
        let state = self.states.get_mut(&id)?;
        let enough = state.samples.len() >= self.config.min_samples || ending;
        let kind = match vote.decision {
            Decision::Match if enough => EventKind::Person,
            Decision::Match => return None,
            _ if state.reported_unknown => return None,
            // A stranger is only reported once the window has seen enough
            // good frames, or at the end if it saw at least two.
            _ if state.taken >= self.config.unknown_after
                || (ending && state.samples.len() >= 2) =>
            {
                EventKind::Unknown
            }
            _ => return None,
        };
        if kind == EventKind::Person {
            let (person, score) = vote.best.clone()?;
            state.named = Some((person.clone(), score));
            if let Some(last) = self.last_reported.get(&person)
                && frame.media_ms.saturating_sub(*last) < self.config.cooldown_ms
            {
                tracing::debug!(camera = %self.camera_id, track = id, person, "cooldown: not reported again");
                return None;
            }
            self.last_reported.insert(person, frame.media_ms);
        } else {
            state.reported_unknown = true;
        }
        let state = self.states.get(&id)?;
        let live = match (vote.liveness, self.engine.liveness_threshold()) {
            (Some(p), Some(t)) => Some(p >= t),
            _ => None,
        };
        // Named and unknown alike (as `TrackEvent::crop_jpeg` says): the
        // service keeps it with the event and any spoof event where the
        // organisation stores images.
        let crop_jpeg = state
            .best_crop
            .as_ref()
            .and_then(|(_, c)| encode_jpeg(c, 85));
        let person_id = (kind == EventKind::Person)
            .then(|| vote.best.as_ref().map(|b| b.0.clone()))
            .flatten();
        let name = person_id.as_deref().map(|p| {
            self.identifier
                .display_name(p)
                .unwrap_or_else(|| p.to_owned())
        });
        Some(TrackEvent {
            camera_id: self.camera_id.clone(),
            track_id: id,
            kind,
            decision: vote.decision,
            person_id,
            name,
            score: vote.best.as_ref().map(|b| b.1),
            second_score: vote.second,
            nearest_person_id: vote.best.as_ref().map(|b| b.0.clone()),
            operating_point: vote.point,
            samples: state.samples.len(),
            liveness: vote.liveness,
            live,
            bbox: track.bbox,
            frame_width: self.frame_size.0,
            frame_height: self.frame_size.1,
            first_seen_ms: track.first_seen_ms,
            media_ms: frame.media_ms,
            latency_ms: state.first_captured.elapsed().as_secs_f64() * 1000.0,
            at: Utc::now(),
            crop_jpeg,
            embedding: track_embedding(&state.samples),
            quality: state.samples.iter().map(|s| s.weight).reduce(f32::max),
        })
    }

    fn vote(&mut self, id: u64) -> Vote {
        let point = self.identifier.operating_point();
        let identifier = self.identifier.clone();
        let Some(state) = self.states.get_mut(&id) else {
            return Vote {
                decision: Decision::Unknown,
                best: None,
                second: None,
                liveness: None,
                point,
            };
        };
        // Candidates: every sample's best two.
        let mut candidates: Vec<String> = Vec::new();
        for sample in &mut state.samples {
            if sample.scores.is_empty() {
                for c in identifier.search(&sample.embedding, 2) {
                    sample.scores.insert(c.person_id, c.score);
                }
            }
            for person in sample.scores.keys() {
                if !candidates.contains(person) {
                    candidates.push(person.clone());
                }
            }
        }
        let total_weight: f32 = state.samples.iter().map(|s| s.weight).sum();
        let mut voted: Vec<(String, f32)> = candidates
            .into_iter()
            .filter_map(|person| {
                let mut sum = 0.0;
                for sample in &mut state.samples {
                    let score = match sample.scores.get(&person) {
                        Some(s) => *s,
                        None => {
                            // Not enrolled any more: not a candidate.
                            let s = identifier.score(&sample.embedding, &person)?;
                            sample.scores.insert(person.clone(), s);
                            s
                        }
                    };
                    sum += sample.weight * score;
                }
                Some((person, sum / total_weight))
            })
            .collect();
        voted.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let liveness = {
            let scored: Vec<(f32, f32)> = state
                .samples
                .iter()
                .filter_map(|s| s.liveness.map(|l| (s.weight, l)))
                .collect();
            let w: f32 = scored.iter().map(|(w, _)| w).sum();
            (w > 0.0).then(|| scored.iter().map(|(w, l)| w * l).sum::<f32>() / w)
        };
        let decision = decide(
            voted.first().map(|v| v.1),
            voted.get(1).map(|v| v.1),
            point.threshold,
            point.margin,
        );
        Vote {
            decision,
            best: voted.first().cloned(),
            second: voted.get(1).map(|v| v.1),
            liveness,
            point,
        }
    }

    fn overlay(&self, id: u64, face: &DetectedFace) -> FaceOverlay {
        let state = self.states.get(&id);
        let (label, score, overlay_state) = match state {
            Some(TrackState {
                named: Some((person, score)),
                ..
            }) => (
                self.identifier
                    .display_name(person)
                    .unwrap_or_else(|| person.clone()),
                Some(*score),
                OverlayState::Named,
            ),
            Some(s) if s.reported_unknown => ("unknown".to_owned(), None, OverlayState::Unknown),
            _ => ("...".to_owned(), None, OverlayState::Pending),
        };
        FaceOverlay {
            track_id: id,
            bbox: face.bbox,
            label,
            score,
            state: overlay_state,
        }
    }
}

/// A frame's weight as a sample, or `None` when it fails the quality gate:
/// size (inter-eye distance, full marks from 40 px), pose (frontal = 1) and
/// sharpness (full marks from a Laplacian variance of 100), times the
/// detector's confidence.
fn sample_weight(config: &PipelineConfig, face: &DetectedFace, quality: &Quality) -> Option<f32> {
    if quality.yaw_deg.abs() > config.max_yaw_deg || quality.sharpness < config.min_sharpness {
        return None;
    }
    let size = (quality.inter_eye_px / 40.0).clamp(0.1, 1.0);
    let pose = (1.0 - quality.yaw_deg.abs() / 90.0).clamp(0.1, 1.0);
    let sharp = (quality.sharpness / 100.0).clamp(0.1, 1.0);
    Some(size * pose * sharp * face.score.clamp(0.1, 1.0))
}

/// The sample-weighted mean of a track's embeddings, normalised (`None`
/// without samples or when they cancel out).
fn track_embedding(samples: &[Sample]) -> Option<Embedding> {
    let dim = samples.first()?.embedding.dim();
    let mut sum = vec![0f32; dim];
    for s in samples.iter().filter(|s| s.embedding.dim() == dim) {
        for (a, b) in sum.iter_mut().zip(s.embedding.as_slice()) {
            *a += s.weight.max(1e-3) * b;
        }
    }
    Embedding::from_raw(sum).ok()
}

/// The face box grown by a quarter on each side, clipped to the frame.
fn crop(image: &RgbImage, bbox: &BoundingBox) -> RgbImage {
    let (w, h) = (bbox.width(), bbox.height());
    let left = (bbox.left - w / 4.0).max(0.0) as u32;
    let top = (bbox.top - h / 4.0).max(0.0) as u32;
    let right = ((bbox.right + w / 4.0) as u32).min(image.width());
    let bottom = ((bbox.bottom + h / 4.0) as u32).min(image.height());
    if right <= left || bottom <= top {
        return RgbImage::new(1, 1);
    }
    image::imageops::crop_imm(image, left, top, right - left, bottom - top).to_image()
}

/// JPEG-encode an RGB image; `None` if the encoder fails (empty image).
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Option<Vec<u8>> {
    if image.width() == 0 || image.height() == 0 {
        return None;
    }
    let mut out = Vec::with_capacity((image.width() * image.height() / 4) as usize);
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    image.write_with_encoder(encoder).ok()?;
    Some(out)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
