//! `facegate serve` as users run it: the real binary, its logging set-up
//! and the permissions of what it creates in the data directory. No model
//! pack is needed (the service starts without its engine).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::serve::Serve;

/// `facegate serve` on `data_dir`, logging at info as text or JSON.
fn start(data_dir: &Path, json: bool) -> Serve {
    let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
    command
        .arg("serve")
        .env_remove("FACEGATE_CONFIG")
        .env_remove("FACEGATE_DATABASE_URL")
        .env_remove("FACEGATE_LOG_DIR")
        .env_remove("FACEGATE_MODELS_DIR")
        .env_remove("FACEGATE_JWT_SECRET")
        .env("FACEGATE_DATA_DIR", data_dir)
        .env("FACEGATE_LISTEN", "127.0.0.1:0")
        .env("FACEGATE_ENGINE_REQUIRED", "false")
        .env("FACEGATE_LOG_LEVEL", "info")
        .env("FACEGATE_LOG_JSON", if json { "true" } else { "false" });
    Serve::spawn(command)
}

/// Every line of the log files in `dir` that contains `needle`, waiting up to
/// a minute for one to be written by the background writer.
fn log_file_lines(dir: &Path, needle: &str) -> (Vec<PathBuf>, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        let lines: Vec<String> = files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .flat_map(|text| {
                text.lines()
                    .filter(|l| l.contains(needle))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        if !lines.is_empty() || Instant::now() > deadline {
            return (files, lines);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn serve_logs_each_request_to_its_file_and_stdout_and_keeps_its_data_private() {
    let tmp = tempfile::tempdir().unwrap();
    // A fresh data directory, created by the service itself.
    let data = tmp.path().join("data");
    let logs = data.join("logs");

    let mut serve = start(&data, false);
    assert_eq!(serve.get("/healthz", "req-plain-0001").0, 200);
    let line = serve
        .wait_for_line(|l| l.contains("req-plain-0001") && l.contains("status=200"))
        .unwrap_or_else(|| panic!("no request line on stdout among {:?}", serve.seen));
    for part in ["method=GET", "route=/healthz", "latency_ms="] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    let (files, lines) = log_file_lines(&logs, "req-plain-0001");
    let line = lines
        .iter()
        .find(|l| l.contains("status=200"))
        .unwrap_or_else(|| panic!("no request line in the log files {files:?}"));
    for part in ["method=GET", "route=/healthz", "latency_ms="] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    serve.stop();

    #[cfg(unix)]
    {
        assert_eq!(mode(&data), 0o700, "data dir");
        assert_eq!(mode(&logs), 0o700, "log dir");
        assert_eq!(mode(&data.join("facegate.db")), 0o600, "database");
        assert_eq!(mode(&data.join("jwt.key")), 0o600, "JWT key");
        for suffix in ["-wal", "-shm"] {
            let side = data.join(format!("facegate.db{suffix}"));
            if side.exists() {
                assert_eq!(mode(&side), 0o600, "{}", side.display());
            }
        }
        for file in &files {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
    }

    // Again with JSON logs, on a data directory someone opened up: the
    // service says so at start.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut serve = start(&data, true);
    assert_eq!(serve.get("/api/v1/auth/me", "req-json-0002").0, 401);
    let line = serve
        .wait_for_line(|l| l.contains("req-json-0002") && l.contains("\"route\""))
        .unwrap_or_else(|| panic!("no JSON request line on stdout among {:?}", serve.seen));
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    let fields = &v["fields"];
    assert_eq!(fields["request_id"], "req-json-0002", "{v}");
    assert_eq!(fields["method"], "GET", "{v}");
    assert_eq!(fields["route"], "/api/v1/auth/me", "{v}");
    assert_eq!(fields["status"], 401, "{v}");
    assert!(fields["latency_ms"].as_f64().is_some(), "{v}");
    let (files, lines) = log_file_lines(&logs, "req-json-0002");
    let file_line = lines
        .iter()
        .find(|l| l.contains("\"route\""))
        .unwrap_or_else(|| panic!("no JSON request line in {files:?}"));
    let v: serde_json::Value = serde_json::from_str(file_line).expect("a JSON line");
    assert_eq!(v["fields"]["status"], 401, "{v}");
    #[cfg(unix)]
    {
        let warning = serve.wait_for_line(|l| l.contains("readable by other users"));
        assert!(
            warning.as_deref().is_some_and(|w| w.contains("WARN")),
            "no warning about the exposed data dir among {:?}",
            serve.seen
        );
    }
    serve.stop();
}
