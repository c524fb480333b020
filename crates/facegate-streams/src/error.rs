//! [`StreamError`]: what went wrong with a source, by the retry decision it drives.

/// A source failure. The kind decides what the camera worker does next:
/// everything but [`StreamError::Config`] and [`StreamError::FfmpegMissing`]
/// is retried with backoff; those two wait for the camera to be changed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The source URL or settings can never work (unknown scheme, bad fps).
    #[error("invalid camera source: {0}")]
    Config(String),
    /// The `ffmpeg` program is not installed or not runnable.
    #[error(
        "ffmpeg is not available ({0}); install it (Debian: apt install ffmpeg) or set FACEGATE_FFMPEG"
    )]
    FfmpegMissing(String),
    /// The host did not answer, refused, or the connection timed out.
    #[error("source unreachable: {0}")]
    Unreachable(String),
    /// The source refused the credentials (RTSP/HTTP 401 or 403).
    #[error("source refused the credentials: {0}")]
    Unauthorised(String),
    /// The stream's codec or container cannot be decoded.
    #[error("unsupported stream: {0}")]
    Unsupported(String),
    /// The source sent something that is not a valid stream, or stopped sending.
    #[error("stream error: {0}")]
    Protocol(String),
    /// No frame arrived within the stall timeout.
    #[error("no frame for {0} s: the source stalled")]
    Stalled(u64),
    /// A finite source (a file without `loop`) reached its end.
    #[error("end of stream")]
    Ended,
    #[error("cancelled")]
    Cancelled,
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Vision(#[from] facegate_vision::VisionError),
}

impl StreamError {
    /// Whether reconnecting later may help.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            StreamError::Config(_) | StreamError::FfmpegMissing(_) | StreamError::Cancelled
        )
    }

    /// A short machine-readable kind for status and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            StreamError::Config(_) => "config",
            StreamError::FfmpegMissing(_) => "ffmpeg_missing",
            StreamError::Unreachable(_) => "unreachable",
            StreamError::Unauthorised(_) => "unauthorised",
            StreamError::Unsupported(_) => "unsupported",
            StreamError::Protocol(_) => "protocol",
            StreamError::Stalled(_) => "stalled",
            StreamError::Ended => "ended",
            StreamError::Cancelled => "cancelled",
            StreamError::Io(_) => "io",
            StreamError::Vision(_) => "vision",
        }
    }
}
