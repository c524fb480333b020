//! The in-memory gallery: every active template, grouped by organisation and
//! model, in one contiguous `f32` matrix per group so that an exact cosine
//! search is a single linear scan (10,000 × 128-d is ~1.3 M multiply-adds,
//! well under a millisecond). Embeddings are L2-normalised, so the dot
//! product is the cosine similarity.
//!
//! The database is the source of truth; the gallery is loaded from it at start
//! and updated by the store right after each committed write.

use std::collections::HashMap;

use facegate_core::{Embedding, dot};
use parking_lot::RwLock;
use serde::Serialize;

#[derive(Default)]
struct Shard {
    dim: usize,
    template_ids: Vec<String>,
    person_ids: Vec<String>,
    data: Vec<f32>,
}

impl Shard {
    fn remove_where(&mut self, mut pred: impl FnMut(&str, &str) -> bool) {
        let mut keep = 0;
        for i in 0..self.template_ids.len() {
            if !pred(&self.template_ids[i], &self.person_ids[i]) {
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
    }
}

/// One person found by a search: their best template score, plus the min and
/// mean over all of their templates (the seed clients report those).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GalleryHit {
    pub person_id: String,
    pub score: f32,
    pub min_score: f32,
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

    /// Exact search: the `top_k` people with the highest best-template score,
    /// best first. No threshold is applied here: the caller decides.
    pub fn search(
        &self,
        org_id: &str,
        model_id: &str,
        query: &Embedding,
        top_k: usize,
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
                score: max,
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

    /// Scores of one person's templates against a query (for 1:1 verify).
    pub fn person_scores(
        &self,
        org_id: &str,
        model_id: &str,
        person_id: &str,
        query: &Embedding,
    ) -> Vec<f32> {
        let shards = self.shards.read();
        let Some(shard) = shards.get(&(org_id.to_string(), model_id.to_string())) else {
            return Vec::new();
        };
        if shard.dim != query.dim() {
            return Vec::new();
        }
        shard
            .person_ids
            .iter()
            .enumerate()
            .filter(|(_, p)| p.as_str() == person_id)
            .map(|(i, _)| {
                dot(
                    query.as_slice(),
                    &shard.data[i * shard.dim..(i + 1) * shard.dim],
                )
            })
            .collect()
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
        let hits = g.search("o1", "m", &e(&[1.0, 0.0, 0.0]), 5);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].person_id, "alice");
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert!((hits[0].min_score - 0.8).abs() < 1e-6);
        assert!((hits[0].mean_score - 0.9).abs() < 1e-6);
        assert_eq!(hits[0].templates, 2);
        assert_eq!(hits[1].person_id, "bob");
        assert_eq!(g.search("o1", "m", &e(&[1.0, 0.0, 0.0]), 1).len(), 1);
        assert!(
            g.search("o1", "other-model", &e(&[1.0, 0.0, 0.0]), 5)
                .is_empty()
        );
        assert!(g.search("o3", "m", &e(&[1.0, 0.0, 0.0]), 5).is_empty());
    }

    #[test]
    fn removal_keeps_rows_aligned() {
        let g = Gallery::default();
        g.insert("o", "m", "t1", "a", &e(&[1.0, 0.0]));
        g.insert("o", "m", "t2", "b", &e(&[0.0, 1.0]));
        g.insert("o", "m", "t3", "c", &e(&[-1.0, 0.0]));
        g.remove_template("o", "t1");
        let hits = g.search("o", "m", &e(&[0.0, 1.0]), 1);
        assert_eq!(hits[0].person_id, "b");
        g.remove_person("o", "b");
        let hits = g.search("o", "m", &e(&[-1.0, 0.0]), 5);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].person_id, "c");
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert!(
            !g.insert("o", "m", "t9", "d", &e(&[1.0, 0.0, 0.0])),
            "dimension mismatch refused"
        );
        assert_eq!(g.total(), 1);
    }
}
