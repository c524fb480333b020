//! The data directory holds face templates (biometric data), the JWT signing
//! key, the SQLite database and the logs: it is created readable by the
//! service user only (0700), and so are the files in it (0600).
//!
//! Three layers, because no single one covers every file: the service
//! commands set the process umask to 077 ([`restrict_umask`]) so whatever
//! they create (log files, SQLite's `-wal`/`-shm`) is private; directories
//! are created with an explicit 0700 ([`create_private_dir`]); and the SQLite
//! file is created 0600 before SQLite opens it ([`open_store`]), which also
//! covers embedders (tests) that never set a umask, since SQLite gives its
//! `-wal` and `-shm` files the database file's mode. An existing directory
//! or database that others can read is left as it is, with a warning
//! ([`warn_if_exposed`]): changing an operator's permissions behind their
//! back could break their backups.

use std::path::{Path, PathBuf};

use anyhow::Context;
use facegate_store::Store;

use crate::config::Config;

/// Make every file and directory this process creates private to its user
/// (umask 077). The service commands call it first thing; it is
/// process-wide, which is why the file-oriented CLI commands do not.
pub fn restrict_umask() {
    #[cfg(unix)]
    // SAFETY: umask only swaps the process's file-creation mask; it takes no
    // pointers and cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Create `dir` and any missing parents with mode 0700. An existing
/// directory is left alone.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}

/// The permission bits of `path` that let its group or others in, if any.
pub fn exposed_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The SQLite database file a URL names, if it names a file.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.starts_with(':') {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Log a warning for the data directory and database files that others can
/// read. Returns the warnings (for tests and for callers without logging).
pub fn warn_if_exposed(config: &Config) -> Vec<String> {
    let mut paths = vec![config.data_dir.clone()];
    if let Some(db) = sqlite_file(&config.database_url()) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            paths.push(PathBuf::from(name));
        }
    }
    let mut warnings = Vec::new();
    for path in paths {
        if let Some(mode) = exposed_mode(&path) {
            let message = format!(
                "{} is readable by other users (mode {mode:o}); it holds biometric data: `chmod go-rwx {}`",
                path.display(),
                path.display()
            );
            tracing::warn!("{message}");
            warnings.push(message);
        }
    }
    warnings
}

/// Create the SQLite file 0600 if it does not exist yet (an empty file is
/// an empty database), so SQLite never creates it with the umask's mode.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map(drop)
        .with_context(|| format!("cannot create the database file {}", path.display()))
}

/// Open the configured database (running migrations): the data directory
/// is created 0700 and a new SQLite file 0600 first, and exposed existing
/// ones are warned about. Every command that opens the database goes
/// through here.
pub async fn open_store(config: &Config, max_connections: u32) -> anyhow::Result<Store> {
    create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let url = config.database_url();
    if let Some(db) = sqlite_file(&url) {
        create_private_file(&db)?;
    }
    warn_if_exposed(config);
    Store::connect(&url, max_connections)
        .await
        .context("cannot open the database")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/f/facegate.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/f/facegate.db"))
        );
        assert_eq!(sqlite_file("sqlite:rel.db"), Some(PathBuf::from("rel.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://:memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }

    #[cfg(unix)]
    #[test]
    fn private_dirs_and_files() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let nested = tmp.path().join("a/b");
        create_private_dir(&nested).unwrap();
        for dir in [tmp.path().join("a"), nested.clone()] {
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", dir.display());
        }
        assert_eq!(exposed_mode(&nested), None);
        let db = nested.join("x.db");
        create_private_file(&db).unwrap();
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(exposed_mode(&nested), Some(0o755));
    }
}
