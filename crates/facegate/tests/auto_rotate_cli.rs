//! `--auto-rotate` (the default) and `--no-auto-rotate` on a photo turned by
//! 90° with no EXIF tag (issue #10, item 4). Needs the `default` pack and
//! `../shared`; says why and passes vacuously when either is absent.

mod common;

use common::{facegate, ready, s, succeeded_json};

#[test]
fn detect_turns_a_sideways_photo_and_says_so_unless_told_not_to() {
    let Some(shared) = ready("default") else {
        return;
    };
    let path = shared.join("datasets/peers/face_recognition/test_images/obama2.jpg");
    let upright = image::open(&path).expect("obama2.jpg").to_rgb8();
    let dir = tempfile::tempdir().expect("temp dir");
    let turned = dir.path().join("obama2-turned.png");
    image::imageops::rotate90(&upright)
        .save(&turned)
        .expect("write the turned copy");

    let v = succeeded_json(&facegate("default", &["detect", "--json", s(&turned)]));
    assert_eq!(v[0]["faces"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["rotation"], 270, "{v}");
    let (w, h) = upright.dimensions();
    assert_eq!(
        (v[0]["width"].as_u64(), v[0]["height"].as_u64()),
        (Some(w.into()), Some(h.into())),
        "geometry is in the turned (upright) image"
    );

    let v = succeeded_json(&facegate(
        "default",
        &["detect", "--json", "--no-auto-rotate", s(&turned)],
    ));
    assert_eq!(v[0]["faces"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v[0]["rotation"], 0, "{v}");
}
