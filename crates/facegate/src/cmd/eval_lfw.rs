//! `eval lfw`: verification accuracy on the standard LFW View 2 protocol.
//!
//! Accuracy is k-fold: for each fold, the threshold is the one that is most
//! accurate on the *other* folds, and the fold is scored at it.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{Context, bail};
use facegate_core::{Embedding, FarCurve};
use facegate_vision::session::{Threading, available_cores};
use serde::Serialize;

use super::Ctx;
use super::lfw_set::{self, image_path};
use crate::cli::EvalLfwArgs;
use crate::output::print_json;

#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub fold: usize,
    pub a: (String, u32),
    pub b: (String, u32),
    pub same: bool,
}

/// Parse the LFW pairs format: a `folds n` header, then per fold `n`
/// matched lines `name i j` and `n` mismatched lines `name1 i name2 j`.
pub fn parse_pairs(text: &str) -> anyhow::Result<Vec<Pair>> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines.next().context("pairs file is empty")?;
    let nums: Vec<usize> = header
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("bad header")?;
    let [folds, per_class] = nums[..] else {
        bail!("header must be `folds n`, got {header:?}")
    };
    let mut pairs = Vec::with_capacity(folds * per_class * 2);
    for fold in 0..folds {
        for k in 0..2 * per_class {
            let line = lines
                .next()
                .with_context(|| format!("pairs file ends early in fold {}", fold + 1))?;
            let f: Vec<&str> = line.split_whitespace().collect();
            let num = |s: &str| {
                s.parse::<u32>()
                    .with_context(|| format!("bad image number in {line:?}"))
            };
            let pair = match (k < per_class, f.as_slice()) {
                (true, [name, i, j]) => Pair {
                    fold,
                    a: (name.to_string(), num(i)?),
                    b: (name.to_string(), num(j)?),
                    same: true,
                },
                (false, [n1, i, n2, j]) => Pair {
                    fold,
                    a: (n1.to_string(), num(i)?),
                    b: (n2.to_string(), num(j)?),
                    same: false,
                },
                _ => bail!("unexpected pairs line {line:?} in fold {}", fold + 1),
            };
            pairs.push(pair);
        }
    }
    Ok(pairs)
}

#[derive(Debug, Serialize)]
pub struct LfwReport {
    pub pack: String,
    pub model: String,
    pub pairs: usize,
    pub folds: usize,
    pub images: usize,
    pub accuracy: f64,
    pub accuracy_std: f64,
    pub fold_accuracies: Vec<f64>,
    /// Best threshold over all pairs (what a pack should ship).
    pub threshold: f32,
    pub tar_at_far_1e3: f64,
    pub far_resolution: f64,
    /// TAR at lower FARs, over every pair of the images the pairs file names
    /// (all same-person pairs against all different-person pairs, about 1.25
    /// million for lfw-dev), where that many impostor pairs resolve the FAR.
    pub all_pairs: AllPairs,
    pub failed_to_detect: usize,
    pub images_per_second: f64,
    pub cores: usize,
}

#[derive(Debug, Serialize)]
pub struct AllPairs {
    pub genuine: usize,
    pub impostor: usize,
    pub tar_at_far_1e3: Option<f64>,
    pub tar_at_far_1e4: Option<f64>,
    pub tar_at_far_1e5: Option<f64>,
}

pub fn run(ctx: &Ctx, args: EvalLfwArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.pairs)
        .with_context(|| format!("reading {}", args.pairs.display()))?;
    let pairs = parse_pairs(&text)?;
    let cores = available_cores();
    let engine = ctx.engine(Threading::per_core())?;
    let images: BTreeSet<(String, u32)> = pairs
        .iter()
        .flat_map(|p| [p.a.clone(), p.b.clone()])
        .collect();
    let set = lfw_set::embed(
        &engine,
        &ctx.pack,
        &args.root,
        images.into_iter().collect(),
        args.embeddings.as_deref(),
    )?;
    let index = set.index();
    let embedding = |key: &(String, u32)| -> anyhow::Result<&Embedding> {
        index
            .get(key)
            .map(|&i| &set.embeddings[i])
            .with_context(|| format!("{} was not embedded", image_path(&args.root, key).display()))
    };
    let scores: Vec<(usize, f32, bool)> = pairs
        .iter()
        .map(|p| Ok((p.fold, embedding(&p.a)?.cosine(embedding(&p.b)?)?, p.same)))
        .collect::<anyhow::Result<_>>()?;

    let folds = pairs.iter().map(|p| p.fold).max().map_or(0, |f| f + 1);
    let fold_accuracies: Vec<f64> = (0..folds)
        .map(|k| {
            let train: Vec<(f32, bool)> = scores
                .iter()
                .filter(|s| s.0 != k)
                .map(|s| (s.1, s.2))
                .collect();
            let test: Vec<(f32, bool)> = scores
                .iter()
                .filter(|s| s.0 == k)
                .map(|s| (s.1, s.2))
                .collect();
            // With a single fold there is nothing else to train on: use it (optimistic, flagged by folds = 1).
            let threshold = best_threshold(if train.is_empty() { &test } else { &train });
            accuracy(&test, threshold)
        })
        .collect();
    let mean = fold_accuracies.iter().sum::<f64>() / folds.max(1) as f64;
    let std = (fold_accuracies
        .iter()
        .map(|a| (a - mean).powi(2))
        .sum::<f64>()
        / folds.max(1) as f64)
        .sqrt();
    let all: Vec<(f32, bool)> = scores.iter().map(|s| (s.1, s.2)).collect();
    let (tar, far_resolution) = tar_at_far(&all, 1e-3);
    let (impostor, genuine) = set.all_pair_scores();
    let curve = FarCurve::measure(&impostor, &genuine, &[1e-3, 1e-4, 1e-5]);
    let at = |far: f64| {
        curve
            .as_ref()
            .and_then(|c| c.points().iter().find(|p| p.far == far))
            .map(|p| p.tar)
    };
    let all_pairs = AllPairs {
        genuine: genuine.len(),
        impostor: impostor.len(),
        tar_at_far_1e3: at(1e-3),
        tar_at_far_1e4: at(1e-4),
        tar_at_far_1e5: at(1e-5),
    };
    let report = LfwReport {
        pack: ctx.pack.clone(),
        model: engine.model_id().to_owned(),
        pairs: pairs.len(),
        folds,
        images: set.keys.len(),
        accuracy: mean,
        accuracy_std: std,
        fold_accuracies,
        threshold: best_threshold(&all),
        tar_at_far_1e3: tar,
        far_resolution,
        all_pairs,
        failed_to_detect: set.failed_to_detect,
        images_per_second: if set.seconds > 0.0 {
            set.keys.len() as f64 / set.seconds
        } else {
            f64::NAN
        },
        cores,
    };
    if let Some(svg) = &args.plot {
        std::fs::write(svg, super::plot::roc_svg(&all, &report))
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    if ctx.json {
        print_json(&report)?;
    } else {
        println!("pack {} ({})", report.pack, report.model);
        println!(
            "pairs {} in {} folds, {} images, {} failed to detect",
            report.pairs, report.folds, report.images, report.failed_to_detect
        );
        println!(
            "accuracy {:.2}% ± {:.2}",
            100.0 * report.accuracy,
            100.0 * report.accuracy_std
        );
        println!(
            "TAR@FAR=1e-3 {:.2}% (FAR resolution {:.1e})",
            100.0 * report.tar_at_far_1e3,
            report.far_resolution
        );
        let pct = |t: Option<f64>| t.map_or("n/a".to_owned(), |t| format!("{:.2}%", 100.0 * t));
        let a = &report.all_pairs;
        println!(
            "all {} genuine / {} impostor pairs: TAR@FAR=1e-3 {}, 1e-4 {}, 1e-5 {}",
            a.genuine,
            a.impostor,
            pct(a.tar_at_far_1e3),
            pct(a.tar_at_far_1e4),
            pct(a.tar_at_far_1e5)
        );
        println!("best threshold (listed pairs) {:.4}", report.threshold);
        println!(
            "{:.1} images/s on {} cores",
            report.images_per_second, report.cores
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Fraction of pairs classified right at `threshold` (same ⇔ score ≥ threshold).
pub fn accuracy(scores: &[(f32, bool)], threshold: f32) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    let right = scores
        .iter()
        .filter(|(s, same)| (*s >= threshold) == *same)
        .count();
    right as f64 / scores.len() as f64
}

/// The threshold with the best accuracy: midpoints between sorted scores.
pub fn best_threshold(scores: &[(f32, bool)]) -> f32 {
    let mut sorted: Vec<f32> = scores.iter().map(|s| s.0).collect();
    sorted.sort_by(f32::total_cmp);
    let mut best = (f64::MIN, 0.0f32);
    for w in sorted.windows(2) {
        let t = (w[0] + w[1]) / 2.0;
        let a = accuracy(scores, t);
        if a > best.0 {
            best = (a, t);
        }
    }
    best.1
}

/// True-accept rate at the strictest threshold whose false-accept rate is at
/// most `far`; also returns the FAR resolution (1 / negatives).
pub fn tar_at_far(scores: &[(f32, bool)], far: f64) -> (f64, f64) {
    let mut negatives: Vec<f32> = scores.iter().filter(|s| !s.1).map(|s| s.0).collect();
    let positives: Vec<f32> = scores.iter().filter(|s| s.1).map(|s| s.0).collect();
    if negatives.is_empty() || positives.is_empty() {
        return (0.0, 1.0);
    }
    negatives.sort_by(|a, b| b.total_cmp(a));
    let allowed = (far * negatives.len() as f64).floor() as usize;
    // Accept strictly above the (allowed+1)-th highest negative score.
    let threshold = negatives[allowed.min(negatives.len() - 1)];
    let accepted = positives.iter().filter(|&&s| s > threshold).count();
    (
        accepted as f64 / positives.len() as f64,
        1.0 / negatives.len() as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_standard_pairs() {
        let text = "1 2\nA 1 2\nB 3 4\nA 1 C 2\nB 2 D 9\n";
        let pairs = parse_pairs(text).unwrap();
        assert_eq!(pairs.len(), 4);
        assert!(pairs[0].same && !pairs[2].same);
        assert_eq!(pairs[3].b, ("D".to_string(), 9));
        assert!(parse_pairs("1 2\nA 1 2\n").is_err());
        assert!(parse_pairs("x\n").is_err());
    }

    #[test]
    fn threshold_and_accuracy() {
        let scores = [
            (0.9, true),
            (0.8, true),
            (0.3, false),
            (0.6, false),
            (0.7, true),
        ];
        let t = best_threshold(&scores);
        assert!(t > 0.6 && t < 0.7);
        assert_eq!(accuracy(&scores, t), 1.0);
        let (tar, res) = tar_at_far(&scores, 1e-3);
        assert_eq!(tar, 1.0);
        assert_eq!(res, 0.5);
    }
}
