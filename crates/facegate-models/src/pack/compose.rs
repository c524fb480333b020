//! Components one installed pack lends to another.
//!
//! Liveness is an add-on: a pack without `[liveness]` runs with the
//! `[liveness]` of the installed [`LIVENESS_ADDON`] pack. Its files stay in
//! that pack's directory and are verified against that pack's own lock, so
//! installing `minifasnet` gives `yunet`, `default` or any other pack
//! passive liveness without a second copy of the weights. Recognition is
//! untouched: a pack's model id covers its recognizers only.

use std::path::Path;

use serde::Serialize;

use super::install::{Hashing, InstalledPack, installed_manifest, verify_some};
use super::{DetectorKind, LivenessKind, Manifest, PackError, pack_dir};

/// The pack whose `[liveness]` component packs without one use, when it is
/// installed.
pub const LIVENESS_ADDON: &str = "minifasnet";

/// The installed pack that lends its liveness component to `manifest`,
/// verified for that component's files only (each re-hashed against the
/// lending pack's lock).
///
/// `Ok(None)` when `manifest` has its own `[liveness]` or the add-on pack is
/// not installed (or holds no liveness component). Errors when the add-on
/// is installed but fails verification: a tampered liveness model must not
/// load, whichever pack borrows it.
pub fn liveness_addon(
    data_dir: &Path,
    manifest: &Manifest,
) -> Result<Option<InstalledPack>, PackError> {
    if manifest.liveness.is_some() || !addon_installed(data_dir) {
        return Ok(None);
    }
    let addon = verify_some(data_dir, LIVENESS_ADDON, Hashing::UnlessStamped, |m| {
        m.liveness.iter().flat_map(|l| l.files.clone()).collect()
    })?;
    Ok(addon.manifest.liveness.is_some().then_some(addon))
}

fn addon_installed(data_dir: &Path) -> bool {
    pack_dir(data_dir, LIVENESS_ADDON)
        .join(super::install::LOCK_FILE)
        .is_file()
}

/// What an installed pack runs with, and which pack supplies each part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Components {
    /// The pack itself (after `auto` is resolved).
    pub pack: String,
    /// Its detector (always the pack's own).
    pub detector: DetectorKind,
    /// Its recognizers' ids, in fusion order (always the pack's own).
    pub recognizers: Vec<String>,
    /// The embedding space of its templates.
    pub model_id: String,
    /// Passive liveness, from the pack itself or the add-on; `None` when
    /// neither has one.
    pub liveness: Option<LivenessComponent>,
}

/// A liveness model and the pack its files come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessComponent {
    pub kind: LivenessKind,
    /// Live if the live-class probability is at least this (0–1).
    pub threshold: f32,
    /// The pack that holds the files.
    pub pack: String,
}

/// The components the installed pack `name` (or [`super::AUTO`]) runs with,
/// from the installed manifests alone (no file is re-hashed; loading does
/// that). Errors when the pack is not installed or its manifest is invalid.
pub fn components(data_dir: &Path, name: &str) -> Result<Components, PackError> {
    let name = super::resolve(data_dir, name);
    let manifest = installed_manifest(data_dir, &name)?;
    let own = manifest.liveness.as_ref().map(|l| LivenessComponent {
        kind: l.kind,
        threshold: l.threshold,
        pack: name.clone(),
    });
    let liveness = match own {
        Some(own) => Some(own),
        None if addon_installed(data_dir) => installed_manifest(data_dir, LIVENESS_ADDON)
            .ok()
            .and_then(|addon| addon.liveness)
            .map(|l| LivenessComponent {
                kind: l.kind,
                threshold: l.threshold,
                pack: LIVENESS_ADDON.to_owned(),
            }),
        None => None,
    };
    Ok(Components {
        detector: manifest.detector.kind,
        recognizers: manifest.recognizers.iter().map(|r| r.id.clone()).collect(),
        model_id: manifest.model_id(),
        liveness,
        pack: name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::{AUTO, builtin, install::LOCK_FILE, sha256_hex};

    /// Writes `name` as installed from its built-in definition, with files
    /// made up for the add-on's liveness component so its lock can be checked.
    fn fake_install(data: &Path, name: &str) -> Manifest {
        let manifest = builtin(name).expect("built-in pack");
        let dir = pack_dir(data, name);
        std::fs::create_dir_all(&dir).expect("pack dir");
        std::fs::write(dir.join("pack.toml"), manifest.to_toml().expect("toml")).expect("write");
        let mut files = std::collections::BTreeMap::new();
        for file in manifest.liveness.iter().flat_map(|l| &l.files) {
            let bytes = format!("stand-in for {file}");
            std::fs::write(dir.join(file), &bytes).expect("file");
            files.insert(file.clone(), sha256_hex(bytes.as_bytes()));
        }
        let lock = serde_json::json!({"name": name, "version": manifest.version, "files": files});
        std::fs::write(dir.join(LOCK_FILE), lock.to_string()).expect("lock");
        manifest
    }

    #[test]
    fn packs_without_liveness_borrow_the_addons() {
        let data = tempfile::tempdir().expect("temp dir");
        let yunet = fake_install(data.path(), "yunet");
        assert!(yunet.liveness.is_none(), "yunet ships no liveness model");
        assert!(liveness_addon(data.path(), &yunet).expect("ok").is_none());
        let auto = components(data.path(), AUTO).expect("auto resolves");
        assert_eq!((auto.pack.as_str(), auto.liveness), ("yunet", None));

        let minifasnet = fake_install(data.path(), LIVENESS_ADDON);
        let addon = liveness_addon(data.path(), &yunet)
            .expect("verified")
            .expect("the add-on applies");
        assert_eq!(addon.manifest.name, LIVENESS_ADDON);
        assert!(
            liveness_addon(data.path(), &minifasnet)
                .expect("ok")
                .is_none(),
            "a pack with its own liveness keeps it"
        );
        let auto = components(data.path(), AUTO).expect("auto resolves");
        assert_eq!(auto.pack, "yunet");
        assert_eq!(auto.detector, DetectorKind::Yunet);
        assert_eq!(auto.recognizers, ["dlib-resnet", "mobilefacenet"]);
        assert_eq!(
            auto.model_id,
            yunet.model_id(),
            "liveness is not in model_id"
        );
        let liveness = auto.liveness.expect("liveness from the add-on");
        assert_eq!(
            (liveness.kind, liveness.pack.as_str()),
            (LivenessKind::Minifasnet, LIVENESS_ADDON)
        );
        let own = components(data.path(), LIVENESS_ADDON).expect("installed");
        assert_eq!(own.liveness.map(|l| l.pack), Some(LIVENESS_ADDON.into()));
    }

    #[test]
    fn a_tampered_addon_refuses_to_load_with_the_borrowing_pack() {
        let data = tempfile::tempdir().expect("temp dir");
        let yunet = fake_install(data.path(), "yunet");
        let minifasnet = fake_install(data.path(), LIVENESS_ADDON);
        let spec = minifasnet.liveness.expect("minifasnet has liveness");
        let victim = pack_dir(data.path(), LIVENESS_ADDON).join(&spec.files[0]);
        std::fs::write(&victim, "altered").expect("tamper");
        let err = liveness_addon(data.path(), &yunet).expect_err("tampered file accepted");
        assert!(
            matches!(err, PackError::HashMismatch { .. }),
            "{err}: names the mismatch"
        );
    }
}
