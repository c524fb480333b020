//! Model packs: built-in definitions, installation and verification.
//!
//! Installation is fetch → check the archive's sha256 → extract each member
//! → check the member's sha256 → convert (TFLite/dlib → ONNX) → write into a
//! staging directory with a `lock.json` of the installed files' hashes →
//! rename into place. A pack directory therefore either is complete and
//! verified or does not exist; `verify` re-hashes against the lock so a
//! tampered file is refused when the engine loads it.

mod archive;
mod builtin;
mod compose;
mod convert;
mod fetch;
mod install;
mod manifest;
mod stamp;

pub use builtin::{AUTO, AUTO_PREFERENCE, builtin, builtin_names, current_decision, resolve};
pub use compose::{Components, LIVENESS_ADDON, LivenessComponent, components, liveness_addon};
pub use fetch::{FetchOptions, Fetched, fetch as fetch_source, read as read_fetched};
pub use install::{
    InstalledPack, Lock, install, installed_manifest, installed_packs, load_verified, outdated,
    outdated_manifest, pack_dir, verify,
};
pub use manifest::*;
pub use stamp::STAMP_FILE;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("invalid pack manifest: {0}")]
    Manifest(String),
    #[error("unknown pack {0:?} (known: {1})")]
    UnknownPack(String, String),
    #[error("pack {0:?} is not installed; run `facegate models install {0}`")]
    NotInstalled(String),
    #[error("could not fetch {what}: {message}")]
    Fetch { what: String, message: String },
    #[error(
        "sha256 mismatch for {what}: expected {expected}, got {actual} (the file was altered or is not the pinned version)"
    )]
    HashMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{member} not found in {archive}")]
    MissingMember { archive: String, member: String },
    #[error(
        "{0} needs files no registry ships; install it with `--from DIR` (the directory holding {1})"
    )]
    NeedsLocalSource(String, String),
    #[error("converting {file} failed: {message}")]
    Conversion { file: String, message: String },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PackError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PackError {
        let path = path.into();
        move |source| PackError::Io { path, source }
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub(crate) fn check_hash(what: &str, bytes: &[u8], expected: &str) -> Result<(), PackError> {
    let actual = sha256_hex(bytes);
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(PackError::HashMismatch {
            what: what.to_owned(),
            expected: expected.to_owned(),
            actual,
        })
    }
}
