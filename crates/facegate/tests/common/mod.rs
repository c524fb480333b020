//! Helpers shared by the binary's end-to-end tests: where `../shared` and
//! the installed packs are, and running the real `facegate` binary.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("datasets").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: shared data not found at {} (set FACEGATE_SHARED)",
            dir.display()
        );
        None
    }
}

pub fn data_dir() -> PathBuf {
    std::env::var_os("FACEGATE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-data"))
}

/// The shared dir, if the pack is installed too.
pub fn ready(pack: &str) -> Option<PathBuf> {
    let shared = shared()?;
    if !data_dir()
        .join("packs")
        .join(pack)
        .join("pack.toml")
        .is_file()
    {
        eprintln!(
            "SKIP: pack {pack} not installed in {} (run `cargo xtask test`)",
            data_dir().display()
        );
        return None;
    }
    Some(shared)
}

pub fn facegate(pack: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .env("FACEGATE_DATA_DIR", data_dir())
        .env("FACEGATE_PACK", pack)
        .args(args)
        .output()
        .expect("the facegate binary runs")
}

pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The JSON a successful run printed; fails the test with stderr otherwise.
pub fn succeeded_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    json(output)
}

pub fn no_panic(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "the binary panicked: {stderr}"
    );
}

pub fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}
pub mod serve;
