//! `facegate bench`: per-stage latency on one core, all-cores throughput and
//! peak memory. Figures are printed, never asserted: machines are noisy, so
//! compare ratios taken in one run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use facegate_models::pack::{Alignment, RecognizerSpec};
use facegate_vision::embed::Recognizer;
use facegate_vision::session::{SessionPool, Threading, available_cores};
use facegate_vision::{Engine, Timings};
use serde::Serialize;

use super::Ctx;
use crate::cli::BenchArgs;
use crate::output::print_json;

#[derive(Debug, Serialize)]
struct ImageBench {
    name: String,
    width: u32,
    height: u32,
    faces: usize,
    /// Median per stage over the iterations, one thread.
    median: Timings,
    median_total_ms: f32,
    /// Median CPU time of the one thread that ran it. On a shared or busy
    /// machine wall times swing with the neighbours; this one-core cost does not.
    median_cpu_ms: f32,
    /// Median passive-liveness time per face (None: the pack has no liveness model).
    liveness_ms_per_face: Option<f32>,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    pack: String,
    model: String,
    cores: usize,
    single_thread: Vec<ImageBench>,
    throughput_image: String,
    single_thread_images_per_second: f64,
    all_cores_images_per_second: f64,
    /// Recognizer alone on the dlib reference chips; absent when the chips or
    /// a dlib ResNet recognizer are not there (`chip_throughput_skipped` says which).
    #[serde(skip_serializing_if = "Option::is_none")]
    chip_throughput: Option<ChipBench>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chip_throughput_skipped: Option<String>,
    /// Cost of the plausibility check, the close-up pass and auto_rotate,
    /// on the throughput image.
    safeguards: super::bench_faults::SafeguardBench,
    peak_rss_mib: f64,
}

fn shared_dir() -> PathBuf {
    std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared"))
}

/// The benchmark inputs: given files, or the shared resolution ladder plus a
/// 640×480 single-face JPEG cut from it (the size kiosks send).
fn inputs(args: &BenchArgs) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    if !args.images.is_empty() {
        return args
            .images
            .iter()
            .map(|p| {
                Ok((
                    p.display().to_string(),
                    std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
                ))
            })
            .collect();
    }
    let dir = shared_dir().join("datasets/peers/face_recognition/examples");
    anyhow::ensure!(
        dir.is_dir(),
        "no images given and {} is missing (set FACEGATE_SHARED)",
        dir.display()
    );
    let mut out = Vec::new();
    for name in [
        "obama-240p.jpg",
        "obama-480p.jpg",
        "obama-720p.jpg",
        "obama-1080p.jpg",
    ] {
        let path = dir.join(name);
        out.push((
            name.to_owned(),
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        ));
    }
    let source = image::load_from_memory(&out[2].1)?.to_rgb8();
    let crop =
        image::imageops::crop_imm(&source, (source.width() - 853) / 2, 0, 853, 640).to_image();
    let small = image::imageops::resize(&crop, 640, 480, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(small).write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )?;
    out.insert(0, ("obama-640x480.jpg".to_owned(), jpeg));
    Ok(out)
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn time_image(
    engine: &Engine,
    name: &str,
    bytes: &[u8],
    iterations: usize,
) -> anyhow::Result<ImageBench> {
    let first = engine
        .analyze(bytes)
        .with_context(|| format!("analysing {name}"))?;
    let mut runs: Vec<(Timings, f32, f32)> = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let cpu = cpu_time::ThreadTime::now();
        let start = Instant::now();
        let a = engine.analyze(bytes)?;
        let wall = start.elapsed().as_secs_f32() * 1000.0;
        runs.push((a.timings, wall, cpu.elapsed().as_secs_f32() * 1000.0));
    }
    let stage = |f: fn(&Timings) -> f32| median(runs.iter().map(|r| f(&r.0)).collect());
    Ok(ImageBench {
        name: name.to_owned(),
        width: first.width,
        height: first.height,
        faces: first.faces.len(),
        median: Timings {
            decode_ms: stage(|t| t.decode_ms),
            detect_ms: stage(|t| t.detect_ms),
            align_ms: stage(|t| t.align_ms),
            embed_ms: stage(|t| t.embed_ms),
            liveness_ms: stage(|t| t.liveness_ms),
        },
        median_total_ms: median(runs.iter().map(|r| r.1).collect()),
        median_cpu_ms: median(runs.iter().map(|r| r.2).collect()),
        liveness_ms_per_face: (engine.liveness_model().is_some() && !first.faces.is_empty())
            .then(|| stage(|t| t.liveness_ms) / first.faces.len() as f32),
    })
}

fn throughput(engine: &Engine, bytes: &[u8], threads: usize, seconds: f64) -> f64 {
    let done = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while Instant::now() < deadline {
                    if engine.analyze(bytes).is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Recognizer throughput on the 150×150 chips that dlib's own `get_face_chip`
/// cut (`../shared/datasets/reference/dlib/chips`): no decode, detection or
/// alignment, so it compares the network alone with face_recognition's
/// `compute_face_descriptor(chip)` (see `tools/bench-face-recognition`).
#[derive(Debug, Serialize)]
struct ChipBench {
    recognizer: String,
    chips: usize,
    /// One forward pass per call, batch of one chip: what dlib does per face.
    single_thread_encodings_per_second: f64,
    all_cores_encodings_per_second: f64,
    /// Whether the pack averages each chip with its mirror image (a second pass).
    pack_flip_average: bool,
    /// Chips the pack embeds per face: one per dlib shape predictor.
    pack_chips_per_face: usize,
    /// Faces per second as the pack runs it: every chip of a face, each with
    /// its mirror pass when `pack_flip_average`.
    pack_single_thread_encodings_per_second: f64,
    pack_all_cores_encodings_per_second: f64,
}

/// The dlib ResNet is the recognizer that takes dlib's 150×150 chips.
fn is_dlib_resnet(spec: &RecognizerSpec) -> bool {
    spec.alignment == Alignment::DlibChip && spec.input_size == 150 && spec.embedding_dim == 128
}

/// The reference chips, sorted by name, or why there are none.
fn reference_chips() -> anyhow::Result<Result<Vec<image::RgbImage>, String>> {
    let dir = shared_dir().join("datasets/reference/dlib/chips");
    if !dir.is_dir() {
        return Ok(Err(format!("{} is missing", dir.display())));
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    paths.sort();
    let mut chips = Vec::with_capacity(paths.len());
    for path in &paths {
        let chip = image::open(path)
            .with_context(|| format!("reading {}", path.display()))?
            .to_rgb8();
        if chip.dimensions() == (150, 150) {
            chips.push(chip);
        }
    }
    if chips.is_empty() {
        return Ok(Err(format!("no 150×150 PNG chips in {}", dir.display())));
    }
    Ok(Ok(chips))
}

/// Encodings per second with `threads` callers, each embedding one chip per
/// call (cycling through the chips) until the deadline.
fn chip_rate(
    recognizer: &Recognizer,
    chips: &[image::RgbImage],
    threads: usize,
    seconds: f64,
) -> anyhow::Result<f64> {
    // Warm-up, and proof that every chip embeds before anything is timed.
    for chip in chips {
        recognizer
            .embed(&[chip])
            .context("embedding a reference chip")?;
    }
    let done = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let done = &done;
            s.spawn(move || {
                let mut i = t;
                while Instant::now() < deadline {
                    if recognizer.embed(&[&chips[i % chips.len()]]).is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            });
        }
    });
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// The "recognizer throughput on 150×150 chips" section: the pack's dlib
/// ResNet, loaded straight from the verified pack, with and without the
/// pack's mirror pass, on one thread and on every core.
fn chip_bench(ctx: &Ctx, cores: usize, seconds: f64) -> anyhow::Result<Result<ChipBench, String>> {
    let pack = facegate_models::pack::verify(&ctx.data_dir, &ctx.pack)
        .with_context(|| format!("verifying pack {:?}", ctx.pack))?;
    let Some(spec) = pack.manifest.recognizers.iter().find(|r| is_dlib_resnet(r)) else {
        return Ok(Err(format!(
            "pack {:?} has no dlib ResNet recognizer",
            ctx.pack
        )));
    };
    let chips = match reference_chips()? {
        Ok(chips) => chips,
        Err(why) => return Ok(Err(why)),
    };
    let env = facegate_vision::runtime::init(&ctx.data_dir).context("loading ONNX Runtime")?;
    let path = pack.path(&spec.file);
    let model = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let load = |threading: Threading, flip: bool| -> anyhow::Result<Recognizer> {
        let pool = SessionPool::from_bytes(env, &spec.file, &model, threading)?;
        Ok(Recognizer::new(
            RecognizerSpec {
                flip_average: flip,
                ..spec.clone()
            },
            pool,
        ))
    };
    let single = Threading {
        sessions: 1,
        intra_threads: 1,
    };
    let rate = |threading: Threading, threads: usize, flip: bool| -> anyhow::Result<f64> {
        chip_rate(&load(threading, flip)?, &chips, threads, seconds)
    };
    let chips_per_face = if spec.chip_landmarks.is_some() {
        1
    } else {
        pack.manifest.landmarks.len().max(1)
    };
    let per_face = chips_per_face as f64;
    Ok(Ok(ChipBench {
        recognizer: spec.id.clone(),
        chips: chips.len(),
        single_thread_encodings_per_second: rate(single, 1, false)?,
        all_cores_encodings_per_second: rate(Threading::per_core(), cores, false)?,
        pack_flip_average: spec.flip_average,
        pack_chips_per_face: chips_per_face,
        pack_single_thread_encodings_per_second: rate(single, 1, spec.flip_average)? / per_face,
        pack_all_cores_encodings_per_second: rate(Threading::per_core(), cores, spec.flip_average)?
            / per_face,
    }))
}

/// Peak resident set size of this process (VmHWM), in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

pub fn run(ctx: &Ctx, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let inputs = inputs(&args)?;
    let cores = available_cores();
    let single = ctx.engine(Threading {
        sessions: 1,
        intra_threads: 1,
    })?;
    let mut rows = Vec::new();
    for (name, bytes) in &inputs {
        rows.push(time_image(&single, name, bytes, args.iterations)?);
    }
    let (throughput_name, throughput_bytes) = &inputs[0];
    let safeguards =
        super::bench_faults::run(&single, throughput_name, throughput_bytes, args.iterations)?;
    let single_ips = throughput(&single, throughput_bytes, 1, args.seconds);
    drop(single);
    let parallel = ctx.engine(Threading::per_core())?;
    let all_ips = throughput(&parallel, throughput_bytes, cores, args.seconds);
    let (chip_throughput, chip_throughput_skipped) = match chip_bench(ctx, cores, args.seconds)? {
        Ok(bench) => (Some(bench), None),
        Err(why) => (None, Some(why)),
    };
    let report = BenchReport {
        pack: ctx.pack.clone(),
        model: parallel.model_id().to_owned(),
        cores,
        single_thread: rows,
        throughput_image: throughput_name.clone(),
        single_thread_images_per_second: single_ips,
        all_cores_images_per_second: all_ips,
        chip_throughput,
        chip_throughput_skipped,
        safeguards,
        peak_rss_mib: peak_rss_mib(),
    };
    if ctx.json {
        print_json(&report)?;
    } else {
        println!(
            "pack {} ({}), {} cores",
            report.pack, report.model, report.cores
        );
        println!(
            "{:<20} {:>10} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "image",
            "size",
            "faces",
            "decode",
            "detect",
            "align",
            "embed",
            "total",
            "cpu",
            "live/face"
        );
        for r in &report.single_thread {
            let t = r.median;
            println!(
                "{:<20} {:>10} {:>5} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>10}",
                r.name,
                format!("{}x{}", r.width, r.height),
                r.faces,
                t.decode_ms,
                t.detect_ms,
                t.align_ms,
                t.embed_ms,
                r.median_total_ms,
                r.median_cpu_ms,
                r.liveness_ms_per_face
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}ms"))
            );
        }
        println!(
            "throughput on {}: {:.1} images/s on 1 thread, {:.1} images/s on {} cores",
            report.throughput_image,
            report.single_thread_images_per_second,
            report.all_cores_images_per_second,
            report.cores
        );
        match (&report.chip_throughput, &report.chip_throughput_skipped) {
            (Some(c), _) => {
                println!(
                    "recognizer throughput on 150×150 chips ({}, {} chips, batch 1): {:.1} encodings/s on 1 thread, {:.1} on {} cores",
                    c.recognizer,
                    c.chips,
                    c.single_thread_encodings_per_second,
                    c.all_cores_encodings_per_second,
                    report.cores
                );
                if c.pack_flip_average || c.pack_chips_per_face > 1 {
                    println!(
                        "  as the pack runs it ({} chip(s) per face{}): {:.1} faces/s on 1 thread, {:.1} on {} cores",
                        c.pack_chips_per_face,
                        if c.pack_flip_average {
                            ", each with its mirror pass"
                        } else {
                            ""
                        },
                        c.pack_single_thread_encodings_per_second,
                        c.pack_all_cores_encodings_per_second,
                        report.cores
                    );
                }
            }
            (None, Some(why)) => {
                println!("recognizer throughput on 150×150 chips: skipped ({why})")
            }
            (None, None) => {}
        }
        super::bench_faults::print(&report.safeguards);
        println!("peak RSS {:.0} MiB", report.peak_rss_mib);
    }
    Ok(ExitCode::SUCCESS)
}
