//! Truncation checks against real files: every image in `../shared` decodes
//! (no complete file is taken for a cut one, including a JPEG with data
//! after its end marker and progressive ones), and shared JPEGs cut at 40%
//! and 75% are refused. Skips with a message when `../shared` is absent.

use std::path::{Path, PathBuf};

use facegate_vision::decode::{DecodeError, DecodeLimits, decode_rgb};

fn shared() -> Option<PathBuf> {
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

fn images(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        if path.is_dir() {
            images(&path, out);
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["jpg", "jpeg", "png", "webp", "gif", "bmp"].contains(&e.to_ascii_lowercase().as_str())
        }) {
            out.push(path);
        }
    }
}

#[test]
fn every_shared_image_is_complete() {
    let Some(shared) = shared() else { return };
    let mut paths = Vec::new();
    images(&shared.join("datasets"), &mut paths);
    assert!(paths.len() > 1000, "{} images found", paths.len());
    let limits = DecodeLimits::default();
    let refused: Vec<String> = paths
        .iter()
        .filter_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            decode_rgb(&bytes, &limits)
                .err()
                .map(|e| format!("{}: {e}", p.display()))
        })
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
}

#[test]
fn cut_shared_jpegs_are_refused_and_trailing_data_is_not() {
    let Some(shared) = shared() else { return };
    let limits = DecodeLimits::default();
    let obama = shared.join("datasets/peers/face_recognition/test_images/obama.jpg");
    // img4 is progressive (SOF2): its later scans refine the whole picture.
    let progressive = shared.join("datasets/peers/deepface/dataset/img4.jpg");
    for path in [obama, progressive] {
        let bytes = std::fs::read(&path).expect("shared JPEG");
        assert!(decode_rgb(&bytes, &limits).is_ok(), "{}", path.display());
        for percent in [40, 75] {
            let cut = &bytes[..bytes.len() * percent / 100];
            let err = decode_rgb(cut, &limits).expect_err("a cut JPEG decoded");
            assert!(
                matches!(err, DecodeError::Truncated { format: "JPEG", .. }),
                "{} at {percent}%: {err:?}",
                path.display()
            );
        }
    }
    // ~31 KB after the end-of-image marker, as some cameras write.
    let trailing =
        std::fs::read(shared.join("datasets/peers/deepface/dataset/img47.jpg")).expect("img47.jpg");
    let eoi = trailing
        .windows(2)
        .rposition(|w| w == [0xFF, 0xD9])
        .expect("an end marker");
    assert!(trailing.len() - eoi > 1000, "img47.jpg has trailing data");
    assert!(decode_rgb(&trailing, &limits).is_ok());
}
