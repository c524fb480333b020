//! Structured logs to stdout and to daily-rotated files with retention.

use std::io::IsTerminal;
use std::sync::OnceLock;

use anyhow::Context;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;

/// The level filter of the subscriber [`init_logging`] installed, for
/// SIGHUP to swap ([`set_level`]). One per process, as the subscriber is.
static LEVEL: OnceLock<reload::Handle<EnvFilter, tracing_subscriber::Registry>> = OnceLock::new();

/// Replace the log filter of the running service (`logging.level` syntax).
/// Fails when the filter does not parse or [`init_logging`] was not called
/// (an embedder with its own subscriber keeps its own level).
pub fn set_level(level: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("{level:?}: {e}"))?;
    let handle = LEVEL
        .get()
        .ok_or_else(|| "the service's logging is not installed".to_string())?;
    handle.reload(filter).map_err(|e| e.to_string())
}

/// Install the global subscriber: stdout and the daily file in
/// `logging.dir`, both at `logging.level`, JSON lines when `logging.json`.
/// Fails if one is already installed, since it would take every line.
/// Keep the guard alive for the process lifetime: dropping it flushes and
/// stops the file writer.
pub fn init_logging(config: &Config) -> anyhow::Result<WorkerGuard> {
    let dir = config.log_dir();
    crate::datadir::create_private_dir(&dir)
        .with_context(|| format!("cannot create log dir {}", dir.display()))?;
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("facegate")
        .filename_suffix("log")
        .max_log_files(config.logging.retention_days)
        .build(&dir)
        .context("cannot open the log file")?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let filter =
        EnvFilter::try_new(&config.logging.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    // Colours only for a person at a terminal; not in captured or piped output.
    let ansi = std::io::stdout().is_terminal();
    if config.logging.json {
        registry
            .with(tracing_subscriber::fmt::layer().json().with_ansi(false))
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_ansi(false)
                    .with_writer(file_writer),
            )
            .try_init()
            .context("a logging subscriber is already installed")?;
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_ansi(ansi))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(file_writer),
            )
            .try_init()
            .context("a logging subscriber is already installed")?;
    }
    let _ = LEVEL.set(handle);
    Ok(guard)
}
