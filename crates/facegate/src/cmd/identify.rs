//! `identify KNOWN_DIR PATH...`: face_recognition's command, one line per face.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use facegate_core::calibration::template_offset;
use facegate_core::{Decision, Embedding, decide};
use facegate_vision::Engine;
use facegate_vision::session::Threading;
use rayon::prelude::*;
use serde_json::json;

use super::{Ctx, distance_from_cosine, image_files, main_face};
use crate::cli::IdentifyArgs;
use crate::output::{print_json, progress};

struct Known {
    name: String,
    embedding: Embedding,
}

/// How a match threshold was chosen.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum ThresholdSource {
    /// `--tolerance`.
    Tolerance,
    /// `--fpir`, the pack's FAR curve and the number of known people.
    Fpir,
    /// The pack has no FAR curve: its 1:1 threshold.
    Pack,
}

pub fn run(ctx: &Ctx, args: IdentifyArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.cpus == -1 || args.cpus >= 1,
        "--cpus must be -1 (all cores) or a number of cores, 1 or more"
    );
    let cores = facegate_vision::session::available_cores();
    // Each worker holds its own model sessions (~100 MB): more workers than
    // cores cost memory and buy nothing.
    let threads = if args.cpus == -1 {
        cores
    } else {
        (args.cpus as usize).min(cores)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let engine = ctx.engine(Threading {
        sessions: threads,
        intra_threads: 1,
    })?;
    if let Some(t) = args.tolerance {
        anyhow::ensure!(
            t.is_finite() && t >= 0.0,
            "--tolerance must be a non-negative number"
        );
    }
    anyhow::ensure!(
        args.fpir.is_finite() && args.fpir > 0.0 && args.fpir < 1.0,
        "--fpir must be a number between 0 and 1 (exclusive), e.g. 0.001"
    );
    anyhow::ensure!(
        args.margin.is_finite() && (0.0..=0.5).contains(&args.margin),
        "--margin must be a cosine margin between 0 and 0.5"
    );

    let known_files = known_images(&args.known)?;
    anyhow::ensure!(
        !known_files.is_empty(),
        "no images found under {0}/<person>/ or {0}/<person>.jpg",
        args.known.display()
    );
    let bar = progress(known_files.len(), "encoding known faces");
    let known: Vec<Known> = pool.install(|| {
        known_files
            .par_iter()
            .filter_map(|(name, path)| {
                let result = encode_main_face(&engine, path);
                bar.inc(1);
                match result {
                    Ok(Some(embedding)) => Some(Known {
                        name: name.clone(),
                        embedding,
                    }),
                    Ok(None) => {
                        bar.suspend(|| {
                            eprintln!("WARNING: no face found in {}; ignoring it", path.display())
                        });
                        None
                    }
                    Err(e) => {
                        bar.suspend(|| {
                            eprintln!("WARNING: {}: {e:#}; ignoring it", path.display())
                        });
                        None
                    }
                }
            })
            .collect()
    });
    bar.finish_and_clear();

    let gallery = mean_templates(&known);
    let people = gallery.len();
    anyhow::ensure!(
        people > 0,
        "no face was found in any known image under {}: nobody to identify",
        args.known.display()
    );
    let mut missing: Vec<&str> = known_files
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !gallery.iter().any(|p| p.name == *n))
        .collect();
    missing.dedup();
    for name in missing {
        eprintln!("WARNING: {name} is not known: none of their images has a usable face");
    }
    let (threshold, source, operating_point) = match (args.tolerance, engine.far_curve()) {
        (Some(tolerance), _) => (
            1.0 - tolerance * tolerance / 2.0,
            ThresholdSource::Tolerance,
            None,
        ),
        (None, Some(curve)) => {
            let op = curve.for_fpir(args.fpir, people)?;
            (op.threshold, ThresholdSource::Fpir, Some(op))
        }
        (None, None) => (engine.match_threshold(), ThresholdSource::Pack, None),
    };
    let tolerance = distance_from_cosine(threshold);
    if !ctx.json {
        let why = match operating_point {
            Some(op) => format!(
                "FPIR {} over {people} known people{}",
                op.fpir,
                if op.extrapolated {
                    ", extrapolated past the pack's calibration"
                } else {
                    ""
                }
            ),
            None if args.tolerance.is_some() => "--tolerance".to_owned(),
            None => "the pack's 1:1 threshold (it has no FAR curve)".to_owned(),
        };
        eprintln!("threshold: cosine {threshold:.3} (distance {tolerance:.3}), from {why}");
    }

    let unknown = image_files(&args.paths)?;
    let bar = progress(unknown.len(), "identifying");
    let results: Vec<_> = pool.install(|| {
        unknown
            .par_iter()
            .map(|path| {
                let r = identify_file(&engine, path, &gallery, threshold, args.margin);
                bar.inc(1);
                (path.clone(), r)
            })
            .collect()
    });
    bar.finish_and_clear();

    let mut rows = Vec::new();
    let mut failures = 0;
    for (path, result) in results {
        match result {
            Ok(matches) if matches.is_empty() => {
                if !ctx.json {
                    println!("{},no_persons_found", path.display());
                }
                rows.push(json!({"path": path, "faces": []}));
            }
            Ok(matches) => {
                for m in &matches {
                    if ctx.json {
                        continue;
                    }
                    // face_recognition's output: a name or `unknown_person`
                    // (also for an ambiguous face: no name is given).
                    let name = m.name.unwrap_or("unknown_person");
                    if args.show_distance {
                        println!("{},{name},{:.4}", path.display(), m.distance);
                    } else {
                        println!("{},{name}", path.display());
                    }
                }
                let faces: Vec<_> = matches
                    .iter()
                    .map(|m| {
                        json!({
                            "name": m.name.unwrap_or("unknown_person"),
                            "decision": m.decision,
                            "nearest": m.nearest,
                            "distance": m.distance,
                            "score": m.score,
                            "second_score": m.second_score,
                        })
                    })
                    .collect();
                rows.push(json!({"path": path, "faces": faces}));
            }
            Err(e) => {
                failures += 1;
                eprintln!("{}: error: {e:#}", path.display());
                rows.push(json!({"path": path, "error": format!("{e:#}")}));
            }
        }
    }
    if ctx.json {
        print_json(&json!({
            "tolerance": tolerance,
            "threshold": threshold,
            "threshold_source": source,
            "fpir": operating_point.map(|op| op.fpir),
            "far": operating_point.map(|op| op.far),
            "extrapolated": operating_point.map(|op| op.extrapolated),
            "margin": args.margin,
            "known": known.len(),
            "known_people": people,
            "results": rows,
        }))?;
    }
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `(person, image)` for every image under `dir/<person>/`.
/// `(person, image)` for every image under `dir/<person>/`, and, as
/// face_recognition's own command reads a folder, every image directly in
/// `dir`, named by its file stem (`dir/obama.jpg` is `obama`). Hidden
/// folders and files (`.name`) are no one.
pub(crate) fn known_images(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            for file in image_files(std::slice::from_ref(&entry))? {
                out.push((name.clone(), file));
            }
        } else if super::is_image(&entry) {
            let name = entry
                .file_stem()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            out.push((name, entry));
        }
    }
    Ok(out)
}

pub(crate) fn encode_main_face(engine: &Engine, path: &Path) -> anyhow::Result<Option<Embedding>> {
    let bytes = std::fs::read(path)?;
    let analysis = engine.analyze(&bytes)?;
    Ok(main_face(&analysis.faces, |f| f.face.bbox.area()).map(|f| f.embedding.clone()))
}

/// One mean template per known person (the renormalised mean of their
/// photos' embeddings), as the service's gallery scores people: measured
/// with `facegate eval identify --compare`, it misses fewer people than the
/// best single photo at the same FPIR, and it keeps a stranger at one chance
/// per person, as the FPIR calibration assumes. Its length is the gallery
/// size the threshold is derived for.
fn mean_templates(known: &[Known]) -> Vec<Person> {
    let mut sums: Vec<(String, Vec<f32>, usize)> = Vec::new();
    for k in known {
        let values = k.embedding.as_slice();
        match sums.iter_mut().find(|(n, _, _)| *n == k.name) {
            Some((_, sum, count)) if sum.len() == values.len() => {
                sum.iter_mut().zip(values).for_each(|(s, v)| *s += v);
                *count += 1;
            }
            Some(_) => {}
            None => sums.push((k.name.clone(), values.to_vec(), 1)),
        }
    }
    sums.into_iter()
        .filter_map(|(name, sum, templates)| {
            Embedding::from_raw(sum).ok().map(|mean| Person {
                name,
                mean,
                templates,
            })
        })
        .collect()
}

/// A known person: the mean of their photos' embeddings.
struct Person {
    name: String,
    mean: Embedding,
    templates: usize,
}

/// One face's answer.
struct FaceMatch<'a> {
    /// The person named, only for a `match`.
    name: Option<&'a str>,
    decision: Decision,
    /// The best-scoring person, named or not.
    nearest: Option<&'a str>,
    distance: f32,
    score: f32,
    second_score: Option<f32>,
}

/// Each face against every known person's mean template (less the pack's
/// offset for their number of photos, as the service's gallery scores): the
/// best person is named when they reach `threshold` clear of the runner-up
/// by `margin`.
fn identify_file<'a>(
    engine: &Engine,
    path: &Path,
    people: &'a [Person],
    threshold: f32,
    margin: f32,
) -> anyhow::Result<Vec<FaceMatch<'a>>> {
    let offsets = engine.mean_template_offsets();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let analysis = engine.analyze(&bytes)?;
    Ok(analysis
        .faces
        .iter()
        .map(|face| {
            let mut scored: Vec<(&str, f32)> = people
                .iter()
                .filter_map(|p| {
                    p.mean.cosine(&face.embedding).ok().map(|s| {
                        let s = s - template_offset(offsets, p.templates);
                        (p.name.as_str(), s)
                    })
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1));
            let best = scored.first().copied();
            let second = scored.get(1).map(|p| p.1);
            let decision = decide(best.map(|b| b.1), second, threshold, margin);
            FaceMatch {
                name: best.filter(|_| decision == Decision::Match).map(|b| b.0),
                decision,
                nearest: best.map(|b| b.0),
                distance: best.map_or(f32::INFINITY, |b| distance_from_cosine(b.1)),
                score: best.map_or(f32::NEG_INFINITY, |b| b.1),
                second_score: second,
            }
        })
        .collect())
}
