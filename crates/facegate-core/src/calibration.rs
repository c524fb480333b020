//! Open-set operating points: from a measured false-accept curve to the
//! threshold that keeps a 1:N search at a target false-positive
//! identification rate.
//!
//! A pack ships a [`FarCurve`]: for a ladder of per-comparison false-accept
//! rates (FAR), the cosine threshold that reaches it on impostor pairs and the
//! true-accept rate (TAR) there on genuine pairs. An identification compares
//! a probe with every one of `N` enrolled people, so a stranger gets `N`
//! chances to pass; if the comparisons were independent,
//!
//! ```text
//! FPIR = 1 − (1 − FAR)^N   ⇔   FAR = 1 − (1 − FPIR)^(1/N)
//! ```
//!
//! (ISO/IEC 19795-1's relation between the 1:1 and the open-set 1:N rates
//! for a gallery of `N` entries). [`FarCurve::for_fpir`] applies it and reads
//! the threshold for that FAR off the curve: linear in `log10(FAR)` between
//! measured points, and below the lowest measured FAR, a straight line fitted
//! to the last decades of the curve. Impostor score tails of face embeddings
//! fall at least that fast (they are closer to Gaussian than to exponential),
//! so the extrapolated threshold errs on the strict side; answers say when a
//! threshold was extrapolated.

use serde::{Deserialize, Serialize};

/// Default target FPIR for access decisions: one stranger in a thousand
/// named as someone enrolled. Attendance may choose a looser one.
pub const DEFAULT_FPIR: f64 = 1e-3;

/// Default ambiguity margin (cosine): when the best two enrolled people
/// score closer than this, neither is named (see [`decide`]).
pub const DEFAULT_MARGIN: f32 = 0.0;

/// The offset to subtract from the cosine with a person's mean template of
/// `templates` photos, from a pack's `offsets` for 2, 3, 4+ photos (the
/// last one serves every larger count). The mean of several photos is a
/// sharper template: genuine *and* impostor scores rise, so without it a
/// threshold calibrated on one-photo pairs would accept more strangers
/// than its FPIR says. 0 for one template or a pack without offsets.
pub fn template_offset(offsets: &[f32], templates: usize) -> f32 {
    if templates < 2 || offsets.is_empty() {
        return 0.0;
    }
    offsets[(templates - 2).min(offsets.len() - 1)]
}

/// The open-set answer for one face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The best person reached the threshold, clear of the runner-up.
    Match,
    /// The best person reached the threshold, but the second-best is within
    /// the margin: naming either would be a guess.
    Ambiguous,
    /// Nobody reached the threshold.
    Unknown,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Match => "match",
            Decision::Ambiguous => "ambiguous",
            Decision::Unknown => "unknown",
        }
    }
}

/// Decide from the best and second-best *people's* scores (not templates:
/// two photos of one person are no ambiguity). `margin <= 0` disables the
/// ambiguity rule.
pub fn decide(best: Option<f32>, second: Option<f32>, threshold: f32, margin: f32) -> Decision {
    match best {
        Some(b) if b >= threshold => {
            if margin > 0.0 && second.is_some_and(|s| b - s < margin) {
                Decision::Ambiguous
            } else {
                Decision::Match
            }
        }
        _ => Decision::Unknown,
    }
}

/// One measured point of a FAR curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FarPoint {
    /// Per-comparison false-accept rate, in `(0, 1)`.
    pub far: f64,
    /// Cosine similarity in `[-1, 1]`: scores at or above it are accepted.
    pub threshold: f32,
    /// True-accept rate on genuine pairs at that threshold, in `[0, 1]`.
    pub tar: f64,
}

/// Why a curve or an operating point was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    #[error("a FAR curve needs at least two points")]
    TooFewPoints,
    #[error("FAR curve point {index}: far must be in (0, 1), tar in [0, 1], threshold in [-1, 1]")]
    OutOfRange { index: usize },
    #[error(
        "FAR curve point {index}: FAR must fall and the threshold rise from one point to the next"
    )]
    NotMonotonic { index: usize },
    #[error("FPIR must be a number in (0, 1), got {0}")]
    BadFpir(f64),
}

/// The threshold an identification used and what it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// Cosine similarity at or above which the best candidate is named.
    pub threshold: f32,
    /// The false-positive identification rate the threshold was chosen for.
    pub fpir: f64,
    /// The per-comparison FAR that FPIR implies for this gallery size.
    pub far: f64,
    /// Enrolled people the FPIR was computed for (at least 1).
    pub gallery_size: usize,
    /// TAR on genuine pairs at the threshold, read off the curve (the
    /// one-photo, one-probe verification rate: a lower bound of what several
    /// templates give); `None` when the threshold was extrapolated, where
    /// the curve has no genuine scores to say.
    pub tar: Option<f64>,
    /// The FAR lies below the lowest measured point of the curve.
    pub extrapolated: bool,
}

/// A false-accept curve: points ordered by falling FAR (rising threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<FarPoint>", into = "Vec<FarPoint>")]
pub struct FarCurve {
    points: Vec<FarPoint>,
}

impl TryFrom<Vec<FarPoint>> for FarCurve {
    type Error = CalibrationError;
    fn try_from(points: Vec<FarPoint>) -> Result<Self, Self::Error> {
        Self::new(points)
    }
}

impl From<FarCurve> for Vec<FarPoint> {
    fn from(curve: FarCurve) -> Self {
        curve.points
    }
}

/// `1 − (1 − fpir)^(1/n)`, computed without cancellation for tiny rates.
///
/// # Panics
/// Never; `n = 0` is treated as 1.
pub fn far_for_fpir(fpir: f64, gallery_size: usize) -> f64 {
    let n = gallery_size.max(1) as f64;
    -((-fpir).ln_1p() / n).exp_m1()
}

/// `1 − (1 − far)^n`: the FPIR a per-comparison FAR gives over `n` people.
pub fn fpir_for_far(far: f64, gallery_size: usize) -> f64 {
    let n = gallery_size.max(1) as f64;
    -((-far).ln_1p() * n).exp_m1()
}

impl FarCurve {
    /// Check and wrap measured points (see [`FarCurve::measure`]).
    ///
    /// # Errors
    /// Fewer than two points, a value out of range, or points not ordered by
    /// falling FAR and rising threshold.
    pub fn new(points: Vec<FarPoint>) -> Result<Self, CalibrationError> {
        if points.len() < 2 {
            return Err(CalibrationError::TooFewPoints);
        }
        for (index, p) in points.iter().enumerate() {
            let in_range = p.far > 0.0
                && p.far < 1.0
                && (0.0..=1.0).contains(&p.tar)
                && (-1.0..=1.0).contains(&p.threshold);
            if !in_range {
                return Err(CalibrationError::OutOfRange { index });
            }
            if index > 0 {
                let prev = &points[index - 1];
                if !(p.far < prev.far && p.threshold >= prev.threshold) {
                    return Err(CalibrationError::NotMonotonic { index });
                }
            }
        }
        Ok(Self { points })
    }

    /// Measure a curve from impostor (different-person) and genuine
    /// (same-person) cosine scores at each FAR of `fars` that the number of
    /// impostor pairs can resolve (at least one impostor above the threshold
    /// would be allowed). Each threshold lies halfway between the highest
    /// impostor score it rejects and the next one, so the FAR reached is at
    /// most the target.
    ///
    /// Returns `None` when fewer than two of `fars` can be resolved.
    pub fn measure(impostor: &[f32], genuine: &[f32], fars: &[f64]) -> Option<Self> {
        let mut negatives: Vec<f32> = impostor.iter().copied().filter(|s| s.is_finite()).collect();
        negatives.sort_unstable_by(|a, b| b.total_cmp(a));
        let mut positives: Vec<f32> = genuine.iter().copied().filter(|s| s.is_finite()).collect();
        positives.sort_unstable_by(f32::total_cmp);
        if negatives.is_empty() || positives.is_empty() {
            return None;
        }
        let mut fars: Vec<f64> = fars
            .iter()
            .copied()
            .filter(|f| *f > 0.0 && *f < 1.0)
            .collect();
        fars.sort_by(|a, b| b.total_cmp(a));
        fars.dedup();
        let mut points = Vec::new();
        for far in fars {
            // Impostors allowed above the threshold.
            let allowed = (far * negatives.len() as f64).floor() as usize;
            if allowed == 0 || allowed >= negatives.len() {
                continue;
            }
            let threshold = (negatives[allowed - 1] + negatives[allowed]) / 2.0;
            // Accepted: scores >= threshold; positives is ascending.
            let rejected = positives.partition_point(|&s| s < threshold);
            let tar = (positives.len() - rejected) as f64 / positives.len() as f64;
            let point = FarPoint {
                far,
                threshold,
                tar,
            };
            // Ties in the impostor scores can make two targets share a threshold.
            if points
                .last()
                .is_some_and(|p: &FarPoint| p.threshold >= threshold)
            {
                continue;
            }
            points.push(point);
        }
        Self::new(points).ok()
    }

    pub fn points(&self) -> &[FarPoint] {
        &self.points
    }

    /// The lowest FAR the curve measured.
    pub fn lowest_measured_far(&self) -> f64 {
        self.points.last().map_or(1.0, |p| p.far)
    }

    /// The threshold for a per-comparison FAR, and whether it was extrapolated
    /// past the lowest measured point. FARs above the highest measured one
    /// get that point's threshold (a floor: looser thresholds are never
    /// handed out by the curve).
    pub fn threshold_at_far(&self, far: f64) -> (f32, bool) {
        let first = self.points[0];
        if !(far.is_finite() && far < first.far) {
            return (first.threshold, false);
        }
        let x = far.max(f64::MIN_POSITIVE).log10();
        for w in self.points.windows(2) {
            let (hi, lo) = (w[0], w[1]);
            if far >= lo.far {
                let (x0, x1) = (hi.far.log10(), lo.far.log10());
                let f = (x - x0) / (x1 - x0);
                let t = f64::from(hi.threshold) + f * f64::from(lo.threshold - hi.threshold);
                return (t as f32, false);
            }
        }
        let slope = self.tail_slope();
        let last = self.points[self.points.len() - 1];
        let t = f64::from(last.threshold) + slope * (x - last.far.log10());
        (t.min(1.0) as f32, true)
    }

    /// TAR at a threshold, interpolated between the measured points; `None`
    /// past the last point, where the curve cannot say.
    pub fn tar_at_threshold(&self, threshold: f32) -> Option<f64> {
        let first = self.points[0];
        if threshold <= first.threshold {
            return Some(first.tar);
        }
        for w in self.points.windows(2) {
            let (a, b) = (w[0], w[1]);
            if threshold <= b.threshold {
                let span = b.threshold - a.threshold;
                if span <= 0.0 {
                    return Some(b.tar);
                }
                let f = f64::from((threshold - a.threshold) / span);
                return Some(a.tar + f * (b.tar - a.tar));
            }
        }
        None
    }

    /// Threshold units per decade of FAR (negative: lower FAR, higher
    /// threshold), least-squares over the points of the last three decades.
    fn tail_slope(&self) -> f64 {
        let last_x = self.lowest_measured_far().log10();
        let tail: Vec<(f64, f64)> = self
            .points
            .iter()
            .map(|p| (p.far.log10(), f64::from(p.threshold)))
            .filter(|(x, _)| *x <= last_x + 3.0)
            .collect();
        let n = tail.len() as f64;
        let mx = tail.iter().map(|p| p.0).sum::<f64>() / n;
        let my = tail.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = tail.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = tail.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx <= 0.0 {
            return 0.0;
        }
        // Never let a noisy tail point the wrong way: a lower FAR must not
        // lower the threshold.
        (sxy / sxx).min(0.0)
    }

    /// The operating point for a target FPIR over `gallery_size` people.
    ///
    /// # Errors
    /// `fpir` outside `(0, 1)`.
    pub fn for_fpir(
        &self,
        fpir: f64,
        gallery_size: usize,
    ) -> Result<OperatingPoint, CalibrationError> {
        if !(fpir.is_finite() && fpir > 0.0 && fpir < 1.0) {
            return Err(CalibrationError::BadFpir(fpir));
        }
        let gallery_size = gallery_size.max(1);
        let far = far_for_fpir(fpir, gallery_size);
        let (threshold, extrapolated) = self.threshold_at_far(far);
        Ok(OperatingPoint {
            threshold,
            fpir,
            far,
            gallery_size,
            tar: self.tar_at_threshold(threshold),
            extrapolated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> FarCurve {
        FarCurve::new(vec![
            FarPoint {
                far: 1e-2,
                threshold: 0.4,
                tar: 0.999,
            },
            FarPoint {
                far: 1e-3,
                threshold: 0.5,
                tar: 0.99,
            },
            FarPoint {
                far: 1e-4,
                threshold: 0.6,
                tar: 0.97,
            },
        ])
        .unwrap()
    }

    #[test]
    fn template_offsets_by_count() {
        let offsets = [0.01, 0.02, 0.03];
        assert_eq!(template_offset(&offsets, 0), 0.0);
        assert_eq!(template_offset(&offsets, 1), 0.0);
        assert_eq!(template_offset(&offsets, 2), 0.01);
        assert_eq!(template_offset(&offsets, 4), 0.03);
        assert_eq!(template_offset(&offsets, 40), 0.03);
        assert_eq!(template_offset(&[], 5), 0.0);
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(Some(0.8), Some(0.5), 0.7, 0.05), Decision::Match);
        assert_eq!(
            decide(Some(0.8), Some(0.78), 0.7, 0.05),
            Decision::Ambiguous
        );
        assert_eq!(decide(Some(0.8), Some(0.78), 0.7, 0.0), Decision::Match);
        assert_eq!(decide(Some(0.8), None, 0.7, 0.05), Decision::Match);
        assert_eq!(decide(Some(0.6), Some(0.1), 0.7, 0.05), Decision::Unknown);
        assert_eq!(decide(None, None, 0.7, 0.05), Decision::Unknown);
        assert_eq!(Decision::Ambiguous.as_str(), "ambiguous");
    }

    #[test]
    fn fpir_and_far_are_inverse() {
        for n in [1usize, 5, 300, 1_000_000] {
            for fpir in [1e-1, 1e-3, 1e-6] {
                let far = far_for_fpir(fpir, n);
                assert!((fpir_for_far(far, n) - fpir).abs() / fpir < 1e-9);
                // For small rates FAR ≈ FPIR / N.
                assert!((far * n as f64 / fpir - 1.0).abs() < 0.06, "{n} {fpir}");
            }
        }
        assert_eq!(far_for_fpir(1e-3, 0), far_for_fpir(1e-3, 1));
    }

    #[test]
    fn interpolates_in_log_far_and_extrapolates_the_tail() {
        let c = curve();
        let (t, x) = c.threshold_at_far(1e-3);
        assert!((t - 0.5).abs() < 1e-6 && !x);
        let (t, x) = c.threshold_at_far(10f64.powf(-3.5));
        assert!((t - 0.55).abs() < 1e-5 && !x);
        let (t, x) = c.threshold_at_far(1e-6);
        assert!((t - 0.8).abs() < 1e-5 && x, "{t}");
        // Looser than the curve's first point: the first point is a floor.
        assert_eq!(c.threshold_at_far(0.5), (0.4, false));
        assert!(c.threshold_at_far(1e-300).0 <= 1.0);
    }

    #[test]
    fn larger_galleries_need_higher_thresholds() {
        let c = curve();
        let small = c.for_fpir(1e-3, 1).unwrap();
        let big = c.for_fpir(1e-3, 100).unwrap();
        assert!(big.threshold > small.threshold);
        assert!(big.tar.is_none() && small.tar.is_some_and(|t| t > 0.98));
        let mid = c.for_fpir(1e-3, 3).unwrap();
        assert!(mid.tar.is_some_and(|t| t < 0.99 && t > 0.97), "{mid:?}");
        assert!((big.far - 1e-5).abs() < 1e-7);
        assert!(big.extrapolated && !small.extrapolated);
        assert_eq!(
            c.for_fpir(0.0, 5).unwrap_err(),
            CalibrationError::BadFpir(0.0)
        );
        assert!(c.for_fpir(f64::NAN, 5).is_err());
        assert!(c.for_fpir(1.0, 5).is_err());
    }

    #[test]
    fn measures_thresholds_from_scores() {
        // 1000 impostors spread over [0, 0.999], genuines at 0.9.
        let impostor: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let genuine = vec![0.9f32; 10];
        let c = FarCurve::measure(&impostor, &genuine, &[1e-1, 1e-2, 1e-3, 1e-4]).unwrap();
        assert_eq!(c.points().len(), 3, "1e-4 is below this resolution");
        let p = c.points()[1];
        assert_eq!(p.far, 1e-2);
        // 10 impostors (0.990..0.999) allowed above; threshold between 0.989 and 0.990.
        assert!(p.threshold > 0.989 && p.threshold < 0.990);
        assert_eq!(p.tar, 0.0);
        assert_eq!(c.points()[0].tar, 1.0);
        assert!(FarCurve::measure(&[], &genuine, &[0.1]).is_none());
    }

    #[test]
    fn refuses_bad_curves() {
        let p = |far, threshold| FarPoint {
            far,
            threshold,
            tar: 0.5,
        };
        assert_eq!(
            FarCurve::new(vec![p(1e-2, 0.4)]),
            Err(CalibrationError::TooFewPoints)
        );
        assert_eq!(
            FarCurve::new(vec![p(1e-2, 0.4), p(1e-3, 0.3)]),
            Err(CalibrationError::NotMonotonic { index: 1 })
        );
        assert_eq!(
            FarCurve::new(vec![p(1e-2, 0.4), p(2.0, 0.5)]),
            Err(CalibrationError::OutOfRange { index: 1 })
        );
        let json =
            r#"[{"far":0.01,"threshold":0.4,"tar":0.9},{"far":0.001,"threshold":0.3,"tar":0.8}]"#;
        assert!(serde_json::from_str::<FarCurve>(json).is_err());
    }
}
