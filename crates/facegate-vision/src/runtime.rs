//! Locating and loading the ONNX Runtime shared library.
//!
//! facegate links ONNX Runtime dynamically (`ort`'s `load-dynamic`) so the build
//! never downloads binaries. The library is looked up in this order, the first
//! that exists wins: `ORT_DYLIB_PATH`, a system install found by the dynamic
//! loader's usual directories, then the copy `facegate setup` installs into the
//! data directory (`<data>/runtime/`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

/// The ONNX Runtime release `facegate setup` installs (and the API level we
/// compile against needs at least 1.20).
pub const BUNDLED_ORT_VERSION: &str = "1.31.1";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found (looked in ORT_DYLIB_PATH, system library directories and {0}); \
         run `facegate setup` or set ORT_DYLIB_PATH"
    )]
    NotFound(PathBuf),
    #[error("could not load ONNX Runtime from {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("ONNX Runtime was already initialised from {0}")]
    AlreadyInitialised(PathBuf),
}

static ENVIRONMENT: OnceLock<(PathBuf, Environment)> = OnceLock::new();

/// The library file name inside `<data>/runtime/`.
pub fn bundled_library_name() -> String {
    format!("libonnxruntime.so.{BUNDLED_ORT_VERSION}")
}

/// Find the ONNX Runtime library, preferring an explicit or system install.
pub fn locate(data_dir: &Path) -> Result<PathBuf, RuntimeError> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from)
        && path.is_file()
    {
        return Ok(path);
    }
    const SYSTEM_DIRS: &[&str] = &[
        "/usr/local/lib",
        "/usr/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
    ];
    for dir in SYSTEM_DIRS {
        let candidate = Path::new(dir).join("libonnxruntime.so");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let bundled = data_dir.join("runtime").join(bundled_library_name());
    if bundled.is_file() {
        return Ok(bundled);
    }
    Err(RuntimeError::NotFound(data_dir.join("runtime")))
}

/// Load ONNX Runtime once per process and return the shared environment.
/// Later calls return the first environment whatever path they name.
pub fn init(data_dir: &Path) -> Result<&'static Environment, RuntimeError> {
    if let Some((_, env)) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let path = locate(data_dir)?;
    init_from_path(&path)
}

/// Load ONNX Runtime from an explicit library path.
pub fn init_from_path(path: &Path) -> Result<&'static Environment, RuntimeError> {
    if let Some((_, env)) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let load_error = |message: String| RuntimeError::Load {
        path: path.to_owned(),
        message,
    };
    let builder = ort::init_from(path).map_err(|e| load_error(e.to_string()))?;
    let env = builder
        .with_name("facegate")
        .build()
        .map_err(|e| load_error(e.to_string()))?;
    let (_, env) = ENVIRONMENT.get_or_init(|| (path.to_owned(), env));
    Ok(env)
}

/// Where the loaded library came from, if it is loaded.
pub fn loaded_from() -> Option<&'static Path> {
    ENVIRONMENT.get().map(|(p, _)| p.as_path())
}
