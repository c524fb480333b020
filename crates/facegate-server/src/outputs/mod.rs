//! Outputs: recognition events leave the service here, over MQTT (with Home
//! Assistant discovery) and signed webhooks.
//!
//! The cameras call [`Outputs::publish`] once per stored event and
//! [`Outputs::camera_state`] when a camera goes on- or offline. Neither ever
//! blocks nor fails: every hop has a bounded queue, and what does not fit is
//! dropped, counted ([`Outputs::render_metrics`]) and logged. Delivery runs in
//! background tasks started by [`Outputs::start`]; [`Outputs::shutdown`]
//! flushes MQTT (bounded wait) and stops the webhook workers.
//!
//! Tenancy: an event carries its organisation's id; a webhook (and the MQTT
//! output) with an `organisation` set only ever sees that organisation's
//! events, and the filter is applied before anything is queued.

pub mod mqtt;
pub mod webhooks;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use crate::config::Config;

/// One recognition event as the outputs see it.
#[derive(Debug, Clone)]
pub struct OutboundEvent {
    pub org_id: String,
    pub event_id: String,
    pub camera_id: String,
    pub camera_name: String,
    /// `person` or `unknown`.
    pub kind: String,
    pub person_id: Option<String>,
    pub person_name: Option<String>,
    pub at: DateTime<Utc>,
    /// The event exactly as SSE and `GET /api/v1/events` show it: the body of
    /// webhooks and of `<prefix>/events`.
    pub payload: serde_json::Value,
}

/// Counters for `/metrics` (relaxed atomics: they only ever grow).
#[derive(Default)]
pub struct OutputStats {
    pub mqtt_published: AtomicU64,
    pub mqtt_dropped: AtomicU64,
    pub mqtt_connections: AtomicU64,
    pub mqtt_connection_errors: AtomicU64,
}

/// The outputs' handle, held in the application state.
pub struct Outputs {
    mqtt: Option<mqtt::Mqtt>,
    webhooks: webhooks::Webhooks,
    stats: Arc<OutputStats>,
}

impl Outputs {
    /// Nothing configured: every call is a no-op.
    pub fn disabled() -> Outputs {
        Outputs {
            mqtt: None,
            webhooks: webhooks::Webhooks::default(),
            stats: Arc::default(),
        }
    }

    /// Start the configured outputs (MQTT when `mqtt.url` is set, one worker
    /// per webhook). Needs a Tokio runtime. Fails only on settings that
    /// validation cannot see (an unreadable `mqtt.ca_file`, TLS set-up).
    pub fn start(config: &Config) -> anyhow::Result<Outputs> {
        let stats = Arc::new(OutputStats::default());
        let mqtt = if config.mqtt.url.trim().is_empty() {
            None
        } else {
            Some(mqtt::Mqtt::start(&config.mqtt, stats.clone())?)
        };
        let webhooks = webhooks::Webhooks::start(&config.webhooks)?;
        Ok(Outputs {
            mqtt,
            webhooks,
            stats,
        })
    }

    /// Whether any output is configured.
    pub fn is_enabled(&self) -> bool {
        self.mqtt.is_some() || !self.webhooks.is_empty()
    }

    /// Hand one event to every output whose filters accept it. Never blocks:
    /// a full queue drops the event for that output (counted and logged).
    pub fn publish(&self, event: Arc<OutboundEvent>) {
        if let Some(m) = &self.mqtt {
            m.publish(&event);
        }
        self.webhooks.publish(&event);
    }

    /// A camera went online or offline (MQTT availability; Home Assistant
    /// discovery for cameras seen for the first time).
    pub fn camera_state(&self, camera_id: &str, camera_name: &str, online: bool) {
        if let Some(m) = &self.mqtt {
            m.camera_state(camera_id, camera_name, online);
        }
    }

    /// A camera was deleted: clear its retained MQTT states and Home
    /// Assistant entities.
    pub fn camera_removed(&self, camera_id: &str) {
        if let Some(m) = &self.mqtt {
            m.camera_removed(camera_id);
        }
    }

    /// A person was deleted or erased: clear their retained MQTT state and
    /// Home Assistant device (biometric-data erasure reaches the broker).
    pub fn person_removed(&self, person_id: &str) {
        if let Some(m) = &self.mqtt {
            m.person_removed(person_id);
        }
    }

    /// Whether the MQTT client holds a broker connection now (`false` when
    /// MQTT is off).
    pub fn mqtt_connected(&self) -> bool {
        self.mqtt.as_ref().is_some_and(mqtt::Mqtt::is_connected)
    }

    /// Webhook delivery counters, by webhook name (tests, metrics).
    pub fn webhook_stats(&self, name: &str) -> Option<webhooks::WebhookCounts> {
        self.webhooks.counts(name)
    }

    /// Publish `offline` and disconnect from MQTT (waiting at most a few
    /// seconds for queued messages to go out), then stop the webhook workers
    /// (deliveries in flight get a short grace; queued ones are dropped and
    /// counted). Idempotent.
    pub async fn shutdown(&self) {
        if let Some(m) = &self.mqtt {
            m.shutdown().await;
        }
        self.webhooks.shutdown().await;
    }

    /// Prometheus lines for the outputs (appended to `/metrics`).
    pub fn render_metrics(&self, out: &mut String) {
        if let Some(m) = &self.mqtt {
            let s = &self.stats;
            let _ = writeln!(
                out,
                "# HELP facegate_mqtt_messages_total MQTT messages handed to the client, and dropped (queue full or broker unreachable)."
            );
            let _ = writeln!(out, "# TYPE facegate_mqtt_messages_total counter");
            let _ = writeln!(
                out,
                "facegate_mqtt_messages_total{{result=\"published\"}} {}",
                s.mqtt_published.load(Ordering::Relaxed)
            );
            let _ = writeln!(
                out,
                "facegate_mqtt_messages_total{{result=\"dropped\"}} {}",
                s.mqtt_dropped.load(Ordering::Relaxed)
            );
            let _ = writeln!(
                out,
                "# HELP facegate_mqtt_connected Whether the MQTT client is connected."
            );
            let _ = writeln!(out, "# TYPE facegate_mqtt_connected gauge");
            let _ = writeln!(
                out,
                "facegate_mqtt_connected {}",
                u8::from(m.is_connected())
            );
            let _ = writeln!(
                out,
                "# HELP facegate_mqtt_connection_errors_total MQTT connection errors (each is followed by a reconnect with backoff)."
            );
            let _ = writeln!(out, "# TYPE facegate_mqtt_connection_errors_total counter");
            let _ = writeln!(
                out,
                "facegate_mqtt_connection_errors_total {}",
                s.mqtt_connection_errors.load(Ordering::Relaxed)
            );
        }
        self.webhooks.render_metrics(out);
    }
}

/// An MQTT topic level from an id or name: `+`, `#`, `/`, NUL and control
/// characters become `_`, so an id can never widen a subscription or add a
/// level; an empty id becomes `_`.
pub fn topic_segment(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if matches!(c, '+' | '#' | '/') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

/// An id for Home Assistant's discovery topics and `unique_id`s, which allow
/// only `[a-zA-Z0-9_-]`.
pub fn ha_id(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

/// A URL with any password (and user) replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("***");
                let _ = u.set_password(None);
            }
            if u.query().is_some() {
                u.set_query(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_segments_cannot_escape_their_level() {
        assert_eq!(topic_segment("cam/1"), "cam_1");
        assert_eq!(topic_segment("a+b#c"), "a_b_c");
        assert_eq!(topic_segment("x\0y\n"), "x_y_");
        assert_eq!(topic_segment(""), "_");
        assert_eq!(topic_segment("Küche 1"), "Küche 1");
        assert_eq!(ha_id("Küche 1/a"), "K_che_1_a");
    }

    #[test]
    fn urls_in_logs_lose_their_secrets() {
        assert_eq!(
            redact_url("https://u:p@hooks.example/x?token=abc"),
            "https://***@hooks.example/x?***"
        );
        assert_eq!(redact_url("http://h.example/a"), "http://h.example/a");
    }
}
