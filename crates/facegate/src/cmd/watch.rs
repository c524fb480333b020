//! `facegate watch SOURCE`: the camera pipeline on one source from the
//! command line, printing one line (or JSON object) per event: the
//! real-time recognition script of the face_recognition examples, with
//! tracking, voting and open-set thresholds.
//!
//! A file is read frame by frame as fast as recognition goes (no frame is
//! dropped, stream time is the file's); a live source (RTSP, HTTP, webcam,
//! `--realtime` file) runs as a service camera does: newest frame wins,
//! reconnects on failure, and the drops are reported at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use facegate_core::Embedding;
use facegate_streams::{
    Camera, CameraSpec, CameraState, DecodeSettings, EngineGate, FfmpegSource, KnownFaces,
    OperatingPoint, Pipeline, PipelineConfig, RtspTransport, SourceKind, SourceSpec, StreamError,
    TrackEvent, encode_jpeg, overlay,
};
use facegate_vision::Engine;
use facegate_vision::session::Threading;
use tokio_util::sync::CancellationToken;

use super::Ctx;
use crate::cli::WatchArgs;

pub fn run(ctx: &Ctx, args: WatchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.fps.is_finite() && args.fps > 0.0 && args.fps <= 30.0,
        "--fps must be in (0, 30]"
    );
    anyhow::ensure!(
        args.fpir.is_finite() && args.fpir > 0.0 && args.fpir < 1.0,
        "--fpir must be a number between 0 and 1 (exclusive), e.g. 0.001"
    );
    anyhow::ensure!(
        args.margin.is_finite() && (0.0..=0.5).contains(&args.margin),
        "--margin must be a cosine margin between 0 and 0.5"
    );
    let mut source = SourceSpec::new(&args.source);
    source.looped = args.r#loop;
    source.realtime = args.realtime;
    source.rtsp_transport = if args.udp {
        RtspTransport::Udp
    } else {
        RtspTransport::Tcp
    };
    let kind = source.kind().map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        kind != SourceKind::Push,
        "`push` sources take frames from clients of the service; watch a URL, file or device"
    );
    if kind == SourceKind::File {
        let path = args.source.strip_prefix("file://").unwrap_or(&args.source);
        let file = Path::new(path);
        anyhow::ensure!(!file.is_dir(), "{path} is a folder, not a video file");
        anyhow::ensure!(file.is_file(), "{path}: no such file");
        if let Some(out) = &args.annotate {
            // Writing the annotated video over the clip being read would
            // destroy the input.
            let same = std::fs::canonicalize(out)
                .ok()
                .zip(std::fs::canonicalize(file).ok())
                .is_some_and(|(a, b)| a == b);
            anyhow::ensure!(
                !same,
                "--annotate {} is the source itself: choose another file",
                out.display()
            );
        }
    }
    if let Some(out) = &args.annotate {
        Annotate::check(out)?;
    }
    stop_on_ctrl_c();
    let engine = Arc::new(ctx.engine(Threading {
        sessions: 1,
        intra_threads: facegate_vision::session::available_cores(),
    })?);
    let known = match &args.known {
        Some(dir) => known_faces(&engine, dir, args.fpir, args.margin)?,
        None => KnownFaces::new(Vec::new(), &[], |n| {
            OperatingPoint::fixed(engine.match_threshold(), args.margin, "pack", n)
        }),
    };
    if !ctx.json {
        let op = known_point(&known);
        eprintln!(
            "watching {} with pack {} · {} known people · threshold {:.3}{}",
            source.redacted(),
            ctx.pack,
            known.len(),
            op.threshold,
            op.fpir
                .map(|f| format!(" (FPIR {f} over {} people)", op.gallery_size))
                .unwrap_or_default()
        );
    }
    let config = PipelineConfig {
        min_face_px: args.min_face,
        ..PipelineConfig::default()
    };
    let mut annotate = match &args.annotate {
        Some(out) => Some(Annotate::open(out, args.fps)?),
        None => None,
    };
    let printer = Printer { json: ctx.json };
    let identifier: Arc<dyn facegate_streams::Identifier> = Arc::new(known);
    let live = source.is_live();
    let stats = if live {
        watch_live(
            &args,
            source,
            engine,
            identifier,
            config,
            &printer,
            &mut annotate,
        )?
    } else {
        watch_file(
            &args,
            &source,
            engine,
            identifier,
            config,
            &printer,
            &mut annotate,
        )?
    };
    if let Some(a) = annotate {
        a.finish()?;
    }
    if !ctx.json {
        if interrupted() {
            eprintln!("stopped (Ctrl-C)");
        }
        eprintln!("{stats}");
    }
    Ok(ExitCode::SUCCESS)
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The first Ctrl-C stops watching and prints what was seen (and finishes
/// `--annotate`'s video); a second one ends the program at once.
fn stop_on_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    if let Err(e) = installed {
        tracing::debug!("no Ctrl-C handler: {e}");
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

fn known_point(known: &KnownFaces) -> OperatingPoint {
    use facegate_streams::Identifier;
    known.operating_point()
}

/// Every known person's photos (`DIR/<person>/…` or `DIR/<person>.jpg`,
/// as `identify` reads them) embedded with the main face of each, scored
/// by their mean template at `fpir` over the number of people.
pub fn known_faces(
    engine: &Engine,
    dir: &Path,
    fpir: f64,
    margin: f32,
) -> anyhow::Result<KnownFaces> {
    let files = super::identify::known_images(dir)?;
    anyhow::ensure!(
        !files.is_empty(),
        "no images found under {0}/<person>/ or {0}/<person>.jpg",
        dir.display()
    );
    let mut people: Vec<(String, Vec<Embedding>)> = Vec::new();
    for (name, path) in files {
        match super::identify::encode_main_face(engine, &path) {
            Ok(Some(e)) => match people.iter_mut().find(|(n, _)| *n == name) {
                Some((_, list)) => list.push(e),
                None => people.push((name, vec![e])),
            },
            Ok(None) => eprintln!("WARNING: no face found in {}; ignoring it", path.display()),
            Err(e) => eprintln!("WARNING: {}: {e:#}; ignoring it", path.display()),
        }
    }
    anyhow::ensure!(
        !people.is_empty(),
        "no face was found in any known image under {}",
        dir.display()
    );
    Ok(known_at_fpir(engine, people, fpir, margin))
}

/// `people` (name, templates) scored by their mean templates at `fpir`
/// over their number on the pack's FAR curve; the pack's 1:1 threshold
/// where it has no curve.
pub fn known_at_fpir(
    engine: &Engine,
    people: Vec<(String, Vec<Embedding>)>,
    fpir: f64,
    margin: f32,
) -> KnownFaces {
    let curve = engine.far_curve().cloned();
    let fallback = engine.match_threshold();
    KnownFaces::new(people, engine.mean_template_offsets(), |n| {
        curve
            .as_ref()
            .and_then(|c| OperatingPoint::for_fpir(c, fpir, n, margin).ok())
            .unwrap_or_else(|| OperatingPoint::fixed(fallback, margin, "pack", n))
    })
}

struct Printer {
    json: bool,
}

impl Printer {
    fn event(&self, e: &TrackEvent) {
        if self.json {
            if let Ok(line) = serde_json::to_string(e) {
                println!("{line}");
            }
            return;
        }
        let at = format!(
            "{:02}:{:06.3}",
            e.media_ms / 60_000,
            (e.media_ms % 60_000) as f64 / 1000.0
        );
        let who = match (&e.name, e.decision) {
            (Some(name), _) => format!("person {name}"),
            (None, facegate_core::Decision::Ambiguous) => "unknown (ambiguous)".to_owned(),
            (None, _) => "unknown".to_owned(),
        };
        let score = e
            .score
            .map(|s| format!(" score {s:.3}"))
            .unwrap_or_default();
        let live = match e.live {
            Some(true) => " live",
            Some(false) => " SPOOF?",
            None => "",
        };
        println!(
            "{at} track {} {who}{score} (threshold {:.3}) samples {}{live} latency {:.0} ms",
            e.track_id, e.operating_point.threshold, e.samples, e.latency_ms
        );
        let _ = std::io::stdout().flush();
    }
}

/// A file, frame by frame: lossless, stream time from the frame count.
fn watch_file(
    args: &WatchArgs,
    source: &SourceSpec,
    engine: Arc<Engine>,
    identifier: Arc<dyn facegate_streams::Identifier>,
    config: PipelineConfig,
    printer: &Printer,
    annotate: &mut Option<Annotate>,
) -> anyhow::Result<String> {
    let settings = DecodeSettings {
        fps: args.fps,
        max_width: args.max_width,
        ..DecodeSettings::default()
    };
    let mut reader = FfmpegSource::open(source, &settings).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut pipeline = Pipeline::new("watch", config, engine, identifier);
    let started = Instant::now();
    let (mut frames, mut events, mut last_ms) = (0u64, 0u64, 0u64);
    let mut stage = [0.0f64; 3];
    loop {
        if interrupted() {
            break;
        }
        let frame = match reader.read() {
            Ok(f) => f,
            Err(StreamError::Ended) => break,
            Err(e) => bail!("{}: {e}", source.redacted()),
        };
        if args
            .duration
            .is_some_and(|d| frame.media_ms as f64 > d * 1000.0)
        {
            break;
        }
        last_ms = frame.media_ms;
        let result = pipeline.process(&frame).context("recognition failed")?;
        frames += 1;
        stage[0] += result.timings.detect_ms;
        stage[1] += result.timings.embed_ms;
        stage[2] += result.timings.vote_ms;
        for e in &result.events {
            printer.event(e);
            events += 1;
        }
        if let Some(a) = annotate.as_mut() {
            let mut image = frame.image;
            overlay::draw(&mut image, &result.faces);
            a.write(&image)?;
        }
    }
    for e in pipeline.finish(last_ms) {
        printer.event(&e);
        events += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = frames.max(1) as f64;
    Ok(format!(
        "{frames} frames ({:.1} s of video at {} fps) in {secs:.1} s = {:.1} frames/s; {events} events; per frame: detect {:.1} ms, embed {:.1} ms, vote {:.2} ms",
        last_ms as f64 / 1000.0,
        args.fps,
        frames as f64 / secs.max(1e-9),
        stage[0] / n,
        stage[1] / n,
        stage[2] / n
    ))
}

/// A live source through the service's camera worker.
fn watch_live(
    args: &WatchArgs,
    source: SourceSpec,
    engine: Arc<Engine>,
    identifier: Arc<dyn facegate_streams::Identifier>,
    config: PipelineConfig,
    printer: &Printer,
    annotate: &mut Option<Annotate>,
) -> anyhow::Result<String> {
    let shown = source.redacted();
    let spec = CameraSpec {
        detection_fps: args.fps,
        max_width: args.max_width,
        pipeline: config,
        ..CameraSpec::new("watch", source)
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<TrackEvent>(256);
    let sink = move |e: TrackEvent| {
        let _ = tx.try_send(e);
    };
    let cancel = CancellationToken::new();
    let camera = Camera::start(
        spec,
        engine,
        identifier,
        Arc::new(sink),
        Arc::new(EngineGate::new(1)),
        cancel.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut frames = annotate.as_ref().map(|_| camera.subscribe_jpeg());
    let until = args
        .duration
        .map(|d| Instant::now() + Duration::from_secs_f64(d));
    let mut last_state = None;
    let watched = Instant::now();
    loop {
        while let Ok(e) = rx.try_recv() {
            printer.event(&e);
        }
        if let (Some(rx), Some(a)) = (frames.as_mut(), annotate.as_mut()) {
            while let Ok(jpeg) = rx.try_recv() {
                a.write_jpeg(&jpeg)?;
            }
        }
        let status = camera.status();
        if last_state != Some(status.state) {
            if let Some(err) = status
                .last_error
                .as_ref()
                .filter(|_| status.state != CameraState::Streaming)
            {
                eprintln!("camera {:?}: {err}", status.state);
            }
            last_state = Some(status.state);
        }
        if matches!(
            status.state,
            CameraState::Ended | CameraState::Failed | CameraState::Stopped
        ) {
            break;
        }
        if until.is_some_and(|u| Instant::now() >= u) || interrupted() {
            break;
        }
        // The service keeps retrying a camera for ever; a person at a
        // terminal wants to hear that the source never answered.
        if status.frames_in == 0 && watched.elapsed() >= FIRST_FRAME_DEADLINE {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = camera.status();
    camera.stop(Duration::from_secs(5));
    while let Ok(e) = rx.try_recv() {
        printer.event(&e);
    }
    if status.state == CameraState::Failed {
        bail!(
            "{}",
            status
                .last_error
                .unwrap_or_else(|| "the camera failed".into())
        );
    }
    if status.frames_in == 0 && !interrupted() {
        bail!(
            "no frame arrived from {} in {:.0} s{}",
            shown,
            watched.elapsed().as_secs_f64(),
            status
                .last_error
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    Ok(format!(
        "{} frames in, {} recognised ({:.1}/s), {} dropped (machine too slow), {} reconnects, {} events; per frame: detect {:.1} ms, embed {:.1} ms",
        status.frames_in,
        status.frames_processed,
        status.processed_fps,
        status.dropped_frames + status.skipped_busy,
        status.reconnects,
        status.events,
        status.stage_ms.detect,
        status.stage_ms.embed
    ))
}

/// Where `--annotate` writes: numbered JPEGs in a folder, or a video file
/// encoded by FFmpeg.
enum Annotate {
    Dir {
        dir: PathBuf,
        next: u64,
    },
    Video {
        child: Child,
        stdin: Option<ChildStdin>,
    },
}

/// How long `watch` waits for a live source's first frame (through the
/// camera's retries) before it gives up.
const FIRST_FRAME_DEADLINE: Duration = Duration::from_secs(20);

/// Containers `--annotate` writes as video (FFmpeg picks the format by
/// the extension).
const VIDEO_EXTENSIONS: [&str; 5] = ["mp4", "mkv", "mov", "avi", "webm"];

impl Annotate {
    /// Whether `out` is a video file (else a folder of JPEGs). A name with
    /// any other extension is refused rather than silently made a folder
    /// called `out.gif`.
    fn check(out: &Path) -> anyhow::Result<bool> {
        let extension = out
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension {
            Some(e) if VIDEO_EXTENSIONS.contains(&e.as_str()) => {
                anyhow::ensure!(
                    !out.is_dir(),
                    "--annotate {} is a folder: give a new file name",
                    out.display()
                );
                // Found before the run, not when FFmpeg fails at its end.
                let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
                anyhow::ensure!(
                    parent.is_none_or(Path::is_dir),
                    "--annotate {}: the folder {} does not exist",
                    out.display(),
                    parent
                        .map(Path::display)
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                );
                Ok(true)
            }
            Some(e) if !out.is_dir() => bail!(
                "--annotate {}: .{e} is not a video format watch writes ({}); give one of those, or a folder",
                out.display(),
                VIDEO_EXTENSIONS.map(|v| format!(".{v}")).join(", ")
            ),
            _ => {
                anyhow::ensure!(
                    !out.is_file(),
                    "--annotate {} is a file, not a folder: give a folder or a video name ({})",
                    out.display(),
                    VIDEO_EXTENSIONS.map(|v| format!(".{v}")).join(", ")
                );
                Ok(false)
            }
        }
    }

    fn open(out: &Path, fps: f32) -> anyhow::Result<Self> {
        let is_video = Self::check(out)?;
        if !is_video {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            return Ok(Annotate::Dir {
                dir: out.to_path_buf(),
                next: 0,
            });
        }
        let mut child = Command::new(facegate_streams::source::ffmpeg_program())
            .args([
                "-nostdin",
                "-y",
                "-loglevel",
                "error",
                "-f",
                "image2pipe",
                "-framerate",
            ])
            .arg(fps.to_string())
            .args(["-c:v", "mjpeg", "-i", "pipe:0", "-pix_fmt", "yuv420p"])
            .arg(out)
            .stdin(Stdio::piped())
            .spawn()
            .context("starting ffmpeg to write the annotated video (install ffmpeg)")?;
        let stdin = child.stdin.take();
        Ok(Annotate::Video { child, stdin })
    }

    fn write(&mut self, image: &image::RgbImage) -> anyhow::Result<()> {
        let jpeg = encode_jpeg(image, 85).context("encoding an annotated frame")?;
        self.write_jpeg(&jpeg)
    }

    fn write_jpeg(&mut self, jpeg: &[u8]) -> anyhow::Result<()> {
        match self {
            Annotate::Dir { dir, next } => {
                let path = dir.join(format!("frame_{next:06}.jpg"));
                *next += 1;
                std::fs::write(&path, jpeg).with_context(|| format!("writing {}", path.display()))
            }
            Annotate::Video { stdin, .. } => stdin
                .as_mut()
                .context("the video encoder has stopped")?
                .write_all(jpeg)
                .context("writing to ffmpeg (did it fail? see its message above)"),
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        if let Annotate::Video { mut child, stdin } = self {
            drop(stdin);
            let status = child.wait()?;
            anyhow::ensure!(
                status.success(),
                "ffmpeg could not write the annotated video"
            );
        }
        Ok(())
    }
}
