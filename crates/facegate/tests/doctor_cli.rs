//! `facegate doctor`, the real binary, on a data directory of its own: all
//! green when set up as documented, then each prerequisite broken in turn
//! (runtime, a pack file, the database, permissions, a camera), checking
//! that doctor names the problem and prints its fix, and where the fix is
//! local, that running it makes doctor green again.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The pack the copy holds: the registry-only one every install has.
const PACK: &str = "default";

fn facegate(data: &Path, extra_env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
    for var in [
        "FACEGATE_CONFIG",
        "FACEGATE_DATABASE_URL",
        "FACEGATE_MODELS_DIR",
        "FACEGATE_LOG_DIR",
        "ORT_DYLIB_PATH",
    ] {
        command.env_remove(var);
    }
    command
        .env("FACEGATE_DATA_DIR", data)
        .env("FACEGATE_PACK", PACK)
        .envs(extra_env.iter().copied())
        .args(args)
        .output()
        .expect("the facegate binary runs")
}

fn doctor(data: &Path, extra_env: &[(&str, &str)]) -> (bool, Value) {
    let out = facegate(data, extra_env, &["doctor", "--json"]);
    common::no_panic(&out);
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "doctor exits 0 or 1, got {code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = common::json(&out);
    assert_eq!(report["ok"].as_bool(), Some(code == Some(0)), "{report:#}");
    (code == Some(0), report)
}

/// The checks with the given status.
fn with_status<'a>(report: &'a Value, status: &str) -> Vec<&'a Value> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == status)
        .collect()
}

/// The failed check whose name starts with `name`; fails the test if none.
fn failed<'a>(report: &'a Value, name: &str) -> &'a Value {
    with_status(report, "fail")
        .into_iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .unwrap_or_else(|| panic!("no failed {name:?} check in {report:#}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A data directory set up as an operator would have it: 0700, the
/// runtime and one pack, the database migrated by `facegate migrate`.
fn installed(tmp: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let source = common::data_dir();
    let runtime = source.join("runtime");
    let pack = source.join("packs").join(PACK);
    if !runtime.is_dir() || !pack.join("pack.toml").is_file() {
        eprintln!(
            "SKIP: {} lacks the runtime or the {PACK} pack (run `cargo xtask test`)",
            source.display()
        );
        return None;
    }
    let data = tmp.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    copy_dir(&runtime, &data.join("runtime"));
    copy_dir(&pack, &data.join("packs").join(PACK));
    let out = facegate(&data, &[], &["migrate"]);
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(data)
}

fn assert_green(data: &Path, what: &str) {
    let (ok, report) = doctor(data, &[]);
    assert!(ok, "{what}: doctor is not green: {report:#}");
    assert!(with_status(&report, "fail").is_empty(), "{report:#}");
    // Whether the kernel calls its clock synchronised depends on the
    // machine, not on the installation; nothing else may warn.
    for c in with_status(&report, "warn") {
        assert_eq!(c["name"], "clock", "{what}: unexpected warning {c:#}");
    }
    for name in [
        "config",
        "runtime",
        "data dir",
        "disk",
        "database",
        "migrations",
        "cameras",
    ] {
        assert!(
            report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == name),
            "{what}: no {name} check in {report:#}"
        );
    }
}

fn run_fix(fix: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(fix)
        .status()
        .expect("sh runs");
    assert!(status.success(), "the fix {fix:?} failed");
}

#[test]
fn doctor_is_green_on_a_set_up_data_dir_and_names_each_broken_prerequisite() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(data) = installed(tmp.path()) else {
        return;
    };
    assert_green(&data, "fresh install");
    let text = facegate(&data, &[], &["doctor"]);
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("all checks passed"), "{stdout}");

    // 1. The runtime library is missing.
    let runtime = data.join("runtime");
    let moved = tmp.path().join("runtime-away");
    std::fs::rename(&runtime, &moved).unwrap();
    let system_runtime = ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu"]
        .iter()
        .any(|d| Path::new(d).join("libonnxruntime.so").is_file());
    if system_runtime {
        eprintln!("SKIP missing runtime: this machine has a system-wide libonnxruntime.so");
    } else {
        let (ok, report) = doctor(&data, &[]);
        assert!(!ok);
        let check = failed(&report, "runtime");
        assert!(
            check["detail"].as_str().unwrap().contains("not found"),
            "{check:#}"
        );
        let fix = check["fix"].as_str().unwrap();
        assert!(
            fix.contains("setup") && fix.contains(data.to_str().unwrap()),
            "{fix}"
        );
        let text = facegate(&data, &[], &["doctor"]);
        assert_eq!(text.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&text.stdout);
        assert!(stdout.contains("FAIL") && stdout.contains(fix), "{stdout}");
    }
    std::fs::rename(&moved, &runtime).unwrap();

    // 2. A pack file no longer matches its lock.
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("packs").join(PACK).join("lock.json")).unwrap(),
    )
    .unwrap();
    let file = lock["files"]
        .as_object()
        .and_then(|f| f.keys().next())
        .expect("the lock lists files")
        .clone();
    let path = data.join("packs").join(PACK).join(&file);
    let original = std::fs::read(&path).unwrap();
    let mut tampered = original.clone();
    tampered[original.len() / 2] ^= 0x55;
    std::fs::write(&path, &tampered).unwrap();
    let (ok, report) = doctor(&data, &[]);
    assert!(!ok);
    let check = failed(&report, &format!("pack {PACK}"));
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains(&file) && detail.contains("sha256"),
        "{detail}"
    );
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("models install {PACK}")),
        "{check:#}"
    );
    std::fs::write(&path, &original).unwrap();

    // 3. The database does not answer (PostgreSQL on a closed port).
    let url = "postgres://postgres@127.0.0.1:1/facegate";
    let (ok, report) = doctor(&data, &[("FACEGATE_DATABASE_URL", url)]);
    assert!(!ok);
    let check = failed(&report, "database");
    assert!(
        check["detail"].as_str().unwrap().contains("127.0.0.1:1"),
        "{check:#}"
    );
    let fix = check["fix"].as_str().unwrap();
    assert!(
        fix.contains("pg_isready -h 127.0.0.1 -p 1") && fix.contains("FACEGATE_DATABASE_URL"),
        "{fix}"
    );

    // 4. Someone opened the data directory and the database to others.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = data.join("facegate.db");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (ok, report) = doctor(&data, &[]);
        assert!(!ok);
        let check = failed(&report, "data dir mode");
        let detail = check["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("{} (755)", data.display()))
                && detail.contains(&format!("{} (644)", db.display())),
            "{detail}"
        );
        let fix = check["fix"].as_str().unwrap();
        assert!(fix.starts_with("chmod go-rwx "), "{fix}");
        run_fix(fix);
        assert_green(&data, "after the printed chmod");
    }

    // 5. The database was never created: the fix creates and migrates it.
    let db = data.join("facegate.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let (ok, report) = doctor(&data, &[]);
    assert!(!ok);
    let fix = failed(&report, "database")["fix"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fix.contains("facegate migrate"), "{fix}");
    let out = facegate(&data, &[], &["migrate"]);
    assert!(out.status.success());
    assert_green(&data, "after facegate migrate");

    // 6. An enabled camera whose source does not answer.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = facegate_store::Store::connect(&facegate_store::sqlite_url_for_dir(&data), 1)
            .await
            .unwrap();
        let (org, _) = store
            .init_org_with_owner("Doctor", "owner@doctor.test", "hash")
            .await
            .unwrap();
        let fields = facegate_store::CameraFields {
            name: "Gate".into(),
            source_url: "rtsp://viewer:hunter2@127.0.0.1:1/stream".into(),
            rtsp_transport: "tcp".into(),
            device_id: None,
            purpose: "watch".into(),
            detection_fps: 5.0,
            min_face_px: 36,
            min_sharpness: 5.0,
            fpir: None,
            match_threshold: None,
            cooldown_s: 30,
            enabled: true,
        };
        store.create_camera(&org.id, &fields).await.unwrap();
        store.close().await;
    });
    let (ok, report) = doctor(&data, &[]);
    assert!(!ok);
    let check = failed(&report, "camera Gate");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("unreachable") && !detail.contains("hunter2"),
        "{detail}"
    );
    assert!(
        check["fix"].as_str().unwrap().contains("enabled"),
        "{check:#}"
    );
}

#[test]
fn migrate_dry_run_lists_pending_migrations_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = facegate(&data, &[], &["migrate", "--dry-run", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = common::json(&out);
    let pending = report["pending"].as_array().unwrap();
    assert!(pending.len() >= 5, "{report:#}");
    assert_eq!(pending[0]["version"], 1);
    assert!(!data.exists(), "a dry run creates nothing");

    let out = facegate(&data, &[], &["migrate"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("applied"), "{stdout}");
    let out = facegate(&data, &[], &["migrate", "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("nothing to apply"), "{stdout}");
}
