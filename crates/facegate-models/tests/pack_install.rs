//! Pack installation: hashes checked at every step, atomic replacement,
//! tampering refused. Uses a synthetic pack with a local `dir` source so it
//! runs without network.

use facegate_models::pack::{self, FetchOptions, Manifest, PackError};

fn manifest(sha: &str) -> Manifest {
    let text = format!(
        r#"
name = "tiny"
version = "1"
description = "test pack"

[[sources]]
id = "local"
kind = "dir"
licence = "CC0-1.0"

[[files]]
name = "det.onnx"
source = "local"
member = "det.onnx"
sha256 = "{sha}"
licence = "CC0-1.0"

[[files]]
name = "rec.onnx"
source = "local"
member = "rec.onnx"
sha256 = "{rec}"
licence = "CC0-1.0"

[detector]
kind = "yunet"
files = ["det.onnx"]
score_threshold = 0.6
nms_iou = 0.3
min_face_size = 10.0
max_side = 640

[[recognizers]]
id = "rec"
file = "rec.onnx"
alignment = "arcface"
input_size = 112
layout = "nchw"
color = "rgb"
mean = [0.0, 0.0, 0.0]
std = [1.0, 1.0, 1.0]
embedding_dim = 4

[decision]
match_threshold = 0.5
"#,
        rec = pack::sha256_hex(b"recognizer bytes")
    );
    Manifest::from_toml(&text).expect("valid manifest")
}

fn source_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("det.onnx"), b"detector bytes").unwrap();
    std::fs::write(dir.path().join("rec.onnx"), b"recognizer bytes").unwrap();
    dir
}

fn options(from: &std::path::Path, cache: &std::path::Path) -> FetchOptions {
    FetchOptions {
        cache_dir: cache.to_path_buf(),
        from_dir: Some(from.to_path_buf()),
    }
}

#[test]
fn installs_verifies_and_detects_tampering() {
    let src = source_dir();
    let data = tempfile::tempdir().unwrap();
    let m = manifest(&pack::sha256_hex(b"detector bytes"));
    let installed = pack::install(&m, data.path(), &options(src.path(), data.path())).unwrap();
    assert_eq!(installed.manifest, m);
    assert_eq!(pack::installed_packs(data.path()), vec!["tiny".to_string()]);
    assert!(pack::verify(data.path(), "tiny").is_ok());

    std::fs::write(installed.path("det.onnx"), b"detector bytes, altered").unwrap();
    match pack::verify(data.path(), "tiny") {
        Err(PackError::HashMismatch { what, .. }) => assert!(what.ends_with("det.onnx"), "{what}"),
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
}

/// Loading trusts a file's stamp (size, inode, mtime, ctime after its last
/// good hash) instead of re-hashing it, but any change to the file, even one
/// that keeps its size and sets its modification time back, is re-hashed
/// and refused; `verify` always re-hashes.
#[test]
fn loading_skips_the_hash_of_unchanged_files_but_never_misses_tampering() {
    let src = source_dir();
    let data = tempfile::tempdir().unwrap();
    let m = manifest(&pack::sha256_hex(b"detector bytes"));
    let installed = pack::install(&m, data.path(), &options(src.path(), data.path())).unwrap();
    let stamps = installed.dir.join(pack::STAMP_FILE);
    assert!(pack::load_verified(data.path(), "tiny").is_ok());
    assert!(stamps.is_file(), "a load that hashed leaves stamps");
    let recorded = std::fs::read(&stamps).unwrap();
    assert!(pack::load_verified(data.path(), "tiny").is_ok());
    assert_eq!(
        std::fs::read(&stamps).unwrap(),
        recorded,
        "nothing re-stamped"
    );

    // Same size, modification time set back: only the ctime tells.
    let det = installed.path("det.onnx");
    let modified = std::fs::metadata(&det).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&det, b"DETECTOR BYTES").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&det)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    assert_eq!(
        std::fs::metadata(&det).unwrap().modified().unwrap(),
        modified
    );
    for (how, result) in [
        ("load", pack::load_verified(data.path(), "tiny")),
        ("verify", pack::verify(data.path(), "tiny")),
    ] {
        match result {
            Err(PackError::HashMismatch { what, .. }) => {
                assert!(what.ends_with("det.onnx"), "{how}: {what}");
            }
            other => panic!("{how}: expected a hash mismatch, got {other:?}"),
        }
    }

    // A forged stamp file cannot vouch for a file it does not describe.
    std::fs::write(&stamps, &recorded).unwrap();
    assert!(pack::load_verified(data.path(), "tiny").is_err());
    // Garbage in the stamp file only means hashing again.
    std::fs::write(&det, b"detector bytes").unwrap();
    std::fs::write(&stamps, b"{not json").unwrap();
    assert!(pack::load_verified(data.path(), "tiny").is_ok());
}

#[test]
fn a_source_file_with_the_wrong_hash_is_refused_and_nothing_is_installed() {
    let src = source_dir();
    let data = tempfile::tempdir().unwrap();
    let m = manifest(&pack::sha256_hex(b"what the publisher shipped"));
    let err = pack::install(&m, data.path(), &options(src.path(), data.path())).unwrap_err();
    assert!(matches!(err, PackError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("sha256 mismatch"));
    assert!(pack::installed_packs(data.path()).is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("packs"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "the staging directory is removed");
}

#[test]
fn a_failed_reinstall_keeps_the_previous_install() {
    let src = source_dir();
    let data = tempfile::tempdir().unwrap();
    let good = manifest(&pack::sha256_hex(b"detector bytes"));
    pack::install(&good, data.path(), &options(src.path(), data.path())).unwrap();
    std::fs::write(src.path().join("det.onnx"), b"a different file").unwrap();
    assert!(pack::install(&good, data.path(), &options(src.path(), data.path())).is_err());
    assert!(
        pack::verify(data.path(), "tiny").is_ok(),
        "the old install is intact"
    );
}

#[test]
fn dir_sources_need_from() {
    let data = tempfile::tempdir().unwrap();
    let m = manifest(&pack::sha256_hex(b"detector bytes"));
    let opts = FetchOptions {
        cache_dir: data.path().to_path_buf(),
        from_dir: None,
    };
    let err = pack::install(&m, data.path(), &opts).unwrap_err();
    assert!(err.to_string().contains("--from"), "{err}");
}

#[test]
fn manifests_are_validated() {
    let m = manifest("00");
    let mut bad = m.clone();
    bad.detector.files = vec!["missing.onnx".into()];
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("missing.onnx")
    );
    let mut bad = m.clone();
    bad.files[0].name = "../escape".into();
    assert!(bad.validate().is_err());
    assert!(Manifest::from_toml("name = 1").is_err());
    assert!(Manifest::from_toml(&format!("{}\nunknown_key = 1", m.to_toml().unwrap())).is_err());
}

#[test]
fn builtin_packs_parse_and_pin_every_file() {
    for name in pack::builtin_names() {
        let m = pack::builtin(name).unwrap();
        for file in &m.files {
            assert_eq!(file.sha256.len(), 64, "{name}/{}", file.name);
            assert!(!file.licence.is_empty());
        }
        for source in &m.sources {
            if source.kind != pack::SourceKind::Dir {
                assert!(
                    source.sha256.as_deref().is_some_and(|s| s.len() == 64),
                    "{name}: source {} is pinned",
                    source.id
                );
            }
        }
    }
    assert!(pack::builtin("nope").is_err());
}

/// Serves each `(path, body)` on a loopback port for as long as the test
/// runs (404 for anything else); returns the base URL. A real socket and a
/// real `curl`, which is what a user's install goes through.
fn serve(files: &'static [(&'static str, &'static [u8])]) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = files
                .iter()
                .find(|(p, _)| *p == path)
                .map_or(("404 Not Found", &b""[..]), |(_, b)| ("200 OK", *b));
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    format!("http://{address}")
}

/// The test pack with each `dir` file given a fallback to a URL source
/// (another publication of the same model) pinned by `published_sha`.
fn manifest_with_url_fallbacks(base: &str, published_sha: [&str; 2]) -> Manifest {
    let mut text = manifest(&pack::sha256_hex(b"detector bytes"))
        .to_toml()
        .expect("toml");
    for (file, sha) in ["det", "rec"].into_iter().zip(published_sha) {
        text = text.replacen(
            "[[sources]]",
            &format!(
                "[[sources]]\nid = \"published-{file}\"\nkind = \"url\"\nurl = \"{base}/{file}.onnx\"\narchive = \"{file}-published.onnx\"\nsha256 = \"{sha}\"\nlicence = \"CC0-1.0\"\n\n[[sources]]"
            ),
            1,
        );
        text = text.replacen(
            &format!("member = \"{file}.onnx\""),
            &format!(
                "member = \"{file}.onnx\"\nfallback = {{ source = \"published-{file}\", member = \"{file}-published.onnx\", sha256 = \"{sha}\" }}"
            ),
            1,
        );
    }
    Manifest::from_toml(&text).expect("manifest with fallbacks")
}

const PUBLISHED: &[(&str, &[u8])] = &[
    ("/det.onnx", b"the same detector, exported elsewhere"),
    ("/rec.onnx", b"the same recognizer, exported elsewhere"),
];

#[test]
fn without_from_dir_files_come_from_their_pinned_url_fallbacks() {
    let base = serve(PUBLISHED);
    let data = tempfile::tempdir().unwrap();
    let m = manifest_with_url_fallbacks(
        &base,
        [
            &pack::sha256_hex(PUBLISHED[0].1),
            &pack::sha256_hex(PUBLISHED[1].1),
        ],
    );
    // --from DIR wins when given.
    let src = source_dir();
    let installed = pack::install(&m, data.path(), &options(src.path(), data.path())).unwrap();
    assert_eq!(
        std::fs::read(installed.path("det.onnx")).unwrap(),
        b"detector bytes"
    );
    // Without it, the URLs: downloaded, checked against the fallbacks'
    // sha256, and recorded in the lock so later loads verify those bytes.
    let online = FetchOptions {
        cache_dir: data.path().join("cache"),
        from_dir: None,
    };
    let installed = pack::install(&m, data.path(), &online).unwrap();
    assert_eq!(
        std::fs::read(installed.path("det.onnx")).unwrap(),
        PUBLISHED[0].1
    );
    assert_eq!(
        std::fs::read(installed.path("rec.onnx")).unwrap(),
        PUBLISHED[1].1
    );
    assert!(pack::verify(data.path(), "tiny").is_ok());
}

#[test]
fn a_url_fallback_with_the_wrong_bytes_or_no_file_is_refused() {
    let base = serve(PUBLISHED);
    let data = tempfile::tempdir().unwrap();
    let online = FetchOptions {
        cache_dir: data.path().join("cache"),
        from_dir: None,
    };
    let wrong = pack::sha256_hex(b"what the publisher announced");
    let m = manifest_with_url_fallbacks(&base, [&wrong, &pack::sha256_hex(PUBLISHED[1].1)]);
    let err = pack::install(&m, data.path(), &online).unwrap_err();
    assert!(matches!(err, PackError::HashMismatch { .. }), "{err}");
    let gone = manifest_with_url_fallbacks(&format!("{base}/moved"), [&wrong, &wrong]);
    let err = pack::install(&gone, data.path(), &online).unwrap_err();
    assert!(matches!(err, PackError::Fetch { .. }), "{err}");
    assert!(err.to_string().contains("404"), "{err}");
    assert!(pack::installed_packs(data.path()).is_empty());
}

/// A `--from DIR` that lacks a file (one holding registry archives only,
/// say) gets that file from its fallback; a DIR holding the fallback's own
/// download under its archive name serves it without the network.
#[test]
fn a_from_dir_without_the_file_uses_the_fallback_which_dir_may_hold() {
    let base = serve(PUBLISHED);
    let published = [
        pack::sha256_hex(PUBLISHED[0].1),
        pack::sha256_hex(PUBLISHED[1].1),
    ];
    let m = manifest_with_url_fallbacks(&base, [&published[0], &published[1]]);
    let partial = tempfile::tempdir().unwrap();
    std::fs::write(partial.path().join("det.onnx"), b"detector bytes").unwrap();
    let data = tempfile::tempdir().unwrap();
    let installed = pack::install(&m, data.path(), &options(partial.path(), data.path())).unwrap();
    assert_eq!(
        std::fs::read(installed.path("det.onnx")).unwrap(),
        b"detector bytes",
        "DIR's own file"
    );
    assert_eq!(
        std::fs::read(installed.path("rec.onnx")).unwrap(),
        PUBLISHED[1].1,
        "the fallback for the file DIR lacks"
    );

    // Nothing listens on port 9 (discard): only DIR can supply the bytes.
    let offline = manifest_with_url_fallbacks("http://127.0.0.1:9", [&published[0], &published[1]]);
    let downloads = tempfile::tempdir().unwrap();
    for (file, (_, bytes)) in ["det", "rec"].into_iter().zip(PUBLISHED) {
        std::fs::write(
            downloads.path().join(format!("{file}-published.onnx")),
            bytes,
        )
        .unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let installed = pack::install(
        &offline,
        data.path(),
        &options(downloads.path(), data.path()),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(installed.path("det.onnx")).unwrap(),
        PUBLISHED[0].1
    );
    assert!(pack::verify(data.path(), "tiny").is_ok());
}

/// A pack installed by an older facegate keeps its old `pack.toml`; when the
/// built-in definition's version moves on, the install is reported outdated.
#[test]
fn an_install_older_than_the_builtin_definition_is_outdated() {
    let data = tempfile::tempdir().unwrap();
    let current = pack::builtin("dlib").unwrap();
    let dir = pack::pack_dir(data.path(), "dlib");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |version: &str| {
        let mut m = current.clone();
        m.version = version.to_owned();
        std::fs::write(dir.join("pack.toml"), m.to_toml().unwrap()).unwrap();
    };
    write("1");
    assert_eq!(
        pack::outdated(data.path(), "dlib"),
        Some(("1".to_owned(), current.version.clone()))
    );
    write(&current.version);
    assert_eq!(pack::outdated(data.path(), "dlib"), None);
    assert_eq!(
        pack::outdated(data.path(), "mobilefacenet"),
        None,
        "not installed"
    );
}
