//! `facegate bench --streams`: how many 720p cameras × fps this machine
//! sustains with recognition, per-stage cost, dropped frames, FFmpeg's
//! decode cost, and the latency from a face's first frame to its event.
//! Figures are printed, never asserted.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use facegate_streams::{
    Camera, CameraSpec, DecodeSettings, EngineGate, FfmpegSource, KnownFaces, SourceSpec,
    StreamError, TrackEvent,
};
use facegate_vision::session::{Threading, available_cores};
use parking_lot::Mutex;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Ctx;
use crate::cli::BenchArgs;
use crate::output::print_json;

fn shared_dir() -> PathBuf {
    std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared"))
}

/// CPU seconds used by waited-for child processes so far.
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) != 0 {
            return 0.0;
        }
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        t(usage.ru_utime) + t(usage.ru_stime)
    }
}

pub fn run(ctx: &Ctx, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.stream_seconds.is_finite() && args.stream_seconds >= 1.0,
        "--stream-seconds must be at least 1"
    );
    anyhow::ensure!(
        (1..=64).contains(&args.cameras),
        "--cameras must be between 1 and 64"
    );
    anyhow::ensure!(
        args.stream_fps.is_finite() && args.stream_fps > 0.0 && args.stream_fps <= 30.0,
        "--stream-fps must be in (0, 30]"
    );
    let shared = shared_dir();
    let source_clip = args
        .images
        .first()
        .cloned()
        .unwrap_or_else(|| shared.join("datasets/video/hamilton_clip.mp4"));
    anyhow::ensure!(
        source_clip.is_file(),
        "{}: no such clip{}",
        source_clip.display(),
        if args.images.is_empty() {
            " (give one, or set FACEGATE_SHARED)"
        } else {
            ""
        }
    );
    let temp = tempfile::tempdir()?;
    let clip = temp.path().join("720p.mp4");
    let status = Command::new(facegate_streams::source::ffmpeg_program())
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(&source_clip)
        .args([
            "-an",
            "-vf",
            "scale=1280:720",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "30",
        ])
        .arg(&clip)
        .status()
        .context("running ffmpeg (install it)")?;
    anyhow::ensure!(status.success(), "ffmpeg could not make the 720p clip");

    // Decode alone: FFmpeg decodes every frame (H.264 needs them all) and
    // hands over `fps` of them.
    let before = children_cpu_s();
    let started = Instant::now();
    let mut reader = FfmpegSource::open(
        &SourceSpec::new(clip.to_string_lossy()),
        &DecodeSettings {
            fps: args.stream_fps,
            ..DecodeSettings::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut frames = 0u64;
    let mut last_ms = 0;
    loop {
        match reader.read() {
            Ok(f) => {
                frames += 1;
                last_ms = f.media_ms;
            }
            Err(StreamError::Ended) => break,
            Err(e) => anyhow::bail!("decoding the 720p clip: {e}"),
        }
    }
    drop(reader);
    let decode_wall = started.elapsed().as_secs_f64();
    let decode_cpu = children_cpu_s() - before;
    let video_s = (last_ms as f64 / 1000.0) + 1.0 / f64::from(args.stream_fps);
    let decode_share = decode_cpu / video_s;

    let cores = available_cores();
    let slots = args.engine_slots.unwrap_or(cores);
    anyhow::ensure!(
        (1..=64).contains(&slots),
        "--engine-slots must be between 1 and 64"
    );
    let engine = Arc::new(ctx.engine(Threading {
        sessions: slots,
        intra_threads: 1,
    })?);
    let known = known_people(&engine, &shared)?;
    let identifier: Arc<dyn facegate_streams::Identifier> = Arc::new(known);
    let mut rows = Vec::new();
    for cameras in 1..=args.cameras {
        let row = run_cameras(
            cameras,
            &clip,
            args,
            engine.clone(),
            identifier.clone(),
            (cores, slots),
        )?;
        if !ctx.json {
            println!("{}", row.1);
        }
        rows.push(row.0);
    }
    let report = json!({
        "pack": ctx.pack,
        "cores": cores,
        "engine_slots": slots,
        "frame": "1280x720",
        "target_fps": args.stream_fps,
        "decode": {
            "frames": frames,
            "wall_s": decode_wall,
            "cpu_s": decode_cpu,
            "video_s": video_s,
            "share_of_one_core_per_camera": decode_share,
        },
        "cameras": rows,
    });
    if ctx.json {
        print_json(&report)?;
    } else {
        println!(
            "decode (ffmpeg, 720p H.264 at 29.97 fps, {} fps handed over): {:.1}% of one core per camera ({decode_cpu:.2} CPU s for {video_s:.1} s of video)",
            args.stream_fps,
            decode_share * 100.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn known_people(engine: &facegate_vision::Engine, shared: &Path) -> anyhow::Result<KnownFaces> {
    let mut people = Vec::new();
    for name in ["lin-manuel-miranda", "alex-lacamoire"] {
        let path = shared.join(format!(
            "datasets/peers/face_recognition/examples/{name}.png"
        ));
        if let Some(e) = super::identify::encode_main_face(engine, &path)? {
            people.push((name.to_owned(), vec![e]));
        }
    }
    Ok(super::watch::known_at_fpir(engine, people, 1e-3, 0.0))
}

fn run_cameras(
    cameras: usize,
    clip: &Path,
    args: &BenchArgs,
    engine: Arc<facegate_vision::Engine>,
    identifier: Arc<dyn facegate_streams::Identifier>,
    (cores, slots): (usize, usize),
) -> anyhow::Result<(serde_json::Value, String)> {
    let events: Arc<Mutex<Vec<TrackEvent>>> = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(EngineGate::new(slots));
    let cancel = CancellationToken::new();
    let mut running = Vec::new();
    for i in 0..cameras {
        let mut source = SourceSpec::new(clip.to_string_lossy());
        source.realtime = true;
        source.looped = true;
        let mut spec = CameraSpec {
            detection_fps: args.stream_fps,
            ..CameraSpec::new(format!("cam{i}"), source)
        };
        // Every track's event counts as a latency sample, however often the
        // looped clip brings the same person back.
        spec.pipeline.cooldown_ms = 0;
        let sink_events = events.clone();
        let sink = move |e: TrackEvent| sink_events.lock().push(e);
        running.push(
            Camera::start(
                spec,
                engine.clone(),
                identifier.clone(),
                Arc::new(sink),
                gate.clone(),
                cancel.clone(),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    // Let every camera connect and warm up, then measure.
    std::thread::sleep(Duration::from_secs(2));
    let start: Vec<_> = running.iter().map(Camera::status).collect();
    let cpu_start = cpu_time::ProcessTime::now();
    let children_start = children_cpu_s();
    let wall = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.stream_seconds));
    let secs = wall.elapsed().as_secs_f64();
    let cpu = cpu_start.elapsed().as_secs_f64();
    let end: Vec<_> = running.iter().map(Camera::status).collect();
    for camera in running {
        camera.stop(Duration::from_secs(5));
    }
    // FFmpeg children are waited for on stop: their CPU shows up now.
    let decode_cpu = children_cpu_s() - children_start;
    let mut processed = 0.0;
    let mut offered = 0.0;
    let (mut dropped, mut busy) = (0u64, 0u64);
    let (mut detect, mut embed) = (0.0, 0.0);
    for (a, b) in start.iter().zip(&end) {
        processed += (b.frames_processed - a.frames_processed) as f64 / secs;
        offered += (b.frames_in - a.frames_in) as f64 / secs;
        dropped += b.dropped_frames - a.dropped_frames;
        busy += b.skipped_busy - a.skipped_busy;
        detect += b.stage_ms.detect / cameras as f64;
        embed += b.stage_ms.embed / cameras as f64;
    }
    let mut latencies: Vec<f64> = events
        .lock()
        .iter()
        .filter(|e| e.kind == facegate_streams::EventKind::Person)
        .map(|e| e.latency_ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    let per_camera = processed / cameras as f64;
    let sustained = per_camera >= 0.9 * f64::from(args.stream_fps);
    let line = format!(
        "{cameras} camera(s) × {} fps at 720p: {per_camera:.1} fps recognised per camera ({}), offered {:.1}/s, dropped {dropped} + {busy} busy-skipped; detect {detect:.1} ms, embed {embed:.1} ms per frame; CPU {:.0}% service + {:.0}% ffmpeg of {cores} cores; named-event latency median {} p95 {} ms ({} events)",
        args.stream_fps,
        if sustained {
            "sustained"
        } else {
            "NOT sustained"
        },
        offered,
        cpu / secs * 100.0 / cores as f64,
        decode_cpu / secs * 100.0 / cores as f64,
        pct(0.5).map_or("-".into(), |v| format!("{v:.0}")),
        pct(0.95).map_or("-".into(), |v| format!("{v:.0}")),
        latencies.len()
    );
    Ok((
        json!({
            "cameras": cameras,
            "processed_fps_per_camera": per_camera,
            "offered_fps": offered,
            "sustained": sustained,
            "dropped_frames": dropped,
            "skipped_busy": busy,
            "detect_ms": detect,
            "embed_ms": embed,
            "service_cpu_share": cpu / secs / cores as f64,
            "ffmpeg_cpu_share": decode_cpu / secs / cores as f64,
            "latency_ms_median": pct(0.5),
            "latency_ms_p95": pct(0.95),
            "named_events": latencies.len(),
        }),
        line,
    ))
}
