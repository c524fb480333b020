//! Liveness through the engine on the shared samples: the MiniFASNet pack
//! must classify the seven Silent-Face photos right; every liveness-capable
//! pack must give a score in [0, 1] per face; bad input is refused as such.
//!
//! Needs the packs `cargo xtask test` installs (`FACEGATE_DATA_DIR`) and
//! `../shared` (`FACEGATE_SHARED`); skips with a message when either is absent.

use std::path::{Path, PathBuf};

use facegate_core::{BoundingBox, DetectedFace, Landmarks5};
use facegate_vision::liveness::challenge::{self, Prompt};
use facegate_vision::liveness::metrics::Truth;
use facegate_vision::{Engine, EngineOptions};

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir
        .join("datasets/liveness/silent-face/labels.csv")
        .is_file()
    {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: shared liveness samples not found under {} (set FACEGATE_SHARED)",
            dir.display()
        );
        None
    }
}

fn engine(pack: &str) -> Option<Engine> {
    let data = std::env::var_os("FACEGATE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-data"));
    if !data.join("packs").join(pack).join("pack.toml").is_file() {
        eprintln!(
            "SKIP: pack {pack} not installed in {} (run `cargo xtask test`)",
            data.display()
        );
        return None;
    }
    Some(Engine::load_installed(pack, &EngineOptions::new(data)).expect("the installed pack loads"))
}

fn samples(shared: &Path) -> Vec<(PathBuf, Truth)> {
    let dir = shared.join("datasets/liveness/silent-face");
    let text = std::fs::read_to_string(dir.join("labels.csv")).expect("labels.csv");
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(f, l)| (dir.join(f), Truth::parse(l).expect("a valid label")))
        .collect()
}

#[test]
fn minifasnet_classifies_the_silent_face_samples_right() {
    let (Some(shared), Some(engine)) = (shared(), engine("minifasnet")) else {
        return;
    };
    let threshold = engine
        .liveness_threshold()
        .expect("the pack has a liveness model");
    let samples = samples(&shared);
    assert_eq!(samples.len(), 7);
    for (path, truth) in samples {
        let analysis = engine
            .analyze(&std::fs::read(&path).expect("sample"))
            .expect("analysis");
        assert_eq!(analysis.faces.len(), 1, "{}", path.display());
        let live = analysis.faces[0].liveness.expect("a liveness score");
        assert_eq!(
            live >= threshold,
            truth == Truth::BonaFide,
            "{}: live score {live}",
            path.display()
        );
        assert!(analysis.timings.liveness_ms > 0.0);
    }
}

#[test]
fn every_liveness_pack_scores_each_face_in_unit_range() {
    let Some(shared) = shared() else { return };
    for pack in ["minifasnet"] {
        let Some(engine) = engine(pack) else { continue };
        let path = shared.join("datasets/peers/face-api.js/test_images/faces.jpg");
        let analysis = engine
            .analyze(&std::fs::read(path).expect("image"))
            .expect("analysis");
        assert_eq!(analysis.faces.len(), 6);
        for face in &analysis.faces {
            let live = face.liveness.expect("a liveness score");
            assert!((0.0..=1.0).contains(&live), "{pack}: {live}");
        }
    }
}

#[test]
fn bad_input_is_refused_as_bad_input() {
    let Some(engine) = engine("minifasnet") else {
        return;
    };
    let err = engine
        .analyze(b"not an image")
        .expect_err("garbage is refused");
    assert!(err.is_bad_input(), "{err}");
    // A face box on a 1×1 image.
    let tiny = image::RgbImage::new(1, 1);
    let face = DetectedFace {
        bbox: BoundingBox::new(0.0, 0.0, 1.0, 1.0),
        score: 1.0,
        landmarks: Landmarks5::default(),
    };
    let err = engine
        .liveness_scores(&tiny, &[face])
        .expect_err("too small");
    assert!(err.is_bad_input(), "{err}");
    // A face box far outside the image still gives a bounded score.
    let image = image::RgbImage::from_pixel(64, 48, image::Rgb([90, 80, 70]));
    let outside = DetectedFace {
        bbox: BoundingBox::new(-500.0, 900.0, -300.0, 1200.0),
        ..face
    };
    let scores = engine
        .liveness_scores(&image, &[outside])
        .expect("scored")
        .expect("model");
    assert!((0.0..=1.0).contains(&scores[0].live));
    // Too few frames for a challenge.
    let err = challenge::evaluate(&engine, Prompt::TurnLeft, &[image]).expect_err("one frame");
    assert!(err.is_bad_input(), "{err}");
}

#[test]
fn a_still_face_fails_a_turn_challenge_but_is_the_same_person() {
    let (Some(shared), Some(engine)) = (shared(), engine("minifasnet")) else {
        return;
    };
    let bytes =
        std::fs::read(shared.join("datasets/liveness/silent-face/image_T1.jpg")).expect("sample");
    let frame = engine.decode(&bytes).expect("decode");
    let frames = vec![frame.clone(), frame.clone(), frame];
    let result = challenge::evaluate(&engine, Prompt::TurnRight, &frames).expect("evaluated");
    assert!(!result.passed);
    assert!(!result.motion_ok);
    assert!(result.same_person);
    assert_eq!(result.passive_ok, Some(true));
    // A mirrored copy in the middle reads as a turn one way, then back.
    let mirrored = image::imageops::flip_horizontal(&frames[0]);
    let yaw = |img: &image::RgbImage| {
        let faces = engine.detect(img).expect("detect");
        challenge::yaw_proxy(&faces[0]).expect("yaw")
    };
    assert!(
        (yaw(&frames[0]) + yaw(&mirrored)).abs() < 0.05,
        "mirroring flips the yaw sign"
    );
}
