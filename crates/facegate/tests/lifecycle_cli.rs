//! Signals to the real `facegate serve`: SIGHUP reloads the log level from
//! the configuration file; SIGTERM turns `/readyz` to 503 while the service
//! drains, lets a request in flight finish, and exits cleanly. No model
//! pack is needed (the service starts without its engine).

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::serve::{Serve, read_response};

/// `facegate serve --config CONFIG` on `data`.
fn start(data: &Path, config: &Path) -> Serve {
    let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env_remove("FACEGATE_CONFIG")
        .env_remove("FACEGATE_DATABASE_URL")
        .env_remove("FACEGATE_LOG_LEVEL")
        .env_remove("FACEGATE_LOG_DIR")
        .env_remove("FACEGATE_MODELS_DIR")
        .env("FACEGATE_DATA_DIR", data)
        .env("FACEGATE_LISTEN", "127.0.0.1:0")
        .env("FACEGATE_ENGINE_REQUIRED", "false");
    Serve::spawn(command)
}

/// `facegate health --addr ADDR`'s exit status.
fn health(addr: &str) -> Option<i32> {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["health", "--addr", addr])
        .env_remove("FACEGATE_CONFIG")
        .output()
        .expect("facegate health runs")
        .status
        .code()
}

#[test]
fn sighup_reloads_the_log_level_and_sigterm_drains_then_exits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("facegate.toml");
    std::fs::write(
        &config,
        "shutdown_drain_secs = 3\nshutdown_timeout_secs = 20\n[logging]\nlevel = \"warn\"\n",
    )
    .unwrap();
    let mut serve = start(&data, &config);

    // At `warn`, requests are not logged.
    assert_eq!(serve.get("/healthz", "req-quiet-0001").0, 200);
    std::fs::write(
        &config,
        "shutdown_drain_secs = 3\nshutdown_timeout_secs = 20\nswagger_ui = false\n[logging]\nlevel = \"info\"\n",
    )
    .unwrap();
    serve.signal("HUP");
    let reloaded = serve
        .wait_for_line(|l| l.contains("logging.level reloaded"))
        .unwrap_or_else(|| panic!("no reload line among {:?}", serve.seen));
    assert!(reloaded.contains("info"), "{reloaded}");
    serve
        .wait_for_line(|l| {
            l.contains("take effect at the next restart") && l.contains("swagger_ui")
        })
        .unwrap_or_else(|| panic!("the restart-only option is not named: {:?}", serve.seen));
    serve
        .wait_for_line(|l| l.contains("configuration reloaded"))
        .unwrap_or_else(|| panic!("no camera resync line: {:?}", serve.seen));
    assert_eq!(serve.get("/healthz", "req-loud-0002").0, 200);
    serve
        .wait_for_line(|l| l.contains("req-loud-0002") && l.contains("status=200"))
        .unwrap_or_else(|| panic!("no request line after the reload: {:?}", serve.seen));
    serve.drain_lines();
    assert!(
        !serve.seen.iter().any(|l| l.contains("req-quiet-0001")),
        "a request was logged at warn: {:?}",
        serve.seen
    );
    assert_eq!(serve.get("/readyz", "ready-0003").0, 200);
    assert_eq!(health(&serve.addr), Some(0), "facegate health while ready");

    // A login in flight: headers and half the body sent before SIGTERM.
    let body = br#"{"email": "nobody@example.test", "password": "not-the-password"}"#;
    let mut in_flight = TcpStream::connect(&serve.addr).unwrap();
    write!(
        in_flight,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        serve.addr,
        body.len()
    )
    .unwrap();
    in_flight.write_all(&body[..10]).unwrap();
    in_flight.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let stopped_at = Instant::now();
    serve.signal("TERM");
    serve
        .wait_for_line(|l| l.contains("shutting down"))
        .unwrap_or_else(|| panic!("no shutdown line: {:?}", serve.seen));
    // Draining: still answering, but not ready.
    let (status, text) = serve.get("/readyz", "drain-0004");
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("draining"), "{text}");
    assert_eq!(
        health(&serve.addr),
        Some(1),
        "facegate health while draining"
    );
    // The listener closes after the drain; the login still completes.
    serve
        .wait_for_line(|l| l.contains("listener closed"))
        .unwrap_or_else(|| panic!("no listener-closed line: {:?}", serve.seen));
    assert!(
        stopped_at.elapsed() >= Duration::from_secs(3),
        "the drain lasted {:?}",
        stopped_at.elapsed()
    );
    in_flight.write_all(&body[10..]).unwrap();
    let (status, text) = read_response(&mut in_flight);
    assert_eq!(status, 401, "the request in flight finishes: {text}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit:?}");
    serve.drain_lines();
    assert!(
        serve.seen.iter().any(|l| l.contains("stopped")),
        "{:?}",
        serve.seen
    );
}
