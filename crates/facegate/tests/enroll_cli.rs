//! `facegate enroll` on a group photo: skipped with a warning unless told
//! `--largest-face`. Needs the `default` pack and `../shared`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{data_dir, ready, s};

fn service(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .env_remove("FACEGATE_CONFIG")
        .env_remove("FACEGATE_DATABASE_URL")
        .env("FACEGATE_DATA_DIR", data)
        .env("FACEGATE_MODELS_DIR", data_dir())
        .env("FACEGATE_PACK", "default")
        .args(args)
        .output()
        .expect("the facegate binary runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn enroll_skips_group_photos_unless_told_to_take_the_largest_face() {
    let Some(shared) = ready("default") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let photos = tmp.path().join("photos");
    for (person, source) in [
        ("group", "datasets/peers/face-api.js/test_images/faces.jpg"),
        (
            "obama",
            "datasets/peers/face_recognition/examples/knn_examples/train/obama/obama.jpg",
        ),
    ] {
        std::fs::create_dir_all(photos.join(person)).unwrap();
        std::fs::copy(shared.join(source), photos.join(person).join("photo.jpg")).unwrap();
    }
    let password = tmp.path().join("pw");
    std::fs::write(&password, "a long owner password\n").unwrap();
    ok(&service(
        &data,
        &[
            "init",
            "--org",
            "Acme",
            "--admin-email",
            "owner@acme.test",
            "--admin-password-file",
            s(&password),
        ],
    ));

    // Without the flag: warned about and skipped; the single-face photo is enrolled.
    let out = service(&data, &["enroll", s(&photos)]);
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("group: 0 template(s)"), "{stdout}");
    assert!(stdout.contains("obama: 1 template(s)"), "{stdout}");
    assert!(
        stderr.contains("6 faces found") && stderr.contains("--largest-face"),
        "{stderr}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&service(&data, &["--json", "enroll", s(&photos)])))
            .expect("JSON summary");
    let group = v["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["person"] == "group")
        .cloned()
        .unwrap();
    assert_eq!(group["templates"], 0, "{v}");
    assert_eq!(group["skipped"][0]["faces"], 6, "{v}");

    // With it: the largest face is enrolled.
    let v: serde_json::Value = serde_json::from_str(&ok(&service(
        &data,
        &["--json", "enroll", "--largest-face", s(&photos)],
    )))
    .expect("JSON summary");
    for p in v["people"].as_array().unwrap() {
        assert_eq!(p["templates"], 1, "{v}");
    }
}
