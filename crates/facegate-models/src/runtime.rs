//! Installing the ONNX Runtime shared library from its PyPI wheel.
//!
//! The `onnxruntime` wheel carries `onnxruntime/capi/libonnxruntime.so.<v>`;
//! we fetch the wheel with pip (pinned by version, platform and sha256) and
//! copy that one file to `<data>/runtime/`. The Python package is never
//! installed or imported.

use std::path::{Path, PathBuf};

use crate::pack::{FetchOptions, PackError, Source, SourceKind, fetch_source, read_fetched};

pub const ORT_VERSION: &str = "1.31.1";

/// (platform tag, wheel file name, wheel sha256)
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const WHEEL: Option<(&str, &str, &str)> = Some((
    "manylinux_2_28_x86_64",
    "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
    "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
));
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
const WHEEL: Option<(&str, &str, &str)> = None;

pub fn library_name() -> String {
    format!("libonnxruntime.so.{ORT_VERSION}")
}

/// Path the runtime is installed at under `data_dir`.
pub fn installed_path(data_dir: &Path) -> PathBuf {
    data_dir.join("runtime").join(library_name())
}

/// Fetch and install the runtime library; a no-op when already installed.
pub fn install(data_dir: &Path, options: &FetchOptions) -> Result<PathBuf, PackError> {
    let target = installed_path(data_dir);
    if target.is_file() {
        return Ok(target);
    }
    let Some((platform, wheel, sha256)) = WHEEL else {
        return Err(PackError::Fetch {
            what: "onnxruntime".into(),
            message: "no pinned ONNX Runtime wheel for this platform; install ONNX Runtime ≥ 1.20 and set ORT_DYLIB_PATH".into(),
        });
    };
    let source = Source {
        id: "onnxruntime".into(),
        kind: SourceKind::Pypi,
        package: Some("onnxruntime".into()),
        version: Some(ORT_VERSION.into()),
        archive: Some(wheel.into()),
        sha256: Some(sha256.into()),
        url: None,
        pip_args: [
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            "3.11",
            "--platform",
            platform,
        ]
        .map(String::from)
        .to_vec(),
        licence: "MIT".into(),
    };
    let fetched = fetch_source(&source, options)?;
    let bytes = read_fetched(&fetched, &format!("onnxruntime/capi/{}", library_name()))?;
    let dir = data_dir.join("runtime");
    std::fs::create_dir_all(&dir).map_err(|e| PackError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let staging = dir.join(format!(".{}.partial", library_name()));
    std::fs::write(&staging, &bytes).map_err(|e| PackError::Io {
        path: staging.clone(),
        source: e,
    })?;
    std::fs::rename(&staging, &target).map_err(|e| PackError::Io {
        path: target.clone(),
        source: e,
    })?;
    Ok(target)
}
