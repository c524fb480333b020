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
    /// Each organisation's negative samples ("this is not X", web UI),
    /// by person, refreshed by the processor: camera threads apply the
    /// same rule as `flows::exclude_negatives` without a database call.
    negatives: RwLock<HashMap<String, HashMap<String, Vec<Embedding>>>>,
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

    /// Replace an organisation's negative samples.
    pub fn set_negatives(&self, org_id: &str, samples: Vec<(String, Embedding)>) {
        let mut by_person: HashMap<String, Vec<Embedding>> = HashMap::new();
        for (person, e) in samples {
            by_person.entry(person).or_default().push(e);
        }
        self.negatives.write().insert(org_id.to_owned(), by_person);
    }

    /// Whether one of `person_id`'s negative samples is at least as close
    /// to `probe` as `own` (the person's own score): then the probe is not
    /// them.
    pub fn ruled_out(&self, org_id: &str, person_id: &str, probe: &Embedding, own: f32) -> bool {
        self.negatives
            .read()
            .get(org_id)
            .and_then(|m| m.get(person_id))
            .is_some_and(|list| {
                list.iter()
                    .any(|n| facegate_core::dot(n.as_slice(), probe.as_slice()) >= own)
            })
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
            .search(
                &self.org_id,
                &self.model_id,
                probe,
                top_k + 1,
                &self.offsets,
            )
            .into_iter()
            .filter(|h| {
                !self
                    .cache
                    .ruled_out(&self.org_id, &h.person_id, probe, h.score.max(h.best_score))
            })
            .take(top_k)
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
            .filter(|h| {
                !self
                    .cache
                    .ruled_out(&self.org_id, person_id, probe, h.score.max(h.best_score))
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: &[f32]) -> Embedding {
        Embedding::from_raw(v.to_vec()).unwrap()
    }

    #[test]
    fn negatives_rule_out_a_person_only_where_closer_than_their_own() {
        let cache = OrgCache::default();
        cache.set_negatives("org", vec![("x".into(), e(&[1.0, 0.0]))]);
        let probe = e(&[1.0, 0.0]);
        // The negative is the probe itself: closer than X's own 0.9.
        assert!(cache.ruled_out("org", "x", &probe, 0.9));
        // A tie goes to the negative (as in `flows::exclude_negatives`).
        assert!(cache.ruled_out("org", "x", &probe, 1.0));
        let other = e(&[0.0, 1.0]);
        assert!(
            !cache.ruled_out("org", "x", &other, 0.5),
            "far from the negative"
        );
        assert!(!cache.ruled_out("org", "y", &probe, 0.1), "another person");
        assert!(
            !cache.ruled_out("elsewhere", "x", &probe, 0.1),
            "another organisation"
        );
        cache.set_negatives("org", Vec::new());
        assert!(!cache.ruled_out("org", "x", &probe, 0.9), "replaced");
    }
}
