//! The in-memory gallery: every active template, grouped by organisation and
//! model, in one contiguous `f32` matrix per group so that an exact cosine
//! search is a single linear scan (10,000 × 128-d is ~1.3 M multiply-adds,
//! well under a millisecond). Embeddings are L2-normalised, so the dot
//! product is the cosine similarity.
//!
//! The database is the source of truth; the gallery is loaded from it at start
//! and updated by the store right after each committed write.

use std::collections::HashMap;

use facegate_core::calibration::template_offset;
use facegate_core::{Embedding, dot};
use parking_lot::RwLock;
use serde::Serialize;

#[derive(Default)]
struct Shard {
    dim: usize,
    template_ids: Vec<String>,
    person_ids: Vec<String>,
    data: Vec<f32>,
    /// Per person: its number is the gallery size an open-set threshold is
    /// derived for, and its template sum makes the person's score.
    people: HashMap<String, PersonTemplates>,
}

/// A person's templates, summed: the dot product of a probe with the
/// renormalised sum (the mean template) is `Σ scores / |Σ templates|`, so the
/// scan's per-template scores give it with one multiplication.
#[derive(Default)]
struct PersonTemplates {
    count: usize,
    sum: Vec<f32>,
    /// `1 / |sum|` (0 for a degenerate sum, which then scores 0).
    inv_norm: f32,
}

impl PersonTemplates {
    fn add(&mut self, embedding: &[f32]) {
        if self.sum.len() != embedding.len() {
            self.sum = vec![0.0; embedding.len()];
        }
        for (s, v) in self.sum.iter_mut().zip(embedding) {
            *s += v;
        }
        self.count += 1;
        let norm = dot(&self.sum, &self.sum).sqrt();
        self.inv_norm = if norm > f32::EPSILON { 1.0 / norm } else { 0.0 };
    }
}

impl Shard {
    fn remove_where(&mut self, mut pred: impl FnMut(&str, &str) -> bool) {
        let mut keep = 0;
        let mut touched = Vec::new();
        for i in 0..self.template_ids.len() {
            if pred(&self.template_ids[i], &self.person_ids[i]) {
                touched.push(self.person_ids[i].clone());
            } else {
                if keep != i {
                    self.template_ids.swap(keep, i);
                    self.person_ids.swap(keep, i);
                    let (a, b) = (keep * self.dim, i * self.dim);
                    for d in 0..self.dim {
                        self.data[a + d] = self.data[b + d];
                    }
                }
                keep += 1;
            }
        }
        self.template_ids.truncate(keep);
        self.person_ids.truncate(keep);
        self.data.truncate(keep * self.dim);
        // Rebuilt from the rows rather than subtracted, so no rounding drift
        // builds up over enrol/delete cycles (removal is rare).
        for person in touched {
            let mut templates = PersonTemplates::default();
            for (i, p) in self.person_ids.iter().enumerate() {
                if *p == person {
                    templates.add(&self.data[i * self.dim..(i + 1) * self.dim]);
                }
            }
            if templates.count == 0 {
                self.people.remove(&person);
            } else {
                self.people.insert(person, templates);
            }
        }
    }
}

/// One person found by a search. People are ranked by `score`, the cosine
/// with their mean template (the renormalised mean of their templates) less
/// the pack's offset for their number of templates, so that one threshold
/// holds the same FAR for people with one photo or several:
/// measured on lfw-dev with `facegate eval identify --compare`, it misses
/// fewer enrolled people at the same FPIR than the best single template
/// (FNIR at FPIR 1e-2, yunet pack, 96 people: 2.2% against 2.9% with two
/// photos, 1.8% against 2.5% with three), and one vector per person keeps a
/// stranger at one chance per person, as the FPIR calibration assumes. With
/// one template it is that template's score.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GalleryHit {
    pub person_id: String,
    /// Cosine with the person's mean template less the template-count
    /// offset, in `[-1, 1]`.
    pub score: f32,
    /// The best single template's cosine.
    pub best_score: f32,
    pub min_score: f32,
    /// Mean of the templates' cosines (the seed clients report it).
    pub mean_score: f32,
    pub templates: usize,
}

/// Templates per `(organisation, model id)`.
#[derive(Default)]
pub struct Gallery {
    shards: RwLock<HashMap<(String, String), Shard>>,
}

impl Gallery {
    /// Add one template. A dimension that differs from the shard's (a model id
    /// reused for a different network) is refused rather than corrupting search.
    pub fn insert(
        &self,
        org_id: &str,
        model_id: &str,
        template_id: &str,
        person_id: &str,
        embedding: &Embedding,
    ) -> bool {
        let mut shards = self.shards.write();
        let shard = shards
            .entry((org_id.to_string(), model_id.to_string()))
            .or_default();
        if shard.template_ids.is_empty() {
            shard.dim = embedding.dim();
        } else if shard.dim != embedding.dim() {
            tracing::warn!(org_id, model_id, "template dimension mismatch; not indexed");
            return false;
        }
        shard.template_ids.push(template_id.to_string());
        shard.person_ids.push(person_id.to_string());
        shard
            .people
            .entry(person_id.to_string())
            .or_default()
            .add(embedding.as_slice());
        shard.data.extend_from_slice(embedding.as_slice());
        true
    }

    pub fn remove_template(&self, org_id: &str, template_id: &str) {
        self.for_org(org_id, |s| s.remove_where(|t, _| t == template_id));
    }

    pub fn remove_person(&self, org_id: &str, person_id: &str) {
        self.for_org(org_id, |s| s.remove_where(|_, p| p == person_id));
    }

    pub fn remove_org(&self, org_id: &str) {
        self.shards.write().retain(|(o, _), _| o != org_id);
    }

    fn for_org(&self, org_id: &str, mut f: impl FnMut(&mut Shard)) {
        let mut shards = self.shards.write();
        for ((o, _), shard) in shards.iter_mut() {
            if o == org_id {
                f(shard);
            }
        }
    }

    pub fn clear(&self) {
        self.shards.write().clear();
    }

    /// Number of templates held for an organisation and model.
    pub fn len(&self, org_id: &str, model_id: &str) -> usize {
        self.shards
            .read()
            .get(&(org_id.to_string(), model_id.to_string()))
            .map_or(0, |s| s.template_ids.len())
    }

    /// Number of distinct people with a template for an organisation and
    /// model: the `N` of open-set identification (a stranger is compared
    /// with each of them).
    pub fn people(&self, org_id: &str, model_id: &str) -> usize {
        self.shards
            .read()
            .get(&(org_id.to_string(), model_id.to_string()))
            .map_or(0, |s| s.people.len())
    }

    /// Total number of templates across all organisations (for metrics).
    pub fn total(&self) -> usize {
        self.shards
            .read()
            .values()
            .map(|s| s.template_ids.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Exact search: the `top_k` people with the highest [`GalleryHit::score`],
    /// best first. `offsets` are the pack's mean-template offsets for 2, 3,
    /// 4+ templates (`facegate_core::calibration::template_offset`; empty for
    /// raw cosines). No threshold is applied here: the caller decides.
    pub fn search(
        &self,
        org_id: &str,
        model_id: &str,
        query: &Embedding,
        top_k: usize,
        offsets: &[f32],
    ) -> Vec<GalleryHit> {
        let shards = self.shards.read();
        let Some(shard) = shards.get(&(org_id.to_string(), model_id.to_string())) else {
            return Vec::new();
        };
        if shard.dim != query.dim() || top_k == 0 {
            return Vec::new();
        }
        let q = query.as_slice();
        // (max, min, sum, count) per person.
        let mut per_person: HashMap<&str, (f32, f32, f32, usize)> = HashMap::new();
        for (i, person) in shard.person_ids.iter().enumerate() {
            let row = &shard.data[i * shard.dim..(i + 1) * shard.dim];
            let s = dot(q, row);
            let e = per_person
                .entry(person.as_str())
                .or_insert((f32::MIN, f32::MAX, 0.0, 0));
            e.0 = e.0.max(s);
            e.1 = e.1.min(s);
            e.2 += s;
            e.3 += 1;
        }
        let mut hits: Vec<GalleryHit> = per_person
            .into_iter()
            .map(|(p, (max, min, sum, n))| GalleryHit {
                person_id: p.to_string(),
                score: (sum * shard.people.get(p).map_or(0.0, |t| t.inv_norm)
                    - template_offset(offsets, n))
                .clamp(-1.0, 1.0),
                best_score: max,
                min_score: min,
                mean_score: sum / n as f32,
                templates: n,
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.person_id.cmp(&b.person_id))
        });
        hits.truncate(top_k);
        hits
    }

    /// One person's scores against a query (1:1 verification), as
    /// [`Gallery::search`] computes them; `None` when the person has no
    /// template for this model.
    pub fn person_score(
        &self,
        org_id: &str,
        model_id: &str,
        person_id: &str,
        query: &Embedding,
        offsets: &[f32],
    ) -> Option<GalleryHit> {
        let shards = self.shards.read();
        let shard = shards.get(&(org_id.to_string(), model_id.to_string()))?;
        if shard.dim != query.dim() {
            return None;
        }
        let templates = shard.people.get(person_id)?;
        let q = query.as_slice();
        let scores: Vec<f32> = shard
            .person_ids
            .iter()
            .enumerate()
            .filter(|(_, p)| p.as_str() == person_id)
            .map(|(i, _)| dot(q, &shard.data[i * shard.dim..(i + 1) * shard.dim]))
            .collect();
        let sum: f32 = scores.iter().sum();
        Some(GalleryHit {
            person_id: person_id.to_owned(),
            score: (sum * templates.inv_norm - template_offset(offsets, scores.len()))
                .clamp(-1.0, 1.0),
            best_score: scores.iter().copied().fold(f32::MIN, f32::max),
            min_score: scores.iter().copied().fold(f32::MAX, f32::min),
            mean_score: sum / scores.len().max(1) as f32,
            templates: scores.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: &[f32]) -> Embedding {
        Embedding::from_raw(v.to_vec()).unwrap()
    }

    #[test]
    fn search_ranks_people_by_best_template_and_isolates_orgs() {
        let g = Gallery::default();
        g.insert("o1", "m", "t1", "alice", &e(&[1.0, 0.0, 0.0]));
        g.insert("o1", "m", "t2", "alice", &e(&[0.8, 0.6, 0.0]));
        g.insert("o1", "m", "t3", "bob", &e(&[0.0, 1.0, 0.0]));
        g.insert("o2", "m", "t4", "carol", &e(&[1.0, 0.0, 0.0]));
        let hits = g.search("o1", "m", &e(&[1.0, 0.0, 0.0]), 5, &[]);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].person_id, "alice");
        assert!((hits[0].best_score - 1.0).abs() < 1e-6);
        // Mean template (1.8, 0.6)/|..| = (0.949, 0.316): cosine 0.949.
        assert!((hits[0].score - 0.9487).abs() < 1e-3, "{:?}", hits[0]);
        assert!((hits[0].min_score - 0.8).abs() < 1e-6);
        assert!((hits[0].mean_score - 0.9).abs() < 1e-6);
        assert_eq!(hits[0].templates, 2);
        assert_eq!(hits[1].person_id, "bob");
        assert_eq!(g.search("o1", "m", &e(&[1.0, 0.0, 0.0]), 1, &[]).len(), 1);
        assert!(
            g.search("o1", "other-model", &e(&[1.0, 0.0, 0.0]), 5, &[])
                .is_empty()
        );
        assert!(g.search("o3", "m", &e(&[1.0, 0.0, 0.0]), 5, &[]).is_empty());
    }

    #[test]
    fn removal_keeps_rows_aligned() {
        let g = Gallery::default();
        g.insert("o", "m", "t1", "a", &e(&[1.0, 0.0]));
        g.insert("o", "m", "t2", "b", &e(&[0.0, 1.0]));
        g.insert("o", "m", "t3", "c", &e(&[-1.0, 0.0]));
        g.insert("o", "m", "t4", "c", &e(&[-1.0, 0.1]));
        assert_eq!(g.people("o", "m"), 3);
        g.remove_template("o", "t1");
        assert_eq!(g.people("o", "m"), 2, "a has no template left");
        g.remove_template("o", "t4");
        assert_eq!(g.people("o", "m"), 2, "c still has t3");
        let hits = g.search("o", "m", &e(&[0.0, 1.0]), 1, &[]);
        assert_eq!(hits[0].person_id, "b");
        let v = g
            .person_score("o", "m", "b", &e(&[0.0, 1.0]), &[])
            .expect("b");
        assert!((v.score - 1.0).abs() < 1e-6 && v.templates == 1);
        assert!(
            g.person_score("o", "m", "nobody", &e(&[0.0, 1.0]), &[])
                .is_none()
        );
        g.remove_person("o", "b");
        let hits = g.search("o", "m", &e(&[-1.0, 0.0]), 5, &[]);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].person_id, "c");
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert_eq!(g.people("o", "m"), 1);
        assert_eq!(g.people("o", "other"), 0);
        assert!(
            !g.insert("o", "m", "t9", "d", &e(&[1.0, 0.0, 0.0])),
            "dimension mismatch refused"
        );
        assert_eq!(g.total(), 1);
    }
}

#[cfg(test)]
mod mean_template_tests {
    use super::*;

    fn e(v: &[f32]) -> Embedding {
        Embedding::from_raw(v.to_vec()).unwrap()
    }

    /// One stray template (a wrong photo enrolled) pulls a best-template
    /// search to whoever resembles it; the mean template holds.
    #[test]
    fn removal_rebuilds_the_mean_template() {
        let g = Gallery::default();
        g.insert("o", "m", "t1", "a", &e(&[1.0, 0.0, 0.0]));
        g.insert("o", "m", "t2", "a", &e(&[0.0, 1.0, 0.0]));
        let q = e(&[1.0, 0.0, 0.0]);
        let before = g.search("o", "m", &q, 1, &[])[0].score;
        let offset = g.search("o", "m", &q, 1, &[0.05])[0].score;
        assert!(
            (before - offset - 0.05).abs() < 1e-6,
            "two templates: the offset applies"
        );
        assert!((before - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
        g.remove_template("o", "t2");
        let after = g.search("o", "m", &q, 1, &[0.05])[0].score;
        assert!((after - 1.0).abs() < 1e-6, "{after}");
        assert_eq!(g.people("o", "m"), 1);
    }
}
