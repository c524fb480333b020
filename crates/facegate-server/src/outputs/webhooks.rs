//! Signed webhooks: one bounded queue and one dispatcher task per webhook,
//! a bounded number of deliveries in flight, retries with exponential
//! backoff.
//!
//! Each attempt POSTs the event's JSON (the same document as
//! `GET /api/v1/events`) with `X-Facegate-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of `"<X-Facegate-Timestamp>.<body>"` under the webhook's
//! secret. The timestamp (and so the signature) is fresh on every attempt,
//! so receivers can refuse old deliveries; `X-Facegate-Delivery` (the event
//! id) stays the same, so they can drop duplicates. Redirects are not
//! followed (a signed body goes only where it was configured to go), and
//! logs name the webhook, never its URL or secret.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::OutboundEvent;
use crate::config::{WebhookConfig, webhook_name};

/// First pause between attempts; doubles each time, capped at [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// Deliveries in flight at shutdown get this long to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(crate) struct Webhooks {
    hooks: Vec<Hook>,
}

struct Hook {
    name: String,
    organisation: Option<String>,
    events: Vec<String>,
    tx: mpsc::Sender<Arc<OutboundEvent>>,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
}

/// A webhook's counters so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookCounts {
    /// Events the receiver accepted (2xx).
    pub delivered: u64,
    /// Events given up on: a 4xx other than 429, or every attempt failed.
    pub failed: u64,
    /// Events never attempted or abandoned: queue full, or shutdown.
    pub dropped: u64,
    /// Attempts after the first.
    pub retries: u64,
}

/// What a dispatcher needs to deliver.
struct Target {
    name: String,
    url: String,
    secret: String,
    max_attempts: u32,
    client: reqwest::Client,
    counters: Arc<Counters>,
}

impl Webhooks {
    pub(crate) fn start(configs: &[WebhookConfig]) -> anyhow::Result<Webhooks> {
        let mut hooks = Vec::with_capacity(configs.len());
        for (i, c) in configs.iter().enumerate() {
            let name = webhook_name(i, c);
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(c.timeout_secs))
                .connect_timeout(Duration::from_secs(c.timeout_secs.min(10)))
                .user_agent(concat!("facegate/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| anyhow::anyhow!("webhook {name}: HTTP client: {e}"))?;
            let counters = Arc::new(Counters::default());
            let target = Arc::new(Target {
                name: name.clone(),
                url: c.url.trim().to_string(),
                secret: c.secret.clone(),
                max_attempts: c.max_attempts.max(1),
                client,
                counters: counters.clone(),
            });
            let (tx, rx) = mpsc::channel(c.queue.max(1));
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(dispatch(rx, target, c.concurrency.max(1), stop_rx));
            tracing::info!(
                webhook = %name,
                target = %super::redact_url(&c.url),
                organisation = %if c.organisation.is_empty() { "all" } else { c.organisation.as_str() },
                "webhook output started"
            );
            hooks.push(Hook {
                name,
                organisation: Some(c.organisation.trim().to_string()).filter(|o| !o.is_empty()),
                events: c.events.clone(),
                tx,
                counters,
                stop,
                task: Mutex::new(Some(task)),
            });
        }
        Ok(Webhooks { hooks })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    pub(crate) fn publish(&self, event: &Arc<OutboundEvent>) {
        for hook in &self.hooks {
            // Tenancy first: another organisation's event is never queued.
            if hook
                .organisation
                .as_ref()
                .is_some_and(|o| *o != event.org_id)
            {
                continue;
            }
            if !hook.events.is_empty() && !hook.events.iter().any(|k| *k == event.kind) {
                continue;
            }
            if let Err(e) = hook.tx.try_send(event.clone()) {
                let n = hook.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n.is_power_of_two() || n % 1000 == 0 {
                    let why = match e {
                        mpsc::error::TrySendError::Full(_) => "queue full",
                        mpsc::error::TrySendError::Closed(_) => "stopped",
                    };
                    tracing::warn!(webhook = %hook.name, dropped_total = n, "webhook event dropped: {why}");
                }
            }
        }
    }

    pub(crate) fn counts(&self, name: &str) -> Option<WebhookCounts> {
        let h = self.hooks.iter().find(|h| h.name == name)?;
        let c = &h.counters;
        Some(WebhookCounts {
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
        })
    }

    pub(crate) async fn shutdown(&self) {
        let mut tasks = Vec::new();
        for hook in &self.hooks {
            let _ = hook.stop.send(true);
            if let Some(t) = hook.task.lock().take() {
                tasks.push(t);
            }
        }
        for mut t in tasks {
            // Each dispatcher bounds its own wait; this is a backstop.
            if tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
    }

    pub(crate) fn render_metrics(&self, out: &mut String) {
        if self.hooks.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "# HELP facegate_webhook_events_total Webhook events by outcome: delivered (2xx), failed (refused or out of attempts), dropped (queue full or shutdown)."
        );
        let _ = writeln!(out, "# TYPE facegate_webhook_events_total counter");
        for h in &self.hooks {
            let c = &h.counters;
            for (result, n) in [
                ("delivered", &c.delivered),
                ("failed", &c.failed),
                ("dropped", &c.dropped),
            ] {
                let _ = writeln!(
                    out,
                    "facegate_webhook_events_total{{webhook=\"{}\",result=\"{result}\"}} {}",
                    h.name,
                    n.load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP facegate_webhook_retries_total Webhook attempts after the first."
        );
        let _ = writeln!(out, "# TYPE facegate_webhook_retries_total counter");
        for h in &self.hooks {
            let _ = writeln!(
                out,
                "facegate_webhook_retries_total{{webhook=\"{}\"}} {}",
                h.name,
                h.counters.retries.load(Ordering::Relaxed)
            );
        }
    }
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn dispatch(
    mut rx: mpsc::Receiver<Arc<OutboundEvent>>,
    target: Arc<Target>,
    concurrency: usize,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let event = tokio::select! {
            e = rx.recv() => match e {
                Some(e) => e,
                None => break,
            },
            _ = stop.changed() => break,
        };
        let target = target.clone();
        let stop = stop.clone();
        in_flight.spawn(async move {
            let _permit = permit;
            deliver(&target, &event, stop).await;
        });
    }
    rx.close();
    let mut left = 0u64;
    while rx.try_recv().is_ok() {
        left += 1;
    }
    if left > 0 {
        target.counters.dropped.fetch_add(left, Ordering::Relaxed);
        tracing::warn!(webhook = %target.name, events = left, "webhook: queued events dropped at shutdown");
    }
    let drain = async { while in_flight.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        let cancelled = in_flight.len() as u64;
        target
            .counters
            .dropped
            .fetch_add(cancelled, Ordering::Relaxed);
        tracing::warn!(webhook = %target.name, deliveries = cancelled, "webhook: deliveries still running at shutdown were cancelled");
        in_flight.abort_all();
    }
}

enum Outcome {
    Delivered,
    /// Retry after at least this long (`Retry-After` on a 429 or 503).
    Retry(String, Option<Duration>),
    Refused(String),
}

async fn attempt(target: &Target, event: &OutboundEvent, body: &[u8], n: u32) -> Outcome {
    let timestamp = chrono::Utc::now().timestamp();
    let request = target
        .client
        .post(&target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Facegate-Event", &event.kind)
        .header("X-Facegate-Delivery", &event.event_id)
        .header("X-Facegate-Timestamp", timestamp.to_string())
        .header(
            "X-Facegate-Signature",
            signature(&target.secret, timestamp, body),
        )
        .header("X-Facegate-Attempt", n.to_string())
        .body(body.to_vec());
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                Outcome::Delivered
            } else if status.as_u16() == 429 || status.is_server_error() {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Outcome::Retry(format!("HTTP {status}"), retry_after)
            } else {
                Outcome::Refused(format!("HTTP {status}"))
            }
        }
        // Without the URL: it may carry a token.
        Err(e) => Outcome::Retry(e.without_url().to_string(), None),
    }
}

async fn deliver(target: &Target, event: &OutboundEvent, mut stop: watch::Receiver<bool>) {
    let body = match serde_json::to_vec(&event.payload) {
        Ok(b) => b,
        Err(e) => {
            target.counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(webhook = %target.name, event_id = %event.event_id, "webhook: event not serialisable: {e}");
            return;
        }
    };
    let mut delay = FIRST_DELAY;
    for n in 1..=target.max_attempts {
        match attempt(target, event, &body, n).await {
            Outcome::Delivered => {
                target.counters.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(webhook = %target.name, event_id = %event.event_id, attempt = n, "webhook delivered");
                return;
            }
            Outcome::Refused(why) => {
                target.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(webhook = %target.name, event_id = %event.event_id, attempt = n, "webhook refused the event ({why}); not retried");
                return;
            }
            Outcome::Retry(why, retry_after) => {
                if n == target.max_attempts {
                    target.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(webhook = %target.name, event_id = %event.event_id, attempts = n, "webhook delivery failed ({why}); giving up");
                    return;
                }
                let wait = retry_after.map_or(delay, |r| r.min(MAX_DELAY).max(delay));
                tracing::info!(webhook = %target.name, event_id = %event.event_id, attempt = n, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed ({why}); will retry");
                target.counters.retries.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {
                        target.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'key', b'1700000000.{}', hashlib.sha256).hexdigest())"
        let s = signature("key", 1_700_000_000, b"{}");
        assert_eq!(
            s,
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(s, signature("key", 1_700_000_001, b"{}"));
        assert_ne!(s, signature("other", 1_700_000_000, b"{}"));
    }
}
