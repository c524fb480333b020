//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "facegate",
    version,
    about = "Face recognition for access control and attendance"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Data directory (runtime, packs, database).
    #[arg(long, global = true, env = "FACEGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Model pack to use; `auto` = the best installed (yunet, else default).
    #[arg(long, global = true, env = "FACEGATE_PACK", default_value = "auto")]
    pub pack: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// When no plausible upright face is found, retry the image turned by
    /// 90°, 270° and 180° (on by default; photos without an EXIF orientation).
    #[arg(long, global = true, overrides_with = "no_auto_rotate")]
    pub auto_rotate: bool,
    /// Look for upright faces only.
    #[arg(long, global = true, overrides_with = "auto_rotate")]
    pub no_auto_rotate: bool,
    /// More logging (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install the ONNX Runtime library and the default model pack.
    Setup(SetupArgs),
    /// List, install, verify and describe model packs.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Find faces: box, score and five landmarks.
    Detect(DetectArgs),
    /// Print face embeddings.
    Encode(FilesArgs),
    /// Compare the main face of two images.
    Compare(CompareArgs),
    /// Name the faces in images using a folder of known people.
    Identify(IdentifyArgs),
    /// Recognise faces in a video stream (RTSP, HTTP MJPEG, file, webcam),
    /// one line per event.
    Watch(WatchArgs),
    /// Measure accuracy.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Measure speed and memory per stage.
    Bench(BenchArgs),
    /// Passive liveness (anti-spoofing) score of each face, or a challenge check.
    Liveness(LivenessArgs),
    /// Build an organisation's gallery from `<person>/<images>` folders (idempotent).
    Enroll(crate::cmd::enroll::EnrollArgs),
    /// Import face_recognition encodings (`encodings.pickle`) or a `facebank.csv`.
    Import(crate::cmd::enroll::ImportArgs),
    /// Run the HTTP service.
    Serve(crate::server_cmds::ServeArgs),
    /// Create the first organisation and its owner account.
    Init(crate::server_cmds::InitArgs),
    /// Check the access log's hash chain.
    Audit(crate::server_cmds::AuditArgs),
    /// Check the installation: ONNX Runtime, packs and their hashes, the
    /// database and its migrations, data-dir permissions, free disk, clock,
    /// cameras. Prints the command that fixes each problem; exit status 1
    /// when something is wrong.
    Doctor(crate::ops::DoctorArgs),
    /// Ask the running service whether it is ready (`/readyz`); exit status
    /// 0 when it is (container health checks).
    Health(crate::ops::HealthArgs),
    /// Apply pending database migrations (`--dry-run` lists them only).
    Migrate(crate::ops::MigrateArgs),
    /// Check a configuration file, or print the documented example.
    #[command(subcommand)]
    Config(crate::ops::ConfigCommand),
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Read registry archives or model files from this directory instead of the network.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Also install these packs.
    #[arg(long = "with")]
    pub with_packs: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Built-in and installed packs.
    List,
    /// Fetch, convert, verify and install a pack.
    Install {
        name: String,
        /// Directory with the files (or registry archives) for air-gapped installs.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Re-hash installed packs against their lock files.
    Verify { name: Option<String> },
    /// Describe a pack: models, sources, licences, thresholds.
    Info { name: String },
}

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Image files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub files: FilesArgs,
    /// Write each image with its boxes and landmarks drawn into this folder.
    #[arg(long)]
    pub annotate: Option<PathBuf>,
    /// Override the pack's detection score threshold.
    #[arg(long)]
    pub threshold: Option<f32>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    pub first: PathBuf,
    pub second: PathBuf,
}

#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// Folder of `<person>/<images>`.
    pub known: PathBuf,
    /// Image files or folders to identify.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Largest embedding distance that still counts as a match; overrides `--fpir`.
    #[arg(long)]
    pub tolerance: Option<f32>,
    /// Target false-positive identification rate: the share of strangers
    /// that may be named as a known person. The threshold follows from the
    /// pack's calibrated FAR curve and the number of known people.
    #[arg(long, default_value_t = facegate_core::calibration::DEFAULT_FPIR)]
    pub fpir: f64,
    /// Answer `ambiguous` when the best two people score within this cosine
    /// margin of each other (0 turns the rule off).
    #[arg(long, default_value_t = facegate_core::calibration::DEFAULT_MARGIN)]
    pub margin: f32,
    /// Print the distance of each match.
    #[arg(long)]
    pub show_distance: bool,
    /// Worker threads (-1 = all cores).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub cpus: i32,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Verification accuracy on LFW-style pairs (k-fold).
    Lfw(EvalLfwArgs),
    /// Detection recall and precision against dlib imglab XML boxes.
    Detect(EvalDetectArgs),
    /// Presentation-attack detection error rates (ISO/IEC 30107-3) on a labelled CSV.
    Liveness(EvalLivenessArgs),
    /// Measure the pack's false-accept curve on every pair of an LFW-layout
    /// folder: thresholds and TAR at FAR 1e-1 … 1e-6.
    Calibrate(EvalCalibrateArgs),
    /// Open-set identification: FNIR at FPIR 1e-2, 1e-3 and the shipped operating point.
    Identify(EvalIdentifyArgs),
    /// Recorded clips with answer files through the camera pipeline:
    /// precision and recall of named events, unknown events, time to first event.
    Stream(EvalStreamArgs),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// `rtsp://user:pass@host/path`, `http://host/mjpeg`, a video file, or `/dev/video0`.
    pub source: String,
    /// Folder of known people (`<person>/<images>` or `<person>.jpg`), as `identify` reads it.
    #[arg(long)]
    pub known: Option<PathBuf>,
    /// Write annotated frames: a video file (`.mp4`, `.mkv`, …) or a folder of JPEGs.
    #[arg(long)]
    pub annotate: Option<PathBuf>,
    /// Frames per second to recognise.
    #[arg(long, default_value_t = 5.0)]
    pub fps: f32,
    /// Target false-positive identification rate for naming a track.
    #[arg(long, default_value_t = facegate_core::calibration::DEFAULT_FPIR)]
    pub fpir: f64,
    /// Ambiguity margin (cosine) between the best two people.
    #[arg(long, default_value_t = facegate_core::calibration::DEFAULT_MARGIN)]
    pub margin: f32,
    /// Faces narrower than this (pixels, after scaling) are not recognised.
    #[arg(long, default_value_t = 36.0)]
    pub min_face: f32,
    /// Frames wider than this are scaled down first.
    #[arg(long, default_value_t = 1280)]
    pub max_width: u32,
    /// Stop after this many seconds (stream time for files, wall time otherwise).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Files: read at the file's own pace, as a live camera (frames may drop).
    #[arg(long)]
    pub realtime: bool,
    /// Files: start again at the end (with --realtime; stop with Ctrl-C or --duration).
    #[arg(long = "loop")]
    pub r#loop: bool,
    /// RTSP over UDP instead of TCP.
    #[arg(long)]
    pub udp: bool,
}

#[derive(Debug, Args)]
pub struct EvalStreamArgs {
    /// Answer files (TOML: clip, known people, who appears when).
    #[arg(required = true)]
    pub answers: Vec<PathBuf>,
    /// Frames per second to recognise.
    #[arg(long, default_value_t = 5.0)]
    pub fps: f32,
    /// Target false-positive identification rate.
    #[arg(long, default_value_t = facegate_core::calibration::DEFAULT_FPIR)]
    pub fpir: f64,
}

#[derive(Debug, Args)]
pub struct EvalLfwArgs {
    /// Folder holding `<name>/<name>_<nnnn>.jpg`.
    #[arg(long)]
    pub root: PathBuf,
    /// Pairs file (`folds n` header).
    #[arg(long)]
    pub pairs: PathBuf,
    /// Draw the ROC curve and score distributions to this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Cache the images' embeddings in this JSON file (reused when it holds
    /// the same pack, model and images).
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalCalibrateArgs {
    /// Folder holding `<name>/<name>_<nnnn>.jpg` (lfw-dev's `images`): every
    /// pair of its images is scored. Tune on lfw-dev only.
    #[arg(long)]
    pub root: PathBuf,
    /// Rewrite the `far_curve` and `calibration` of this pack definition's
    /// `[decision]` (e.g. `crates/facegate-models/packs/yunet.toml`).
    #[arg(long)]
    pub update_pack: Option<PathBuf>,
    /// Cache the images' embeddings in this JSON file.
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalIdentifyArgs {
    /// Folder holding `<name>/<name>_<nnnn>.jpg` (lfw-dev's `images`).
    #[arg(long)]
    pub root: PathBuf,
    /// Photos enrolled per person; people with more photos than this are
    /// enrolled, and their other photos are the mated probes.
    #[arg(long, default_value_t = 1)]
    pub enrol: usize,
    /// Target false-positive identification rate of the shipped operating point.
    #[arg(long, default_value_t = facegate_core::calibration::DEFAULT_FPIR)]
    pub fpir: f64,
    /// Also compare template-combination rules, score normalisation and
    /// ambiguity margins.
    #[arg(long)]
    pub compare: bool,
    /// Draw FNIR against FPIR to this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Cache the images' embeddings in this JSON file.
    #[arg(long)]
    pub embeddings: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalDetectArgs {
    /// dlib imglab XML with hand-labelled boxes; image paths relative to it.
    #[arg(long)]
    pub dlib_xml: PathBuf,
    /// IoU at which a detection matches a labelled face.
    #[arg(long, default_value_t = 0.5)]
    pub iou: f32,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LivenessArgs {
    #[command(subcommand)]
    pub command: Option<LivenessCommand>,
    /// Image files or folders to score.
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LivenessCommand {
    /// Check a burst of frames taken while the person followed a prompt.
    Challenge(ChallengeArgs),
}

#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// What the person was asked to do: turn-left, turn-right or blink (their own left/right).
    #[arg(long)]
    pub prompt: String,
    /// The frames are mirrored (front-camera preview), which swaps left and right.
    #[arg(long)]
    pub mirrored: bool,
    /// The frames, in time order.
    #[arg(required = true)]
    pub frames: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalLivenessArgs {
    /// CSV of `file,label` (paths relative to its folder; label `live` or `spoof-<kind>`).
    #[arg(long)]
    pub labels: PathBuf,
    /// Live-score threshold (default: the pack's).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Write each file's scores (model, components, cues) to this CSV.
    #[arg(long)]
    pub scores: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Images to time (default: the shared obama-240p…1080p set).
    pub images: Vec<PathBuf>,
    /// Timed repetitions per image and mode.
    #[arg(long, default_value_t = 20)]
    pub iterations: usize,
    /// Seconds of all-cores throughput measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Measure live streams instead: 1…`--cameras` cameras playing a clip
    /// (the first argument, default the shared hamilton_clip.mp4) at 720p in
    /// real time, with recognition.
    #[arg(long)]
    pub streams: bool,
    /// Most cameras to try with --streams.
    #[arg(long, default_value_t = 4)]
    pub cameras: usize,
    /// Recognised frames per second per camera with --streams.
    #[arg(long, default_value_t = 5.0)]
    pub stream_fps: f32,
    /// Seconds measured per camera count with --streams.
    #[arg(long, default_value_t = 20.0)]
    pub stream_seconds: f64,
    /// Camera frames in recognition at once with --streams (the service's
    /// `[streams] engine_slots`); default: one per core.
    #[arg(long)]
    pub engine_slots: Option<usize>,
}
