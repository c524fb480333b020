//! `facegate liveness IMG...` (passive score per face), `facegate liveness
//! challenge` (active check of a frame burst) and `facegate eval liveness`
//! (ISO/IEC 30107-3 error rates on a labelled CSV).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use facegate_core::{BoundingBox, DetectedFace, Landmarks5};
use facegate_vision::Engine;
use facegate_vision::liveness::challenge::{self, ChallengeOptions, Prompt};
use facegate_vision::liveness::cues::{self, Cues};
use facegate_vision::liveness::metrics::{self, PadReport, Truth};
use facegate_vision::liveness::{ComponentScore, LivenessScore};
use facegate_vision::session::Threading;
use image::RgbImage;
use serde::Serialize;
use serde_json::json;

use super::{Ctx, image_files, main_face};
use crate::cli::{ChallengeArgs, EvalLivenessArgs, LivenessArgs, LivenessCommand};
use crate::output::{print_json, progress};

fn read_image(engine: &Engine, path: &Path) -> anyhow::Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    engine
        .decode(&bytes)
        .with_context(|| format!("decoding {}", path.display()))
}

fn require_model(engine: &Engine, pack: &str) -> anyhow::Result<f32> {
    engine.liveness_threshold().with_context(|| {
        format!("pack {pack:?} has no liveness model and the liveness add-on is not installed: `facegate models install minifasnet` (with `--from DIR` where GitHub is unreachable) gives every pack one")
    })
}

pub fn run(ctx: &Ctx, args: LivenessArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(LivenessCommand::Challenge(c)) => run_challenge(ctx, c),
        None => score_images(ctx, &args.paths),
    }
}

#[derive(Serialize)]
struct FaceLiveness {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    live: f32,
    is_live: bool,
    components: Vec<ComponentScore>,
    cues: Cues,
}

fn score_images(ctx: &Ctx, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !paths.is_empty(),
        "give image files or folders (or `facegate liveness challenge`)"
    );
    let engine = ctx.engine(Threading::single_caller())?;
    let threshold = require_model(&engine, &ctx.pack)?;
    let mut results = Vec::new();
    let mut failures = 0;
    for path in image_files(paths)? {
        let outcome = read_image(&engine, &path).and_then(|image| {
            let faces = engine.detect(&image)?;
            let scores = engine.liveness_scores(&image, &faces)?.unwrap_or_default();
            Ok(faces
                .iter()
                .zip(scores)
                .map(|(f, s)| FaceLiveness {
                    bbox: [f.bbox.left, f.bbox.top, f.bbox.right, f.bbox.bottom],
                    is_live: s.live >= threshold,
                    live: s.live,
                    components: s.components,
                    cues: cues::measure(&image, &f.bbox),
                })
                .collect::<Vec<_>>())
        });
        match outcome {
            Ok(faces) => {
                if !ctx.json {
                    println!("{}: {} face(s)", path.display(), faces.len());
                    for (i, f) in faces.iter().enumerate() {
                        let parts: Vec<String> = f
                            .components
                            .iter()
                            .map(|c| format!("{} {:.3}", c.model, c.live))
                            .collect();
                        println!(
                            "  #{i} {} live={:.3} (threshold {threshold:.3}){}",
                            if f.is_live { "LIVE " } else { "SPOOF" },
                            f.live,
                            if parts.is_empty() {
                                String::new()
                            } else {
                                format!(" [{}]", parts.join(", "))
                            }
                        );
                    }
                }
                results.push(json!({"path": path, "threshold": threshold, "faces": faces}));
            }
            Err(e) => {
                failures += 1;
                if !ctx.json {
                    eprintln!("{}: error: {e:#}", path.display());
                }
                results.push(json!({"path": path, "error": format!("{e:#}")}));
            }
        }
    }
    if ctx.json {
        print_json(&results)?;
    }
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_challenge(ctx: &Ctx, args: ChallengeArgs) -> anyhow::Result<ExitCode> {
    let prompt: Prompt = args.prompt.parse()?;
    let engine = ctx.engine(Threading::single_caller())?;
    let frames = args
        .frames
        .iter()
        .map(|p| read_image(&engine, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = ChallengeOptions {
        mirrored: args.mirrored,
        ..ChallengeOptions::default()
    };
    let result = challenge::evaluate_with(&engine, prompt, &frames, &options)
        .context("checking the challenge")?;
    if ctx.json {
        print_json(&result)?;
    } else {
        println!(
            "{} challenge: {}",
            prompt.as_str(),
            if result.passed { "PASSED" } else { "FAILED" }
        );
        for (path, f) in args.frames.iter().zip(&result.frames) {
            let fmt = |v: Option<f32>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
            println!(
                "  {}: face={} yaw={} ear={} live={} similarity={}",
                path.display(),
                f.face_found,
                fmt(f.yaw),
                fmt(f.ear),
                fmt(f.live),
                fmt(f.similarity)
            );
        }
        for reason in &result.reasons {
            println!("  - {reason}");
        }
    }
    Ok(if result.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// One labelled presentation's scores.
struct Scored {
    file: String,
    truth: Truth,
    score: LivenessScore,
    cues: Cues,
    /// No face was detected: the whole image was scored as the face.
    whole_image: bool,
}

/// `file,label` rows (header optional), paths relative to the CSV's folder.
fn read_labels(csv: &Path) -> anyhow::Result<Vec<(PathBuf, String, Truth)>> {
    let text =
        std::fs::read_to_string(csv).with_context(|| format!("reading {}", csv.display()))?;
    let base = csv.parent().unwrap_or(Path::new("."));
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || (n == 0 && line.eq_ignore_ascii_case("file,label"))
        {
            continue;
        }
        let (file, label) = line
            .rsplit_once(',')
            .with_context(|| format!("{}:{}: expected `file,label`", csv.display(), n + 1))?;
        let truth = Truth::parse(label).with_context(|| {
            format!(
                "{}:{}: label {label:?} is neither `live` nor `spoof-<kind>`",
                csv.display(),
                n + 1
            )
        })?;
        rows.push((base.join(file.trim()), file.trim().to_owned(), truth));
    }
    anyhow::ensure!(!rows.is_empty(), "{} has no labelled rows", csv.display());
    Ok(rows)
}

/// The face to score: the largest detected one, else the whole image (tight
/// face crops such as NUAA's 64×64 are too small for the detectors).
fn face_or_whole(engine: &Engine, image: &RgbImage) -> anyhow::Result<(DetectedFace, bool)> {
    let faces = engine.detect(image)?;
    if let Some(face) = main_face(&faces, |f| f.bbox.area()) {
        return Ok((*face, false));
    }
    let (w, h) = (image.width() as f32, image.height() as f32);
    Ok((
        DetectedFace {
            bbox: BoundingBox::new(0.0, 0.0, w, h),
            score: 0.0,
            landmarks: Landmarks5::default(),
        },
        true,
    ))
}

#[derive(Serialize)]
struct NamedReport {
    name: String,
    #[serde(flatten)]
    report: PadReport,
}

pub fn eval(ctx: &Ctx, args: EvalLivenessArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine(Threading::single_caller())?;
    let pack_threshold = require_model(&engine, &ctx.pack)?;
    let threshold = args.threshold.unwrap_or(pack_threshold);
    anyhow::ensure!(
        (0.0..=1.0).contains(&threshold),
        "--threshold must be between 0 and 1"
    );
    let rows = read_labels(&args.labels)?;
    let bar = progress(rows.len(), "liveness");
    let mut scored = Vec::with_capacity(rows.len());
    let mut failures = Vec::new();
    for (path, file, truth) in rows {
        bar.inc(1);
        let outcome = read_image(&engine, &path).and_then(|image| {
            let (face, whole_image) = face_or_whole(&engine, &image)?;
            let score = engine
                .liveness_scores(&image, std::slice::from_ref(&face))?
                .and_then(|mut v| v.pop())
                .context("no liveness score")?;
            Ok(Scored {
                file: file.clone(),
                truth: truth.clone(),
                score,
                cues: cues::measure(&image, &face.bbox),
                whole_image,
            })
        });
        match outcome {
            Ok(s) => scored.push(s),
            Err(e) => failures.push(json!({"file": file, "error": format!("{e:#}")})),
        }
    }
    bar.finish_and_clear();
    if let Some(out) = &args.scores {
        write_scores(out, &scored)?;
    }
    // Failures to acquire count against nobody's error rate; they are listed.
    let fused: Vec<(f32, Truth)> = scored
        .iter()
        .map(|s| (s.score.live, s.truth.clone()))
        .collect();
    let report = metrics::evaluate(&fused, threshold);
    let mut components = Vec::new();
    let names: Vec<String> = scored
        .first()
        .map(|s| s.score.components.iter().map(|c| c.model.clone()).collect())
        .unwrap_or_default();
    for (i, name) in names.iter().enumerate() {
        let samples: Vec<(f32, Truth)> = scored
            .iter()
            .filter_map(|s| s.score.components.get(i).map(|c| (c.live, s.truth.clone())))
            .collect();
        components.push(NamedReport {
            name: name.clone(),
            report: metrics::evaluate(&samples, threshold),
        });
    }
    // Cues have no calibrated threshold: reported at their APCER = 5 % point,
    // oriented so that higher means live (moiré is negated).
    let cue = |name: &str, f: &dyn Fn(&Cues) -> f32| {
        let samples: Vec<(f32, Truth)> = scored
            .iter()
            .map(|s| (f(&s.cues), s.truth.clone()))
            .collect();
        let t = metrics::evaluate(&samples, 0.0)
            .threshold_at_apcer_5
            .unwrap_or(0.0);
        NamedReport {
            name: name.to_owned(),
            report: metrics::evaluate(&samples, t),
        }
    };
    let cue_reports = vec![
        cue("sharpness", &|c| c.sharpness),
        cue("moire (negated)", &|c| -c.moire),
    ];
    let whole = scored.iter().filter(|s| s.whole_image).count();
    if ctx.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("pack".into(), json!(ctx.pack));
            map.insert(
                "model".into(),
                json!(engine.liveness_model().map(|m| format!("{:?}", m.kind()))),
            );
            map.insert("scored".into(), json!(scored.len()));
            map.insert("whole_image_faces".into(), json!(whole));
            map.insert("failures".into(), json!(failures));
            map.insert("components".into(), serde_json::to_value(&components)?);
            map.insert("cues".into(), serde_json::to_value(&cue_reports)?);
        }
        print_json(&value)?;
    } else {
        println!(
            "{}: {} presentations ({} bona fide, {} attacks), pack {}",
            args.labels.display(),
            scored.len(),
            report.bona_fide,
            report.attacks,
            ctx.pack
        );
        if whole > 0 {
            println!("no face detected in {whole}: the whole image was scored as the face box");
        }
        if !failures.is_empty() {
            println!(
                "{} could not be scored (not counted): {}",
                failures.len(),
                serde_json::to_string(&failures)?
            );
        }
        print_report("fused", &report);
        for c in &components {
            print_report(&c.name, &c.report);
        }
        for c in &cue_reports {
            print_report(&format!("cue {}", c.name), &c.report);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(v: f32) -> String {
    format!("{:.2}%", 100.0 * v)
}

fn print_report(name: &str, r: &PadReport) {
    let species: Vec<String> = r
        .apcer_per_species
        .iter()
        .map(|(k, v)| format!("APCER({k}) {}", pct(*v)))
        .collect();
    println!(
        "{name}: threshold {:.4}: {}; APCER (worst) {}, BPCER {}, ACER {}, accuracy {}; BPCER @ APCER=5% {} (threshold {}); EER {}",
        r.threshold,
        species.join(", "),
        pct(r.apcer),
        pct(r.bpcer),
        pct(r.acer),
        pct(r.accuracy),
        r.bpcer_at_apcer_5.map_or_else(|| "-".into(), pct),
        r.threshold_at_apcer_5
            .map_or_else(|| "-".into(), |t| format!("{t:.4}")),
        r.eer.map_or_else(|| "-".into(), pct),
    );
}

fn write_scores(out: &Path, scored: &[Scored]) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?,
    );
    let names: Vec<String> = scored
        .first()
        .map(|s| s.score.components.iter().map(|c| c.model.clone()).collect())
        .unwrap_or_default();
    writeln!(
        f,
        "file,label,live,{}sharpness,moire,whole_image",
        names.iter().map(|n| format!("{n},")).collect::<String>()
    )?;
    for s in scored {
        let label = match &s.truth {
            Truth::BonaFide => "live".to_owned(),
            Truth::Attack(k) => format!("spoof-{k}"),
        };
        let parts: String = s
            .score
            .components
            .iter()
            .map(|c| format!("{:.6},", c.live))
            .collect();
        writeln!(
            f,
            "{},{label},{:.6},{parts}{:.3},{:.3},{}",
            s.file, s.score.live, s.cues.sharpness, s.cues.moire, s.whole_image
        )?;
    }
    f.flush()?;
    Ok(())
}
