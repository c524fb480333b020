//! The gallery as a camera sees it: [`GalleryIdentifier`] searches the
//! organisation's in-memory gallery and takes its threshold from the same
//! rule the API uses (`flows::effective_threshold`), with the camera's own
//! `match_threshold` / `fpir` winning over the organisation's, for the
//! gallery size at the moment of the decision. It runs on camera threads,
//! so it never touches the database: settings and display names come from
//! [`OrgCache`], which the event processor refreshes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use facegate_core::Embedding;
use facegate_store::{Camera as CameraRow, OrgSettings};
use facegate_streams::{Candidate, Identifier, OperatingPoint};
use parking_lot::{Mutex, RwLock};

use crate::flows::{Purpose, ThresholdSource, effective_threshold};
use crate::state::AppState;

/// Names kept before the cache starts over (bounded memory).
const MAX_NAMES: usize = 100_000;

/// Organisation settings and person names for camera threads, filled by the
/// event processor (and when a camera starts); never a database call.
#[derive(Default)]
pub struct OrgCache {
    settings: RwLock<HashMap<String, OrgSettings>>,
    names: RwLock<HashMap<(String, String), String>>,
    /// Names camera threads asked for and did not find.
    wanted: Mutex<HashSet<(String, String)>>,
}

impl OrgCache {
    pub fn set_settings(&self, org_id: &str, settings: &OrgSettings) {
        self.settings
            .write()
            .insert(org_id.to_owned(), settings.clone());
    }

    pub fn settings(&self, org_id: &str) -> Option<OrgSettings> {
        self.settings.read().get(org_id).cloned()
    }

    pub fn set_name(&self, org_id: &str, person_id: &str, name: &str) {
        let mut names = self.names.write();
        if names.len() >= MAX_NAMES {
            names.clear();
        }
        names.insert((org_id.to_owned(), person_id.to_owned()), name.to_owned());
    }

    /// A cached name; a miss is remembered for the processor to look up.
    pub fn name(&self, org_id: &str, person_id: &str) -> Option<String> {
        let key = (org_id.to_owned(), person_id.to_owned());
        if let Some(n) = self.names.read().get(&key) {
            return Some(n.clone());
        }
        let mut wanted = self.wanted.lock();
        if wanted.len() < 1024 {
            wanted.insert(key);
        }
        None
    }

    /// The names asked for since the last call.
    pub fn take_wanted(&self) -> Vec<(String, String)> {
        self.wanted.lock().drain().collect()
    }
}

/// One camera's view of its organisation's gallery.
pub struct GalleryIdentifier {
    state: AppState,
    org_id: String,
    model_id: String,
    offsets: Vec<f32>,
    purpose: Purpose,
    camera_fpir: Option<f64>,
    camera_threshold: Option<f32>,
    cache: Arc<OrgCache>,
}

impl GalleryIdentifier {
    pub fn new(state: AppState, row: &CameraRow, cache: Arc<OrgCache>) -> Self {
        let (model_id, offsets) = state
            .engine
            .as_ref()
            .map(|e| (e.model_id().to_owned(), e.mean_template_offsets().to_vec()))
            .unwrap_or_default();
        Self {
            org_id: row.org_id.clone(),
            model_id,
            offsets,
            purpose: purpose_of(&row.fields.purpose),
            camera_fpir: row.fields.fpir,
            camera_threshold: row.fields.match_threshold.map(|t| t as f32),
            cache,
            state,
        }
    }
}

/// Attendance cameras decide at the attendance FPIR, the others at `fpir`.
pub fn purpose_of(purpose: &str) -> Purpose {
    if purpose == "attendance" {
        Purpose::Attendance
    } else {
        Purpose::Access
    }
}

impl Identifier for GalleryIdentifier {
    fn search(&self, probe: &Embedding, top_k: usize) -> Vec<Candidate> {
        self.state
            .store
            .gallery()
            .search(&self.org_id, &self.model_id, probe, top_k, &self.offsets)
            .into_iter()
            .map(|h| Candidate {
                person_id: h.person_id,
                score: h.score,
            })
            .collect()
    }

    fn score(&self, probe: &Embedding, person_id: &str) -> Option<f32> {
        self.state
            .store
            .gallery()
            .person_score(
                &self.org_id,
                &self.model_id,
                person_id,
                probe,
                &self.offsets,
            )
            .map(|h| h.score)
    }

    fn operating_point(&self) -> OperatingPoint {
        let gallery_size = self
            .state
            .store
            .gallery()
            .people(&self.org_id, &self.model_id);
        let mut settings = self.cache.settings(&self.org_id).unwrap_or_default();
        // The camera's overrides win: its fixed threshold over everything,
        // its FPIR over the organisation's FPIR and fixed threshold.
        if let Some(f) = self.camera_fpir {
            settings.fpir = f;
            settings.attendance_fpir = Some(f);
            settings.match_threshold = None;
        }
        if let Some(t) = self.camera_threshold {
            settings.match_threshold = Some(t);
        }
        match effective_threshold(&self.state, &settings, None, self.purpose, gallery_size) {
            Ok(op) => OperatingPoint {
                threshold: op.threshold,
                margin: op.margin,
                source: match op.source {
                    ThresholdSource::Organisation if self.camera_threshold.is_some() => "camera",
                    ThresholdSource::Organisation => "organisation",
                    ThresholdSource::Request => "request",
                    ThresholdSource::Fpir => "fpir",
                    ThresholdSource::Pack => "pack",
                }
                .into(),
                fpir: op.fpir,
                far: op.far,
                gallery_size: op.gallery_size,
                extrapolated: op.extrapolated,
            },
            Err(e) => {
                // No engine or an FPIR the curve refuses: name nobody.
                tracing::warn!(org = %self.org_id, "camera operating point: {}", e.message);
                OperatingPoint::fixed(1.01, settings.ambiguity_margin, "unavailable", gallery_size)
            }
        }
    }

    fn display_name(&self, person_id: &str) -> Option<String> {
        self.cache.name(&self.org_id, person_id)
    }
}
