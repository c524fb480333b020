//! `eval calibrate`: the pack's false-accept curve on every pair of an
//! LFW-layout folder, and the open-set thresholds it implies.
//!
//! Every image is compared with every other: pairs of one identity are
//! genuine, all others impostors (about 1.25 million on lfw-dev, enough to
//! resolve a FAR of 1e-6 by one pair). `--update-pack` writes the curve into
//! a pack definition, which is how the shipped curves are regenerated.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use std::collections::BTreeMap;

use facegate_core::{Embedding, FarCurve, dot};
use facegate_vision::session::Threading;
use rayon::prelude::*;
use serde::Serialize;

use super::Ctx;
use super::lfw_set;
use crate::cli::EvalCalibrateArgs;
use crate::output::print_json;

/// The FARs a curve is measured at: about three points a decade.
pub const FAR_LADDER: &[f64] = &[
    1e-1, 5e-2, 2e-2, 1e-2, 5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5, 5e-6, 2e-6, 1e-6,
];

/// The lowest FAR a curve written into a pack must have measured.
const MIN_SHIPPED_FAR: f64 = 1e-5;

/// Gallery sizes and FPIRs of the trade-off table.
pub const TABLE_GALLERIES: &[usize] = &[1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
pub const TABLE_FPIRS: &[f64] = &[1e-2, 1e-3, 1e-4];

#[derive(Debug, Serialize)]
struct CalibrationReport {
    pack: String,
    model: String,
    images: usize,
    identities: usize,
    genuine_pairs: usize,
    impostor_pairs: usize,
    failed_to_detect: usize,
    far_curve: FarCurve,
    /// For mean templates of 2, 3, 4+ photos.
    mean_template_offsets: Vec<f32>,
    /// `(gallery size, fpir, threshold, tar, extrapolated)`.
    table: Vec<(usize, f64, f32, f64, bool)>,
}

pub fn run(ctx: &Ctx, args: EvalCalibrateArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine(Threading::per_core())?;
    let set = lfw_set::embed_folder(&engine, &ctx.pack, &args.root, args.embeddings.as_deref())?;
    let (impostor, genuine) = set.all_pair_scores();
    let far_curve = FarCurve::measure(&impostor, &genuine, FAR_LADDER)
        .context("too few pairs to measure a FAR curve")?;
    let mean_template_offsets = mean_template_offsets(&set, &far_curve);
    let mut identities: Vec<&str> = set.keys.iter().map(|k| k.0.as_str()).collect();
    identities.dedup();
    // TAR straight from the genuine scores: exact even where the threshold
    // was extrapolated.
    let mut sorted_genuine = genuine.clone();
    sorted_genuine.sort_unstable_by(f32::total_cmp);
    let tar_at = |t: f32| {
        let rejected = sorted_genuine.partition_point(|&s| s < t);
        (sorted_genuine.len() - rejected) as f64 / sorted_genuine.len().max(1) as f64
    };
    let mut table = Vec::new();
    for &n in TABLE_GALLERIES {
        for &fpir in TABLE_FPIRS {
            let op = far_curve.for_fpir(fpir, n)?;
            table.push((n, fpir, op.threshold, tar_at(op.threshold), op.extrapolated));
        }
    }
    let report = CalibrationReport {
        pack: ctx.pack.clone(),
        model: engine.model_id().to_owned(),
        images: set.keys.len(),
        identities: identities.len(),
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        failed_to_detect: set.failed_to_detect,
        far_curve,
        mean_template_offsets,
        table,
    };
    if let Some(pack_file) = &args.update_pack {
        // A shipped curve drives every install's decisions: refuse one from
        // a set too small to reach the FARs large galleries need.
        let lowest = report.far_curve.lowest_measured_far();
        anyhow::ensure!(
            lowest <= MIN_SHIPPED_FAR && report.mean_template_offsets.len() == 3,
            "{} is too small to calibrate a pack: its {} impostor pairs resolve FAR down to {lowest:.0e} \
             (a pack needs {MIN_SHIPPED_FAR:.0e}, about {} pairs, as all of lfw-dev gives) and it gave {} of 3 \
             mean-template offsets; {} was not changed",
            args.root.display(),
            report.impostor_pairs,
            (1.0 / MIN_SHIPPED_FAR) as u64,
            report.mean_template_offsets.len(),
            pack_file.display()
        );
        update_pack_file(
            pack_file,
            &report.far_curve,
            &report.mean_template_offsets,
            &describe(&report, &args.root),
        )?;
    }
    if ctx.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("pack {} ({})", report.pack, report.model);
    println!(
        "{} images of {} people, {} failed to detect: {} genuine and {} impostor pairs",
        report.images,
        report.identities,
        report.failed_to_detect,
        report.genuine_pairs,
        report.impostor_pairs
    );
    println!("\n{:>8}  {:>9}  {:>8}", "FAR", "threshold", "TAR");
    for p in report.far_curve.points() {
        println!(
            "{:>8.0e}  {:>9.4}  {:>7.2}%",
            p.far,
            p.threshold,
            100.0 * p.tar
        );
    }
    println!(
        "\nmean-template offsets for 2, 3, 4+ photos: {:?}",
        report.mean_template_offsets
    );
    println!("\nidentification: threshold (TAR) for a gallery of N people at a target FPIR");
    print!("{:>9}", "N");
    for fpir in TABLE_FPIRS {
        print!("  {:>18}", format!("FPIR {fpir:.0e}"));
    }
    println!();
    for chunk in report.table.chunks(TABLE_FPIRS.len()) {
        print!("{:>9}", chunk[0].0);
        for &(_, _, t, tar, x) in chunk {
            let mark = if x { "*" } else { " " };
            print!("  {:>18}", format!("{t:.3} ({:.1}%){mark}", 100.0 * tar));
        }
        println!();
    }
    println!("* extrapolated past the lowest measured FAR");
    if let Some(p) = &args.update_pack {
        println!("\nwrote the curve into {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// FARs at which the mean-template offsets are measured: the ones every
/// template count resolves well on lfw-dev (hundreds of people at k = 4).
const OFFSET_FARS: &[f64] = &[1e-2, 1e-3, 1e-4];

/// How much higher impostor scores run against the mean template of the
/// first k photos (k = 2, 3, 4) of every identity that has them than against
/// one photo, at the same FAR: the mean over [`OFFSET_FARS`] of the
/// threshold differences, never negative. Stops at the first k with too few
/// people to measure; later counts reuse the last offset.
fn mean_template_offsets(set: &lfw_set::EmbeddedSet, single: &FarCurve) -> Vec<f32> {
    let mut by_identity: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (name, _)) in set.keys.iter().enumerate() {
        by_identity.entry(name.as_str()).or_default().push(i);
    }
    let mut offsets = Vec::new();
    for k in 2..=4 {
        let means: Vec<(&str, Embedding, &[usize])> = by_identity
            .iter()
            .filter(|(_, images)| images.len() >= k)
            .filter_map(|(name, images)| {
                let mut sum = vec![0.0f32; set.embeddings[images[0]].dim()];
                for &i in &images[..k] {
                    for (s, v) in sum.iter_mut().zip(set.embeddings[i].as_slice()) {
                        *s += v;
                    }
                }
                Embedding::from_raw(sum)
                    .ok()
                    .map(|m| (*name, m, &images[k..]))
            })
            .collect();
        let (impostor, genuine): (Vec<Vec<f32>>, Vec<Vec<f32>>) = means
            .par_iter()
            .map(|(name, mean, rest)| {
                let impostor = set
                    .keys
                    .iter()
                    .zip(&set.embeddings)
                    .filter(|((n, _), _)| n != name)
                    .map(|(_, e)| dot(mean.as_slice(), e.as_slice()))
                    .collect();
                let genuine = rest
                    .iter()
                    .map(|&i| dot(mean.as_slice(), set.embeddings[i].as_slice()))
                    .collect();
                (impostor, genuine)
            })
            .unzip();
        let impostor: Vec<f32> = impostor.into_iter().flatten().collect();
        let genuine: Vec<f32> = genuine.into_iter().flatten().collect();
        let Some(curve) = FarCurve::measure(&impostor, &genuine, OFFSET_FARS) else {
            break;
        };
        let shifts: Vec<f32> = curve
            .points()
            .iter()
            .map(|p| p.threshold - single.threshold_at_far(p.far).0)
            .collect();
        if shifts.len() < OFFSET_FARS.len() {
            break;
        }
        let mean_shift = shifts.iter().sum::<f32>() / shifts.len() as f32;
        offsets.push((mean_shift.max(0.0) * 1e4).round() / 1e4);
    }
    offsets
}

fn describe(report: &CalibrationReport, root: &Path) -> String {
    let dataset = root.parent().and_then(|p| p.file_name()).map_or_else(
        || root.display().to_string(),
        |n| n.to_string_lossy().to_string(),
    );
    format!(
        "`facegate --pack {} eval calibrate` on {dataset}: {} images of {} people, \
         {} genuine and {} impostor pairs, {} failed to detect",
        report.pack,
        report.images,
        report.identities,
        report.genuine_pairs,
        report.impostor_pairs,
        report.failed_to_detect
    )
}

/// Replace the `far_curve` of a pack definition's `[decision]` table (the
/// last table of every built-in pack), keeping everything else as written.
fn update_pack_file(
    path: &Path,
    curve: &FarCurve,
    offsets: &[f32],
    description: &str,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let updated = with_far_curve(&text, curve, offsets, description)
        .with_context(|| format!("updating {}", path.display()))?;
    // The result must still be a valid pack with this curve (as written, to
    // four decimals).
    let manifest = facegate_models::pack::Manifest::from_toml(&updated)?;
    let read_back = manifest
        .decision
        .far_curve
        .context("the rewritten pack has no far_curve")?;
    let close = read_back.points().len() == curve.points().len()
        && read_back.points().iter().zip(curve.points()).all(|(a, b)| {
            (a.far - b.far).abs() <= 1e-9 * b.far
                && (a.threshold - b.threshold).abs() <= 1e-4
                && (a.tar - b.tar).abs() <= 1e-4
        });
    if !close || manifest.decision.mean_template_offsets != offsets {
        bail!("the rewritten far_curve does not read back as measured");
    }
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

const CURVE_COMMENT: &str = "# Open-set operating points, written by";
const OFFSETS_COMMENT: &str = "# Mean-template offsets for";

/// `text` with its `[decision]` table's `far_curve` (and the comment above
/// it) replaced by `curve`.
pub fn with_far_curve(
    text: &str,
    curve: &FarCurve,
    offsets: &[f32],
    description: &str,
) -> anyhow::Result<String> {
    if text.contains("[[decision.far_curve]]") {
        bail!(
            "the pack writes far_curve as tables; only an inline `far_curve = [...]` is rewritten"
        );
    }
    let start = text
        .find("\n[decision]")
        .map(|i| i + 1)
        .context("no [decision] table")?;
    let body_start = start + "[decision]".len();
    let end = text[body_start..]
        .find("\n[")
        .map_or(text.len(), |i| body_start + i + 1);
    let mut kept = String::new();
    let mut skipping = false;
    for line in text[body_start..end].lines() {
        let t = line.trim_start();
        if t.starts_with("mean_template_offsets") || t.starts_with(OFFSETS_COMMENT) {
            continue;
        }
        if t.starts_with(CURVE_COMMENT) || t.starts_with("far_curve") {
            skipping = true;
        }
        if skipping {
            // The curve is a multi-line array that ends with `]`.
            if t == "]" {
                skipping = false;
            }
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    let kept = kept.trim_end_matches('\n');
    let mut out = String::new();
    out.push_str(&text[..body_start]);
    out.push_str(kept);
    let _ = write!(
        out,
        "\n{CURVE_COMMENT} `facegate eval calibrate --update-pack`: per-comparison FAR, \
         the cosine threshold that reaches it and the TAR there.\n# {description}.\nfar_curve = [\n"
    );
    for p in curve.points() {
        let _ = writeln!(
            out,
            "  {{ far = {:e}, threshold = {:.4}, tar = {:.4} }},",
            p.far, p.threshold, p.tar
        );
    }
    out.push_str("]\n");
    if !offsets.is_empty() {
        let list: Vec<String> = offsets.iter().map(|o| format!("{o:.4}")).collect();
        let _ = writeln!(
            out,
            "{OFFSETS_COMMENT} 2, 3, 4+ photos: how much higher impostors score against a mean template, at the same FAR.\nmean_template_offsets = [{}]",
            list.join(", ")
        );
    }
    out.push_str(&text[end..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use facegate_core::FarPoint;

    #[test]
    fn rewrites_only_the_curve() {
        let pack = facegate_models::pack::builtin("yunet").expect("yunet definition");
        let text = include_str!("../../../facegate-models/packs/yunet.toml");
        let curve = FarCurve::new(vec![
            FarPoint {
                far: 1e-2,
                threshold: 0.4,
                tar: 0.99,
            },
            FarPoint {
                far: 1e-3,
                threshold: 0.5,
                tar: 0.98,
            },
        ])
        .unwrap();
        let once = with_far_curve(text, &curve, &[0.015, 0.02], "test").unwrap();
        let twice = with_far_curve(&once, &curve, &[0.015, 0.02], "test").unwrap();
        assert_eq!(once, twice, "rewriting is idempotent");
        let m = facegate_models::pack::Manifest::from_toml(&twice).unwrap();
        assert_eq!(
            m.decision.far_curve.as_ref(),
            Some(&curve),
            "4-decimal values round-trip"
        );
        assert_eq!(m.decision.match_threshold, pack.decision.match_threshold);
        assert_eq!(m.recognizers, pack.recognizers);
        assert_eq!(m.decision.mean_template_offsets, [0.015, 0.02]);
        assert!(with_far_curve("name = 1\n", &curve, &[], "x").is_err());
        let tables = pack.to_toml().expect("toml");
        assert!(
            with_far_curve(&tables, &curve, &[], "x").is_err(),
            "tables are refused"
        );
    }
}
