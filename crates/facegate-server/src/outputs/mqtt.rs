//! MQTT output: events, retained states, availability with a Last Will, and
//! Home Assistant discovery. Topics are in the service README ("MQTT and
//! webhooks"); every id in a topic goes through [`topic_segment`].
//!
//! rumqttc's event loop runs in one task and reconnects by itself (this task
//! only waits, 1 s doubling to 60 s, between failed attempts). Publishers
//! never wait: [`AsyncClient::try_publish`] into the client's bounded
//! channel, and nothing is queued while the broker is unreachable (rumqttc
//! would move the channel into an unbounded list on every failed attempt).
//! Retained states published meanwhile are kept, latest per topic, and sent
//! on the next connection; events are dropped and counted.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use parking_lot::Mutex;
use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration,
    Transport,
};
use serde_json::json;

use super::{OutboundEvent, OutputStats, ha_id, topic_segment};
use crate::config::MqttConfig;

/// People whose discovery config is kept (and re-sent to a restarted Home
/// Assistant); beyond this, new people get state topics but no entity.
const MAX_DISCOVERED_PEOPLE: usize = 10_000;
/// Retained states kept while disconnected, latest per topic.
const MAX_UNSENT_STATES: usize = 10_000;
/// How long `shutdown` waits for queued messages to reach the broker.
const FLUSH_WAIT: Duration = Duration::from_secs(3);

pub(crate) struct Mqtt {
    shared: Arc<Shared>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct Shared {
    client: AsyncClient,
    /// `topic_prefix`, trimmed of slashes.
    prefix: String,
    /// `discovery_prefix` when discovery is on.
    discovery: Option<String>,
    organisation: Option<String>,
    connected: AtomicBool,
    stopping: AtomicBool,
    stats: Arc<OutputStats>,
    cameras: Mutex<BTreeMap<String, Camera>>,
    /// person id → name, for discovery.
    people: Mutex<BTreeMap<String, String>>,
    /// Retained messages that could not be handed to the client, by topic.
    unsent: Mutex<BTreeMap<String, Vec<u8>>>,
}

#[derive(Clone)]
struct Camera {
    name: String,
    online: bool,
}

impl Mqtt {
    pub(crate) fn start(config: &MqttConfig, stats: Arc<OutputStats>) -> anyhow::Result<Mqtt> {
        let url = url::Url::parse(config.url.trim()).context("mqtt.url")?;
        let tls = matches!(url.scheme(), "mqtts" | "ssl");
        let host = url
            .host_str()
            .context("mqtt.url has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
        let client_id = if config.client_id.trim().is_empty() {
            format!(
                "facegate-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )
        } else {
            config.client_id.trim().to_string()
        };
        let prefix = config.topic_prefix.trim_matches('/').to_string();
        let availability = format!("{prefix}/availability");
        let mut options = MqttOptions::new(client_id.clone(), host.clone(), port);
        options
            .set_keep_alive(Duration::from_secs(config.keep_alive_secs))
            .set_clean_session(true)
            .set_max_packet_size(256 * 1024, 256 * 1024)
            .set_last_will(LastWill::new(
                &availability,
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
        if !config.username.is_empty() {
            options.set_credentials(config.username.clone(), config.password.clone());
        }
        if tls {
            let tls_config = tls_config(&config.ca_file)?;
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(tls_config),
            )));
        }
        let (client, eventloop) = AsyncClient::new(options, config.queue);
        let shared = Arc::new(Shared {
            client,
            prefix,
            discovery: config
                .discovery
                .then(|| config.discovery_prefix.trim_matches('/').to_string()),
            organisation: Some(config.organisation.trim().to_string()).filter(|o| !o.is_empty()),
            connected: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            stats,
            cameras: Mutex::default(),
            people: Mutex::default(),
            unsent: Mutex::default(),
        });
        tracing::info!(
            broker = %format!("{}://{host}:{port}", url.scheme()),
            client_id = %client_id,
            topic_prefix = %shared.prefix,
            discovery = shared.discovery.is_some(),
            "MQTT output starting"
        );
        let task = tokio::spawn(run(eventloop, shared.clone()));
        Ok(Mqtt {
            shared,
            task: Mutex::new(Some(task)),
        })
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    pub(crate) fn publish(&self, event: &OutboundEvent) {
        let s = &self.shared;
        if s.organisation.as_ref().is_some_and(|o| *o != event.org_id) {
            return;
        }
        let camera = topic_segment(&event.camera_id);
        let p = &s.prefix;
        // A camera reporting events is online, even if nobody said so yet.
        let first_sight = {
            let mut cameras = s.cameras.lock();
            match cameras.get_mut(&event.camera_id) {
                Some(c) if c.name == event.camera_name => false,
                Some(c) => {
                    c.name.clone_from(&event.camera_name);
                    true
                }
                None => {
                    cameras.insert(
                        event.camera_id.clone(),
                        Camera {
                            name: event.camera_name.clone(),
                            online: true,
                        },
                    );
                    true
                }
            }
        };
        if first_sight {
            s.camera_availability(&event.camera_id, true);
            s.camera_discovery(&event.camera_id, &event.camera_name);
        }
        let body = serde_json::to_vec(&event.payload).unwrap_or_default();
        s.send(format!("{p}/events"), body, false);
        let summary = json!({
            "event_id": event.event_id,
            "org_id": event.org_id,
            "camera_id": event.camera_id,
            "camera_name": event.camera_name,
            "kind": event.kind,
            "person_id": event.person_id,
            "person_name": event.person_name,
            "at": event.at,
        });
        s.send(
            format!("{p}/{camera}/{}", topic_segment(&event.kind)),
            summary.to_string().into_bytes(),
            true,
        );
        if event.kind == "person"
            && let Some(person_id) = &event.person_id
        {
            let name = event.person_name.clone().unwrap_or_default();
            let state = json!({
                "person_id": person_id,
                "name": name,
                "camera_id": event.camera_id,
                "camera_name": event.camera_name,
                "at": event.at,
                "event_id": event.event_id,
            });
            s.send(
                format!("{p}/person/{}", topic_segment(person_id)),
                state.to_string().into_bytes(),
                true,
            );
            let new_name = {
                let mut people = s.people.lock();
                let room = people.len() < MAX_DISCOVERED_PEOPLE;
                match people.get_mut(person_id) {
                    Some(n) if *n == name => false,
                    Some(n) => {
                        n.clone_from(&name);
                        true
                    }
                    None if room => {
                        people.insert(person_id.clone(), name.clone());
                        true
                    }
                    None => false,
                }
            };
            if new_name {
                s.person_discovery(person_id, &name);
            }
        }
    }

    pub(crate) fn camera_state(&self, camera_id: &str, camera_name: &str, online: bool) {
        let s = &self.shared;
        let rename = {
            let mut cameras = s.cameras.lock();
            // A camera state carries no organisation: an output kept to one
            // organisation only reports cameras it has seen an event of, so
            // another tenant's camera names never reach its broker.
            if s.organisation.is_some() && !cameras.contains_key(camera_id) {
                return;
            }
            let previous = cameras.insert(
                camera_id.to_string(),
                Camera {
                    name: camera_name.to_string(),
                    online,
                },
            );
            previous.is_none_or(|c| c.name != camera_name)
        };
        s.camera_availability(camera_id, online);
        if rename {
            s.camera_discovery(camera_id, camera_name);
        }
    }

    /// A deleted camera: its retained states and its Home Assistant
    /// entities are cleared (an empty retained message deletes a retained
    /// message, and Home Assistant removes an entity whose discovery config
    /// becomes empty).
    pub(crate) fn camera_removed(&self, camera_id: &str) {
        let s = &self.shared;
        let known = s.cameras.lock().remove(camera_id).is_some();
        // An organisation-filtered output never published another tenant's
        // camera; it says nothing about one it never saw.
        if s.organisation.is_some() && !known {
            return;
        }
        let camera = topic_segment(camera_id);
        for state in ["person", "unknown", "availability"] {
            s.send(format!("{}/{camera}/{state}", s.prefix), Vec::new(), true);
        }
        if let Some(dp) = &s.discovery {
            let object = format!("facegate_{}", ha_id(camera_id));
            for sensor in ["last_person", "last_unknown"] {
                s.send(
                    format!("{dp}/sensor/{object}/{sensor}/config"),
                    Vec::new(),
                    true,
                );
            }
        }
    }

    /// An erased or deleted person: where they were last seen, and their
    /// Home Assistant device, must not outlive them on the broker.
    pub(crate) fn person_removed(&self, person_id: &str) {
        let s = &self.shared;
        let known = s.people.lock().remove(person_id).is_some();
        if s.organisation.is_some() && !known {
            return;
        }
        s.send(
            format!("{}/person/{}", s.prefix, topic_segment(person_id)),
            Vec::new(),
            true,
        );
        if let Some(dp) = &s.discovery {
            s.send(
                format!(
                    "{dp}/sensor/facegate_person_{}/last_seen/config",
                    ha_id(person_id)
                ),
                Vec::new(),
                true,
            );
        }
    }

    pub(crate) async fn shutdown(&self) {
        let s = &self.shared;
        if s.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(mut task) = self.task.lock().take() else {
            return;
        };
        if s.connected.load(Ordering::SeqCst) {
            // The Last Will is for crashes; a clean stop says so itself.
            let _ = s.client.try_publish(
                format!("{}/availability", s.prefix),
                QoS::AtLeastOnce,
                true,
                "offline",
            );
            let _ = s.client.try_disconnect();
            if tokio::time::timeout(FLUSH_WAIT, &mut task).await.is_err() {
                tracing::warn!("MQTT: queued messages not flushed within {FLUSH_WAIT:?}");
                task.abort();
            }
        } else {
            task.abort();
        }
        s.connected.store(false, Ordering::SeqCst);
        tracing::info!("MQTT output stopped");
    }
}

impl Shared {
    /// Hand one message to the client without waiting; QoS 1.
    fn send(&self, topic: String, payload: Vec<u8>, retain: bool) {
        if self.stopping.load(Ordering::Relaxed) {
            return;
        }
        if !self.connected.load(Ordering::Relaxed) {
            if retain {
                let mut unsent = self.unsent.lock();
                if unsent.len() < MAX_UNSENT_STATES || unsent.contains_key(&topic) {
                    unsent.insert(topic, payload);
                    return;
                }
            }
            self.dropped("broker not connected");
            return;
        }
        match self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            Ok(()) => {
                self.stats.mqtt_published.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => self.dropped("queue full"),
        }
    }

    fn dropped(&self, why: &str) {
        let n = self.stats.mqtt_dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 || n.is_power_of_two() || n.is_multiple_of(1000) {
            tracing::warn!(dropped_total = n, "MQTT message dropped: {why}");
        }
    }

    fn camera_availability(&self, camera_id: &str, online: bool) {
        self.send(
            format!("{}/{}/availability", self.prefix, topic_segment(camera_id)),
            if online { "online" } else { "offline" }.into(),
            true,
        );
    }

    fn origin() -> serde_json::Value {
        json!({"name": "facegate", "sw_version": env!("CARGO_PKG_VERSION")})
    }

    /// Per camera: a "Last person" sensor (the name, the event as
    /// attributes) and a "Last unknown face" timestamp sensor.
    fn camera_discovery(&self, camera_id: &str, camera_name: &str) {
        let Some(dp) = &self.discovery else {
            return;
        };
        let p = &self.prefix;
        let camera = topic_segment(camera_id);
        let object = format!("facegate_{}", ha_id(camera_id));
        let device = json!({
            "identifiers": [object],
            "name": camera_name,
            "manufacturer": "facegate",
            "model": "Camera",
            "sw_version": env!("CARGO_PKG_VERSION"),
        });
        let availability = json!([
            {"topic": format!("{p}/availability")},
            {"topic": format!("{p}/{camera}/availability")},
        ]);
        let person_topic = format!("{p}/{camera}/person");
        let unknown_topic = format!("{p}/{camera}/unknown");
        let last_person = json!({
            "name": "Last person",
            "unique_id": format!("{object}_last_person"),
            "state_topic": person_topic,
            "value_template": "{{ value_json.person_name }}",
            "json_attributes_topic": person_topic,
            "icon": "mdi:account-check",
            "availability": availability,
            "availability_mode": "all",
            "device": device,
            "origin": Self::origin(),
        });
        let last_unknown = json!({
            "name": "Last unknown face",
            "unique_id": format!("{object}_last_unknown"),
            "state_topic": unknown_topic,
            "value_template": "{{ value_json.at }}",
            "json_attributes_topic": unknown_topic,
            "device_class": "timestamp",
            "icon": "mdi:account-question",
            "availability": availability,
            "availability_mode": "all",
            "device": device,
            "origin": Self::origin(),
        });
        self.send(
            format!("{dp}/sensor/{object}/last_person/config"),
            last_person.to_string().into_bytes(),
            true,
        );
        self.send(
            format!("{dp}/sensor/{object}/last_unknown/config"),
            last_unknown.to_string().into_bytes(),
            true,
        );
    }

    /// Per person: a device with a "Last seen at" sensor (the camera's name,
    /// the retained person state as attributes).
    fn person_discovery(&self, person_id: &str, name: &str) {
        let Some(dp) = &self.discovery else {
            return;
        };
        let p = &self.prefix;
        let object = format!("facegate_person_{}", ha_id(person_id));
        let state_topic = format!("{p}/person/{}", topic_segment(person_id));
        let config = json!({
            "name": "Last seen at",
            "unique_id": format!("{object}_last_seen"),
            "state_topic": state_topic,
            "value_template": "{{ value_json.camera_name }}",
            "json_attributes_topic": state_topic,
            "icon": "mdi:map-marker-account",
            "availability": [{"topic": format!("{p}/availability")}],
            "device": {
                "identifiers": [object],
                "name": if name.is_empty() { person_id } else { name },
                "manufacturer": "facegate",
                "model": "Person",
            },
            "origin": Self::origin(),
        });
        self.send(
            format!("{dp}/sensor/{object}/last_seen/config"),
            config.to_string().into_bytes(),
            true,
        );
    }

    /// After every (re)connection, and when Home Assistant announces itself:
    /// availability, discovery and the states that waited.
    fn announce(&self, reconnected: bool) {
        self.send(
            format!("{}/availability", self.prefix),
            "online".into(),
            true,
        );
        let cameras: Vec<(String, Camera)> = self
            .cameras
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (id, camera) in &cameras {
            self.camera_availability(id, camera.online);
            self.camera_discovery(id, &camera.name);
        }
        let people: Vec<(String, String)> = self
            .people
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (id, name) in &people {
            self.person_discovery(id, name);
        }
        if reconnected {
            let unsent = std::mem::take(&mut *self.unsent.lock());
            for (topic, payload) in unsent {
                self.send(topic, payload, true);
            }
        }
    }
}

async fn run(mut eventloop: EventLoop, shared: Arc<Shared>) {
    let mut backoff = Duration::from_secs(1);
    let mut failures: u64 = 0;
    let ha_status = shared.discovery.as_ref().map(|dp| format!("{dp}/status"));
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                shared
                    .stats
                    .mqtt_connections
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    session_present = ack.session_present,
                    "MQTT connected{}",
                    if failures > 0 {
                        format!(" after {failures} failed attempts")
                    } else {
                        String::new()
                    }
                );
                failures = 0;
                backoff = Duration::from_secs(1);
                shared.connected.store(true, Ordering::SeqCst);
                if let Some(topic) = &ha_status {
                    let _ = shared.client.try_subscribe(topic.clone(), QoS::AtLeastOnce);
                }
                shared.announce(true);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if ha_status.as_deref() == Some(p.topic.as_str()) && p.payload.as_ref() == b"online"
                {
                    tracing::info!("Home Assistant (re)started: sending discovery again");
                    shared.announce(false);
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                shared.connected.store(false, Ordering::SeqCst);
                return;
            }
            Ok(_) => {}
            Err(e) => {
                shared.connected.store(false, Ordering::SeqCst);
                if shared.stopping.load(Ordering::SeqCst) {
                    return;
                }
                failures += 1;
                shared
                    .stats
                    .mqtt_connection_errors
                    .fetch_add(1, Ordering::Relaxed);
                // Every failure while it is fresh, then at powers of two.
                if failures <= 3 || failures.is_power_of_two() {
                    tracing::warn!(
                        attempt = failures,
                        retry_in_s = backoff.as_secs(),
                        "MQTT connection failed: {e}"
                    );
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// rustls on ring with the system's roots, plus `ca_file` when set.
fn tls_config(ca_file: &Path) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if !ca_file.as_os_str().is_empty() {
        let certs = CertificateDer::pem_file_iter(ca_file)
            .with_context(|| format!("mqtt.ca_file {}", ca_file.display()))?;
        let mut n = 0;
        for cert in certs {
            let cert = cert.with_context(|| format!("mqtt.ca_file {}", ca_file.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("mqtt.ca_file {}", ca_file.display()))?;
            n += 1;
        }
        anyhow::ensure!(
            n > 0,
            "mqtt.ca_file {} holds no PEM certificate",
            ca_file.display()
        );
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "mqtts: no CA certificates (the system store is empty and mqtt.ca_file is not set)"
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
