//! From a camera's [`TrackEvent`] to everything that follows it.
//!
//! The camera thread hands each event to [`QueueSink`], which `try_send`s
//! it into a bounded queue (a full queue drops the event, counted and
//! logged: the camera never waits). One processor task takes them in order
//! and, per event: applies the camera's purpose (`attendance`: mark it under
//! the organisation's rules; `access`: decide access at the linked device;
//! `watch`: only the liveness policy's spoof events), stores the event in
//! `camera_events` (with the face crop where the organisation keeps
//! images), then publishes the enriched event on the broadcast bus (SSE)
//! and to the outputs (MQTT, webhooks).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use facegate_store::{NewCameraEvent, Person, SpoofSource};
use facegate_streams::{CameraState, CameraStatus, EventKind, EventSink, TrackEvent};
use facegate_vision::quality::Quality;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{CameraMeta, Cameras};
use crate::error::ApiError;
use crate::flows::{
    self, FaceOut, IdentifyOut, MarkParams, MatchOut, OperatingPointOut, Sighting, ThresholdSource,
};
use crate::rules::liveness_verdict;
use crate::state::AppState;

/// An enriched event as SSE, `GET /api/v1/events` and the outputs show it.
#[derive(Debug, Clone)]
pub struct BusEvent {
    pub org_id: String,
    pub id: String,
    pub camera_id: String,
    pub camera_name: String,
    /// `person` or `unknown`.
    pub kind: String,
    pub person_id: Option<String>,
    pub person_name: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub payload: Value,
    /// `payload` as JSON text, serialised once for every SSE client.
    pub json: String,
}

pub(super) struct Incoming {
    meta: Arc<CameraMeta>,
    event: TrackEvent,
}

/// A camera's [`EventSink`]: queue and return.
pub(super) struct QueueSink {
    meta: Arc<CameraMeta>,
    tx: mpsc::Sender<Incoming>,
    cameras: Cameras,
}

impl QueueSink {
    pub(super) fn new(meta: Arc<CameraMeta>, tx: mpsc::Sender<Incoming>, cameras: Cameras) -> Self {
        Self { meta, tx, cameras }
    }
}

impl EventSink for QueueSink {
    fn emit(&self, event: TrackEvent) {
        match self.tx.try_send(Incoming {
            meta: self.meta.clone(),
            event,
        }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let n = self
                    .cameras
                    .shared
                    .dropped_events
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                tracing::warn!(camera = %self.meta.id, dropped = n, "camera event queue full: event dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The processor: one event at a time, in order; settings and names
/// refreshed for the camera threads every 2 s. On cancellation it stores
/// what the stopping cameras still report (their last tracks), for a
/// bounded time, then ends.
pub(super) async fn run_processor(
    state: AppState,
    mut rx: mpsc::Receiver<Incoming>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            item = rx.recv() => match item {
                Some(item) => handle(&state, item).await,
                None => return,
            },
            _ = tick.tick() => refresh(&state).await,
        }
    }
    let until = Instant::now() + Duration::from_secs(4);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left.min(Duration::from_millis(1500)), rx.recv()).await {
            Ok(Some(item)) => handle(&state, item).await,
            _ => break,
        }
    }
    tracing::info!("camera event processor stopped");
}

/// Negative samples an organisation's cameras keep in memory (newest).
pub(super) const MAX_NEGATIVES: i64 = 10_000;

/// Organisation settings and negative samples of running cameras, and the
/// names camera threads asked for (every tick, and at once on SIGHUP).
pub(super) async fn refresh(state: &AppState) {
    let cameras = &state.cameras;
    let model_id = state.engine.as_ref().map(|e| e.model_id().to_owned());
    for org_id in cameras.org_ids() {
        if let Ok(org) = state.store.get_org(&org_id).await {
            cameras.cache().set_settings(&org.id, &org.settings);
        }
        if let Some(m) = &model_id {
            match state.store.all_negatives(&org_id, m, MAX_NEGATIVES).await {
                Ok(n) => cameras.cache().set_negatives(&org_id, n),
                Err(e) => tracing::warn!(org = %org_id, "negative samples not refreshed: {e}"),
            }
        }
    }
    let mut by_org: HashMap<String, Vec<String>> = HashMap::new();
    for (org, person) in cameras.cache().take_wanted() {
        by_org.entry(org).or_default().push(person);
    }
    for (org, ids) in by_org {
        if let Ok(people) = state.store.people_by_ids(&org, &ids).await {
            for p in people {
                cameras.cache().set_name(&org, &p.id, &p.name);
            }
        }
    }
}

/// An attendance or access answer, or the error that prevented one.
fn outcome(result: Result<Value, ApiError>) -> Value {
    result.unwrap_or_else(|e| {
        if e.status.is_server_error() {
            tracing::error!("camera event: {}", e.message);
        }
        json!({"error": {"code": e.code, "message": e.message}})
    })
}

async fn handle(state: &AppState, item: Incoming) {
    let Incoming { meta, event } = item;
    let cameras = &state.cameras;
    let org = match state.store.get_org(&meta.org_id).await {
        Ok(org) => org,
        Err(e) => {
            tracing::warn!(camera = %meta.id, "camera event dropped: organisation: {e}");
            return;
        }
    };
    cameras.cache().set_settings(&org.id, &org.settings);
    // The person may have been removed since the camera named them.
    let named = match event.person_id.as_deref() {
        Some(p) => state.store.get_person(&org.id, p).await.ok(),
        None => None,
    };
    let nearest = match (&named, event.nearest_person_id.as_deref()) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) => state.store.get_person(&org.id, p).await.ok(),
        _ => None,
    };
    if let Some(p) = &named {
        cameras.cache().set_name(&org.id, &p.id, &p.name);
    }
    let crop = event.crop_jpeg.clone().unwrap_or_default();
    let identified = identified(state, &event, named.is_some(), nearest.as_ref());
    let (attendance, access) = match meta.purpose.as_str() {
        "attendance" => {
            let params = MarkParams {
                device_id: meta.device_id.clone(),
                kind: None,
                credential: None,
                source: "camera",
                identified: Some(identified),
            };
            let r = flows::mark_attendance(state, &org.id, Some(crop.clone()), params).await;
            (Some(outcome(r)), None)
        }
        "access" => {
            let r = flows::decide_access_identified(
                state,
                &org.id,
                crop.clone(),
                identified,
                meta.device_id.clone(),
            )
            .await;
            (None, Some(outcome(r)))
        }
        _ => {
            let threshold = flows::liveness_threshold(state, &org.settings);
            let sighting = Sighting {
                source: SpoofSource::Camera,
                verdict: liveness_verdict(&org.settings, threshold, event.liveness),
                score: event.liveness,
                threshold,
                device_id: meta.device_id.as_deref(),
                person_id: named.as_ref().map(|p| p.id.as_str()),
                image: Some(crop.as_slice()),
            };
            if let Err(e) = flows::record_spoof(state, &org, sighting).await {
                tracing::warn!(camera = %meta.id, "spoof event not stored: {}", e.message);
            }
            (None, None)
        }
    };
    let keep_crop = org.settings.store_images && !crop.is_empty();
    let event_id = uuid::Uuid::new_v4().to_string();
    let kind = match event.kind {
        EventKind::Person if named.is_some() => "person",
        _ => "unknown",
    };
    let mut payload = serde_json::to_value(&event).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut payload {
        m.insert("id".into(), json!(event_id));
        m.insert("kind".into(), json!(kind));
        m.insert("camera_name".into(), json!(meta.name));
        m.insert("purpose".into(), json!(meta.purpose));
        m.insert("device_id".into(), json!(meta.device_id));
        m.insert("person_id".into(), json!(named.as_ref().map(|p| &p.id)));
        m.insert("name".into(), json!(named.as_ref().map(|p| &p.name)));
        m.insert(
            "external_id".into(),
            json!(named.as_ref().map(|p| &p.external_id)),
        );
        m.insert(
            "attendance".into(),
            attendance.clone().unwrap_or(Value::Null),
        );
        m.insert("access".into(), access.clone().unwrap_or(Value::Null));
        m.insert("has_crop".into(), json!(keep_crop));
    }
    let json = payload.to_string();
    let outcome_text = attendance.or(access).map(|v| v.to_string());
    let operating_point = serde_json::to_string(&event.operating_point).unwrap_or_default();
    // The face embedding is kept on the crop's condition (the organisation
    // stores images): review groups unknown faces by it and enrols it.
    let model_id = state.engine.as_ref().map(|e| e.model_id().to_owned());
    let embedding = match (&event.embedding, &model_id) {
        (Some(e), Some(m)) if org.settings.store_images => Some((e, m.as_str())),
        _ => None,
    };
    let stored = state
        .store
        .insert_camera_event(
            &org.id,
            &NewCameraEvent {
                id: &event_id,
                camera_id: &meta.id,
                track_id: i64::try_from(event.track_id).unwrap_or(i64::MAX),
                kind,
                decision: event.decision.as_str(),
                person_id: named.as_ref().map(|p| p.id.as_str()),
                score: event.score.map(f64::from),
                operating_point: &operating_point,
                liveness: event.liveness.map(f64::from),
                latency_ms: event.latency_ms,
                outcome: outcome_text.as_deref(),
                payload: &json,
                crop: keep_crop.then_some(crop.as_slice()),
                embedding,
                occurred_at: event.at.timestamp_millis(),
            },
        )
        .await;
    if let Err(e) = stored {
        // The camera was deleted meanwhile, or the database failed: the
        // event is still published.
        tracing::warn!(camera = %meta.id, "camera event not stored: {e}");
    }
    tracing::info!(
        camera = %meta.id, event = %event_id, kind, track = event.track_id,
        latency_ms = event.latency_ms, "camera event"
    );
    let bus = Arc::new(BusEvent {
        org_id: org.id.clone(),
        id: event_id,
        camera_id: meta.id.clone(),
        camera_name: meta.name.clone(),
        kind: kind.to_owned(),
        person_id: named.as_ref().map(|p| p.id.clone()),
        person_name: named.as_ref().map(|p| p.name.clone()),
        at: event.at,
        payload,
        json,
    });
    publish_outputs(state, &bus);
    let _ = cameras.bus().send(bus);
}

/// Hand the event to the outputs (MQTT, webhooks), which queue it.
fn publish_outputs(state: &AppState, event: &Arc<BusEvent>) {
    state
        .outputs
        .publish(Arc::new(crate::outputs::OutboundEvent {
            org_id: event.org_id.clone(),
            event_id: event.id.clone(),
            camera_id: event.camera_id.clone(),
            camera_name: event.camera_name.clone(),
            kind: event.kind.clone(),
            person_id: event.person_id.clone(),
            person_name: event.person_name.clone(),
            at: event.at,
            payload: event.payload.clone(),
        }));
}

/// Tell the outputs when a camera goes on or off line.
fn camera_online(state: &AppState, meta: &CameraMeta, online: bool) {
    state.outputs.camera_state(&meta.id, &meta.name, online);
}

/// The identification a voted track amounts to, in the shape the
/// attendance and access flows take from the API's identify.
fn identified(
    state: &AppState,
    event: &TrackEvent,
    named: bool,
    nearest: Option<&Person>,
) -> IdentifyOut {
    let op = &event.operating_point;
    let operating_point = OperatingPointOut {
        threshold: op.threshold,
        source: match op.source.as_str() {
            "fpir" => ThresholdSource::Fpir,
            "pack" => ThresholdSource::Pack,
            _ => ThresholdSource::Organisation,
        },
        fpir: op.fpir,
        far: op.far,
        gallery_size: op.gallery_size,
        extrapolated: op.extrapolated,
        margin: op.margin,
    };
    let score = event.score.unwrap_or(0.0);
    let matches: Vec<MatchOut> = nearest
        .map(|p| MatchOut {
            person_id: p.id.clone(),
            external_id: p.external_id.clone(),
            name: p.name.clone(),
            status: p.status,
            score,
            best_score: score,
            min_score: score,
            mean_score: score,
            templates: 0,
        })
        .into_iter()
        .collect();
    // A person removed since the camera named them is nobody to name.
    let decision = match event.decision.as_str() {
        "match" if !named || matches.is_empty() => "unknown",
        d => d,
    };
    IdentifyOut {
        faces_found: 1,
        decision: if decision == "match" {
            "match"
        } else {
            "no_match"
        },
        threshold: op.threshold,
        operating_point,
        model_id: state
            .engine
            .as_ref()
            .map(|e| e.model_id().to_owned())
            .unwrap_or_default(),
        width: event.frame_width,
        height: event.frame_height,
        rotation: facegate_vision::rotate::Rotation::None,
        faces: vec![FaceOut {
            bbox: event.bbox,
            detector_score: 1.0,
            landmarks: facegate_core::Landmarks5::default(),
            quality: Quality {
                inter_eye_px: 0.0,
                sharpness: 0.0,
                yaw_deg: 0.0,
                roll_deg: 0.0,
            },
            liveness: event.liveness,
            matches,
            decision,
        }],
        timings: json!({"latency_ms": event.latency_ms, "samples": event.samples}),
    }
}

/// Log a camera's state changes and tell the outputs when it goes on or
/// off line; ends with the camera or at shutdown.
pub(super) fn watch_state(
    state: AppState,
    meta: Arc<CameraMeta>,
    mut rx: watch::Receiver<CameraStatus>,
) {
    tokio::spawn(async move {
        let cancel = state.cameras.cancel_token();
        let mut last = rx.borrow().state;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                changed = rx.changed() => if changed.is_err() { break },
            }
            let (now, error) = {
                let s = rx.borrow_and_update();
                (s.state, s.last_error.clone())
            };
            if now == last {
                continue;
            }
            tracing::info!(camera = %meta.id, from = ?last, to = ?now, last_error = ?error, "camera state");
            let online = now == CameraState::Streaming;
            if online != (last == CameraState::Streaming) {
                camera_online(&state, &meta, online);
            }
            last = now;
        }
    });
}
