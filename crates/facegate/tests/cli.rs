//! End-to-end tests of the `facegate` binary on the shared images.
//!
//! They need the packs `cargo xtask test` installs (into `FACEGATE_DATA_DIR`)
//! and `../shared`; each test says why and passes vacuously only when one is
//! absent, so the suite still runs on a bare checkout.

mod common;

use std::process::Command;

use common::{data_dir, facegate, json, no_panic, ready, s, succeeded_json};

#[test]
fn detect_finds_the_six_faces_of_the_face_api_group_photo() {
    let Some(shared) = ready("default") else {
        return;
    };
    let image = shared.join("datasets/peers/face-api.js/test_images/faces.jpg");
    let out = facegate("default", &["detect", "--json", s(&image)]);
    let v = succeeded_json(&out);
    let faces = v[0]["faces"].as_array().expect("faces array");
    assert_eq!(faces.len(), 6, "{v}");
    for face in faces {
        assert_eq!(face["landmarks"].as_array().map(Vec::len), Some(5));
        assert!(face["score"].as_f64().unwrap_or(0.0) >= 0.7);
    }
}

#[test]
fn detect_places_obama_where_face_recognition_does() {
    let Some(shared) = ready("default") else {
        return;
    };
    let image = shared.join("datasets/peers/face_recognition/test_images/obama.jpg");
    let v = json(&facegate("default", &["detect", "--json", s(&image)]));
    assert_eq!(
        (v[0]["width"].as_u64(), v[0]["height"].as_u64()),
        (Some(910), Some(1137)),
        "face_recognition's numpy shape is (1137, 910, 3)"
    );
    let faces = v[0]["faces"].as_array().expect("faces");
    assert_eq!(faces.len(), 1, "{v}");
    // face_recognition's HOG box (top, right, bottom, left) = (142, 617, 409, 349).
    let b: Vec<f64> = faces[0]["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    assert!(
        (cx - 483.0).abs() < 40.0 && (cy - 275.5).abs() < 60.0,
        "box {b:?}"
    );
}

#[test]
fn detect_reports_bad_inputs_as_errors_without_panicking() {
    let Some(_) = ready("default") else { return };
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.png");
    std::fs::write(&text, b"this is a text file, not an image").unwrap();
    let truncated = dir.path().join("truncated.jpg");
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        300,
        200,
        image::Rgb([120, 80, 60]),
    ))
    .write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    std::fs::write(&truncated, &jpeg[..jpeg.len() / 4]).unwrap();
    let bomb = dir.path().join("bomb.png");
    std::fs::write(&bomb, png_header(50_000, 50_000)).unwrap();
    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([200, 200, 200]))
        .save(&blank)
        .unwrap();

    let out = facegate(
        "default",
        &[
            "detect",
            "--json",
            s(&empty),
            s(&text),
            s(&truncated),
            s(&bomb),
            s(&blank),
        ],
    );
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "errors give exit code 1");
    let v = json(&out);
    let errors: Vec<&str> = (0..4)
        .map(|i| v[i]["error"].as_str().unwrap_or(""))
        .collect();
    assert!(errors[0].contains("empty"), "{errors:?}");
    assert!(errors[1].contains("not a supported image"), "{errors:?}");
    assert!(errors[2].contains("could not be decoded"), "{errors:?}");
    assert!(errors[3].contains("50000×50000"), "{errors:?}");
    assert_eq!(
        v[4]["faces"].as_array().map(Vec::len),
        Some(0),
        "a blank image has no faces: {}",
        v[4]
    );
}

fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&width.to_be_bytes());
    chunk.extend_from_slice(&height.to_be_bytes());
    chunk.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    let crc = crc32(&chunk);
    png.extend_from_slice(&chunk);
    png.extend_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn identify_names_the_knn_example_people() {
    let Some(shared) = ready("default") else {
        return;
    };
    let base = shared.join("datasets/peers/face_recognition/examples/knn_examples");
    let out = facegate(
        "default",
        &["identify", s(&base.join("train")), s(&base.join("test"))],
    );
    no_panic(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let names_for = |file: &str| -> Vec<String> {
        let mut names: Vec<String> = text
            .lines()
            .filter(|l| l.contains(&format!("/{file},")))
            .filter_map(|l| l.rsplit(',').next().map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    assert_eq!(names_for("obama1.jpg"), vec!["obama"], "{text}");
    assert_eq!(
        names_for("alex_lacamoire1.jpg"),
        vec!["alex_lacamoire"],
        "{text}"
    );
    assert_eq!(
        names_for("johnsnow_test1.jpg"),
        vec!["kit_harington"],
        "{text}"
    );
    // The photo also shows a child in the background: a real third face, unknown.
    assert_eq!(
        names_for("obama_and_biden.jpg"),
        vec!["biden", "obama", "unknown_person"],
        "{text}"
    );
    assert_eq!(
        names_for("kit_with_rose.jpg"),
        vec!["kit_harington", "rose_leslie"],
        "{text}"
    );
}

#[test]
fn identify_says_no_persons_found_and_unknown_person() {
    let Some(shared) = ready("default") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known/obama");
    std::fs::create_dir_all(&known).unwrap();
    std::fs::copy(
        shared.join("datasets/peers/face_recognition/test_images/obama.jpg"),
        known.join("obama.jpg"),
    )
    .unwrap();
    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([10, 10, 10]))
        .save(&blank)
        .unwrap();
    let biden = shared.join("datasets/peers/face_recognition/test_images/biden.jpg");
    let out = facegate(
        "default",
        &[
            "identify",
            "--show-distance",
            s(&dir.path().join("known")),
            s(&blank),
            s(&biden),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("blank.png,no_persons_found"), "{text}");
    assert!(text.contains("biden.jpg,unknown_person,"), "{text}");
}

#[test]
fn compare_tells_obama_from_biden() {
    let Some(shared) = ready("default") else {
        return;
    };
    let images = shared.join("datasets/peers/face_recognition/test_images");
    let same = json(&facegate(
        "default",
        &[
            "compare",
            "--json",
            s(&images.join("obama.jpg")),
            s(&images.join("obama2.jpg")),
        ],
    ));
    assert_eq!(same["same_person"], true, "{same}");
    let different = json(&facegate(
        "default",
        &[
            "compare",
            "--json",
            s(&images.join("obama.jpg")),
            s(&images.join("biden.jpg")),
        ],
    ));
    assert_eq!(different["same_person"], false, "{different}");
    assert!(same["similarity"].as_f64() > different["similarity"].as_f64());
}

#[test]
fn encode_handles_rgba_png_and_reports_the_model() {
    let Some(shared) = ready("default") else {
        return;
    };
    let image = shared.join("datasets/peers/face_recognition/test_images/32bit.png");
    let out = facegate("default", &["encode", "--json", s(&image)]);
    let v = succeeded_json(&out);
    let faces = v[0]["faces"].as_array().expect("faces");
    assert!(!faces.is_empty(), "{v}");
    let e: Vec<f64> = faces[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let norm = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(
        (norm - 1.0).abs() < 1e-3,
        "embeddings are unit length, got {norm}"
    );
}

#[test]
fn verify_refuses_a_tampered_pack() {
    let Some(_) = ready("default") else { return };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("packs/default");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(data_dir().join("packs/default")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_facegate"))
            .env("FACEGATE_DATA_DIR", dir.path())
            .args(["models", "verify", "default"])
            .output()
            .unwrap()
    };
    assert!(run().status.success(), "an intact copy verifies");
    let target = copy.join("mtcnn-rnet.onnx");
    let mut bytes = std::fs::read(&target).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(&target, bytes).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sha256 mismatch"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The facts face_recognition's own test suite asserts with these dlib
/// models, at its Euclidean tolerance of 0.6.
/// dlib's hand-labelled `testing.xml` (25 faces of 37–53 px): the CNN
/// detector needs its upsampling to see faces that small.
#[test]
fn dlib_cnn_pack_finds_dlibs_labelled_small_faces() {
    let Some(shared) = ready("dlib-cnn") else {
        return;
    };
    let xml = shared.join("datasets/peers/dlib/faces/testing.xml");
    let v = json(&facegate(
        "dlib-cnn",
        &["eval", "detect", "--json", "--dlib-xml", s(&xml)],
    ));
    assert_eq!(v["labelled_faces"].as_u64(), Some(25), "{v}");
    assert!(v["recall"].as_f64().unwrap_or(0.0) >= 0.95, "{v}");
    assert!(v["precision"].as_f64().unwrap_or(0.0) >= 0.95, "{v}");
}

/// `facegate compare` distance between face_recognition's obama.jpg and `other`.
fn obama_distance(pack: &str, images: &std::path::Path, other: &str) -> f64 {
    let v = json(&facegate(
        pack,
        &[
            "compare",
            "--json",
            s(&images.join("obama.jpg")),
            s(&images.join(other)),
        ],
    ));
    v["distance"]
        .as_f64()
        .unwrap_or_else(|| panic!("no distance: {v}"))
}

/// face_recognition's `model="cnn"` facts, with dlib's own CNN detector:
/// obama.jpg's box (top, right, bottom, left) = (144, 608, 389, 363) ± 25 px,
/// face-api.js's group of six, and the encoding distances.
#[test]
fn dlib_cnn_pack_finds_the_faces_face_recognition_cnn_does() {
    let Some(shared) = ready("dlib-cnn") else {
        return;
    };
    let images = shared.join("datasets/peers/face_recognition/test_images");
    let v = json(&facegate(
        "dlib-cnn",
        &["detect", "--json", s(&images.join("obama.jpg"))],
    ));
    let faces = v[0]["faces"].as_array().expect("faces");
    assert_eq!(faces.len(), 1, "{v}");
    let b: Vec<f64> = faces[0]["box"]
        .as_array()
        .expect("box")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    let (left, top, right, bottom) = (b[0], b[1], b[2] - 1.0, b[3] - 1.0);
    for (got, want) in [(top, 144.0), (right, 608.0), (bottom, 389.0), (left, 363.0)] {
        assert!((got - want).abs() <= 25.0, "box {b:?}");
    }
    let group = shared.join("datasets/peers/face-api.js/test_images/faces.jpg");
    let v = json(&facegate("dlib-cnn", &["detect", "--json", s(&group)]));
    assert_eq!(v[0]["faces"].as_array().map(Vec::len), Some(6), "{v}");
    let distance = |other: &str| obama_distance("dlib-cnn", &images, other);
    assert!(distance("obama2.jpg") <= 0.6);
    assert!(distance("biden.jpg") > 0.6);
}

#[test]
fn face_recognition_facts_hold_for_the_dlib_pack() {
    let Some(shared) = ready("dlib") else {
        return;
    };
    let images = shared.join("datasets/peers/face_recognition/test_images");
    let distance = |other: &str| obama_distance("dlib", &images, other);
    assert!(distance("obama2.jpg") <= 0.6);
    assert!(distance("obama3.jpg") <= 0.6);
    assert!(distance("biden.jpg") > 0.6);
    let partial = json(&facegate(
        "dlib",
        &[
            "detect",
            "--json",
            s(&images.join("obama_partial_face.jpg")),
        ],
    ));
    assert_eq!(
        partial[0]["faces"].as_array().map(Vec::len),
        Some(1),
        "{partial}"
    );
}

/// `models list` tells an install made from an older pack definition apart,
/// and says how to update it. No models needed: only `pack.toml` is read.
#[test]
fn models_list_flags_packs_installed_from_an_older_definition() {
    let data = tempfile::tempdir().expect("temp dir");
    let dir = data.path().join("packs").join("dlib");
    std::fs::create_dir_all(&dir).expect("pack dir");
    let mut old = facegate_models::pack::builtin("dlib").expect("dlib pack");
    let current = old.version.clone();
    old.version = "1".into();
    assert_ne!(current, old.version, "the dlib definition moved past 1");
    std::fs::write(dir.join("pack.toml"), old.to_toml().expect("toml")).expect("write");
    let list = |json: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
        command
            .env("FACEGATE_DATA_DIR", data.path())
            .args(["models", "list"]);
        if json {
            command.arg("--json");
        }
        command.output().expect("the facegate binary runs")
    };
    let v = succeeded_json(&list(true));
    let dlib = v
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "dlib"))
        .expect("dlib listed");
    assert_eq!(dlib["installed_version"], "1", "{dlib}");
    assert_eq!(dlib["update_available"], true, "{dlib}");
    let text = String::from_utf8_lossy(&list(false).stdout).to_string();
    assert!(text.contains("outdated"), "{text}");
    assert!(text.contains("facegate models install dlib"), "{text}");
}
