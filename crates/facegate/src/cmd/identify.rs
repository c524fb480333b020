//! `identify KNOWN_DIR PATH...`: face_recognition's command, one line per face.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use facegate_core::Embedding;
use facegate_vision::Engine;
use facegate_vision::session::Threading;
use rayon::prelude::*;
use serde_json::json;

use super::{Ctx, distance_from_cosine, image_files, main_face};
use crate::cli::IdentifyArgs;
use crate::output::{print_json, progress};

/// A face's best-matching name and its distance.
type Match = (String, f32);

struct Known {
    name: String,
    embedding: Embedding,
}

pub fn run(ctx: &Ctx, args: IdentifyArgs) -> anyhow::Result<ExitCode> {
    let threads = if args.cpus <= 0 {
        facegate_vision::session::available_cores()
    } else {
        args.cpus as usize
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let engine = ctx.engine(Threading {
        sessions: threads,
        intra_threads: 1,
    })?;
    let tolerance = args
        .tolerance
        .unwrap_or_else(|| distance_from_cosine(engine.match_threshold()));
    anyhow::ensure!(
        tolerance.is_finite() && tolerance >= 0.0,
        "--tolerance must be a non-negative number"
    );

    let known_files = known_images(&args.known)?;
    anyhow::ensure!(
        !known_files.is_empty(),
        "no images found under {}/<person>/",
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

    let unknown = image_files(&args.paths)?;
    let bar = progress(unknown.len(), "identifying");
    let results: Vec<(PathBuf, anyhow::Result<Vec<Match>>)> = pool.install(|| {
        unknown
            .par_iter()
            .map(|path| {
                let r = identify_file(&engine, path, &known, tolerance);
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
                for (name, distance) in &matches {
                    if ctx.json {
                        continue;
                    }
                    if args.show_distance {
                        println!("{},{name},{distance:.4}", path.display());
                    } else {
                        println!("{},{name}", path.display());
                    }
                }
                let faces: Vec<_> = matches
                    .iter()
                    .map(|(n, d)| json!({"name": n, "distance": d}))
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
        print_json(&json!({"tolerance": tolerance, "known": known.len(), "results": rows}))?;
    }
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `(person, image)` for every image under `dir/<person>/`.
fn known_images(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut people: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    people.sort();
    for person in people {
        let name = person
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        for file in image_files(std::slice::from_ref(&person))? {
            out.push((name.clone(), file));
        }
    }
    Ok(out)
}

fn encode_main_face(engine: &Engine, path: &Path) -> anyhow::Result<Option<Embedding>> {
    let bytes = std::fs::read(path)?;
    let analysis = engine.analyze(&bytes)?;
    Ok(main_face(&analysis.faces, |f| f.face.bbox.area()).map(|f| f.embedding.clone()))
}

/// One `(name, distance)` per face: the nearest known person within
/// `tolerance`, else `unknown_person` with the nearest distance.
fn identify_file(
    engine: &Engine,
    path: &Path,
    known: &[Known],
    tolerance: f32,
) -> anyhow::Result<Vec<(String, f32)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let analysis = engine.analyze(&bytes)?;
    Ok(analysis
        .faces
        .iter()
        .map(|face| {
            let best = known
                .iter()
                .filter_map(|k| {
                    k.embedding
                        .cosine(&face.embedding)
                        .ok()
                        .map(|c| (k, distance_from_cosine(c)))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((k, d)) if d <= tolerance => (k.name.clone(), d),
                Some((_, d)) => ("unknown_person".to_owned(), d),
                None => ("unknown_person".to_owned(), f32::INFINITY),
            }
        })
        .collect())
}
