//! `facegate eval stream ANSWERS.toml…`: recorded clips through the camera
//! pipeline, scored against who appears when (`facegate_streams::eval`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use facegate_core::Embedding;
use facegate_streams::eval::{AnswerFile, ClipScore, replay, score};
use facegate_streams::{DecodeSettings, Pipeline, SourceSpec};
use facegate_vision::session::Threading;
use serde_json::json;

use super::Ctx;
use crate::cli::EvalStreamArgs;
use crate::output::print_json;

fn shared_dir() -> PathBuf {
    std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared"))
}

pub fn run(ctx: &Ctx, args: EvalStreamArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.fps.is_finite() && args.fps > 0.0 && args.fps <= 30.0,
        "--fps must be in (0, 30]"
    );
    anyhow::ensure!(
        args.fpir.is_finite() && args.fpir > 0.0 && args.fpir < 1.0,
        "--fpir must be between 0 and 1 (exclusive)"
    );
    let engine = Arc::new(ctx.engine(Threading {
        sessions: 1,
        intra_threads: facegate_vision::session::available_cores(),
    })?);
    let shared = shared_dir();
    let mut rows = Vec::new();
    let mut failures = 0;
    for path in &args.answers {
        let result = (|| -> anyhow::Result<(ClipScore, usize, f64)> {
            let answer = AnswerFile::load(path)?;
            let mut people: Vec<(String, Vec<Embedding>)> = Vec::new();
            for k in &answer.known {
                let mut templates = Vec::new();
                for photo in &k.photos {
                    let file = AnswerFile::resolve(path, &shared, photo);
                    let embedding = super::identify::encode_main_face(&engine, &file)
                        .with_context(|| format!("{}", file.display()))?
                        .with_context(|| format!("{}: no face found", file.display()))?;
                    templates.push(embedding);
                }
                people.push((k.name.clone(), templates));
            }
            let fpir = answer.camera.fpir.unwrap_or(args.fpir);
            let known = super::watch::known_at_fpir(&engine, people, fpir, 0.0);
            let clip = AnswerFile::resolve(path, &shared, &answer.clip);
            anyhow::ensure!(clip.is_file(), "{}: no such clip", clip.display());
            let mut pipeline = Pipeline::new(
                "eval",
                answer.camera.pipeline_config(),
                engine.clone(),
                Arc::new(known),
            );
            let settings = DecodeSettings {
                fps: args.fps,
                ..DecodeSettings::default()
            };
            let started = std::time::Instant::now();
            let events = replay(
                &SourceSpec::new(clip.to_string_lossy()),
                &settings,
                &mut pipeline,
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", clip.display()))?;
            Ok((
                score(&answer, &events),
                events.len(),
                started.elapsed().as_secs_f64(),
            ))
        })();
        match result {
            Ok((s, events, secs)) => {
                if !ctx.json {
                    print_row(path, &s, events, secs);
                }
                rows.push(json!({"answers": path, "events": events, "seconds": secs, "score": s}));
            }
            Err(e) => {
                failures += 1;
                eprintln!("{}: error: {e:#}", path.display());
                rows.push(json!({"answers": path, "error": format!("{e:#}")}));
            }
        }
    }
    if ctx.json {
        print_json(&json!({"pack": ctx.pack, "fps": args.fps, "fpir": args.fpir, "clips": rows}))?;
    }
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_row(path: &std::path::Path, s: &ClipScore, events: usize, secs: f64) {
    println!("{}", path.display());
    println!(
        "  named events {} (correct {}), precision {:.3}; required people named {}/{}, recall {:.3}; unknown events {}; {events} events in {secs:.1} s",
        s.named_events,
        s.correct_named,
        s.precision,
        s.required_named,
        s.required,
        s.recall,
        s.unknown_events
    );
    for (t, name) in &s.wrong {
        println!("  WRONG: {name} named at {t:.1} s");
    }
    for (name, first) in &s.time_to_first_event_s {
        match first {
            Some(t) => println!("  {name}: first event {t:.2} s after appearing"),
            None => println!("  {name}: never named"),
        }
    }
    if let Some(l) = s.median_latency_ms {
        println!(
            "  median latency from a track's first frame to its event: {l:.0} ms (processing as fast as possible)"
        );
    }
}
