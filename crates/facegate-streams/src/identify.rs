//! Who a probe may be: the gallery behind a camera, as the pipeline sees it.
//!
//! The pipeline knows nothing of organisations or databases: the service
//! implements [`Identifier`] over its gallery and the organisation's
//! (or camera's) operating point; `facegate watch` and the tests use
//! [`KnownFaces`], a folder of people held in memory.

use facegate_core::calibration::template_offset;
use facegate_core::{Embedding, FarCurve};
use serde::{Deserialize, Serialize};

/// One enrolled person's score for a probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub person_id: String,
    /// On the open-set scale the threshold applies to: cosine with the
    /// person's mean template less its template-count offset, in `[-1, 1]`.
    pub score: f32,
}

/// The threshold a decision was taken at, and the false-positive rate it
/// stands for. Every event carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// Cosine at or above which the best person is named.
    pub threshold: f32,
    /// A best person within this of the runner-up is `ambiguous`.
    pub margin: f32,
    /// `fpir` (target FPIR, FAR curve, gallery size), `camera`, `organisation`
    /// (fixed thresholds), `tolerance` or `pack` (the 1:1 threshold of a pack
    /// without a FAR curve).
    pub source: String,
    pub fpir: Option<f64>,
    /// Per-comparison false-accept rate the FPIR implies for `gallery_size`.
    pub far: Option<f64>,
    /// People enrolled with a template for this model.
    pub gallery_size: usize,
    /// The FAR lies below the pack's lowest measured point (strict side).
    pub extrapolated: bool,
}

impl OperatingPoint {
    /// The threshold for a target FPIR over `gallery_size` people on a
    /// pack's FAR curve (`source = "fpir"`).
    ///
    /// # Errors
    /// When `fpir` is not in (0, 1).
    pub fn for_fpir(
        curve: &FarCurve,
        fpir: f64,
        gallery_size: usize,
        margin: f32,
    ) -> Result<Self, facegate_core::calibration::CalibrationError> {
        let op = curve.for_fpir(fpir, gallery_size)?;
        Ok(Self {
            threshold: op.threshold,
            margin,
            source: "fpir".into(),
            fpir: Some(op.fpir),
            far: Some(op.far),
            gallery_size: op.gallery_size,
            extrapolated: op.extrapolated,
        })
    }

    /// A fixed threshold chosen by `source` (no FPIR behind it).
    pub fn fixed(threshold: f32, margin: f32, source: &str, gallery_size: usize) -> Self {
        Self {
            threshold,
            margin,
            source: source.into(),
            fpir: None,
            far: None,
            gallery_size,
            extrapolated: false,
        }
    }
}

/// The gallery a camera identifies against. Implementations must be cheap
/// to call from the camera's processing thread (no blocking I/O).
pub trait Identifier: Send + Sync {
    /// The `top_k` best people for a probe, best first.
    fn search(&self, probe: &Embedding, top_k: usize) -> Vec<Candidate>;
    /// One person's score for a probe; `None` if they are not enrolled (any more).
    fn score(&self, probe: &Embedding, person_id: &str) -> Option<f32>;
    /// The operating point for the gallery as it is now.
    fn operating_point(&self) -> OperatingPoint;
    /// A name to draw on frames and print; `None` shows the id.
    fn display_name(&self, _person_id: &str) -> Option<String> {
        None
    }
}

/// People held in memory, each scored by their mean template as the
/// service's gallery scores them, at a target FPIR on the pack's curve.
pub struct KnownFaces {
    /// (name, unit mean template, template-count offset).
    people: Vec<(String, Embedding, f32)>,
    point: OperatingPoint,
}

impl KnownFaces {
    /// `people`: each person's name and templates (at least one). The
    /// operating point is computed once from `point` for this many people.
    pub fn new(
        people: Vec<(String, Vec<Embedding>)>,
        offsets: &[f32],
        point: impl FnOnce(usize) -> OperatingPoint,
    ) -> Self {
        let people: Vec<(String, Embedding, f32)> = people
            .into_iter()
            .filter_map(|(name, templates)| {
                let first = templates.first()?;
                let mut sum = vec![0.0f32; first.dim()];
                for t in &templates {
                    sum.iter_mut().zip(t.as_slice()).for_each(|(a, b)| *a += b);
                }
                let mean = Embedding::from_raw(sum).ok()?;
                Some((name, mean, template_offset(offsets, templates.len())))
            })
            .collect();
        let point = point(people.len());
        Self { people, point }
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }
}

fn score_of(probe: &Embedding, template: &Embedding, offset: f32) -> f32 {
    if probe.dim() != template.dim() {
        return -1.0;
    }
    (facegate_core::dot(probe.as_slice(), template.as_slice()) - offset).clamp(-1.0, 1.0)
}

impl Identifier for KnownFaces {
    fn search(&self, probe: &Embedding, top_k: usize) -> Vec<Candidate> {
        let mut all: Vec<Candidate> = self
            .people
            .iter()
            .map(|(name, t, off)| Candidate {
                person_id: name.clone(),
                score: score_of(probe, t, *off),
            })
            .collect();
        all.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.person_id.cmp(&b.person_id))
        });
        all.truncate(top_k);
        all
    }

    fn score(&self, probe: &Embedding, person_id: &str) -> Option<f32> {
        self.people
            .iter()
            .find(|(name, _, _)| name == person_id)
            .map(|(_, t, off)| score_of(probe, t, *off))
    }

    fn operating_point(&self) -> OperatingPoint {
        self.point.clone()
    }
}
