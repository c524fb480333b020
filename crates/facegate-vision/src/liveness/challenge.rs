//! Challenge (active) liveness: the client sends a short burst of frames
//! while the person follows a random prompt, and facegate checks that
//!
//! 1. **the motion happened**, measured on landmarks: for turns, a yaw proxy
//!    from the five detector landmarks (the nose's horizontal offset from the
//!    eyes' midpoint, in inter-ocular distances: 0 when frontal, growing as
//!    the head turns); for blinks, the eye aspect ratio (EAR, Soukupová &
//!    Čech 2016) from dlib's 68-point predictor, since five landmarks have no
//!    eyelids. The pack lists that predictor (`.dat`) among its `[liveness]`
//!    files; it is loaded on the first blink challenge.
//! 2. **it is the same person throughout**: every frame's embedding matches
//!    the first one at the pack's match threshold;
//! 3. **the frames look live**: the median passive live score of the frames
//!    is at least the pack's liveness threshold (the median, because a turned
//!    head is scored lower than a frontal one).
//!
//! A replayed video of someone turning passes (1) and (2); (3) and the prompt
//! being random and short-lived are what stop it.

use std::str::FromStr;

use facegate_core::{DetectedFace, Point};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::{Engine, VisionError, dlib_box_for};

/// What the person was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prompt {
    /// Turn the head to the person's own left.
    TurnLeft,
    /// Turn the head to the person's own right.
    TurnRight,
    Blink,
}

impl FromStr for Prompt {
    type Err = VisionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "turn-left" => Ok(Self::TurnLeft),
            "turn-right" => Ok(Self::TurnRight),
            "blink" => Ok(Self::Blink),
            other => Err(VisionError::InvalidArgument(format!(
                "unknown prompt {other:?} (turn-left, turn-right, blink)"
            ))),
        }
    }
}

impl Prompt {
    pub const ALL: [Prompt; 3] = [Prompt::TurnLeft, Prompt::TurnRight, Prompt::Blink];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TurnLeft => "turn-left",
            Self::TurnRight => "turn-right",
            Self::Blink => "blink",
        }
    }
}

/// Tuning of the motion checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChallengeOptions {
    /// Frames are mirrored (a front-camera preview): swaps left and right.
    pub mirrored: bool,
    /// Yaw change (inter-ocular distances) a turn must reach from the first frame.
    pub min_turn: f32,
    /// A blink: some frame's EAR at most this share of the open-eye EAR …
    pub closed_ratio: f32,
    /// … with frames at least this share before and after it.
    pub open_ratio: f32,
}

impl Default for ChallengeOptions {
    fn default() -> Self {
        Self {
            mirrored: false,
            min_turn: 0.25,
            closed_ratio: 0.7,
            open_ratio: 0.85,
        }
    }
}

/// Most frames one challenge may send.
pub const MAX_FRAMES: usize = 64;
/// Fewest frames: before, during and after the motion.
pub const MIN_FRAMES: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameReport {
    pub face_found: bool,
    /// Yaw proxy: positive when the head is turned to the person's left.
    pub yaw: Option<f32>,
    /// Mean eye aspect ratio of both eyes (blink challenges only).
    pub ear: Option<f32>,
    /// Passive live score, when the pack has a liveness model.
    pub live: Option<f32>,
    /// Cosine similarity with the first frame's face.
    pub similarity: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeResult {
    pub prompt: Prompt,
    /// All checks passed.
    pub passed: bool,
    pub motion_ok: bool,
    pub same_person: bool,
    /// `None` when the pack has no passive liveness model.
    pub passive_ok: Option<bool>,
    /// Median passive live score over the frames with a face.
    pub passive_live: Option<f32>,
    /// Why it failed, one line per failed check.
    pub reasons: Vec<String>,
    pub frames: Vec<FrameReport>,
}

/// Check a burst of decoded frames against `prompt` with default options.
pub fn evaluate(
    engine: &Engine,
    prompt: Prompt,
    frames: &[RgbImage],
) -> Result<ChallengeResult, VisionError> {
    evaluate_with(engine, prompt, frames, &ChallengeOptions::default())
}

pub fn evaluate_with(
    engine: &Engine,
    prompt: Prompt,
    frames: &[RgbImage],
    options: &ChallengeOptions,
) -> Result<ChallengeResult, VisionError> {
    if !(MIN_FRAMES..=MAX_FRAMES).contains(&frames.len()) {
        return Err(VisionError::InvalidArgument(format!(
            "a challenge takes {MIN_FRAMES} to {MAX_FRAMES} frames, got {}",
            frames.len()
        )));
    }
    let blink_predictor = if prompt == Prompt::Blink {
        Some(engine.landmarks68()?)
    } else {
        None
    };
    let mut reports = Vec::with_capacity(frames.len());
    let mut first: Option<facegate_core::Embedding> = None;
    for image in frames {
        let faces = engine.detect(image)?;
        let Some(face) = faces
            .iter()
            .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        else {
            reports.push(FrameReport {
                face_found: false,
                yaw: None,
                ear: None,
                live: None,
                similarity: None,
            });
            continue;
        };
        let (mut analyzed, _) = engine.embed_faces(image, std::slice::from_ref(face))?;
        let Some(analyzed) = analyzed.pop() else {
            return Err(VisionError::Internal(
                "no analysis for a detected face".into(),
            ));
        };
        let similarity = match &first {
            Some(reference) => Some(
                reference
                    .cosine(&analyzed.embedding)
                    .map_err(|e| VisionError::Internal(e.to_string()))?,
            ),
            None => {
                first = Some(analyzed.embedding.clone());
                Some(1.0)
            }
        };
        let mut yaw = yaw_proxy(face);
        if options.mirrored {
            yaw = yaw.map(|y| -y);
        }
        let ear =
            blink_predictor.and_then(|p| eye_aspect_ratio(&p.predict(image, dlib_box_for(face))));
        reports.push(FrameReport {
            face_found: true,
            yaw,
            ear,
            live: analyzed.liveness,
            similarity,
        });
    }
    Ok(judge(engine, prompt, reports, options))
}

fn judge(
    engine: &Engine,
    prompt: Prompt,
    frames: Vec<FrameReport>,
    options: &ChallengeOptions,
) -> ChallengeResult {
    let mut reasons = Vec::new();
    let found: Vec<&FrameReport> = frames.iter().filter(|f| f.face_found).collect();
    if found.len() < MIN_FRAMES {
        reasons.push(format!(
            "a face was found in {} frame(s), {MIN_FRAMES} needed",
            found.len()
        ));
    }
    let motion_ok = match prompt {
        Prompt::TurnLeft | Prompt::TurnRight => {
            let sign = if prompt == Prompt::TurnLeft {
                1.0
            } else {
                -1.0
            };
            let yaws: Vec<f32> = found
                .iter()
                .filter_map(|f| f.yaw)
                .map(|y| y * sign)
                .collect();
            turned(&yaws, options.min_turn, &mut reasons)
        }
        Prompt::Blink => {
            let ears: Vec<f32> = found.iter().filter_map(|f| f.ear).collect();
            blinked(&ears, options, &mut reasons)
        }
    };
    let threshold = engine.match_threshold();
    let same_person = found.len() >= MIN_FRAMES
        && found
            .iter()
            .all(|f| f.similarity.is_some_and(|s| s >= threshold));
    if !same_person && found.len() >= MIN_FRAMES {
        reasons.push(format!(
            "not the same face in every frame (similarity below {threshold})"
        ));
    }
    let mut lives: Vec<f32> = found.iter().filter_map(|f| f.live).collect();
    lives.sort_by(f32::total_cmp);
    let passive_live = (!lives.is_empty()).then(|| lives[lives.len() / 2]);
    let passive_ok = match (engine.liveness_threshold(), passive_live) {
        (Some(t), Some(live)) => Some(live >= t),
        (Some(_), None) => Some(false),
        (None, _) => None,
    };
    if passive_ok == Some(false) {
        reasons.push(format!(
            "the frames do not look live (median live score {:.3} < {:.3})",
            passive_live.unwrap_or(0.0),
            engine.liveness_threshold().unwrap_or(0.0)
        ));
    }
    let passed = found.len() >= MIN_FRAMES && motion_ok && same_person && passive_ok != Some(false);
    ChallengeResult {
        prompt,
        passed,
        motion_ok,
        same_person,
        passive_ok,
        passive_live,
        reasons,
        frames,
    }
}

/// Yaws signed so that the prompted direction is positive. The turn must
/// move at least `min_turn` away from the first frame, in that direction,
/// and further than any move the other way.
fn turned(yaws: &[f32], min_turn: f32, reasons: &mut Vec<String>) -> bool {
    let Some(&start) = yaws.first() else {
        reasons.push("no landmarks to measure the turn".into());
        return false;
    };
    let toward = yaws
        .iter()
        .map(|y| y - start)
        .fold(f32::NEG_INFINITY, f32::max);
    let away = yaws
        .iter()
        .map(|y| start - y)
        .fold(f32::NEG_INFINITY, f32::max);
    if toward >= min_turn && toward > away {
        true
    } else {
        reasons.push(format!("the head did not turn as asked (moved {toward:.2}, needed {min_turn:.2}; {away:.2} the other way)"));
        false
    }
}

/// Open, then closed, then open again, relative to the most open frame.
fn blinked(ears: &[f32], options: &ChallengeOptions, reasons: &mut Vec<String>) -> bool {
    let open = ears.iter().copied().fold(0.0f32, f32::max);
    if ears.len() < MIN_FRAMES || open <= 0.0 {
        reasons.push("no eye landmarks to measure a blink".into());
        return false;
    }
    let is_open = |e: f32| e >= options.open_ratio * open;
    let is_closed = |e: f32| e <= options.closed_ratio * open;
    let blink = ears.iter().enumerate().any(|(i, &e)| {
        is_closed(e)
            && ears[..i].iter().any(|&b| is_open(b))
            && ears[i + 1..].iter().any(|&a| is_open(a))
    });
    if !blink {
        let least = ears.iter().copied().fold(f32::INFINITY, f32::min);
        reasons.push(format!(
            "no blink seen (eye aspect ratio fell to {:.0}% of open, needed {:.0}% with open eyes before and after)",
            100.0 * least / open,
            100.0 * options.closed_ratio
        ));
    }
    blink
}

/// Nose offset from the eyes' midpoint along the eye line, in inter-ocular
/// distances; positive when the nose moves toward the image's right, which in
/// an unmirrored camera image is the person turning to their own left.
pub fn yaw_proxy(face: &DetectedFace) -> Option<f32> {
    let lm = &face.landmarks;
    let (l, r, n) = (lm.left_eye(), lm.right_eye(), lm.nose());
    let (dx, dy) = (r.x - l.x, r.y - l.y);
    let iod = (dx * dx + dy * dy).sqrt();
    if !iod.is_finite() || iod < 1.0 {
        return None;
    }
    let mid = Point::new((l.x + r.x) / 2.0, (l.y + r.y) / 2.0);
    // Project onto the eye line so a tilted (rolled) head is not read as yaw.
    Some(((n.x - mid.x) * dx + (n.y - mid.y) * dy) / (iod * iod))
}

/// Mean eye aspect ratio of dlib's 68 points (eyes are points 36–41, 42–47).
pub fn eye_aspect_ratio(points: &[Point]) -> Option<f32> {
    if points.len() != 68 {
        return None;
    }
    let eye = |p: &[Point]| {
        let width = p[0].distance(p[3]);
        if width < 1e-3 {
            None
        } else {
            Some((p[1].distance(p[5]) + p[2].distance(p[4])) / (2.0 * width))
        }
    };
    Some((eye(&points[36..42])? + eye(&points[42..48])?) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use facegate_core::{BoundingBox, Landmarks5};

    fn face_with_nose(nose_x: f32) -> DetectedFace {
        let p = Point::new;
        DetectedFace {
            bbox: BoundingBox::new(0.0, 0.0, 100.0, 100.0),
            score: 1.0,
            landmarks: Landmarks5([
                p(30.0, 40.0),
                p(70.0, 40.0),
                p(nose_x, 60.0),
                p(35.0, 80.0),
                p(65.0, 80.0),
            ]),
        }
    }

    #[test]
    fn yaw_is_zero_when_frontal_and_positive_when_the_nose_moves_right() {
        assert!(yaw_proxy(&face_with_nose(50.0)).is_some_and(|y| y.abs() < 1e-6));
        assert!(yaw_proxy(&face_with_nose(62.0)).is_some_and(|y| (y - 0.3).abs() < 1e-6));
    }

    #[test]
    fn a_turn_must_go_the_asked_way() {
        let mut r = Vec::new();
        assert!(turned(&[0.0, 0.1, 0.35, 0.1], 0.25, &mut r));
        assert!(!turned(&[0.0, -0.2, -0.4], 0.25, &mut r));
        assert!(!turned(&[0.0, 0.1, 0.1], 0.25, &mut r));
    }

    #[test]
    fn a_blink_is_open_closed_open() {
        let o = ChallengeOptions::default();
        let mut r = Vec::new();
        assert!(blinked(&[0.30, 0.29, 0.12, 0.28], &o, &mut r));
        assert!(!blinked(&[0.30, 0.29, 0.12], &o, &mut r)); // never reopened
        assert!(!blinked(&[0.30, 0.29, 0.28, 0.30], &o, &mut r));
    }

    #[test]
    fn prompts_parse() {
        assert_eq!("turn-left".parse::<Prompt>().ok(), Some(Prompt::TurnLeft));
        assert!("nod".parse::<Prompt>().is_err());
    }
}
