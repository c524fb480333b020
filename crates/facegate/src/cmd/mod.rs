//! One module per subcommand; `run` dispatches.

mod annotate;
mod bench;
mod bench_faults;
mod bench_streams;
pub mod enroll;
mod eval_calibrate;
mod eval_detect;
mod eval_identify;
mod eval_lfw;
mod eval_stream;
mod faces;
mod identify;
mod lfw_set;
mod liveness;
mod models;
mod plot;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use facegate_vision::session::Threading;
use facegate_vision::{Engine, EngineOptions, default_data_dir};

use crate::cli::{Cli, Command, EvalCommand, GlobalArgs};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Setup(args) => models::setup(&ctx, args),
        Command::Models(command) => models::run(&ctx, command),
        Command::Detect(args) => faces::detect(&ctx, args),
        Command::Encode(args) => faces::encode(&ctx, args),
        Command::Compare(args) => faces::compare(&ctx, args),
        Command::Identify(args) => identify::run(&ctx, args),
        Command::Eval(EvalCommand::Lfw(args)) => eval_lfw::run(&ctx, args),
        Command::Eval(EvalCommand::Detect(args)) => eval_detect::run(&ctx, args),
        Command::Eval(EvalCommand::Calibrate(args)) => eval_calibrate::run(&ctx, args),
        Command::Eval(EvalCommand::Identify(args)) => eval_identify::run(&ctx, args),
        Command::Watch(args) => watch::run(&ctx, args),
        Command::Eval(EvalCommand::Stream(args)) => eval_stream::run(&ctx, args),
        Command::Bench(args) if args.streams => bench_streams::run(&ctx, &args),
        Command::Bench(args) => bench::run(&ctx, args),
        Command::Liveness(args) => liveness::run(&ctx, args),
        Command::Eval(EvalCommand::Liveness(args)) => liveness::eval(&ctx, args),
        Command::Enroll(args) => enroll::enroll(ctx.json, args),
        Command::Import(args) => enroll::import(ctx.json, args),
        Command::Serve(args) => crate::server_cmds::serve(args).map(|()| ExitCode::SUCCESS),
        Command::Init(args) => crate::server_cmds::init(args).map(|()| ExitCode::SUCCESS),
        Command::Audit(args) => crate::server_cmds::audit(args).map(|()| ExitCode::SUCCESS),
        Command::Doctor(args) => crate::ops::doctor::run(args, ctx.json),
        Command::Health(args) => crate::ops::health(args),
        Command::Migrate(args) => crate::ops::migrate(args, ctx.json),
        Command::Config(command) => crate::ops::config(command, ctx.json),
    }
}

/// What every command needs: where the data is, which pack, output format.
pub struct Ctx {
    pub data_dir: PathBuf,
    pub pack: String,
    /// The pack was chosen by `auto`, not named.
    pub pack_is_auto: bool,
    pub json: bool,
    /// `--auto-rotate` (the default) unless `--no-auto-rotate`.
    pub auto_rotate: bool,
}

impl Ctx {
    fn new(global: GlobalArgs) -> Self {
        let data_dir = global.data_dir.unwrap_or_else(default_data_dir);
        // Resolved once, so every report names the pack that really ran.
        let pack = facegate_models::pack::resolve(&data_dir, &global.pack);
        Self {
            data_dir,
            pack,
            pack_is_auto: global.pack == facegate_models::pack::AUTO,
            json: global.json,
            // The flags override each other, so the last one given wins.
            auto_rotate: global.auto_rotate || !global.no_auto_rotate,
        }
    }

    pub fn engine(&self, threading: Threading) -> anyhow::Result<Engine> {
        let options = EngineOptions {
            threading,
            auto_rotate: self.auto_rotate,
            ..EngineOptions::new(&self.data_dir)
        };
        Engine::load_installed(&self.pack, &options).with_context(|| {
            format!(
                "loading pack {:?} from {}",
                self.pack,
                self.data_dir.display()
            )
        })
    }
}

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "gif"];

/// Expand folders (recursively, sorted) into image files; files are kept as given.
pub fn image_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_images(path, &mut out)
                .with_context(|| format!("reading folder {}", path.display()))?;
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        // Linked folders are not followed below the folder given: a link to
        // `.` or a parent would list the same images forever.
        let linked = path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if path.is_dir() {
            if !linked {
                collect_images(&path, out)?;
            }
        } else if is_image(&path) {
            out.push(path);
        }
    }
    Ok(())
}

pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The face a single-face command should use: the largest.
pub fn main_face<T>(faces: &[T], area: impl Fn(&T) -> f32) -> Option<&T> {
    faces.iter().max_by(|a, b| area(a).total_cmp(&area(b)))
}

/// Euclidean distance between unit embeddings, the measure face_recognition users know.
pub fn distance_from_cosine(cosine: f32) -> f32 {
    (2.0 - 2.0 * cosine).max(0.0).sqrt()
}
