//! Truncated images are refused per file, whatever the format: a cut JPEG
//! would otherwise decode with its lower part grey and be detected (and
//! enrolled) as if whole. Shared images cut by the test; needs the `default`
//! pack and `../shared` (skips with a message otherwise).

mod common;

use common::*;

/// A baseline and a progressive shared JPEG, each cut at 40% and 75%, give
/// one per-file error each and exit status 1; the whole files and a shared
/// JPEG with bytes after its end marker still work in the same run.
#[test]
fn detect_refuses_cut_jpegs_and_keeps_complete_ones() {
    let Some(shared) = ready("default") else {
        return;
    };
    let obama = shared.join("datasets/peers/face_recognition/test_images/obama.jpg");
    // Progressive (SOF2) — `img47.jpg` of the same set carries ~31 KB after
    // its end-of-image marker, as some cameras write.
    let progressive = shared.join("datasets/peers/deepface/dataset/img4.jpg");
    let trailing = shared.join("datasets/peers/deepface/dataset/img47.jpg");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut inputs = vec![obama.clone()];
    for (source, bytes) in [
        ("obama", std::fs::read(&obama).expect("obama.jpg")),
        (
            "progressive",
            std::fs::read(&progressive).expect("img4.jpg"),
        ),
    ] {
        assert!(
            source != "progressive" || is_progressive(&bytes),
            "img4.jpg is a progressive JPEG"
        );
        for percent in [40, 75] {
            let cut = dir.path().join(format!("{source}-{percent}.jpg"));
            std::fs::write(&cut, &bytes[..bytes.len() * percent / 100]).expect("write");
            inputs.push(cut);
        }
    }
    inputs.push(trailing);
    let args: Vec<&str> = ["detect", "--json"]
        .into_iter()
        .chain(inputs.iter().map(|p| s(p)))
        .collect();
    let out = facegate("default", &args);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "a truncated file fails the run");
    let v = json(&out);
    let rows = v.as_array().expect("one row per file");
    assert_eq!(rows.len(), inputs.len(), "{v}");
    assert_eq!(
        rows[0]["faces"].as_array().map(Vec::len),
        Some(1),
        "{}",
        rows[0]
    );
    for row in &rows[1..5] {
        let error = row["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error: {row}"));
        assert!(error.contains("JPEG file is truncated"), "{error}");
        assert!(
            row["faces"].is_null(),
            "no detection from a cut file: {row}"
        );
    }
    assert!(
        rows[5]["faces"].as_array().is_some_and(|f| !f.is_empty()),
        "bytes after the end marker are fine: {}",
        rows[5]
    );

    // Text mode names the file and the fault, and exits 1 as well.
    let cut = dir.path().join("obama-40.jpg");
    let out = facegate("default", &["detect", s(&cut)]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("obama-40.jpg") && stderr.contains("truncated"),
        "{stderr}"
    );
}

/// PNG, WebP and GIF versions of a shared photo, made by the test and cut,
/// are refused the same way.
#[test]
fn detect_refuses_cut_png_webp_and_gif() {
    let Some(shared) = ready("default") else {
        return;
    };
    // Smaller, so the GIF encoder's colour quantisation stays quick.
    let photo = image::open(shared.join("datasets/peers/face_recognition/test_images/obama.jpg"))
        .expect("obama.jpg decodes")
        .thumbnail(400, 400);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut inputs = Vec::new();
    for (format, ext) in [
        (image::ImageFormat::Png, "png"),
        (image::ImageFormat::WebP, "webp"),
        (image::ImageFormat::Gif, "gif"),
    ] {
        let mut bytes = Vec::new();
        let rgba = image::DynamicImage::ImageRgba8(photo.to_rgba8());
        let source = if format == image::ImageFormat::Gif {
            &rgba
        } else {
            &photo
        };
        source
            .write_to(&mut std::io::Cursor::new(&mut bytes), format)
            .expect("encode");
        let cut = dir.path().join(format!("cut.{ext}"));
        std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).expect("write");
        inputs.push(cut);
    }
    let args: Vec<&str> = ["detect", "--json"]
        .into_iter()
        .chain(inputs.iter().map(|p| s(p)))
        .collect();
    let out = facegate("default", &args);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    for (row, name) in v
        .as_array()
        .expect("rows")
        .iter()
        .zip(["PNG", "WebP", "GIF"])
    {
        let error = row["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error: {row}"));
        assert!(
            error.contains(&format!("{name} file is truncated")),
            "{name}: {error}"
        );
    }
}

/// A start-of-frame marker for progressive DCT (SOF2) before the first scan.
fn is_progressive(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if marker == 0xC2 {
            return true;
        }
        if marker == 0xDA {
            return false;
        }
        i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
    }
    false
}
