//! `eval identify`: open-set 1:N identification on an LFW-layout folder, as
//! NIST's FRVT 1:N reports it: the false-negative identification rate (FNIR)
//! at a fixed false-positive identification rate (FPIR).
//!
//! Protocol (deterministic, no tuning on anything but this folder):
//! - every identity with more than `--enrol` photos is enrolled with its
//!   first `--enrol` photos (by number); its other photos are **mated
//!   searches**: a miss is a wrong top person or a score under threshold;
//! - **non-mated searches**: every photo of the folder, searched against the
//!   gallery *without its own identity*, so each image is a stranger once
//!   (lfw-dev: 1,583 non-mated searches, FPIR resolution about 6e-4);
//! - FNIR at a target FPIR uses the threshold where the measured FPIR first
//!   falls to the target; "shipped" uses the threshold the product itself
//!   would derive from the pack's FAR curve for this gallery size.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use facegate_core::calibration::{DEFAULT_MARGIN, decide, template_offset};
use facegate_core::{Decision, Embedding, dot};
use facegate_vision::session::Threading;
use serde::Serialize;

use super::Ctx;
use super::lfw_set::{self, EmbeddedSet};
use crate::cli::EvalIdentifyArgs;
use crate::output::print_json;

/// How one person's templates make one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Combine {
    /// The best template's score (what the gallery search does).
    Best,
    /// The score against the renormalised mean of the templates.
    Mean,
    /// The mean of the best two templates' scores.
    Top2Mean,
}

/// One search's outcome.
#[derive(Debug, Clone, Copy)]
struct Search {
    /// The top person is the probe's own (always false for non-mated).
    top_is_mate: bool,
    best: f32,
    second: Option<f32>,
}

struct Gallery<'a> {
    /// `(identity, template embeddings)`.
    people: Vec<(&'a str, Vec<&'a Embedding>)>,
    /// The pack's mean-template offsets ([`Combine::Mean`] only).
    offsets: &'a [f32],
    /// Per-person centroid for [`Combine::Mean`].
    centroids: Vec<Option<Embedding>>,
    /// Z-norm statistics `(mean, std)` per person, against the rest of the gallery.
    znorm: Option<Vec<(f32, f32)>>,
}

impl<'a> Gallery<'a> {
    fn new(people: Vec<(&'a str, Vec<&'a Embedding>)>, offsets: &'a [f32]) -> Self {
        let centroids = people
            .iter()
            .map(|(_, t)| {
                let dim = t.first().map_or(0, |e| e.dim());
                let mut sum = vec![0.0f32; dim];
                for e in t {
                    for (s, v) in sum.iter_mut().zip(e.as_slice()) {
                        *s += v;
                    }
                }
                Embedding::from_raw(sum).ok()
            })
            .collect();
        Self {
            people,
            offsets,
            centroids,
            znorm: None,
        }
    }

    fn raw_score(&self, person: usize, probe: &Embedding, rule: Combine) -> f32 {
        let templates = &self.people[person].1;
        match rule {
            Combine::Best => templates
                .iter()
                .map(|t| dot(t.as_slice(), probe.as_slice()))
                .fold(f32::MIN, f32::max),
            Combine::Mean => {
                self.centroids[person]
                    .as_ref()
                    .map_or(f32::MIN, |c| dot(c.as_slice(), probe.as_slice()))
                    - template_offset(self.offsets, templates.len())
            }
            Combine::Top2Mean => {
                let (mut a, mut b) = (f32::MIN, f32::MIN);
                for t in templates {
                    let s = dot(t.as_slice(), probe.as_slice());
                    if s > a {
                        b = a;
                        a = s;
                    } else if s > b {
                        b = s;
                    }
                }
                if b == f32::MIN { a } else { (a + b) / 2.0 }
            }
        }
    }

    fn score(&self, person: usize, probe: &Embedding, rule: Combine) -> f32 {
        let s = self.raw_score(person, probe, rule);
        match &self.znorm {
            Some(stats) => (s - stats[person].0) / stats[person].1,
            None => s,
        }
    }

    /// Z-norm: each person's score distribution against the other enrolled
    /// people's templates (the gallery itself is the cohort, so nothing
    /// outside what an operator enrolled is needed).
    fn with_znorm(mut self, rule: Combine) -> Self {
        let stats = (0..self.people.len())
            .map(|p| {
                let scores: Vec<f32> = self
                    .people
                    .iter()
                    .enumerate()
                    .filter(|(q, _)| *q != p)
                    .flat_map(|(_, (_, t))| t.iter().map(|e| self.raw_score(p, e, rule)))
                    .collect();
                let n = scores.len().max(1) as f32;
                let mean = scores.iter().sum::<f32>() / n;
                let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f32>() / n;
                (mean, var.sqrt().max(1e-3))
            })
            .collect();
        self.znorm = Some(stats);
        self
    }

    /// Best and second-best people for a probe, leaving out `exclude`.
    fn search(&self, probe: &Embedding, rule: Combine, exclude: &str) -> (Option<usize>, Search) {
        let (mut best, mut second): (Option<(usize, f32)>, Option<f32>) = (None, None);
        for (p, (name, _)) in self.people.iter().enumerate() {
            if *name == exclude {
                continue;
            }
            let s = self.score(p, probe, rule);
            match best {
                Some((_, b)) if s <= b => {
                    if second.is_none_or(|x| s > x) {
                        second = Some(s);
                    }
                }
                _ => {
                    second = best.map(|(_, b)| b);
                    best = Some((p, s));
                }
            }
        }
        let (who, best) = best.map_or((None, f32::MIN), |(p, s)| (Some(p), s));
        (
            who,
            Search {
                top_is_mate: false,
                best,
                second,
            },
        )
    }
}

struct Results {
    mated: Vec<Search>,
    nonmated: Vec<Search>,
    gallery_size: usize,
}

/// Enrol the first `enrol` photos of every identity with at least
/// `min_photos`; its photos from index `probe_from` on are mated probes (those
/// between `enrol` and `probe_from` are neither, so rows with different
/// `enrol` share one probe set). Non-mated searches: see the module docs.
fn run_protocol(
    set: &EmbeddedSet,
    enrol: usize,
    min_photos: usize,
    probe_from: usize,
    rule: Combine,
    znorm: bool,
    offsets: &[f32],
) -> Results {
    let mut by_identity: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (name, _)) in set.keys.iter().enumerate() {
        by_identity.entry(name.as_str()).or_default().push(i);
    }
    let mut people = Vec::new();
    let mut probes = Vec::new();
    for (name, images) in &by_identity {
        if images.len() < min_photos {
            continue;
        }
        people.push((
            *name,
            images[..enrol]
                .iter()
                .map(|&i| &set.embeddings[i])
                .collect(),
        ));
        probes.extend(images[probe_from..].iter().map(|&i| (i, *name)));
    }
    let mut gallery = Gallery::new(people, offsets);
    if znorm {
        gallery = gallery.with_znorm(rule);
    }
    let gallery_size = gallery.people.len();
    let mated = probes
        .iter()
        .map(|&(i, name)| {
            let (who, mut s) = gallery.search(&set.embeddings[i], rule, "");
            s.top_is_mate = who.is_some_and(|p| gallery.people[p].0 == name);
            s
        })
        .collect();
    let nonmated = set
        .keys
        .iter()
        .enumerate()
        .map(|(i, (name, _))| gallery.search(&set.embeddings[i], rule, name).1)
        .collect();
    Results {
        mated,
        nonmated,
        gallery_size,
    }
}

impl Results {
    fn rates(&self, threshold: f32, margin: f32) -> (f64, f64) {
        let named =
            |s: &Search| decide(Some(s.best), s.second, threshold, margin) == Decision::Match;
        let fp = self.nonmated.iter().filter(|s| named(s)).count();
        let misses = self
            .mated
            .iter()
            .filter(|s| !(s.top_is_mate && named(s)))
            .count();
        (
            fp as f64 / self.nonmated.len().max(1) as f64,
            misses as f64 / self.mated.len().max(1) as f64,
        )
    }

    /// The lowest threshold whose measured FPIR is at most `fpir` (without
    /// margin), or `None` when that FPIR is below what the non-mated count
    /// resolves.
    fn threshold_at_fpir(&self, fpir: f64) -> Option<f32> {
        let mut top: Vec<f32> = self.nonmated.iter().map(|s| s.best).collect();
        top.sort_by(|a, b| b.total_cmp(a));
        let allowed = (fpir * top.len() as f64).floor() as usize;
        if allowed == 0 || allowed >= top.len() {
            return None;
        }
        Some((top[allowed - 1] + top[allowed]) / 2.0)
    }

    fn fnir_at_fpir(&self, fpir: f64) -> AtFpir {
        let threshold = self.threshold_at_fpir(fpir);
        AtFpir {
            fpir,
            threshold,
            fnir: threshold.map(|t| self.rates(t, 0.0).1),
        }
    }

    /// `(fpir, fnir)` at every distinct non-mated top score, for the plot.
    fn curve(&self) -> Vec<(f64, f64)> {
        let mut top: Vec<f32> = self.nonmated.iter().map(|s| s.best).collect();
        top.sort_by(|a, b| b.total_cmp(a));
        top.dedup();
        top.iter()
            .map(|&t| self.rates(t, 0.0))
            .filter(|(fpir, _)| *fpir > 0.0)
            .collect()
    }
}

#[derive(Debug, Serialize)]
struct AtFpir {
    fpir: f64,
    threshold: Option<f32>,
    fnir: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Shipped {
    target_fpir: f64,
    threshold: f32,
    extrapolated: bool,
    margin: f32,
    measured_fpir: f64,
    fnir: f64,
}

#[derive(Debug, Serialize)]
struct ComparisonRow {
    enrolled_photos: usize,
    rule: Combine,
    znorm: bool,
    gallery_size: usize,
    mated: usize,
    fnir_at_fpir_1e2: Option<f64>,
    fnir_at_fpir_5e3: Option<f64>,
    /// At the shipped threshold (raw scores only).
    fpir_shipped: Option<f64>,
    fnir_shipped: Option<f64>,
}

#[derive(Debug, Serialize)]
struct MarginRow {
    margin: f32,
    fpir: f64,
    fnir: f64,
}

#[derive(Debug, Serialize)]
struct IdentifyReport {
    pack: String,
    model: String,
    enrolled_photos: usize,
    gallery_size: usize,
    mated_searches: usize,
    nonmated_searches: usize,
    fpir_resolution: f64,
    at: Vec<AtFpir>,
    shipped: Option<Shipped>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    comparisons: Vec<ComparisonRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    margins: Vec<MarginRow>,
}

pub fn run(ctx: &Ctx, args: EvalIdentifyArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.enrol >= 1, "--enrol must be at least 1");
    let engine = ctx.engine(Threading::per_core())?;
    let set = lfw_set::embed_folder(&engine, &ctx.pack, &args.root, args.embeddings.as_deref())?;
    let results = run_protocol(
        &set,
        args.enrol,
        args.enrol + 1,
        args.enrol,
        // What the gallery and `identify` do (the same as Best with one photo).
        Combine::Mean,
        false,
        engine.mean_template_offsets(),
    );
    anyhow::ensure!(
        !results.mated.is_empty(),
        "no identity has more than {} photos",
        args.enrol
    );
    let curve = engine.far_curve();
    let shipped_threshold = |gallery_size: usize| -> anyhow::Result<Option<(f32, bool)>> {
        Ok(match curve {
            Some(c) => {
                let op = c.for_fpir(args.fpir, gallery_size)?;
                Some((op.threshold, op.extrapolated))
            }
            None => None,
        })
    };
    let shipped = shipped_threshold(results.gallery_size)?.map(|(threshold, extrapolated)| {
        let (measured_fpir, fnir) = results.rates(threshold, DEFAULT_MARGIN);
        Shipped {
            target_fpir: args.fpir,
            threshold,
            extrapolated,
            margin: DEFAULT_MARGIN,
            measured_fpir,
            fnir,
        }
    });
    let mut comparisons = Vec::new();
    let mut margins = Vec::new();
    if args.compare {
        // Same mated probes for every row: identities with at least four
        // photos, probed from their fourth on, enrolled with 1–3 photos.
        for enrol in 1..=3 {
            for rule in [Combine::Best, Combine::Mean, Combine::Top2Mean] {
                if enrol == 1 && rule != Combine::Best {
                    continue;
                }
                for znorm in [false, true] {
                    let r = run_protocol(
                        &set,
                        enrol,
                        4,
                        3,
                        rule,
                        znorm,
                        engine.mean_template_offsets(),
                    );
                    let shipped = if znorm {
                        None
                    } else {
                        shipped_threshold(r.gallery_size)?.map(|(t, _)| r.rates(t, 0.0))
                    };
                    comparisons.push(ComparisonRow {
                        enrolled_photos: enrol,
                        rule,
                        znorm,
                        gallery_size: r.gallery_size,
                        mated: r.mated.len(),
                        fnir_at_fpir_1e2: r.fnir_at_fpir(1e-2).fnir,
                        fnir_at_fpir_5e3: r.fnir_at_fpir(5e-3).fnir,
                        fpir_shipped: shipped.map(|s| s.0),
                        fnir_shipped: shipped.map(|s| s.1),
                    });
                }
            }
        }
        if let Some(s) = &shipped {
            for margin in [0.0, 0.01, 0.02, 0.03, 0.05, 0.08] {
                let (fpir, fnir) = results.rates(s.threshold, margin);
                margins.push(MarginRow { margin, fpir, fnir });
            }
        }
    }
    let report = IdentifyReport {
        pack: ctx.pack.clone(),
        model: engine.model_id().to_owned(),
        enrolled_photos: args.enrol,
        gallery_size: results.gallery_size,
        mated_searches: results.mated.len(),
        nonmated_searches: results.nonmated.len(),
        fpir_resolution: 1.0 / results.nonmated.len() as f64,
        at: [1e-2, 1e-3]
            .iter()
            .map(|&f| results.fnir_at_fpir(f))
            .collect(),
        shipped,
        comparisons,
        margins,
    };
    if let Some(svg) = &args.plot {
        std::fs::write(svg, det_svg(&results.curve(), &report))
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    if ctx.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&report);
    Ok(ExitCode::SUCCESS)
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".to_owned(), |v| format!("{:.2}%", 100.0 * v))
}

fn print_text(r: &IdentifyReport) {
    println!("pack {} ({})", r.pack, r.model);
    println!(
        "gallery {} people ({} photo each), {} mated and {} non-mated searches (FPIR resolution {:.1e})",
        r.gallery_size, r.enrolled_photos, r.mated_searches, r.nonmated_searches, r.fpir_resolution
    );
    for a in &r.at {
        match a.threshold {
            Some(t) => println!(
                "FNIR at FPIR {:.0e}: {} (threshold {t:.4})",
                a.fpir,
                pct(a.fnir)
            ),
            None => println!("FNIR at FPIR {:.0e}: below this set's resolution", a.fpir),
        }
    }
    match &r.shipped {
        Some(s) => println!(
            "shipped operating point (FPIR {:.0e} for {} people): threshold {:.4}{}, measured FPIR {:.2}%, FNIR {:.2}%",
            s.target_fpir,
            r.gallery_size,
            s.threshold,
            if s.extrapolated {
                " (extrapolated)"
            } else {
                ""
            },
            100.0 * s.measured_fpir,
            100.0 * s.fnir
        ),
        None => println!("the pack has no FAR curve: run `facegate eval calibrate`"),
    }
    if !r.comparisons.is_empty() {
        println!("\nidentities with 4+ photos, probed from the 4th photo on:");
        println!(
            "{:>6} {:>10} {:>6} {:>8} {:>7} {:>14} {:>14} {:>22}",
            "photos",
            "rule",
            "z-norm",
            "gallery",
            "mated",
            "FNIR@FPIR=1e-2",
            "FNIR@FPIR=5e-3",
            "shipped FPIR / FNIR"
        );
        for c in &r.comparisons {
            println!(
                "{:>6} {:>10} {:>6} {:>8} {:>7} {:>14} {:>14} {:>22}",
                c.enrolled_photos,
                format!("{:?}", c.rule).to_lowercase(),
                if c.znorm { "yes" } else { "no" },
                c.gallery_size,
                c.mated,
                pct(c.fnir_at_fpir_1e2),
                pct(c.fnir_at_fpir_5e3),
                match (c.fpir_shipped, c.fnir_shipped) {
                    (Some(a), Some(b)) => format!("{} / {}", pct(Some(a)), pct(Some(b))),
                    _ => "—".to_owned(),
                }
            );
        }
    }
    if !r.margins.is_empty() {
        println!("\nambiguity margin at the shipped threshold:");
        for m in &r.margins {
            println!(
                "  margin {:.2}: FPIR {:.2}%, FNIR {:.2}%",
                m.margin,
                100.0 * m.fpir,
                100.0 * m.fnir
            );
        }
    }
}

/// FNIR against FPIR (log scale), NIST's DET-style identification plot.
fn det_svg(points: &[(f64, f64)], r: &IdentifyReport) -> String {
    const W: f64 = 520.0;
    const H: f64 = 360.0;
    const M: f64 = 55.0;
    let (x_lo, x_hi) = (r.fpir_resolution.log10().floor(), 0.0);
    let max_fnir = points.iter().map(|p| p.1).fold(0.05f64, f64::max).min(1.0);
    let x = |fpir: f64| M + (fpir.log10() - x_lo) / (x_hi - x_lo) * (W - 2.0 * M);
    let y = |fnir: f64| H - M - fnir / max_fnir * (H - 2.0 * M);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r#"<text x="10" y="18">{} — gallery {}, {} mated / {} non-mated searches</text>"#,
        r.pack, r.gallery_size, r.mated_searches, r.nonmated_searches
    );
    let _ = write!(
        svg,
        r#"<rect x="{M}" y="{M}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        W - 2.0 * M,
        H - 2.0 * M
    );
    let mut decade = x_lo;
    while decade <= x_hi {
        let px = x(10f64.powf(decade));
        let _ = write!(
            svg,
            r##"<line x1="{px}" y1="{M}" x2="{px}" y2="{}" stroke="#ddd"/><text x="{}" y="{}">1e{decade}</text>"##,
            H - M,
            px - 12.0,
            H - M + 16.0
        );
        decade += 1.0;
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}">FPIR</text><text x="8" y="{}">FNIR</text><text x="{}" y="{}">{:.0}%</text>"#,
        W / 2.0,
        H - 12.0,
        H / 2.0,
        8.0,
        M + 4.0,
        100.0 * max_fnir
    );
    let path: Vec<String> = points
        .iter()
        .map(|&(f, n)| format!("{:.1},{:.1}", x(f), y(n.min(max_fnir))))
        .collect();
    let _ = write!(
        svg,
        r#"<polyline fill="none" stroke="steelblue" stroke-width="2" points="{}"/>"#,
        path.join(" ")
    );
    if let Some(s) = &r.shipped {
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="crimson"/><text x="{:.1}" y="{:.1}" fill="crimson">shipped (threshold {:.3})</text>"#,
            x(s.measured_fpir.max(r.fpir_resolution)),
            y(s.fnir.min(max_fnir)),
            x(s.measured_fpir.max(r.fpir_resolution)) + 6.0,
            y(s.fnir.min(max_fnir)) - 6.0,
            s.threshold
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: &[f32]) -> Embedding {
        Embedding::from_raw(v.to_vec()).unwrap()
    }

    fn set() -> EmbeddedSet {
        // a: three photos near x; b: two near y; c: one near z (a stranger).
        let items = [
            ("a", 1, [1.0, 0.05, 0.0]),
            ("a", 2, [1.0, 0.0, 0.05]),
            ("a", 3, [1.0, 0.1, 0.0]),
            ("b", 1, [0.0, 1.0, 0.0]),
            ("b", 2, [0.05, 1.0, 0.0]),
            ("c", 1, [0.0, 0.0, 1.0]),
        ];
        EmbeddedSet {
            keys: items.iter().map(|(n, i, _)| (n.to_string(), *i)).collect(),
            embeddings: items.iter().map(|(_, _, v)| e(v)).collect(),
            failed_to_detect: 0,
            seconds: 0.0,
        }
    }

    #[test]
    fn protocol_counts_mated_and_nonmated_searches() {
        let s = set();
        let r = run_protocol(&s, 1, 2, 1, Combine::Best, false, &[]);
        assert_eq!(r.gallery_size, 2, "a and b have a second photo");
        assert_eq!(r.mated.len(), 3, "a2, a3, b2");
        assert!(r.mated.iter().all(|m| m.top_is_mate));
        assert_eq!(
            r.nonmated.len(),
            6,
            "every photo once, without its own identity"
        );
        // At a high threshold nobody is named: FPIR 0, FNIR 1.
        assert_eq!(r.rates(0.999, 0.0), (0.0, 1.0));
        // At 0.9 every mated search succeeds and no stranger passes.
        assert_eq!(r.rates(0.9, 0.0), (0.0, 0.0));
        // At -1 every non-mated search names someone.
        assert_eq!(r.rates(-1.0, 0.0).0, 1.0);
    }

    #[test]
    fn combination_rules_score_people() {
        let s = set();
        let g = Gallery::new(
            vec![(
                "a",
                vec![&s.embeddings[0], &s.embeddings[1], &s.embeddings[2]],
            )],
            &[],
        );
        let probe = e(&[0.0, 1.0, 0.0]);
        let best = g.score(0, &probe, Combine::Best);
        let top2 = g.score(0, &probe, Combine::Top2Mean);
        let mean = g.score(0, &probe, Combine::Mean);
        assert!(
            best >= top2 && top2 > 0.0 && mean > 0.0,
            "{best} {top2} {mean}"
        );
    }
}
