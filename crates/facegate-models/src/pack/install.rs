//! Installing packs atomically into `<data>/packs/<name>/`, and verifying them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fetch::{self, FetchOptions, Fetched};
use super::stamp::Stamps;
use super::{
    FileEntry, Manifest, PackError, Source, SourceKind, check_hash, convert::convert, sha256_hex,
};

pub const MANIFEST_FILE: &str = "pack.toml";
pub const LOCK_FILE: &str = "lock.json";

/// What was installed: the hash of every file as written, checked on load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    pub name: String,
    pub version: String,
    pub files: BTreeMap<String, String>,
}

/// A verified installed pack.
#[derive(Debug, Clone)]
pub struct InstalledPack {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub lock: Lock,
}

impl InstalledPack {
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

pub fn pack_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("packs").join(name)
}

/// Install `manifest` into `<data>/packs/<name>`, replacing any previous install only once
/// the new one is complete and verified.
pub fn install(
    manifest: &Manifest,
    data_dir: &Path,
    options: &FetchOptions,
) -> Result<InstalledPack, PackError> {
    manifest.validate()?;
    let packs = data_dir.join("packs");
    std::fs::create_dir_all(&packs).map_err(PackError::io(&packs))?;
    let staging = packs.join(format!(".staging-{}-{}", manifest.name, std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(PackError::io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(PackError::io(&staging))?;
    let result = stage(manifest, &staging, options);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let target = pack_dir(data_dir, &manifest.name);
    let old = packs.join(format!(".old-{}-{}", manifest.name, std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(PackError::io(&target))?;
    }
    std::fs::rename(&staging, &target).map_err(PackError::io(&target))?;
    if old.exists() {
        let _ = std::fs::remove_dir_all(&old);
    }
    verify(data_dir, &manifest.name)
}

fn stage(manifest: &Manifest, staging: &Path, options: &FetchOptions) -> Result<(), PackError> {
    let mut fetched: BTreeMap<&str, Fetched> = BTreeMap::new();
    let mut lock = Lock {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        files: BTreeMap::new(),
    };
    for file in &manifest.files {
        let (source, member, sha256) = origin(manifest, file, options)?;
        if !fetched.contains_key(source.id.as_str()) {
            tracing::info!(source = %source.id, "fetching");
            fetched.insert(&source.id, fetch::fetch(source, options)?);
        }
        let bytes = fetch::read(&fetched[source.id.as_str()], member)?;
        check_hash(&format!("{} ({member})", file.name), &bytes, sha256)?;
        let bytes = convert(file.convert, &file.name, bytes)?;
        let path = staging.join(&file.name);
        std::fs::write(&path, &bytes).map_err(PackError::io(&path))?;
        lock.files.insert(file.name.clone(), sha256_hex(&bytes));
    }
    let manifest_path = staging.join(MANIFEST_FILE);
    std::fs::write(&manifest_path, manifest.to_toml()?).map_err(PackError::io(&manifest_path))?;
    let lock_path = staging.join(LOCK_FILE);
    let lock_json =
        serde_json::to_string_pretty(&lock).map_err(|e| PackError::Manifest(e.to_string()))?;
    std::fs::write(&lock_path, lock_json).map_err(PackError::io(&lock_path))?;
    Ok(())
}

/// Where `file` is read from: its own source, or its fallback when that
/// source is a local directory the user did not supply or that lacks the
/// file (a `--from DIR` holding registry archives only).
fn origin<'m>(
    manifest: &'m Manifest,
    file: &'m FileEntry,
    options: &FetchOptions,
) -> Result<(&'m Source, &'m str, &'m str), PackError> {
    let source_named = |id: &str| {
        manifest
            .source(id)
            .ok_or_else(|| PackError::Manifest(format!("unknown source {id}")))
    };
    let source = source_named(&file.source)?;
    let in_dir = |dir: &PathBuf| {
        Path::new(&file.member)
            .file_name()
            .is_some_and(|base| dir.join(base).is_file())
    };
    match &file.fallback {
        Some(fallback)
            if source.kind == SourceKind::Dir && !options.from_dir.as_ref().is_some_and(in_dir) =>
        {
            Ok((
                source_named(&fallback.source)?,
                fallback.member.as_str(),
                fallback.sha256.as_str(),
            ))
        }
        _ => Ok((source, file.member.as_str(), file.sha256.as_str())),
    }
}

/// Load an installed pack and re-hash every file against its lock
/// (`facegate models verify`, `facegate doctor`).
pub fn verify(data_dir: &Path, name: &str) -> Result<InstalledPack, PackError> {
    verify_some(data_dir, name, Hashing::Always, |manifest| {
        manifest.files.iter().map(|f| f.name.clone()).collect()
    })
}

/// Load an installed pack for use: every file is checked against its lock,
/// re-hashing only files changed since their last successful hash (see
/// [`super::stamp`]); a changed file whose hash no longer matches is an
/// error, as with [`verify`].
pub fn load_verified(data_dir: &Path, name: &str) -> Result<InstalledPack, PackError> {
    verify_some(data_dir, name, Hashing::UnlessStamped, |manifest| {
        manifest.files.iter().map(|f| f.name.clone()).collect()
    })
}

/// Whether a file whose stamp still matches is hashed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hashing {
    Always,
    UnlessStamped,
}

/// Load an installed pack and check the files `select` names against its
/// lock (for a component another pack borrows, without hashing the rest).
pub(crate) fn verify_some(
    data_dir: &Path,
    name: &str,
    hashing: Hashing,
    select: impl FnOnce(&Manifest) -> Vec<String>,
) -> Result<InstalledPack, PackError> {
    let dir = pack_dir(data_dir, name);
    let manifest_path = dir.join(MANIFEST_FILE);
    if !manifest_path.is_file() {
        return Err(PackError::NotInstalled(name.to_owned()));
    }
    let text = std::fs::read_to_string(&manifest_path).map_err(PackError::io(&manifest_path))?;
    let manifest = Manifest::from_toml(&text)?;
    let lock_path = dir.join(LOCK_FILE);
    let lock_text = std::fs::read_to_string(&lock_path).map_err(PackError::io(&lock_path))?;
    let lock: Lock = serde_json::from_str(&lock_text)
        .map_err(|e| PackError::Manifest(format!("{}: {e}", lock_path.display())))?;
    let mut stamps = Stamps::load(&dir);
    for file in select(&manifest) {
        let expected = lock
            .files
            .get(&file)
            .ok_or_else(|| PackError::Manifest(format!("{file} is missing from {LOCK_FILE}")))?;
        let path = dir.join(&file);
        if hashing == Hashing::UnlessStamped && stamps.vouches_for(&file, &path, expected) {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(PackError::io(&path))?;
        check_hash(&path.display().to_string(), &bytes, expected)?;
        stamps.record(&file, &path, expected);
    }
    stamps.save(&dir);
    Ok(InstalledPack {
        dir,
        manifest,
        lock,
    })
}

/// The manifest an installed pack was installed with, read without
/// re-hashing its files (for listings; loading uses [`verify`]).
pub fn installed_manifest(data_dir: &Path, name: &str) -> Result<Manifest, PackError> {
    let path = pack_dir(data_dir, name).join(MANIFEST_FILE);
    if !path.is_file() {
        return Err(PackError::NotInstalled(name.to_owned()));
    }
    let text = std::fs::read_to_string(&path).map_err(PackError::io(&path))?;
    Manifest::from_toml(&text)
}

/// `Some((installed, built_in))` versions when the built-in definition of an
/// installed pack has changed since it was installed (reinstall to update).
pub fn outdated(data_dir: &Path, name: &str) -> Option<(String, String)> {
    outdated_manifest(&installed_manifest(data_dir, name).ok()?)
}

/// [`outdated`] for a manifest already read (e.g. by [`verify`]).
pub fn outdated_manifest(installed: &Manifest) -> Option<(String, String)> {
    let builtin = super::builtin(&installed.name).ok()?;
    (installed.version != builtin.version).then(|| (installed.version.clone(), builtin.version))
}

/// Names of the packs installed under `data_dir`.
pub fn installed_packs(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("packs")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join(MANIFEST_FILE).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}
