//! `detect`, `encode` and `compare`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use facegate_core::DetectedFace;
use facegate_vision::session::Threading;
use serde::Serialize;
use serde_json::json;

use super::{Ctx, annotate, distance_from_cosine, image_files, main_face};
use crate::cli::{CompareArgs, DetectArgs, FilesArgs};
use crate::output::print_json;

#[derive(Serialize)]
struct FaceJson {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    score: f32,
    landmarks: [[f32; 2]; 5],
}

impl From<&DetectedFace> for FaceJson {
    fn from(f: &DetectedFace) -> Self {
        Self {
            bbox: [f.bbox.left, f.bbox.top, f.bbox.right, f.bbox.bottom],
            score: f.score,
            landmarks: f.landmarks.0.map(|p| [p.x, p.y]),
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

pub fn detect(ctx: &Ctx, args: DetectArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine(Threading::single_caller())?;
    let mut settings = *engine.detector_settings();
    if let Some(t) = args.threshold {
        anyhow::ensure!(
            (0.0..=1.0).contains(&t),
            "--threshold must be between 0 and 1"
        );
        settings.score_threshold = t;
    }
    if let Some(dir) = &args.annotate {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut results = Vec::new();
    let mut failures = 0;
    for path in image_files(&args.files.paths)? {
        let outcome = read(&path)
            .and_then(|bytes| Ok(engine.decode(&bytes)?))
            .and_then(|image| {
                let (rotation, turned, found) =
                    engine.detect_upright(&image, &settings, ctx.auto_rotate)?;
                Ok((turned.into_owned(), rotation, found.faces))
            });
        match outcome {
            // With auto_rotate, `image` and every coordinate are the decoded
            // image turned clockwise by `rotation`.
            Ok((image, rotation, faces)) => {
                if let Some(dir) = &args.annotate {
                    let out = annotated_path(dir, &path);
                    annotate::draw_faces(image.clone(), &faces)
                        .save(&out)
                        .with_context(|| format!("writing {}", out.display()))?;
                }
                if !ctx.json {
                    let turned = match rotation.degrees() {
                        0 => String::new(),
                        d => format!(" (image turned {d}° clockwise)"),
                    };
                    println!("{}: {} face(s){turned}", path.display(), faces.len());
                    for (i, f) in faces.iter().enumerate() {
                        let b = f.bbox;
                        let lm: Vec<String> = f
                            .landmarks
                            .0
                            .iter()
                            .map(|p| format!("({:.0},{:.0})", p.x, p.y))
                            .collect();
                        println!(
                            "  #{i} box=({:.0},{:.0},{:.0},{:.0}) score={:.3} landmarks={}",
                            b.left,
                            b.top,
                            b.right,
                            b.bottom,
                            f.score,
                            lm.join(" ")
                        );
                    }
                }
                let faces: Vec<FaceJson> = faces.iter().map(FaceJson::from).collect();
                results.push(json!({"path": path, "width": image.width(), "height": image.height(), "rotation": rotation, "faces": faces}));
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

fn annotated_path(dir: &Path, source: &Path) -> PathBuf {
    let stem = source
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "image".into());
    dir.join(format!("{stem}.png"))
}

pub fn encode(ctx: &Ctx, args: FilesArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine(Threading::single_caller())?;
    let mut results = Vec::new();
    let mut failures = 0;
    for path in image_files(&args.paths)? {
        match read(&path).and_then(|bytes| Ok(engine.analyze(&bytes)?)) {
            Ok(analysis) => {
                for (i, face) in analysis.faces.iter().enumerate() {
                    if !ctx.json {
                        let values: Vec<String> = face
                            .embedding
                            .as_slice()
                            .iter()
                            .map(|v| format!("{v:.6}"))
                            .collect();
                        println!("{},{i},{}", path.display(), values.join(","));
                    }
                }
                let faces: Vec<_> = analysis
                    .faces
                    .iter()
                    .map(|f| json!({"box": FaceJson::from(&f.face).bbox, "score": f.face.score, "embedding": f.embedding}))
                    .collect();
                results.push(json!({"path": path, "model": engine.model_id(), "rotation": analysis.rotation, "faces": faces}));
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

pub fn compare(ctx: &Ctx, args: CompareArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine(Threading::single_caller())?;
    let mut embeddings = Vec::new();
    for path in [&args.first, &args.second] {
        let analysis = engine
            .analyze(&read(path)?)
            .with_context(|| format!("analysing {}", path.display()))?;
        let face = main_face(&analysis.faces, |f| f.face.bbox.area())
            .with_context(|| format!("no face found in {}", path.display()))?;
        embeddings.push(face.embedding.clone());
    }
    let similarity = embeddings[0].cosine(&embeddings[1])?;
    let threshold = engine.match_threshold();
    let same = similarity >= threshold;
    if ctx.json {
        print_json(&json!({
            "similarity": similarity,
            "distance": distance_from_cosine(similarity),
            "threshold": threshold,
            "same_person": same,
            "model": engine.model_id(),
        }))?;
    } else {
        println!(
            "similarity {similarity:.4} (threshold {threshold:.4}): {}",
            if same {
                "same person"
            } else {
                "different people"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
