//! A running `facegate serve` for end-to-end tests: its stdout lines arrive
//! on a channel, requests are plain HTTP/1.1 over a TCP stream, signals are
//! sent with `kill`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Serve {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
    /// `host:port` from the banner.
    pub addr: String,
}

impl Serve {
    /// Spawn `command` (`facegate serve` with its arguments and environment;
    /// stdout is taken over) and wait for the address it listens on.
    pub fn spawn(mut command: Command) -> Serve {
        let mut child = command
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
            .expect("serve prints the address it listens on");
        serve.addr = banner
            .trim_start_matches("facegate listening on http://")
            .to_string();
        serve
    }

    /// The first stdout line (already seen or still to come) that matches,
    /// waiting while the server is alive; `None` if it exits or a minute
    /// passes without one (a deadline, not a measurement).
    pub fn wait_for_line(&mut self, want: impl Fn(&str) -> bool) -> Option<String> {
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
    pub fn drain_lines(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// GET `path` with our own request id: the status code and the whole
    /// response.
    pub fn get(&self, path: &str, request_id: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nX-Request-Id: {request_id}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        read_response(&mut stream)
    }

    /// Send signal `name` (`HUP`, `TERM`, ...) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGTERM, then wait (up to 30 s) for a graceful exit, which flushes
    /// the log file writer.
    pub fn stop(mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status code and text of a whole HTTP/1.1 response read to its end.
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    (status, response)
}
