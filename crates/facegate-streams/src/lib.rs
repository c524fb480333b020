//! Cameras and live streams: frames in, recognition events out.
//!
//! ```text
//! source (FFmpeg child: RTSP, HTTP MJPEG, file, V4L2; or pushed frames)
//!   └─▶ one-frame slot (newest wins, drops counted)
//!         └─▶ Pipeline: detect ─▶ Tracker ─▶ quality gate ─▶ embed best frames
//!                       ─▶ quality-weighted vote ─▶ open-set decision ─▶ TrackEvent
//!               ├─▶ EventSink (the service: attendance, access, SSE, MQTT, webhooks)
//!               └─▶ annotated JPEGs (MJPEG viewers, snapshots)
//! ```
//!
//! Entry points: [`Camera::start`] for a live camera (the service),
//! [`Pipeline`] for frames you drive yourself (`facegate watch`, clip
//! evaluation), [`FfmpegSource`] to decode any source into frames.
//!
//! Invariants: no HTTP, no database and no async runtime here (the service
//! adapts); every queue is bounded and every drop counted in
//! [`CameraStatus`]; a failing source never panics or stops another camera;
//! source URLs are only logged or reported through [`redact_url`].

mod camera;
mod error;
pub mod eval;
pub mod identify;
pub mod overlay;
pub mod pipeline;
pub mod source;
pub mod track;

pub use camera::{
    Camera, CameraSpec, CameraState, CameraStatus, EngineGate, EventSink, GatePermit, StageMs,
};
pub use error::StreamError;
pub use identify::{Candidate, Identifier, KnownFaces, OperatingPoint};
pub use pipeline::{
    EventKind, FaceOverlay, FrameResult, OverlayState, Pipeline, PipelineConfig, StageTimings,
    TrackEvent, encode_jpeg,
};
pub use source::{
    DecodeSettings, FfmpegSource, Frame, RtspTransport, SourceKind, SourceSpec, redact_url,
};
pub use track::{Track, Tracker, TrackerConfig};
