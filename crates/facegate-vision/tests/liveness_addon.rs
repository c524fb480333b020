//! Liveness as an add-on: with `minifasnet` installed, packs without a
//! liveness model of their own (`yunet`, `default`, and `auto`) load its
//! MiniFASNet models from that pack and score every face, while their model
//! id (the embedding space) stays their own.
//!
//! Needs the packs `cargo xtask test` installs (`FACEGATE_DATA_DIR`) and
//! `../shared` (`FACEGATE_SHARED`); skips with a message when either is absent.

use std::path::{Path, PathBuf};

use facegate_models::pack::{self, LIVENESS_ADDON};
use facegate_vision::liveness::metrics::Truth;
use facegate_vision::{Engine, EngineOptions};

fn data_dir() -> PathBuf {
    std::env::var_os("FACEGATE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-data"))
}

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

/// `true` when `packs` and the add-on are installed.
fn installed(packs: &[&str]) -> bool {
    let data = data_dir();
    for name in packs.iter().chain([&LIVENESS_ADDON]) {
        if !data.join("packs").join(name).join("lock.json").is_file() {
            eprintln!(
                "SKIP: pack {name} not installed in {} (run `cargo xtask test`)",
                data.display()
            );
            return false;
        }
    }
    true
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

/// YuNet boxes feed MiniFASNet's crops as MTCNN's do: the seven Silent-Face
/// photos are classified right with the add-on, as with `minifasnet` itself.
#[test]
fn yunet_with_the_addon_scores_and_classifies_the_silent_face_samples() {
    let Some(shared) = shared() else { return };
    if !installed(&["yunet"]) {
        return;
    }
    let engine = Engine::load_installed("yunet", &EngineOptions::new(data_dir()))
        .expect("yunet loads with the add-on");
    assert_eq!(engine.liveness_pack(), Some(LIVENESS_ADDON));
    assert!(engine.has_landmarks68(), "blink challenges come with it");
    let own = pack::installed_manifest(&data_dir(), "yunet").expect("manifest");
    assert!(own.liveness.is_none(), "yunet has no liveness model itself");
    assert_eq!(
        engine.model_id(),
        own.model_id(),
        "liveness is not in model_id"
    );
    let threshold = engine.liveness_threshold().expect("a liveness threshold");
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
    }
}

/// `auto` and `default` get the add-on too; `Engine::load` on its own (no
/// add-on asked for) keeps a pack to its own components.
#[test]
fn auto_and_default_get_liveness_from_the_addon() {
    let Some(shared) = shared() else { return };
    if !installed(&["default"]) {
        return;
    }
    let options = EngineOptions::new(data_dir());
    let photo = std::fs::read(shared.join("datasets/peers/face-api.js/test_images/faces.jpg"))
        .expect("faces.jpg");
    for name in [pack::AUTO, "default"] {
        let engine = Engine::load_installed(name, &options).expect("loads");
        assert_eq!(engine.liveness_pack(), Some(LIVENESS_ADDON), "{name}");
        let analysis = engine.analyze(&photo).expect("analysis");
        assert_eq!(analysis.faces.len(), 6, "{name}");
        for face in &analysis.faces {
            let live = face.liveness.expect("a liveness score");
            assert!((0.0..=1.0).contains(&live), "{name}: {live}");
        }
        assert!(analysis.timings.liveness_ms > 0.0);
    }
    let verified = pack::verify(&data_dir(), "default").expect("default verifies");
    let alone = Engine::load(&verified, &options).expect("loads");
    assert!(alone.liveness_threshold().is_none() && alone.liveness_pack().is_none());
}
