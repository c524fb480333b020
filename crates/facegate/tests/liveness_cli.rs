//! `facegate liveness`, `facegate liveness challenge` and `facegate eval
//! liveness` end to end on the shared samples. Skips with a message when
//! `../shared` or the pack is absent (`cargo xtask test` installs them).

mod common;

use common::{data_dir, facegate, json, no_panic, ready, s, succeeded_json};
use serde_json::Value;

#[test]
fn eval_liveness_reports_iso_rates_for_the_silent_face_samples() {
    let Some(shared) = ready("minifasnet") else {
        return;
    };
    let labels = shared.join("datasets/liveness/silent-face/labels.csv");
    let out = facegate(
        "minifasnet",
        &["eval", "liveness", "--labels", s(&labels), "--json"],
    );
    let v = succeeded_json(&out);
    for key in [
        "apcer",
        "bpcer",
        "acer",
        "accuracy",
        "threshold",
        "bpcer_at_apcer_5",
        "apcer_per_species",
    ] {
        assert!(!v[key].is_null(), "{key} missing: {v}");
    }
    assert_eq!(v["accuracy"].as_f64(), Some(1.0), "{v}");
    assert_eq!(v["apcer"].as_f64(), Some(0.0));
    assert_eq!(v["bpcer"].as_f64(), Some(0.0));
    assert_eq!(v["bona_fide"].as_u64(), Some(3));
    assert_eq!(v["attacks"].as_u64(), Some(4));
    assert!(
        v["apcer_per_species"]["print"].is_number() && v["apcer_per_species"]["screen"].is_number()
    );
    assert_eq!(v["components"].as_array().map(Vec::len), Some(2));
}

#[test]
fn liveness_scores_each_face() {
    let Some(shared) = ready("minifasnet") else {
        return;
    };
    let image = shared.join("datasets/liveness/silent-face/image_T1.jpg");
    let out = facegate("minifasnet", &["liveness", "--json", s(&image)]);
    let v = succeeded_json(&out);
    let faces = v[0]["faces"].as_array().expect("faces");
    assert_eq!(faces.len(), 1);
    let live = faces[0]["live"].as_f64().expect("live score");
    assert!((0.0..=1.0).contains(&live));
    assert!(faces[0]["is_live"].is_boolean());
}

#[test]
fn bad_labels_and_prompts_are_errors_not_panics() {
    let Some(shared) = ready("minifasnet") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, "file,label\na.jpg,maybe\n").expect("write");
    let out = facegate("minifasnet", &["eval", "liveness", "--labels", s(&csv)]);
    no_panic(&out);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("spoof-<kind>"));

    // A missing file is listed as a failure, not fatal.
    std::fs::write(&csv, "file,label\nmissing.jpg,live\n").expect("write");
    let out = facegate(
        "minifasnet",
        &["eval", "liveness", "--labels", s(&csv), "--json"],
    );
    no_panic(&out);
    assert!(out.status.success());
    assert_eq!(json(&out)["failures"].as_array().map(Vec::len), Some(1));

    let frame = shared.join("datasets/liveness/silent-face/image_T1.jpg");
    let out = facegate(
        "minifasnet",
        &[
            "liveness",
            "challenge",
            "--prompt",
            "nod",
            s(&frame),
            s(&frame),
            s(&frame),
        ],
    );
    no_panic(&out);
    assert!(!out.status.success());

    let garbage = dir.path().join("garbage.jpg");
    std::fs::write(&garbage, b"not an image").expect("write");
    let out = facegate("minifasnet", &["liveness", s(&garbage)]);
    no_panic(&out);
    assert!(!out.status.success());
}

#[test]
fn a_still_face_fails_a_turn_challenge() {
    let Some(shared) = ready("minifasnet") else {
        return;
    };
    let frame = shared.join("datasets/liveness/silent-face/image_T1.jpg");
    let out = facegate(
        "minifasnet",
        &[
            "liveness",
            "challenge",
            "--prompt",
            "turn-left",
            "--json",
            s(&frame),
            s(&frame),
            s(&frame),
        ],
    );
    no_panic(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["passed"], Value::Bool(false));
    assert_eq!(v["motion_ok"], Value::Bool(false));
    assert_eq!(v["same_person"], Value::Bool(true));
    assert_eq!(v["frames"].as_array().map(Vec::len), Some(3));
}

/// Without a liveness model of its own and without the `minifasnet` add-on
/// installed, `liveness` refuses and says why. The data directory holds only
/// the runtime and the `dlib` pack (links to the test installs), so the
/// add-on the shared test data has does not apply.
#[test]
fn a_pack_without_liveness_says_so() {
    let Some(shared) = ready("dlib") else { return };
    let image = shared.join("datasets/liveness/silent-face/image_T1.jpg");
    let bare = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bare.path().join("packs")).unwrap();
    std::os::unix::fs::symlink(data_dir().join("runtime"), bare.path().join("runtime")).unwrap();
    std::os::unix::fs::symlink(
        data_dir().join("packs/dlib"),
        bare.path().join("packs/dlib"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_facegate"))
        .env("FACEGATE_DATA_DIR", bare.path())
        .env("FACEGATE_PACK", "dlib")
        .args(["liveness", s(&image)])
        .output()
        .expect("the facegate binary runs");
    no_panic(&out);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no liveness model") && err.contains("minifasnet"),
        "{err}"
    );
}

/// `auto` (yunet, or default) has no liveness model of its own: with
/// `minifasnet` installed, `liveness` runs MiniFASNet from it and tells the
/// live photo from the printed one.
#[test]
fn liveness_on_the_auto_pack_uses_the_addon() {
    let (Some(shared), Some(_)) = (ready("minifasnet"), ready("yunet")) else {
        return;
    };
    let dir = shared.join("datasets/liveness/silent-face");
    let (live, print) = (dir.join("image_T1.jpg"), dir.join("image_F1.jpg"));
    let out = facegate("auto", &["liveness", "--json", s(&live), s(&print)]);
    let v = succeeded_json(&out);
    let verdicts: Vec<Option<bool>> = (0..2)
        .map(|i| v[i]["faces"][0]["is_live"].as_bool())
        .collect();
    assert_eq!(verdicts, [Some(true), Some(false)], "{v}");
}
