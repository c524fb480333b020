//! Camera sources: RTSP, HTTP (MJPEG or any stream FFmpeg reads), video
//! files and V4L2 webcams, all decoded by the `ffmpeg` program running as a
//! supervised child process; and frames pushed by clients.
//!
//! Why a child process rather than a Rust RTSP client and decoder linked in:
//! one well-kept program covers every source the issue lists (RTSP over TCP
//! and UDP with credentials, H.264 and H.265, MJPEG over HTTP, files, V4L2)
//! with Debian's codecs; a malformed stream that crashes a decoder kills one
//! child, never the server; and its `fps` and `scale` filters drop frames and
//! shrink them before they cross the pipe, so the service only ever copies
//! the frames it will look at. Frames cross the pipe as binary PPM: a 15-byte
//! header that carries the size (so a camera may change resolution
//! mid-stream) and raw RGB, with no encode or decode on either side.
//! The cost, measured with `facegate bench streams`, is in ARCHITECTURE.md.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::StreamError;

/// RTSP's transport for the media packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    /// Interleaved in the RTSP connection: works through NAT and firewalls.
    #[default]
    Tcp,
    /// Separate UDP ports: lower latency on a clean LAN, loses packets on a bad one.
    Udp,
}

/// Where a camera's frames come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// `rtsp://user:pass@host:554/path`, `http://host/mjpeg`, a file path
    /// (or `file:///path`), `/dev/video0` (or `v4l2:///dev/video0`), or
    /// `push` for frames sent by clients.
    pub url: String,
    #[serde(default)]
    pub rtsp_transport: RtspTransport,
    /// Files only: start again at the end instead of ending.
    #[serde(default)]
    pub looped: bool,
    /// Files only: read at the file's own frame rate, as a camera would send
    /// it. Without it a file is read as fast as the pipeline takes frames,
    /// and no frame is dropped (replay and evaluation).
    #[serde(default)]
    pub realtime: bool,
}

impl SourceSpec {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            rtsp_transport: RtspTransport::Tcp,
            looped: false,
            realtime: false,
        }
    }

    /// The kind of source the URL names.
    ///
    /// # Errors
    /// [`StreamError::Config`] for an empty URL or an unknown scheme.
    pub fn kind(&self) -> Result<SourceKind, StreamError> {
        let url = self.url.trim();
        let lower = url.to_ascii_lowercase();
        if url.is_empty() {
            return Err(StreamError::Config("the source URL is empty".into()));
        }
        if url.chars().any(char::is_control) {
            return Err(StreamError::Config(
                "the source URL contains control characters".into(),
            ));
        }
        Ok(if lower == "push" {
            SourceKind::Push
        } else if lower.starts_with("rtsp://") || lower.starts_with("rtsps://") {
            SourceKind::Rtsp
        } else if lower.starts_with("http://") || lower.starts_with("https://") {
            SourceKind::Http
        } else if lower.starts_with("v4l2://") || lower.starts_with("/dev/video") {
            SourceKind::V4l2
        } else if lower.starts_with("file://") || !lower.contains("://") {
            SourceKind::File
        } else {
            return Err(StreamError::Config(format!(
                "unsupported source {}: use rtsp://, http(s)://, a file path, /dev/videoN or push",
                redact_url(url)
            )));
        })
    }

    /// Whether stream time follows the wall clock (live sources and files
    /// read in real time) rather than the frame count.
    pub fn is_live(&self) -> bool {
        match self.kind() {
            Ok(SourceKind::File) => self.realtime,
            _ => true,
        }
    }

    /// The URL with any password replaced by `***`, for logs and answers.
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }
}

/// The kinds of source, by how they are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Rtsp,
    Http,
    File,
    V4l2,
    Push,
}

/// `scheme://user:password@host/…?password=…` → `scheme://user:***@host/…?password=***`:
/// the user-info password, and the values of query parameters that carry
/// secrets (some cameras take credentials there), are masked; other URLs
/// are returned as they are.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "auth", "key", "sig"]
        .iter()
        .any(|s| key.contains(s))
}

fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    format!("{}://{}:***@{}", &url[..scheme_end], user, &rest[at + 1..])
}

/// How FFmpeg should hand frames over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeSettings {
    /// Frames per second handed to the pipeline (FFmpeg's `fps` filter
    /// drops the rest before they cross the pipe), in (0, 60].
    pub fps: f32,
    /// Frames wider than this are scaled down (aspect kept), in pixels.
    pub max_width: u32,
    /// Seconds to wait for a connection or for data before giving up.
    pub io_timeout_s: u32,
}

impl Default for DecodeSettings {
    fn default() -> Self {
        Self {
            fps: 5.0,
            max_width: 1280,
            io_timeout_s: 10,
        }
    }
}

/// One decoded frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: RgbImage,
    /// Stream time in ms since the source was opened: wall-clock for live
    /// sources, frame number ÷ fps for files read as fast as possible.
    pub media_ms: u64,
    /// When the frame was read from the source (latency is measured from here).
    pub captured: Instant,
}

/// The largest frame accepted from FFmpeg (after scaling): 8K UHD.
const MAX_FRAME_PIXELS: u64 = 7680 * 4320;

/// The `ffmpeg` program to run: `FACEGATE_FFMPEG`, else `ffmpeg` on `PATH`.
pub fn ffmpeg_program() -> String {
    std::env::var("FACEGATE_FFMPEG").unwrap_or_else(|_| "ffmpeg".to_owned())
}

/// Kills a source's FFmpeg child from another thread (stall watchdog,
/// shutdown); the reader then sees the end of the pipe.
#[derive(Clone)]
pub struct Killer(Arc<Mutex<Child>>);

impl Killer {
    pub fn kill(&self) {
        let _ = self.0.lock().kill();
    }
}

/// A running FFmpeg decoding one source into RGB frames.
pub struct FfmpegSource {
    child: Arc<Mutex<Child>>,
    stdout: BufReader<ChildStdout>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    kind: SourceKind,
    live: bool,
    fps: f32,
    frames: u64,
    opened: Instant,
}

impl FfmpegSource {
    /// Start FFmpeg on `spec`. Connection errors surface on the first
    /// [`FfmpegSource::read`], classified from FFmpeg's own messages.
    ///
    /// # Errors
    /// [`StreamError::Config`] for a push source or bad settings,
    /// [`StreamError::FfmpegMissing`] when the program cannot be started.
    pub fn open(spec: &SourceSpec, settings: &DecodeSettings) -> Result<Self, StreamError> {
        let kind = spec.kind()?;
        if !(settings.fps.is_finite() && settings.fps > 0.0 && settings.fps <= 60.0) {
            return Err(StreamError::Config(format!(
                "fps must be in (0, 60], got {}",
                settings.fps
            )));
        }
        if !(64..=7680).contains(&settings.max_width) {
            return Err(StreamError::Config(format!(
                "max_width must be in [64, 7680], got {}",
                settings.max_width
            )));
        }
        let timeout_us = (u64::from(settings.io_timeout_s.max(1)) * 1_000_000).to_string();
        let mut command = Command::new(ffmpeg_program());
        command.args(["-nostdin", "-hide_banner", "-loglevel", "error"]);
        let input = spec.url.trim();
        match kind {
            SourceKind::Push => {
                return Err(StreamError::Config(
                    "a push source has no stream to open: clients send its frames".into(),
                ));
            }
            SourceKind::Rtsp => {
                let transport = match spec.rtsp_transport {
                    RtspTransport::Tcp => "tcp",
                    RtspTransport::Udp => "udp",
                };
                command.args(["-rtsp_transport", transport, "-timeout", &timeout_us]);
                command.args(["-i", input]);
            }
            SourceKind::Http => {
                command.args(["-rw_timeout", &timeout_us]);
                command.args(["-i", input]);
            }
            SourceKind::V4l2 => {
                let device = input.strip_prefix("v4l2://").unwrap_or(input);
                command.args(["-f", "v4l2", "-i", device]);
            }
            SourceKind::File => {
                let path = input.strip_prefix("file://").unwrap_or(input);
                if spec.realtime {
                    command.arg("-re");
                }
                if spec.looped {
                    command.args(["-stream_loop", "-1"]);
                }
                // `file:` keeps a path with a colon from being read as a protocol.
                command.arg("-i").arg(format!("file:{path}"));
            }
        }
        let filter = format!(
            "fps={},scale='min({},iw)':-2:flags=bilinear",
            settings.fps, settings.max_width
        );
        command.args(["-an", "-sn", "-dn", "-vf", &filter]);
        command.args([
            "-f",
            "image2pipe",
            "-c:v",
            "ppm",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| StreamError::FfmpegMissing(format!("{}: {e}", ffmpeg_program())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| StreamError::Protocol("ffmpeg has no stdout".into()))?;
        let stderr = child.stderr.take();
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = stderr {
            let tail = stderr_tail.clone();
            let redacted = spec.redacted();
            std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        // FFmpeg echoes the URL, password included.
                        let line = redact_in_text(&line);
                        tracing::debug!(source = %redacted, "ffmpeg: {line}");
                        let mut tail = tail.lock();
                        if tail.len() == 20 {
                            tail.pop_front();
                        }
                        tail.push_back(line);
                    }
                })?;
        }
        Ok(Self {
            child: Arc::new(Mutex::new(child)),
            // Large enough for a 720p frame in a few reads.
            stdout: BufReader::with_capacity(1 << 20, stdout),
            stderr_tail,
            kind,
            live: spec.is_live(),
            fps: settings.fps,
            frames: 0,
            opened: Instant::now(),
        })
    }

    pub fn killer(&self) -> Killer {
        Killer(self.child.clone())
    }

    /// The next frame. Blocks until FFmpeg hands one over.
    ///
    /// # Errors
    /// [`StreamError::Ended`] at the end of a file, otherwise the failure
    /// FFmpeg reported (unreachable, unauthorised, unsupported, protocol).
    pub fn read(&mut self) -> Result<Frame, StreamError> {
        match read_ppm(&mut self.stdout) {
            Ok(Some(image)) => {
                let captured = Instant::now();
                let media_ms = if self.live {
                    captured.duration_since(self.opened).as_millis() as u64
                } else {
                    (self.frames as f64 * 1000.0 / f64::from(self.fps)).round() as u64
                };
                self.frames += 1;
                Ok(Frame {
                    image,
                    media_ms,
                    captured,
                })
            }
            Ok(None) => Err(self.exit_error()),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                self.killer().kill();
                Err(StreamError::Protocol(format!(
                    "ffmpeg sent a bad frame: {e}"
                )))
            }
            Err(_) => Err(self.exit_error()),
        }
    }

    /// Why FFmpeg stopped, from its exit status and last messages.
    fn exit_error(&mut self) -> StreamError {
        let status = {
            let mut child = self.child.lock();
            // The pipe closed: FFmpeg is exiting; give it a moment to finish.
            let deadline = Instant::now() + std::time::Duration::from_secs(2);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => break Some(status),
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    _ => {
                        let _ = child.kill();
                        break child.wait().ok();
                    }
                }
            }
        };
        // Let the stderr thread drain the last lines.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let messages: Vec<String> = self.stderr_tail.lock().iter().cloned().collect();
        let clean_exit = status.is_some_and(|s| s.success());
        classify(self.kind, clean_exit, &messages)
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        let mut child = self.child.lock();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Map FFmpeg's exit and its last error lines to a [`StreamError`].
pub fn classify(kind: SourceKind, clean_exit: bool, messages: &[String]) -> StreamError {
    let all = messages.join("\n");
    let lower = all.to_ascii_lowercase();
    let last = messages
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| redact_in_text(l.trim()))
        .unwrap_or_else(|| "ffmpeg exited".to_owned());
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&["401 unauthorized", "403 forbidden", "401", "unauthorized"]) {
        StreamError::Unauthorised(last)
    } else if has(&[
        "connection refused",
        "no route to host",
        "timed out",
        "network is unreachable",
        "name or service not known",
        "temporary failure in name resolution",
        "no such file or directory",
        "404 not found",
        "server returned 404",
        "connection reset",
        "broken pipe",
        "end of file",
    ]) {
        StreamError::Unreachable(last)
    } else if has(&[
        "decoder",
        "not supported",
        "unsupported",
        "could not find codec",
        "no video",
        "output file #0 does not contain any stream",
        "does not contain any stream",
    ]) {
        StreamError::Unsupported(last)
    } else if clean_exit && kind == SourceKind::File {
        StreamError::Ended
    } else if clean_exit {
        // A live source that ends cleanly has stopped sending.
        StreamError::Unreachable("the source ended the stream".into())
    } else {
        StreamError::Protocol(last)
    }
}

/// Replace `user:password@` in free text (FFmpeg echoes URLs in errors).
fn redact_in_text(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://") {
                redact_url(word)
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Read one binary PPM (`P6`, maxval 255) image; `Ok(None)` at a clean end
/// of input before the first byte.
///
/// # Errors
/// `InvalidData` for anything but a well-formed P6 header, a size above
/// [`MAX_FRAME_PIXELS`], or `UnexpectedEof` in the middle of an image.
pub fn read_ppm(reader: &mut impl BufRead) -> std::io::Result<Option<RgbImage>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let n = reader.read(&mut magic[got..])?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    if &magic != b"P6" {
        return Err(bad("not a binary PPM frame"));
    }
    let mut fields = [0u64; 3];
    for field in &mut fields {
        *field = read_header_number(reader)?;
    }
    let [width, height, maxval] = fields;
    if maxval != 255 {
        return Err(bad("PPM frame is not 8-bit"));
    }
    if width == 0 || height == 0 || width * height > MAX_FRAME_PIXELS {
        return Err(bad("PPM frame size out of range"));
    }
    let mut data = vec![0u8; (width * height * 3) as usize];
    reader.read_exact(&mut data)?;
    RgbImage::from_raw(width as u32, height as u32, data)
        .map(Some)
        .ok_or_else(|| bad("PPM frame size mismatch"))
}

/// One decimal header field, after whitespace and `#` comments; consumes
/// the single whitespace byte that ends it.
fn read_header_number(reader: &mut impl BufRead) -> std::io::Result<u64> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut byte = [0u8; 1];
    let mut value: Option<u64> = None;
    let mut digits = 0;
    loop {
        reader.read_exact(&mut byte)?;
        match byte[0] {
            b'#' if value.is_none() => {
                let mut skipped = Vec::new();
                reader.read_until(b'\n', &mut skipped)?;
            }
            b if b.is_ascii_whitespace() => {
                if let Some(v) = value {
                    return Ok(v);
                }
            }
            b if b.is_ascii_digit() => {
                digits += 1;
                if digits > 9 {
                    return Err(bad("PPM header number too long"));
                }
                value = Some(value.unwrap_or(0) * 10 + u64::from(b - b'0'));
            }
            _ => return Err(bad("bad PPM header")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_url() {
        let kind = |u: &str| SourceSpec::new(u).kind().map_err(|e| e.kind());
        assert_eq!(kind("rtsp://cam/stream"), Ok(SourceKind::Rtsp));
        assert_eq!(kind("RTSPS://cam/stream"), Ok(SourceKind::Rtsp));
        assert_eq!(kind("http://cam/video.mjpg"), Ok(SourceKind::Http));
        assert_eq!(kind("/dev/video0"), Ok(SourceKind::V4l2));
        assert_eq!(kind("v4l2:///dev/video2"), Ok(SourceKind::V4l2));
        assert_eq!(kind("clips/door.mp4"), Ok(SourceKind::File));
        assert_eq!(kind("file:///tmp/a.mkv"), Ok(SourceKind::File));
        assert_eq!(kind("push"), Ok(SourceKind::Push));
        assert_eq!(kind(""), Err("config"));
        assert_eq!(kind("gopher://x"), Err("config"));
        assert_eq!(kind("rtsp://x\n-i /etc/passwd"), Err("config"));
    }

    #[test]
    fn passwords_never_leave_redaction() {
        assert_eq!(
            redact_url("rtsp://admin:s3cret@10.0.0.2:554/h264"),
            "rtsp://admin:***@10.0.0.2:554/h264"
        );
        assert_eq!(redact_url("rtsp://10.0.0.2/x"), "rtsp://10.0.0.2/x");
        assert_eq!(redact_url("http://u:p:q@h/a@b"), "http://u:***@h/a@b");
        assert_eq!(
            redact_url("rtsp://10.0.0.2/x?user=admin&password=S3cret&channel=1"),
            "rtsp://10.0.0.2/x?user=admin&password=***&channel=1"
        );
        assert_eq!(
            redact_url("http://u:p@h/v?pwd=1&token=t"),
            "http://u:***@h/v?pwd=***&token=***"
        );
        assert_eq!(
            redact_in_text("rtsp://a:b@h/x: 401 Unauthorized"),
            "rtsp://a:***@h/x: 401 Unauthorized"
        );
    }

    #[test]
    fn ppm_frames_parse_and_bad_ones_are_refused() {
        let mut bytes = b"P6\n# comment\n2 1\n255\n".to_vec();
        bytes.extend([1, 2, 3, 4, 5, 6]);
        bytes.extend(b"P6 1 1 255 ");
        bytes.extend([9, 9, 9]);
        let mut reader = std::io::Cursor::new(bytes);
        let first = read_ppm(&mut reader).unwrap().unwrap();
        assert_eq!((first.width(), first.height()), (2, 1));
        assert_eq!(first.get_pixel(1, 0).0, [4, 5, 6]);
        let second = read_ppm(&mut reader).unwrap().unwrap();
        assert_eq!(second.get_pixel(0, 0).0, [9, 9, 9]);
        assert!(read_ppm(&mut reader).unwrap().is_none());

        for bad in [
            &b"P5\n1 1\n255\n\0"[..],
            b"P6\n1 1\n65535\n\0\0\0\0\0\0",
            b"P6\n100000 100000\n255\n",
            b"P6\n0 1\n255\n",
            b"P6\n1 x\n255\n",
            b"P6\n2 2\n255\n\0\0\0",
        ] {
            assert!(read_ppm(&mut std::io::Cursor::new(bad)).is_err());
        }
    }

    #[test]
    fn ffmpeg_messages_classify() {
        let c = |kind, clean, m: &str| classify(kind, clean, &[m.to_owned()]).kind();
        assert_eq!(
            c(
                SourceKind::Rtsp,
                false,
                "method DESCRIBE failed: 401 Unauthorized"
            ),
            "unauthorised"
        );
        assert_eq!(
            c(
                SourceKind::Rtsp,
                false,
                "Connection to tcp://127.0.0.1:1 failed: Connection refused"
            ),
            "unreachable"
        );
        assert_eq!(c(SourceKind::File, true, ""), "ended");
        assert_eq!(c(SourceKind::Rtsp, true, ""), "unreachable");
        assert_eq!(
            c(
                SourceKind::File,
                false,
                "x.mp4: Invalid data found when processing input"
            ),
            "protocol"
        );
    }
}
