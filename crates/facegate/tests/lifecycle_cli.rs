//! Signals to the real `facegate serve`: SIGHUP reloads the log level from
//! the configuration file; SIGTERM turns `/readyz` to 503 while the service
//! drains, lets a request in flight finish, and exits cleanly. No model
//! pack is needed (the service starts without its engine).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    addr: String,
}

impl Serve {
    fn start(data: &Path, config: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_facegate"))
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
            .env("FACEGATE_ENGINE_REQUIRED", "false")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the facegate binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut serve = Serve {
            child,
            lines,
            seen: Vec::new(),
            addr: String::new(),
        };
        let banner = serve
            .wait_for_line(|l| l.starts_with("facegate listening on http://"))
            .expect("serve prints its address");
        serve.addr = banner
            .trim_start_matches("facegate listening on http://")
            .to_string();
        serve
    }

    /// Wait (a deadline, not a measurement) for a stdout line that matches.
    fn wait_for_line(&mut self, want: impl Fn(&str) -> bool) -> Option<String> {
        if let Some(line) = self.seen.iter().find(|l| want(l)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let hit = want(&line);
                    self.seen.push(line.clone());
                    if hit {
                        return Some(line);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            }
        }
        None
    }

    /// Everything printed so far, without waiting.
    fn drain_lines(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    fn get(&self, path: &str, request_id: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nX-Request-Id: {request_id}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        read_response(&mut stream)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    (status, response)
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
    let mut serve = Serve::start(&data, &config);

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
