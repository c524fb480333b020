//! Presentation-attack detection error rates in ISO/IEC 30107-3 terms.
//!
//! * **APCER** (attack presentation classification error rate), per
//!   presentation-attack-instrument species (`print`, `screen`, ...): the
//!   share of that species' attacks accepted as bona fide. The reported
//!   APCER is the worst species'.
//! * **BPCER** (bona fide presentation classification error rate): the share
//!   of live presentations rejected as attacks.
//! * **ACER** = (worst APCER + BPCER) / 2 — defined in the 2017 edition and
//!   deprecated in 2023, still what papers quote, so reported with the rest.
//! * **BPCER at APCER = 5 %** (BPCER20): the BPCER at the lowest threshold
//!   whose worst-species APCER is at most 5 %.
//!
//! A presentation is classified bona fide when its live score is at least
//! the threshold.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Ground truth of one presentation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Truth {
    BonaFide,
    /// An attack, with its instrument species (`print`, `screen`, ...).
    Attack(String),
}

impl Truth {
    /// Parse a label: `live` (or `bona-fide`) or `spoof-<species>`.
    pub fn parse(label: &str) -> Option<Self> {
        let label = label.trim().to_ascii_lowercase();
        match label.as_str() {
            "live" | "bona-fide" | "bonafide" | "real" => Some(Self::BonaFide),
            "spoof" | "attack" => Some(Self::Attack("unspecified".into())),
            _ => label
                .strip_prefix("spoof-")
                .or_else(|| label.strip_prefix("attack-"))
                .filter(|s| !s.is_empty())
                .map(|s| Self::Attack(s.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PadReport {
    /// Live score at or above which a presentation is classified bona fide.
    pub threshold: f32,
    pub bona_fide: usize,
    pub attacks: usize,
    /// APCER per attack species.
    pub apcer_per_species: BTreeMap<String, f32>,
    /// Worst-species APCER.
    pub apcer: f32,
    pub bpcer: f32,
    pub acer: f32,
    /// Share of all presentations classified right.
    pub accuracy: f32,
    /// BPCER at the lowest threshold with worst APCER ≤ 5 % (None without
    /// both classes).
    pub bpcer_at_apcer_5: Option<f32>,
    pub threshold_at_apcer_5: Option<f32>,
    /// Equal error rate of worst APCER and BPCER over all thresholds, a
    /// threshold-free figure for comparing scores.
    pub eer: Option<f32>,
}

/// Error rates of `samples` (live score, truth) at `threshold`.
pub fn evaluate(samples: &[(f32, Truth)], threshold: f32) -> PadReport {
    let at = rates(samples, threshold);
    let bona_fide = samples
        .iter()
        .filter(|(_, t)| *t == Truth::BonaFide)
        .count();
    let attacks = samples.len() - bona_fide;
    let correct = samples
        .iter()
        .filter(|(s, t)| (*s >= threshold) == (*t == Truth::BonaFide))
        .count();
    let (mut bpcer20, mut t20, mut eer) = (None, None, None);
    if bona_fide > 0 && attacks > 0 {
        // Candidate thresholds: every score, and just above the highest.
        let mut candidates: Vec<f32> = samples
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| s.is_finite())
            .collect();
        candidates.sort_by(f32::total_cmp);
        candidates.dedup();
        if let Some(&top) = candidates.last() {
            candidates.push(top + 1e-6_f32.max(top.abs() * 1e-6));
        }
        let mut best_gap = f32::INFINITY;
        for &t in &candidates {
            let r = rates(samples, t);
            if t20.is_none() && r.apcer <= 0.05 {
                t20 = Some(t);
                bpcer20 = Some(r.bpcer);
            }
            let gap = (r.apcer - r.bpcer).abs();
            if gap < best_gap {
                best_gap = gap;
                eer = Some((r.apcer + r.bpcer) / 2.0);
            }
        }
    }
    PadReport {
        threshold,
        bona_fide,
        attacks,
        apcer: at.apcer,
        bpcer: at.bpcer,
        acer: (at.apcer + at.bpcer) / 2.0,
        apcer_per_species: at.per_species,
        accuracy: if samples.is_empty() {
            0.0
        } else {
            correct as f32 / samples.len() as f32
        },
        bpcer_at_apcer_5: bpcer20,
        threshold_at_apcer_5: t20,
        eer,
    }
}

struct Rates {
    per_species: BTreeMap<String, f32>,
    apcer: f32,
    bpcer: f32,
}

fn rates(samples: &[(f32, Truth)], threshold: f32) -> Rates {
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut live, mut rejected) = (0usize, 0usize);
    for (score, truth) in samples {
        let accepted = *score >= threshold;
        match truth {
            Truth::BonaFide => {
                live += 1;
                rejected += usize::from(!accepted);
            }
            Truth::Attack(species) => {
                let e = counts.entry(species.clone()).or_default();
                e.0 += 1;
                e.1 += usize::from(accepted);
            }
        }
    }
    let per_species: BTreeMap<String, f32> = counts
        .into_iter()
        .map(|(k, (n, a))| (k, a as f32 / n as f32))
        .collect();
    let apcer = per_species.values().copied().fold(0.0, f32::max);
    let bpcer = if live == 0 {
        0.0
    } else {
        rejected as f32 / live as f32
    };
    Rates {
        per_species,
        apcer,
        bpcer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attack(s: &str) -> Truth {
        Truth::Attack(s.into())
    }

    #[test]
    fn labels_parse() {
        assert_eq!(Truth::parse("live"), Some(Truth::BonaFide));
        assert_eq!(Truth::parse("spoof-print"), Some(attack("print")));
        assert_eq!(Truth::parse(" Spoof-Screen "), Some(attack("screen")));
        assert_eq!(Truth::parse("spoof-"), None);
        assert_eq!(Truth::parse("maybe"), None);
    }

    #[test]
    fn rates_follow_the_iso_definitions() {
        let samples = vec![
            (0.9, Truth::BonaFide),
            (0.8, Truth::BonaFide),
            (0.3, Truth::BonaFide), // rejected
            (0.6, attack("print")), // accepted
            (0.1, attack("print")),
            (0.2, attack("screen")),
            (0.1, attack("screen")),
        ];
        let r = evaluate(&samples, 0.5);
        assert_eq!(r.apcer_per_species["print"], 0.5);
        assert_eq!(r.apcer_per_species["screen"], 0.0);
        assert_eq!(r.apcer, 0.5);
        assert!((r.bpcer - 1.0 / 3.0).abs() < 1e-6);
        assert!((r.acer - (0.5 + 1.0 / 3.0) / 2.0).abs() < 1e-6);
        assert!((r.accuracy - 5.0 / 7.0).abs() < 1e-6);
        // APCER ≤ 5 % needs the threshold above 0.6: two live faces remain.
        assert_eq!(r.threshold_at_apcer_5, Some(0.8));
        assert!((r.bpcer_at_apcer_5.unwrap_or(1.0) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn one_class_has_no_bpcer20() {
        let r = evaluate(&[(0.9, Truth::BonaFide)], 0.5);
        assert_eq!(r.bpcer_at_apcer_5, None);
        assert_eq!(r.apcer, 0.0);
    }
}
