//! Pack definitions compiled into the binary (`packs/*.toml` in this crate).

use super::{Manifest, PackError};

const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../packs/default.toml")),
    ("dlib", include_str!("../../packs/dlib.toml")),
    ("dlib-cnn", include_str!("../../packs/dlib-cnn.toml")),
    (
        "mobilefacenet",
        include_str!("../../packs/mobilefacenet.toml"),
    ),
    ("minifasnet", include_str!("../../packs/minifasnet.toml")),
    ("yunet", include_str!("../../packs/yunet.toml")),
];

/// The pack name that means "the best installed": the first of
/// [`AUTO_PREFERENCE`] that is installed.
pub const AUTO: &str = "auto";

/// Best first. `yunet` and `default` hold the same recognizers (one
/// embedding space, see [`Manifest::model_id`]); YuNet finds faces as well as
/// MTCNN on the shared sets at about a quarter of its time, but it is only
/// installable from a local copy, so the registry-only `default` follows.
pub const AUTO_PREFERENCE: &[&str] = &["yunet", "default"];

/// What a pack name refers to under `data_dir`: itself, or for [`AUTO`] the
/// first installed pack of [`AUTO_PREFERENCE`] (`default` when none is, so
/// the error names the pack the quick start installs).
pub fn resolve(data_dir: &std::path::Path, name: &str) -> String {
    if name != AUTO {
        return name.to_owned();
    }
    AUTO_PREFERENCE
        .iter()
        .find(|n| {
            super::pack_dir(data_dir, n)
                .join(super::install::LOCK_FILE)
                .is_file()
        })
        .unwrap_or(&"default")
        .to_string()
}

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

pub fn builtin(name: &str) -> Result<Manifest, PackError> {
    let (_, text) = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| PackError::UnknownPack(name.to_owned(), builtin_names().join(", ")))?;
    Manifest::from_toml(text)
}

/// The `[decision]` an installed pack should be run with. Calibration is a
/// measurement of the pack's models, not part of its files, so when the
/// built-in definition of the same name runs the same detector, landmark
/// models and recognizers (same file hashes and settings), its `[decision]`
/// (newer thresholds, a FAR curve) applies to the installed copy without a
/// reinstall. Any difference keeps the installed pack's own.
pub fn current_decision(installed: &Manifest) -> super::DecisionSpec {
    let Ok(builtin) = builtin(&installed.name) else {
        return installed.decision.clone();
    };
    let hashes = |m: &Manifest| {
        let mut v: Vec<(String, String)> = m
            .files
            .iter()
            .map(|f| (f.name.clone(), f.sha256.clone()))
            .collect();
        v.sort();
        v
    };
    let same_models = builtin.detector == installed.detector
        && builtin.landmarks == installed.landmarks
        && builtin.recognizers == installed.recognizers
        && hashes(&builtin) == hashes(installed);
    if same_models {
        builtin.decision
    } else {
        installed.decision.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::LandmarksKind;

    #[test]
    fn every_builtin_pack_parses() {
        for name in builtin_names() {
            builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// Installed packs keep the `pack.toml` they were installed with, so the
    /// single-table `[landmarks]` of older manifests must still parse.
    #[test]
    fn landmarks_parse_as_one_table_or_an_array_of_tables() {
        let dlib = builtin("dlib").expect("dlib pack");
        let kinds: Vec<LandmarksKind> = dlib.landmarks.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, [LandmarksKind::Dlib5, LandmarksKind::Dlib68]);
        let text = include_str!("../../packs/dlib.toml");
        let start = text.find("[[landmarks]]").expect("landmarks in dlib.toml");
        let end = text
            .find("[[recognizers]]")
            .expect("recognizers in dlib.toml");
        let single = format!(
            "{}[landmarks]\nkind = \"dlib5\"\nfile = \"dlib-shape-predictor-5.dat\"\n\n{}",
            &text[..start],
            &text[end..]
        );
        let old = Manifest::from_toml(&single).expect("single [landmarks] table");
        assert_eq!(old.landmarks.len(), 1);
        assert_eq!(old.landmarks[0].kind, LandmarksKind::Dlib5);
        assert_eq!(old.model_id(), dlib.model_id(), "same descriptor space");
    }

    #[test]
    fn the_cnn_detector_needs_a_five_point_predictor_for_its_landmarks() {
        let text = include_str!("../../packs/dlib-cnn.toml");
        let five = "[[landmarks]]\nkind = \"dlib5\"\nfile = \"dlib-shape-predictor-5.dat\"\n";
        assert!(text.contains(five));
        let error = Manifest::from_toml(&text.replace(five, ""))
            .expect_err("mmod without dlib5 accepted")
            .to_string();
        assert!(error.contains("dlib5"), "{error}");
    }

    #[test]
    fn packs_that_differ_only_in_detector_share_the_embedding_space() {
        let id = |name| builtin(name).map(|m| m.model_id()).unwrap_or_default();
        assert_eq!(id("default"), id("yunet"));
        assert_eq!(id("default"), id("minifasnet"));
        assert_ne!(id("default"), id("dlib"));
        assert_ne!(id("default"), id("mobilefacenet"));
        assert!(id("dlib").starts_with("dlib-resnet#"));
        assert_eq!(id("dlib"), id("dlib-cnn"));
    }

    #[test]
    fn auto_takes_the_first_installed_of_the_preference() {
        let data = tempfile::tempdir().expect("temp dir");
        assert_eq!(resolve(data.path(), AUTO), "default", "nothing installed");
        assert_eq!(resolve(data.path(), "dlib"), "dlib", "explicit names stay");
        for name in ["default", "yunet"] {
            let dir = super::super::pack_dir(data.path(), name);
            std::fs::create_dir_all(&dir).expect("pack dir");
            std::fs::write(dir.join(super::super::install::LOCK_FILE), "{}").expect("lock");
        }
        assert_eq!(resolve(data.path(), AUTO), "yunet");
    }
}
