//! Clip regression: a recorded clip, the people to enrol, and who appears
//! when (an answer file); the pipeline's events scored against it.
//!
//! Answer file (TOML; paths relative to the file, else to the shared data
//! folder):
//!
//! ```toml
//! clip = "datasets/video/hamilton_clip.mp4"
//! [[known]]                       # enrolled before the clip plays
//! name = "lin-manuel-miranda"
//! photos = ["datasets/peers/face_recognition/examples/lin-manuel-miranda.png"]
//! [[appears]]                     # who is on screen, roughly when (seconds)
//! name = "lin-manuel-miranda"
//! from_s = 0.0
//! until_s = 7.0
//! required = true                 # must be named (counts for recall)
//! ```
//!
//! A named event is correct when its person appears within `slack_s` of the
//! event's time; precision is correct ÷ named events, recall is required
//! appearances named at least once ÷ required appearances, and the time to
//! first event runs from an appearance's `from_s` to its first correct event.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::pipeline::{EventKind, TrackEvent};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerFile {
    pub clip: String,
    #[serde(default)]
    pub known: Vec<KnownPerson>,
    #[serde(default)]
    pub appears: Vec<Appearance>,
    /// Seconds of tolerance around each appearance.
    #[serde(default = "default_slack")]
    pub slack_s: f64,
    /// Camera settings this clip is scored at, where they differ from the
    /// defaults (say why in the file).
    #[serde(default)]
    pub camera: CameraOverrides,
}

/// The per-camera settings an answer file may set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraOverrides {
    pub fpir: Option<f64>,
    pub min_face_px: Option<f32>,
    pub min_sharpness: Option<f32>,
    pub max_yaw_deg: Option<f32>,
}

impl CameraOverrides {
    /// The default pipeline settings with these applied.
    pub fn pipeline_config(&self) -> crate::PipelineConfig {
        let mut c = crate::PipelineConfig::default();
        if let Some(v) = self.min_face_px {
            c.min_face_px = v;
        }
        if let Some(v) = self.min_sharpness {
            c.min_sharpness = v;
        }
        if let Some(v) = self.max_yaw_deg {
            c.max_yaw_deg = v;
        }
        c
    }
}

fn default_slack() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownPerson {
    pub name: String,
    pub photos: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Appearance {
    pub name: String,
    pub from_s: f64,
    pub until_s: f64,
    /// The pipeline must name them (their face is frontal and large enough
    /// somewhere in the window). Appearances that are not required may be
    /// named (correctly) without counting against recall.
    #[serde(default)]
    pub required: bool,
}

/// Why an answer file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: {name} is a required appearance but not in [[known]]: nobody could name them")]
    Inconsistent { path: PathBuf, name: String },
}

impl AnswerFile {
    /// Parse an answer file.
    ///
    /// # Errors
    /// [`AnswerError::Read`] for an unreadable or malformed file.
    pub fn load(path: &Path) -> Result<Self, AnswerError> {
        let text = std::fs::read_to_string(path).map_err(|e| AnswerError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let answer: AnswerFile = toml::from_str(&text).map_err(|e| AnswerError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        for a in &answer.appears {
            if a.required && !answer.known.iter().any(|k| k.name == a.name) {
                return Err(AnswerError::Inconsistent {
                    path: path.to_path_buf(),
                    name: a.name.clone(),
                });
            }
        }
        Ok(answer)
    }

    /// A path named in the file: relative to the file's folder if it exists
    /// there, else to `shared`.
    pub fn resolve(answer_path: &Path, shared: &Path, name: &str) -> PathBuf {
        let p = Path::new(name);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        if let Some(local) = answer_path.parent().map(|d| d.join(p))
            && local.exists()
        {
            return local;
        }
        shared.join(p)
    }
}

/// A clip's score.
#[derive(Debug, Clone, Serialize)]
pub struct ClipScore {
    pub named_events: usize,
    pub correct_named: usize,
    /// Named events whose person was not on screen then: `(time s, name)`.
    pub wrong: Vec<(f64, String)>,
    pub unknown_events: usize,
    pub precision: f64,
    pub required: usize,
    pub required_named: usize,
    pub recall: f64,
    /// Per required appearance: seconds from its start to its first correct event.
    pub time_to_first_event_s: Vec<(String, Option<f64>)>,
    /// Event latency (first frame of the track to the event), ms, median.
    pub median_latency_ms: Option<f64>,
}

/// Score a clip's events against its answers.
pub fn score(answer: &AnswerFile, events: &[TrackEvent]) -> ClipScore {
    let mut named = 0;
    let mut correct = 0;
    let mut wrong = Vec::new();
    let mut unknown = 0;
    for e in events {
        let t = e.media_ms as f64 / 1000.0;
        match (e.kind, &e.person_id) {
            (EventKind::Person, Some(person)) => {
                named += 1;
                let ok = answer.appears.iter().any(|a| {
                    a.name == *person
                        && t >= a.from_s - answer.slack_s
                        && t <= a.until_s + answer.slack_s
                });
                if ok {
                    correct += 1;
                } else {
                    wrong.push((t, person.clone()));
                }
            }
            _ => unknown += 1,
        }
    }
    let required: Vec<&Appearance> = answer.appears.iter().filter(|a| a.required).collect();
    let mut firsts = Vec::new();
    let mut required_named = 0;
    for a in &required {
        let first = events
            .iter()
            .filter(|e| e.kind == EventKind::Person && e.person_id.as_deref() == Some(&a.name))
            .map(|e| e.media_ms as f64 / 1000.0)
            .filter(|t| *t >= a.from_s - answer.slack_s && *t <= a.until_s + answer.slack_s)
            .reduce(f64::min);
        if first.is_some() {
            required_named += 1;
        }
        firsts.push((a.name.clone(), first.map(|t| (t - a.from_s).max(0.0))));
    }
    let mut latencies: Vec<f64> = events.iter().map(|e| e.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    ClipScore {
        named_events: named,
        correct_named: correct,
        wrong,
        unknown_events: unknown,
        precision: if named == 0 {
            1.0
        } else {
            correct as f64 / named as f64
        },
        required: required.len(),
        required_named,
        recall: if required.is_empty() {
            1.0
        } else {
            required_named as f64 / required.len() as f64
        },
        time_to_first_event_s: firsts,
        median_latency_ms: latencies.get(latencies.len() / 2).copied(),
    }
}

/// Every event of a file played through `pipeline` frame by frame (no frame
/// dropped, stream time from the frame count), including the tracks still
/// open at the end.
///
/// # Errors
/// The source's failure, or a model failure on a frame.
pub fn replay(
    source: &crate::SourceSpec,
    settings: &crate::DecodeSettings,
    pipeline: &mut crate::Pipeline,
) -> Result<Vec<TrackEvent>, crate::StreamError> {
    let mut reader = crate::FfmpegSource::open(source, settings)?;
    let mut events = Vec::new();
    let mut last_ms = 0;
    loop {
        match reader.read() {
            Ok(frame) => {
                last_ms = frame.media_ms;
                events.extend(pipeline.process(&frame)?.events);
            }
            Err(crate::StreamError::Ended) => break,
            Err(e) => return Err(e),
        }
    }
    events.extend(pipeline.finish(last_ms));
    Ok(events)
}
