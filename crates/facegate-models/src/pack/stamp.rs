//! What a full re-hash of a pack proved, remembered per file by its file
//! system identity, so that loading a pack does not hash ~30–130 MB of
//! models on every start (it was most of a CLI command's start-up).
//!
//! A stamp records a file's size, inode, device, modification time and
//! status-change time (ctime) as seen right after its sha256 matched the
//! lock. Loading re-hashes only files whose stamp no longer matches. Any
//! write to a file changes its mtime and ctime, and ctime cannot be set
//! back by a user (unlike mtime with `touch -d`), so a tampered file is
//! always re-hashed. `facegate models verify` ignores stamps and re-hashes
//! everything. Where the pack folder is read-only (a container image), no
//! stamps can be written and every load hashes, as before.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Stamps live beside the lock, hidden; never part of the lock itself.
pub const STAMP_FILE: &str = ".verified.json";

/// One file's identity when its hash last matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    sha256: String,
    size: u64,
    inode: u64,
    device: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Stamps {
    files: BTreeMap<String, Stamp>,
    #[serde(skip)]
    changed: bool,
}

impl Stamps {
    /// The stamps of the pack in `dir` (none when absent or unreadable).
    pub(crate) fn load(dir: &Path) -> Stamps {
        std::fs::read(dir.join(STAMP_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Whether `path` (pack file `name`) is, by its file system identity,
    /// the file whose sha256 was last found to be `expected`.
    pub(crate) fn vouches_for(&self, name: &str, path: &Path, expected: &str) -> bool {
        let (Some(stamp), Some(now)) = (self.files.get(name), identity(path, expected)) else {
            return false;
        };
        *stamp == now
    }

    /// Remember that `path`'s sha256 matched `expected` just now.
    pub(crate) fn record(&mut self, name: &str, path: &Path, expected: &str) {
        match identity(path, expected) {
            Some(stamp) => {
                if self.files.get(name) != Some(&stamp) {
                    self.files.insert(name.to_owned(), stamp);
                    self.changed = true;
                }
            }
            None => {
                self.changed |= self.files.remove(name).is_some();
            }
        }
    }

    /// Write the stamps back when they changed; best effort (a read-only
    /// pack folder keeps hashing on every load).
    pub(crate) fn save(&self, dir: &Path) {
        if !self.changed {
            return;
        }
        let Ok(json) = serde_json::to_vec_pretty(self) else {
            return;
        };
        let temp = dir.join(format!("{STAMP_FILE}.{}.tmp", std::process::id()));
        let written =
            std::fs::write(&temp, json).and_then(|()| std::fs::rename(&temp, dir.join(STAMP_FILE)));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            tracing::debug!(dir = %dir.display(), "pack verification stamps not saved: {e}");
        }
    }
}

#[cfg(unix)]
fn identity(path: &Path, sha256: &str) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    Some(Stamp {
        sha256: sha256.to_ascii_lowercase(),
        size: meta.size(),
        inode: meta.ino(),
        device: meta.dev(),
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
        ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
    })
}

/// Without Unix metadata there is no status-change time to trust: always hash.
#[cfg(not(unix))]
fn identity(_path: &Path, _sha256: &str) -> Option<Stamp> {
    None
}
