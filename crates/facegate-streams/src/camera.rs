//! One live camera: a worker that keeps its source open, recognises what it
//! sees, and reports events, annotated frames and its status.
//!
//! Two threads per camera, so decoding never waits for recognition:
//! - **ingest** opens the source (FFmpeg), reads frames into a one-frame
//!   slot and, on any failure, records it, backs off (1 s doubling to 30 s)
//!   and reconnects, until cancelled; a finite file ends the camera.
//! - **process** takes the newest frame from the slot, asks the shared
//!   [`EngineGate`] for a slot (skips the frame when the engine is busy, so
//!   API requests keep their latency), runs the [`Pipeline`], hands events
//!   to the [`EventSink`], and publishes annotated JPEGs and status.
//!
//! Back-pressure, one policy per hop: source → process keeps only the newest
//! frame and counts the ones it replaced (`dropped_frames`); process →
//! engine skips when no gate slot is free (`skipped_busy`); process →
//! viewers is a bounded `broadcast` of JPEGs encoded once per frame, only
//! while someone watches (a slow viewer skips ahead); events → sink is the
//! sink's bounded queue. Nothing grows without limit.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use facegate_vision::Engine;
use image::RgbImage;
use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::identify::Identifier;
use crate::pipeline::{
    FaceOverlay, Pipeline, PipelineConfig, StageTimings, TrackEvent, encode_jpeg,
};
use crate::source::{DecodeSettings, FfmpegSource, Frame, Killer, SourceKind, SourceSpec};
use crate::{StreamError, overlay};

/// Where a camera's events go. Called on the camera's processing thread:
/// implementations must not block (queue and return).
pub trait EventSink: Send + Sync {
    fn emit(&self, event: TrackEvent);
}

impl<F: Fn(TrackEvent) + Send + Sync> EventSink for F {
    fn emit(&self, event: TrackEvent) {
        self(event)
    }
}

/// Shares the engine between cameras: at most `slots` frames in recognition
/// at once across all cameras. A camera that finds no free slot waits at
/// most one frame interval for one ([`EngineGate::acquire_within`]) and
/// otherwise skips the frame, so a busy machine drops camera frames, never
/// queues them, and never delays API requests (which do not take slots).
///
/// Waiting that long, not skipping at once, matters: with frames arriving
/// at random phases, skipping whenever both slots were taken lost a third
/// of the frames of four 5 fps cameras on two cores while the CPU was
/// still 20% idle (a loss system: Erlang's B formula, B(2, 1.6) ≈ 0.33).
#[derive(Debug)]
pub struct EngineGate {
    slots: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

impl EngineGate {
    pub fn new(slots: usize) -> Self {
        Self {
            slots: slots.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// A slot if one is free now.
    pub fn try_acquire(self: &Arc<Self>) -> Option<GatePermit> {
        self.acquire_within(Duration::ZERO)
    }

    /// A slot if one is free now or frees up within `wait`.
    pub fn acquire_within(self: &Arc<Self>, wait: Duration) -> Option<GatePermit> {
        let deadline = Instant::now() + wait;
        let mut used = self.used.lock();
        while *used >= self.slots {
            if wait.is_zero() || self.freed.wait_until(&mut used, deadline).timed_out() {
                if *used >= self.slots {
                    return None;
                }
                break;
            }
        }
        *used += 1;
        Some(GatePermit(self.clone()))
    }

    /// Frames in recognition now.
    pub fn in_use(&self) -> usize {
        *self.used.lock()
    }
}

pub struct GatePermit(Arc<EngineGate>);

impl Drop for GatePermit {
    fn drop(&mut self) {
        let mut used = self.0.used.lock();
        *used = used.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

/// Everything about one camera the worker needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraSpec {
    pub id: String,
    pub source: SourceSpec,
    /// Frames per second recognised (FFmpeg drops the rest), default 5.
    pub detection_fps: f32,
    /// Frames wider than this are scaled down first, default 1280.
    pub max_width: u32,
    /// Seconds without a frame before the source is declared stalled and
    /// reopened, default 10.
    pub stall_timeout_s: u32,
    pub pipeline: PipelineConfig,
}

impl CameraSpec {
    pub fn new(id: impl Into<String>, source: SourceSpec) -> Self {
        Self {
            id: id.into(),
            source,
            detection_fps: 5.0,
            max_width: 1280,
            stall_timeout_s: 10,
            pipeline: PipelineConfig::default(),
        }
    }

    fn decode(&self) -> DecodeSettings {
        DecodeSettings {
            fps: self.detection_fps,
            max_width: self.max_width,
            io_timeout_s: self.stall_timeout_s,
        }
    }
}

/// What a camera is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// Opening the source for the first time.
    Connecting,
    /// Frames are arriving.
    Streaming,
    /// The source failed; waiting out the backoff before reopening it.
    Reconnecting,
    /// A push camera waiting for clients' frames.
    Waiting,
    /// The source cannot work as configured (see `last_error`).
    Failed,
    /// A file source reached its end.
    Ended,
    Stopped,
}

/// A camera's health, as `GET /api/v1/cameras/{id}/status` reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CameraStatus {
    pub camera_id: String,
    pub state: CameraState,
    /// Frames per second arriving from the source (after the fps filter).
    pub input_fps: f64,
    /// Frames per second recognised.
    pub processed_fps: f64,
    /// Time from reading the latest processed frame to the end of its
    /// recognition, ms.
    pub lag_ms: f64,
    pub frames_in: u64,
    pub frames_processed: u64,
    /// Frames replaced in the slot before recognition took them (the
    /// machine could not keep up with this camera).
    pub dropped_frames: u64,
    /// Frames skipped because every engine slot was busy.
    pub skipped_busy: u64,
    pub reconnects: u64,
    pub events: u64,
    pub active_tracks: usize,
    pub last_error: Option<String>,
    pub last_error_kind: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Since when frames have been arriving without interruption.
    pub connected_since: Option<DateTime<Utc>>,
    /// Mean per-stage cost of recent frames.
    pub stage_ms: StageMs,
}

/// Exponentially weighted per-stage means (α = 0.2), ms.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct StageMs {
    pub detect: f64,
    pub embed: f64,
    pub vote: f64,
    pub annotate: f64,
}

impl CameraStatus {
    fn new(camera_id: &str, state: CameraState) -> Self {
        Self {
            camera_id: camera_id.to_owned(),
            state,
            input_fps: 0.0,
            processed_fps: 0.0,
            lag_ms: 0.0,
            frames_in: 0,
            frames_processed: 0,
            dropped_frames: 0,
            skipped_busy: 0,
            reconnects: 0,
            events: 0,
            active_tracks: 0,
            last_error: None,
            last_error_kind: None,
            last_error_at: None,
            connected_since: None,
            stage_ms: StageMs::default(),
        }
    }
}

/// The newest frame, waiting for the processing thread.
struct Slot {
    frame: Mutex<Option<Frame>>,
    ready: Condvar,
}

impl Slot {
    /// Put a frame; true if it replaced one never processed.
    fn put(&self, frame: Frame) -> bool {
        let replaced = self.frame.lock().replace(frame).is_some();
        self.ready.notify_one();
        replaced
    }

    /// The frame waiting now, if any, without waiting.
    fn try_take(&self) -> Option<Frame> {
        self.frame.lock().take()
    }

    fn take(&self, wait: Duration) -> Option<Frame> {
        let mut slot = self.frame.lock();
        if slot.is_none() {
            self.ready.wait_for(&mut slot, wait);
        }
        slot.take()
    }
}

/// Frames per second over the last few seconds.
struct Rate {
    times: std::collections::VecDeque<Instant>,
}

impl Rate {
    fn new() -> Self {
        Self {
            times: std::collections::VecDeque::with_capacity(32),
        }
    }

    fn tick(&mut self, now: Instant) -> f64 {
        if self.times.len() == 30 {
            self.times.pop_front();
        }
        self.times.push_back(now);
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(5))
        {
            self.times.pop_front();
        }
        match (self.times.front(), self.times.len()) {
            (Some(first), n) if n >= 2 => {
                let span = now.duration_since(*first).as_secs_f64();
                if span > 0.0 {
                    (n - 1) as f64 / span
                } else {
                    0.0
                }
            }
            _ => 0.0,
        }
    }
}

struct Shared {
    spec: CameraSpec,
    status: watch::Sender<CameraStatus>,
    slot: Slot,
    jpeg: broadcast::Sender<Arc<Vec<u8>>>,
    /// The latest processed frame and its overlays, for snapshots.
    latest: Mutex<Option<(Arc<RgbImage>, Vec<FaceOverlay>)>>,
    cancel: CancellationToken,
    killer: Mutex<Option<Killer>>,
    last_frame_at: Mutex<Instant>,
    /// Stream time of push frames.
    opened: Instant,
    push_last_ms: Mutex<Option<u64>>,
}

/// A running camera. Dropping it does not stop the camera: call [`Camera::stop`].
pub struct Camera {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// JPEGs buffered per viewer before a slow one skips ahead.
const VIEWER_BUFFER: usize = 4;

impl Camera {
    /// Start a camera's worker threads.
    ///
    /// # Errors
    /// [`StreamError::Config`] for a source that can never work (bad URL,
    /// fps out of range); connection problems are retried, not returned.
    pub fn start(
        spec: CameraSpec,
        engine: Arc<Engine>,
        identifier: Arc<dyn Identifier>,
        sink: Arc<dyn EventSink>,
        gate: Arc<EngineGate>,
        cancel: CancellationToken,
    ) -> Result<Camera, StreamError> {
        let kind = spec.source.kind()?;
        if !(spec.detection_fps.is_finite()
            && spec.detection_fps > 0.0
            && spec.detection_fps <= 30.0)
        {
            return Err(StreamError::Config(format!(
                "detection_fps must be in (0, 30], got {}",
                spec.detection_fps
            )));
        }
        let initial = if kind == SourceKind::Push {
            CameraState::Waiting
        } else {
            CameraState::Connecting
        };
        let (status, _) = watch::channel(CameraStatus::new(&spec.id, initial));
        let (jpeg, _) = broadcast::channel(VIEWER_BUFFER);
        let shared = Arc::new(Shared {
            spec,
            status,
            slot: Slot {
                frame: Mutex::new(None),
                ready: Condvar::new(),
            },
            jpeg,
            latest: Mutex::new(None),
            // A child: a file's end stops this camera, never its siblings.
            cancel: cancel.child_token(),
            killer: Mutex::new(None),
            last_frame_at: Mutex::new(Instant::now()),
            opened: Instant::now(),
            push_last_ms: Mutex::new(None),
        });
        let mut threads = Vec::new();
        let name = |what: &str| {
            format!(
                "cam-{what}-{}",
                shared.spec.id.chars().take(8).collect::<String>()
            )
        };
        if kind != SourceKind::Push {
            let s = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(name("in"))
                    .spawn(move || ingest(&s))?,
            );
        }
        let s = shared.clone();
        let pipeline = Pipeline::new(
            s.spec.id.clone(),
            s.spec.pipeline.clone(),
            engine,
            identifier,
        );
        threads.push(
            std::thread::Builder::new()
                .name(name("proc"))
                .spawn(move || process(&s, pipeline, sink.as_ref(), &gate))?,
        );
        Ok(Camera { shared, threads })
    }

    pub fn id(&self) -> &str {
        &self.shared.spec.id
    }

    pub fn spec(&self) -> &CameraSpec {
        &self.shared.spec
    }

    pub fn status(&self) -> CameraStatus {
        self.shared.status.borrow().clone()
    }

    /// Status changes as they happen.
    pub fn watch_status(&self) -> watch::Receiver<CameraStatus> {
        self.shared.status.subscribe()
    }

    /// Annotated JPEG frames from now on (bounded: a viewer that falls
    /// behind gets `Lagged` and resumes at the newest frame).
    pub fn subscribe_jpeg(&self) -> broadcast::Receiver<Arc<Vec<u8>>> {
        self.shared.jpeg.subscribe()
    }

    /// The latest processed frame with its overlays, as JPEG; `None` before
    /// the first frame.
    pub fn snapshot(&self, annotate: bool) -> Option<Vec<u8>> {
        let (image, faces) = self.shared.latest.lock().clone()?;
        if annotate {
            let mut image = (*image).clone();
            overlay::draw(&mut image, &faces);
            encode_jpeg(&image, 85)
        } else {
            encode_jpeg(&image, 85)
        }
    }

    /// A frame sent by a client to a `push` camera. Frames faster than the
    /// camera's detection fps are dropped (counted), as are frames that
    /// arrive while one is still waiting.
    ///
    /// # Errors
    /// [`StreamError::Config`] when the camera is not a push camera.
    pub fn push(&self, image: RgbImage) -> Result<bool, StreamError> {
        if self.shared.spec.source.kind()? != SourceKind::Push {
            return Err(StreamError::Config(
                "frames can only be pushed to a camera whose source is `push`".into(),
            ));
        }
        let now = Instant::now();
        let media_ms = now.duration_since(self.shared.opened).as_millis() as u64;
        let interval = (1000.0 / self.shared.spec.detection_fps) as u64;
        {
            let mut last = self.shared.push_last_ms.lock();
            if last.is_some_and(|l| media_ms < l + interval * 9 / 10) {
                self.shared.status.send_modify(|s| s.dropped_frames += 1);
                return Ok(false);
            }
            *last = Some(media_ms);
        }
        let replaced = self.shared.slot.put(Frame {
            image,
            media_ms,
            captured: now,
        });
        self.shared.status.send_modify(|s| {
            s.frames_in += 1;
            s.state = CameraState::Streaming;
            if s.connected_since.is_none() {
                s.connected_since = Some(Utc::now());
            }
            if replaced {
                s.dropped_frames += 1;
            }
        });
        Ok(!replaced)
    }

    /// Cancel the camera and wait (up to `deadline`) for its threads.
    pub fn stop(self, deadline: Duration) {
        self.shared.cancel.cancel();
        if let Some(k) = self.shared.killer.lock().as_ref() {
            k.kill();
        }
        self.shared.slot.ready.notify_all();
        let until = Instant::now() + deadline;
        for thread in self.threads {
            while !thread.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                tracing::warn!(camera = %self.shared.spec.id, "camera thread did not stop in time");
            }
        }
        self.shared
            .status
            .send_modify(|s| s.state = CameraState::Stopped);
    }
}

fn record_error(shared: &Shared, error: &StreamError, state: CameraState) {
    tracing::warn!(camera = %shared.spec.id, kind = error.kind(), "camera source: {error}");
    shared.status.send_modify(|s| {
        s.state = state;
        s.last_error = Some(error.to_string());
        s.last_error_kind = Some(error.kind().to_owned());
        s.last_error_at = Some(Utc::now());
        s.connected_since = None;
    });
}

/// Sleep up to `duration`, waking early on cancellation; false if cancelled.
fn pause(cancel: &CancellationToken, duration: Duration) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if cancel.is_cancelled() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    !cancel.is_cancelled()
}

fn ingest(shared: &Shared) {
    let mut backoff = Duration::from_secs(1);
    let mut first = true;
    // Stream time goes on across reconnects: each opened source counts from
    // 0, and the tracker and the per-person cooldown need time that never
    // goes back (a stale track would otherwise outlive the outage by the
    // length of the previous session, and the cooldown would swallow
    // everyone until the new session caught up with the old one's clock).
    let mut last_media: Option<(u64, Instant)> = None;
    while !shared.cancel.is_cancelled() {
        if !first {
            shared.status.send_modify(|s| s.reconnects += 1);
        }
        first = false;
        let mut source = match FfmpegSource::open(&shared.spec.source, &shared.spec.decode()) {
            Ok(source) => source,
            Err(e) if !e.is_retryable() => {
                record_error(shared, &e, CameraState::Failed);
                return;
            }
            Err(e) => {
                record_error(shared, &e, CameraState::Reconnecting);
                if !pause(&shared.cancel, backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        *shared.killer.lock() = Some(source.killer());
        *shared.last_frame_at.lock() = Instant::now();
        let offset = last_media.map_or(0, |(ms, at): (u64, Instant)| {
            ms + at.elapsed().as_millis() as u64 + 1
        });
        let mut rate = Rate::new();
        let outcome = loop {
            if shared.cancel.is_cancelled() {
                break StreamError::Cancelled;
            }
            match source.read() {
                Ok(mut frame) => {
                    frame.media_ms += offset;
                    last_media = Some((frame.media_ms, frame.captured));
                    let now = frame.captured;
                    *shared.last_frame_at.lock() = now;
                    backoff = Duration::from_secs(1);
                    let fps = rate.tick(now);
                    let replaced = shared.slot.put(frame);
                    shared.status.send_modify(|s| {
                        s.frames_in += 1;
                        s.input_fps = fps;
                        if s.state != CameraState::Streaming {
                            s.state = CameraState::Streaming;
                            s.connected_since = Some(Utc::now());
                        }
                        if replaced {
                            s.dropped_frames += 1;
                        }
                    });
                }
                Err(e) => break e,
            }
        };
        *shared.killer.lock() = None;
        drop(source);
        match outcome {
            StreamError::Cancelled => return,
            _ if shared.cancel.is_cancelled() => return,
            StreamError::Ended => {
                shared.status.send_modify(|s| {
                    s.state = CameraState::Ended;
                    s.connected_since = None;
                });
                // The processing thread finishes the tracks and stops.
                shared.cancel.cancel();
                return;
            }
            e => {
                let stalled = *shared.last_frame_at.lock();
                let e = if stalled.elapsed()
                    >= Duration::from_secs(u64::from(shared.spec.stall_timeout_s))
                    && matches!(e, StreamError::Protocol(_) | StreamError::Unreachable(_))
                {
                    StreamError::Stalled(u64::from(shared.spec.stall_timeout_s))
                } else {
                    e
                };
                record_error(shared, &e, CameraState::Reconnecting);
                if !pause(&shared.cancel, backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

fn process(shared: &Shared, mut pipeline: Pipeline, sink: &dyn EventSink, gate: &Arc<EngineGate>) {
    let mut rate = Rate::new();
    let stall = Duration::from_secs(u64::from(shared.spec.stall_timeout_s.max(1)));
    let mut last_media_ms = 0;
    let frame_interval =
        Duration::from_secs_f64(1.0 / f64::from(shared.spec.detection_fps.clamp(0.1, 60.0)));
    loop {
        let frame = shared.slot.take(Duration::from_millis(250));
        let Some(frame) = frame else {
            if shared.cancel.is_cancelled() {
                break;
            }
            // Stall watchdog: a source that stays open but sends nothing
            // (FFmpeg waiting on a dead TCP peer) is killed and reopened.
            if shared.last_frame_at.lock().elapsed() > stall
                && let Some(killer) = shared.killer.lock().as_ref()
            {
                tracing::warn!(camera = %shared.spec.id, "no frame for {} s: reopening the source", stall.as_secs());
                killer.kill();
                *shared.last_frame_at.lock() = Instant::now();
            }
            continue;
        };
        let Some(_permit) = gate.acquire_within(frame_interval) else {
            shared.status.send_modify(|s| s.skipped_busy += 1);
            continue;
        };
        // A newer frame that arrived while waiting is the one worth
        // recognising; the older one counts as dropped.
        let frame = match shared.slot.try_take() {
            Some(newer) => {
                shared.status.send_modify(|s| s.dropped_frames += 1);
                newer
            }
            None => frame,
        };
        last_media_ms = frame.media_ms;
        let result = match pipeline.process(&frame) {
            Ok(result) => result,
            Err(e) => {
                tracing::warn!(camera = %shared.spec.id, "recognition failed on a frame: {e}");
                continue;
            }
        };
        // Counted before they are handed over, so a client that sees a
        // stored event never sees a status that has not counted it.
        let events = result.events.len() as u64;
        if events > 0 {
            shared.status.send_modify(|s| s.events += events);
        }
        for event in result.events {
            sink.emit(event);
        }
        let started = Instant::now();
        let image = Arc::new(frame.image);
        if shared.jpeg.receiver_count() > 0 {
            let mut annotated = (*image).clone();
            overlay::draw(&mut annotated, &result.faces);
            if let Some(jpeg) = encode_jpeg(&annotated, 80) {
                let _ = shared.jpeg.send(Arc::new(jpeg));
            }
        }
        let annotate_ms = started.elapsed().as_secs_f64() * 1000.0;
        *shared.latest.lock() = Some((image, result.faces));
        let fps = rate.tick(Instant::now());
        let lag = frame.captured.elapsed().as_secs_f64() * 1000.0;
        let tracks = pipeline.active_tracks();
        update_status(shared, &result.timings, annotate_ms, fps, lag, tracks);
    }
    for event in pipeline.finish(last_media_ms) {
        shared.status.send_modify(|s| s.events += 1);
        sink.emit(event);
    }
}

fn update_status(
    shared: &Shared,
    t: &StageTimings,
    annotate_ms: f64,
    fps: f64,
    lag: f64,
    tracks: usize,
) {
    let ewma = |old: f64, new: f64| {
        if old == 0.0 {
            new
        } else {
            0.8 * old + 0.2 * new
        }
    };
    shared.status.send_modify(|s| {
        s.frames_processed += 1;
        s.processed_fps = fps;
        s.lag_ms = lag;
        s.active_tracks = tracks;
        s.stage_ms.detect = ewma(s.stage_ms.detect, t.detect_ms);
        s.stage_ms.embed = ewma(s.stage_ms.embed, t.embed_ms);
        s.stage_ms.vote = ewma(s.stage_ms.vote, t.vote_ms);
        s.stage_ms.annotate = ewma(s.stage_ms.annotate, annotate_ms);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_waits_a_bounded_time_for_a_slot() {
        let gate = Arc::new(EngineGate::new(1));
        let held = gate.try_acquire().expect("a free slot");
        let started = Instant::now();
        assert!(gate.acquire_within(Duration::from_millis(30)).is_none());
        assert!(started.elapsed() >= Duration::from_millis(30));
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
        });
        let got = gate.acquire_within(Duration::from_secs(10));
        assert!(got.is_some(), "the slot freed while waiting is taken");
        assert_eq!(gate.in_use(), 1);
        releaser.join().unwrap();
        drop(got);
        assert_eq!(gate.in_use(), 0);
    }

    #[test]
    fn gate_admits_up_to_its_slots() {
        let gate = Arc::new(EngineGate::new(2));
        let a = gate.try_acquire();
        let b = gate.try_acquire();
        assert!(a.is_some() && b.is_some());
        assert!(gate.try_acquire().is_none());
        drop(a);
        assert_eq!(gate.in_use(), 1);
        assert!(gate.try_acquire().is_some());
    }

    #[test]
    fn slot_keeps_the_newest_frame_and_counts_replacements() {
        let slot = Slot {
            frame: Mutex::new(None),
            ready: Condvar::new(),
        };
        let frame = |ms| Frame {
            image: RgbImage::new(1, 1),
            media_ms: ms,
            captured: Instant::now(),
        };
        assert!(!slot.put(frame(1)));
        assert!(slot.put(frame(2)));
        assert_eq!(slot.take(Duration::ZERO).map(|f| f.media_ms), Some(2));
        assert!(slot.take(Duration::from_millis(1)).is_none());
    }
}
