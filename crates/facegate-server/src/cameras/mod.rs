//! Cameras as the service runs them: the live [`facegate_streams::Camera`]
//! workers of every organisation, what feeds them (the gallery as an
//! [`Identifier`], the organisation's operating point) and where their
//! events go (the event processor: log, attendance, access, spoof events,
//! SSE, outputs).
//!
//! ```text
//! cameras table ──apply──▶ Camera (ingest + process threads, facegate-streams)
//!                              │ TrackEvent (camera thread: try_send, never blocks)
//!                              ▼
//!                   bounded mpsc (drops counted) ──▶ processor task
//!                              store camera_events, mark_attendance / decide_access,
//!                              spoof events ──▶ broadcast (SSE) + outputs (MQTT, webhooks)
//! ```
//!
//! No HTTP here: routes call [`Cameras`] and map its [`CameraError`]s.
//! Invariants: at most `streams.max_concurrent_streams` cameras run; the
//! camera threads never wait on the database (names and settings come from
//! [`OrgCache`], refreshed by the processor); every await in the processor
//! and in streaming responses races the server's [`CancellationToken`], so
//! shutdown cancels, joins the workers with a deadline and returns.

mod events;
mod identifier;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use facegate_store::Camera as CameraRow;
use facegate_streams::{
    Camera, CameraSpec, CameraState, CameraStatus, EngineGate, RtspTransport, SourceKind,
    SourceSpec,
};
use parking_lot::Mutex;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

pub use events::BusEvent;
pub use identifier::{GalleryIdentifier, OrgCache};

use crate::config::StreamsConfig;
use crate::state::AppState;

/// Why a camera could not be started.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error(
        "{max} cameras are already running (streams.max_concurrent_streams); disable one first or raise the limit"
    )]
    TooMany { max: usize },
    #[error("{0}")]
    Config(String),
}

/// What the processor needs to know about the camera an event came from.
#[derive(Debug, Clone)]
pub struct CameraMeta {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// `attendance`, `access` or `watch`.
    pub purpose: String,
    pub device_id: Option<String>,
}

struct Live {
    meta: Arc<CameraMeta>,
    camera: Arc<Camera>,
    /// The row's `updated_at` when it started: [`Cameras::resync`] restarts
    /// only cameras whose row changed since.
    updated_at: i64,
}

struct Shared {
    config: StreamsConfig,
    gate: Arc<EngineGate>,
    cancel: CancellationToken,
    live: Mutex<HashMap<String, Live>>,
    /// Why an enabled camera is not running (no engine, over the limit, bad source).
    not_running: Mutex<HashMap<String, String>>,
    queue: mpsc::Sender<events::Incoming>,
    queue_rx: Mutex<Option<mpsc::Receiver<events::Incoming>>>,
    bus: broadcast::Sender<Arc<BusEvent>>,
    cache: Arc<OrgCache>,
    dropped_events: AtomicU64,
    lagged_viewers: AtomicU64,
    processor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serialises starts and stops (two PATCHes of one camera).
    ops: tokio::sync::Mutex<()>,
}

/// The running cameras of every organisation. Cheap to clone.
#[derive(Clone)]
pub struct Cameras {
    shared: Arc<Shared>,
}

/// Events buffered per SSE client before a slow one skips ahead.
const BUS_CAPACITY: usize = 256;

impl Cameras {
    pub fn new(config: &StreamsConfig, cancel: CancellationToken) -> Cameras {
        let (queue, rx) = mpsc::channel(config.event_queue.max(1));
        let (bus, _) = broadcast::channel(BUS_CAPACITY);
        Cameras {
            shared: Arc::new(Shared {
                gate: Arc::new(EngineGate::new(config.engine_slots)),
                config: config.clone(),
                cancel,
                live: Mutex::new(HashMap::new()),
                not_running: Mutex::new(HashMap::new()),
                queue,
                queue_rx: Mutex::new(Some(rx)),
                bus,
                cache: Arc::new(OrgCache::default()),
                dropped_events: AtomicU64::new(0),
                lagged_viewers: AtomicU64::new(0),
                processor: Mutex::new(None),
                ops: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The server's shutdown signal: streaming responses end when it fires.
    pub fn cancel_token(&self) -> CancellationToken {
        self.shared.cancel.clone()
    }

    pub fn config(&self) -> &StreamsConfig {
        &self.shared.config
    }

    /// Start the event processor and every enabled camera (at boot).
    pub async fn start(&self, state: &AppState) {
        if let Some(rx) = self.shared.queue_rx.lock().take() {
            let handle = tokio::spawn(events::run_processor(
                state.clone(),
                rx,
                self.shared.cancel.clone(),
            ));
            *self.shared.processor.lock() = Some(handle);
        }
        let rows = match state.store.list_enabled_cameras().await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("cannot list cameras: {e}");
                return;
            }
        };
        for row in rows {
            if let Err(e) = self.apply(state, &row).await {
                tracing::warn!(camera = %row.id, "camera not started: {e}");
            }
        }
    }

    /// Whether starting `id` (not running now) would go over the limit.
    pub fn check_capacity(&self, id: Option<&str>) -> Result<(), CameraError> {
        let live = self.shared.live.lock();
        let max = self.shared.config.max_concurrent_streams;
        if id.is_some_and(|id| live.contains_key(id)) || live.len() < max {
            Ok(())
        } else {
            Err(CameraError::TooMany { max })
        }
    }

    /// Make the running camera match its row: (re)start an enabled camera,
    /// stop a disabled one. A camera that cannot run without the engine is
    /// left stopped with the reason in its status (not an error).
    pub async fn apply(&self, state: &AppState, row: &CameraRow) -> Result<(), CameraError> {
        let _op = self.shared.ops.lock().await;
        self.stop_locked(&row.id).await;
        self.shared.not_running.lock().remove(&row.id);
        if !row.fields.enabled {
            return Ok(());
        }
        let Some(engine) = state.engine.as_ref() else {
            self.shared.not_running.lock().insert(
                row.id.clone(),
                "the face engine is not loaded: install a model pack and restart".into(),
            );
            return Ok(());
        };
        if let Err(e) = self.check_capacity(None) {
            self.shared
                .not_running
                .lock()
                .insert(row.id.clone(), e.to_string());
            return Err(e);
        }
        let org = state
            .store
            .get_org(&row.org_id)
            .await
            .map_err(|e| CameraError::Config(format!("organisation: {e}")))?;
        self.shared.cache.set_settings(&org.id, &org.settings);
        match state
            .store
            .all_negatives(&org.id, engine.model_id(), events::MAX_NEGATIVES)
            .await
        {
            Ok(n) => self.shared.cache.set_negatives(&org.id, n),
            Err(e) => tracing::warn!(org = %org.id, "negative samples not loaded: {e}"),
        }
        let meta = Arc::new(CameraMeta {
            id: row.id.clone(),
            org_id: row.org_id.clone(),
            name: row.fields.name.clone(),
            purpose: row.fields.purpose.clone(),
            device_id: row.fields.device_id.clone(),
        });
        let spec = spec_for(row, &self.shared.config, org.settings.store_images);
        let identifier = Arc::new(GalleryIdentifier::new(
            state.clone(),
            row,
            self.shared.cache.clone(),
        ));
        let sink = Arc::new(events::QueueSink::new(
            meta.clone(),
            self.shared.queue.clone(),
            self.clone(),
        ));
        let camera = Camera::start(
            spec,
            engine.shared_engine(),
            identifier,
            sink,
            self.shared.gate.clone(),
            self.shared.cancel.child_token(),
        )
        .map_err(|e| {
            let message = e.to_string();
            self.shared
                .not_running
                .lock()
                .insert(row.id.clone(), message.clone());
            CameraError::Config(message)
        })?;
        let camera = Arc::new(camera);
        events::watch_state(state.clone(), meta.clone(), camera.watch_status());
        tracing::info!(camera = %row.id, name = %row.fields.name, source = %facegate_streams::redact_url(&row.fields.source_url), "camera started");
        self.shared.live.lock().insert(
            row.id.clone(),
            Live {
                meta,
                camera,
                updated_at: row.updated_at,
            },
        );
        Ok(())
    }

    /// Make the running cameras match the database (SIGHUP): stop those
    /// deleted or disabled behind the API's back, start enabled ones that
    /// are not running, restart those whose row changed. Returns how many
    /// were started or restarted and how many stopped.
    pub async fn resync(&self, state: &AppState) -> Result<(usize, usize), CameraError> {
        let rows = state
            .store
            .list_enabled_cameras()
            .await
            .map_err(|e| CameraError::Config(format!("cannot list cameras: {e}")))?;
        let running: Vec<(String, i64)> = self
            .shared
            .live
            .lock()
            .iter()
            .map(|(id, l)| (id.clone(), l.updated_at))
            .collect();
        let mut stopped = 0;
        for (id, _) in &running {
            if !rows.iter().any(|r| &r.id == id) {
                self.remove(id).await;
                stopped += 1;
            }
        }
        let mut started = 0;
        for row in &rows {
            let current = running
                .iter()
                .any(|(id, at)| *id == row.id && *at == row.updated_at);
            if current {
                continue;
            }
            match self.apply(state, row).await {
                Ok(()) => started += 1,
                Err(e) => tracing::warn!(camera = %row.id, "camera not started: {e}"),
            }
        }
        events::refresh(state).await;
        Ok((started, stopped))
    }

    /// Stop and forget a camera (deleted).
    pub async fn remove(&self, id: &str) {
        let _op = self.shared.ops.lock().await;
        self.stop_locked(id).await;
        self.shared.not_running.lock().remove(id);
    }

    async fn stop_locked(&self, id: &str) {
        let live = self.shared.live.lock().remove(id);
        if let Some(live) = live {
            stop_camera(live.camera, Duration::from_secs(5)).await;
            tracing::info!(camera = %id, "camera stopped");
        }
    }

    /// A running camera of `org_id`.
    pub fn get(&self, org_id: &str, id: &str) -> Option<Arc<Camera>> {
        let live = self.shared.live.lock();
        live.get(id)
            .filter(|l| l.meta.org_id == org_id)
            .map(|l| l.camera.clone())
    }

    /// The status of a camera of `org_id`: its worker's when running, else a
    /// `stopped` status with the reason it is not running.
    pub fn status(&self, org_id: &str, id: &str, enabled: bool) -> CameraStatus {
        if let Some(camera) = self.get(org_id, id) {
            return camera.status();
        }
        let mut status: CameraStatus = serde_json::from_value(serde_json::json!({
            "camera_id": id, "state": "stopped", "input_fps": 0.0, "processed_fps": 0.0,
            "lag_ms": 0.0, "frames_in": 0, "frames_processed": 0, "dropped_frames": 0,
            "skipped_busy": 0, "reconnects": 0, "events": 0, "active_tracks": 0,
            "last_error": null, "last_error_kind": null, "last_error_at": null,
            "connected_since": null, "stage_ms": {"detect": 0.0, "embed": 0.0, "vote": 0.0, "annotate": 0.0},
        }))
        .expect("a stopped status deserialises");
        status.state = CameraState::Stopped;
        status.last_error = if enabled {
            self.shared.not_running.lock().get(id).cloned()
        } else {
            Some("the camera is disabled".into())
        };
        status
    }

    /// Every running camera's status, by camera id, for one organisation.
    pub fn statuses(&self, org_id: &str) -> Vec<CameraStatus> {
        let live = self.shared.live.lock();
        live.values()
            .filter(|l| l.meta.org_id == org_id)
            .map(|l| l.camera.status())
            .collect()
    }

    /// Enriched events of every organisation (filter by `org_id`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.shared.bus.subscribe()
    }

    pub fn running(&self) -> usize {
        self.shared.live.lock().len()
    }

    /// Events dropped because the processor's queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped_events.load(Ordering::Relaxed)
    }

    /// Frames or events skipped because an MJPEG or SSE client fell behind.
    pub fn record_lag(&self, n: u64) {
        self.shared.lagged_viewers.fetch_add(n, Ordering::Relaxed);
    }

    pub fn lagged(&self) -> u64 {
        self.shared.lagged_viewers.load(Ordering::Relaxed)
    }

    /// Prometheus lines: cameras running, events dropped, viewers' skipped
    /// frames/events, and each running camera's counters.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let live = self.shared.live.lock();
        let _ = writeln!(out, "# TYPE facegate_cameras_running gauge");
        let _ = writeln!(out, "facegate_cameras_running {}", live.len());
        let _ = writeln!(out, "# TYPE facegate_camera_events_dropped_total counter");
        let _ = writeln!(
            out,
            "facegate_camera_events_dropped_total {}",
            self.dropped_events()
        );
        let _ = writeln!(out, "# TYPE facegate_camera_viewer_skipped_total counter");
        let _ = writeln!(
            out,
            "facegate_camera_viewer_skipped_total {}",
            self.lagged()
        );
        let mut rows: Vec<(String, CameraStatus)> = live
            .iter()
            .map(|(id, l)| (id.clone(), l.camera.status()))
            .collect();
        drop(live);
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in [
            (
                "frames_in",
                (|s: &CameraStatus| s.frames_in) as fn(&CameraStatus) -> u64,
            ),
            ("frames_processed", |s| s.frames_processed),
            ("frames_dropped", |s| s.dropped_frames),
            ("frames_skipped_busy", |s| s.skipped_busy),
            ("reconnects", |s| s.reconnects),
            ("events", |s| s.events),
        ] {
            let _ = writeln!(out, "# TYPE facegate_camera_{name}_total counter");
            for (id, s) in &rows {
                let _ = writeln!(
                    out,
                    "facegate_camera_{name}_total{{camera=\"{id}\"}} {}",
                    value(s)
                );
            }
        }
    }

    pub(crate) fn cache(&self) -> &Arc<OrgCache> {
        &self.shared.cache
    }

    pub(crate) fn bus(&self) -> &broadcast::Sender<Arc<BusEvent>> {
        &self.shared.bus
    }

    pub(crate) fn org_ids(&self) -> Vec<String> {
        let live = self.shared.live.lock();
        let mut ids: Vec<String> = live.values().map(|l| l.meta.org_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Shutdown: cancel every worker and streaming response, join the
    /// cameras (each within `deadline`), then the processor (which stores
    /// what was already queued).
    pub async fn shutdown(&self, deadline: Duration) {
        self.shared.cancel.cancel();
        let _op = self.shared.ops.lock().await;
        let all: Vec<Live> = self.shared.live.lock().drain().map(|(_, l)| l).collect();
        tracing::info!(cameras = all.len(), "stopping cameras");
        let stops = all
            .into_iter()
            .map(|l| stop_camera(l.camera, deadline))
            .collect::<Vec<_>>();
        futures_util::future::join_all(stops).await;
        let processor = self.shared.processor.lock().take();
        if let Some(handle) = processor
            && tokio::time::timeout(deadline, handle).await.is_err()
        {
            tracing::warn!("camera event processor did not stop in time");
        }
        tracing::info!("cameras stopped");
    }
}

/// Stop a camera on the blocking pool (its `stop` joins threads). A route
/// may still hold the `Arc` for a moment (a push, a snapshot): wait for it.
async fn stop_camera(camera: Arc<Camera>, deadline: Duration) {
    let _ = tokio::task::spawn_blocking(move || {
        let until = std::time::Instant::now() + deadline;
        let mut camera = camera;
        loop {
            match Arc::try_unwrap(camera) {
                Ok(c) => {
                    c.stop(until.saturating_duration_since(std::time::Instant::now()));
                    return;
                }
                Err(still) if std::time::Instant::now() < until => {
                    camera = still;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => {
                    tracing::warn!(
                        "camera still in use at its stop deadline; its threads end on cancellation"
                    );
                    return;
                }
            }
        }
    })
    .await;
}

/// The worker's settings for a camera row.
pub fn spec_for(row: &CameraRow, config: &StreamsConfig, keep_crops: bool) -> CameraSpec {
    let f = &row.fields;
    let mut source = SourceSpec::new(f.source_url.clone());
    source.rtsp_transport = if f.rtsp_transport == "udp" {
        RtspTransport::Udp
    } else {
        RtspTransport::Tcp
    };
    // A file stands in for a camera: read at its own pace, once.
    source.realtime = true;
    let mut spec = CameraSpec::new(row.id.clone(), source);
    spec.detection_fps = f.detection_fps as f32;
    spec.max_width = config.max_width;
    spec.pipeline.min_face_px = f.min_face_px as f32;
    spec.pipeline.min_sharpness = f.min_sharpness as f32;
    spec.pipeline.cooldown_ms = u64::try_from(f.cooldown_s).unwrap_or(0) * 1000;
    spec.pipeline.keep_crops = keep_crops;
    spec
}

/// The kind of source a URL names, or why it is not one.
pub fn source_kind(url: &str) -> Result<SourceKind, String> {
    SourceSpec::new(url).kind().map_err(|e| e.to_string())
}
