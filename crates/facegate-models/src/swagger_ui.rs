//! Installing the Swagger UI assets that the service's `/docs` page serves.
//!
//! Not a model, but fetched the way packs are: `npm pack
//! swagger-ui-dist@VERSION`, the tarball checked against its pinned sha256
//! (so a cached, mirrored or `--from DIR` copy is as good as a fresh one),
//! and only the few files `/docs` needs copied into
//! `<data>/swagger-ui/`, staged and renamed so the directory is complete or
//! absent. The build never downloads anything.

use std::path::{Path, PathBuf};

use crate::pack::{FetchOptions, PackError, Source, SourceKind, fetch_source, read_fetched};

/// The pinned `swagger-ui-dist` release.
pub const VERSION: &str = "5.35.0";
/// sha256 of `swagger-ui-dist-5.35.0.tgz` as `npm pack` writes it.
pub const SHA256: &str = "1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6";
/// The files `/docs` serves, as named in the tarball's `package/`.
pub const FILES: [&str; 3] = [
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "favicon-32x32.png",
];
/// Written last, naming the version installed.
const MARKER: &str = "VERSION";

/// Where the assets are installed under `data_dir`.
pub fn installed_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("swagger-ui")
}

/// The version installed under `data_dir`, if every file is there.
pub fn installed_version(data_dir: &Path) -> Option<String> {
    let dir = installed_dir(data_dir);
    if !FILES.iter().all(|f| dir.join(f).is_file()) {
        return None;
    }
    let version = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    Some(version.trim().to_string())
}

fn source() -> Source {
    Source {
        id: "swagger-ui-dist".into(),
        kind: SourceKind::Npm,
        package: Some("swagger-ui-dist".into()),
        version: Some(VERSION.into()),
        archive: Some(format!("swagger-ui-dist-{VERSION}.tgz")),
        sha256: Some(SHA256.into()),
        url: None,
        pip_args: Vec::new(),
        licence: "Apache-2.0".into(),
    }
}

/// Install the pinned release; a no-op when it is already installed.
pub fn install(data_dir: &Path, options: &FetchOptions) -> Result<PathBuf, PackError> {
    if installed_version(data_dir).as_deref() == Some(VERSION) {
        return Ok(installed_dir(data_dir));
    }
    install_from(&source(), data_dir, options)
}

fn install_from(
    source: &Source,
    data_dir: &Path,
    options: &FetchOptions,
) -> Result<PathBuf, PackError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError::Io { path, source }
    };
    let fetched = fetch_source(source, options)?;
    let target = installed_dir(data_dir);
    let staging = data_dir.join(".swagger-ui.partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    for file in FILES {
        let bytes = read_fetched(&fetched, &format!("package/{file}"))?;
        let path = staging.join(file);
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    let version = source.version.clone().unwrap_or_default();
    let marker = staging.join(MARKER);
    std::fs::write(&marker, format!("{version}\n")).map_err(io(&marker))?;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(io(&target))?;
    }
    std::fs::rename(&staging, &target).map_err(io(&target))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// An npm-style tarball with the given `package/` members.
    fn tarball(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, bytes) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, format!("package/{name}"), *bytes)
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn local(dir: &Path, archive: &[u8]) -> (Source, FetchOptions) {
        let mut source = source();
        source.version = Some("0.0.1-test".into());
        source.archive = Some("swagger-ui-dist-test.tgz".into());
        source.sha256 = Some(hex::encode(Sha256::digest(archive)));
        std::fs::write(dir.join("swagger-ui-dist-test.tgz"), archive).unwrap();
        let options = FetchOptions {
            cache_dir: dir.join("cache"),
            from_dir: Some(dir.to_path_buf()),
        };
        (source, options)
    }

    #[test]
    fn installs_the_files_docs_serves_from_a_checked_tarball() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tarball(&[
            ("swagger-ui.css", b"css"),
            ("swagger-ui-bundle.js", b"js"),
            ("favicon-32x32.png", b"png"),
            ("index.html", b"not needed"),
        ]);
        let (source, options) = local(tmp.path(), &archive);
        let data = tmp.path().join("data");
        let dir = install_from(&source, &data, &options).unwrap();
        assert_eq!(
            std::fs::read(dir.join("swagger-ui-bundle.js")).unwrap(),
            b"js"
        );
        assert!(!dir.join("index.html").exists());
        assert_eq!(installed_version(&data).as_deref(), Some("0.0.1-test"));

        // A tarball that is not the pinned one is refused, and the
        // installed copy stays as it was.
        let mut tampered = source.clone();
        tampered.sha256 = Some("0".repeat(64));
        let err = install_from(&tampered, &data, &options).unwrap_err();
        assert!(matches!(err, PackError::HashMismatch { .. }), "{err}");
        assert_eq!(installed_version(&data).as_deref(), Some("0.0.1-test"));
    }

    #[test]
    fn a_tarball_without_a_needed_file_installs_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tarball(&[("swagger-ui.css", b"css")]);
        let (source, options) = local(tmp.path(), &archive);
        let data = tmp.path().join("data");
        let err = install_from(&source, &data, &options).unwrap_err();
        assert!(matches!(err, PackError::MissingMember { .. }), "{err}");
        assert!(!installed_dir(&data).exists());
        assert_eq!(installed_version(&data), None);
    }
}
