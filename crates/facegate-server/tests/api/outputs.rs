//! Outputs against real receivers: the machine's Mosquitto on
//! 127.0.0.1:1883 (`FACEGATE_TEST_MQTT` to point elsewhere; `.ci/run`
//! starts it) and an HTTP receiver on 127.0.0.1:0 for webhooks. Every test
//! uses its own topic prefix, so parallel runs never see each other's
//! messages, and clears the retained topics it left. Every wait is bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use facegate_server::Config;
use facegate_server::config::{MqttConfig, WebhookConfig};
use facegate_server::outputs::{OutboundEvent, Outputs};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::common::*;

const WAIT: Duration = Duration::from_secs(15);

fn broker() -> (String, u16) {
    let addr = std::env::var("FACEGATE_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let (host, port) = addr
        .rsplit_once(':')
        .expect("FACEGATE_TEST_MQTT is host:port");
    (host.to_string(), port.parse().expect("port"))
}

/// Fail (not skip) with a clear message when the broker is not there.
async fn require_broker() {
    let (host, port) = broker();
    let ok = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    assert!(
        ok,
        "no MQTT broker at {host}:{port}: start one (`mosquitto -d`; `.ci/run` does) or set FACEGATE_TEST_MQTT=host:port"
    );
}

fn unique(tag: &str) -> String {
    format!(
        "fgtest-{tag}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    )
}

#[derive(Debug, Clone)]
struct Msg {
    topic: String,
    payload: Vec<u8>,
    retain: bool,
}

impl Msg {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {:?}", self.topic, self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// A test subscriber: every PUBLISH it receives goes to a channel.
struct Sub {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Msg>,
    task: tokio::task::JoinHandle<()>,
}

impl Sub {
    async fn new(id: &str, filters: &[String]) -> Sub {
        let (host, port) = broker();
        let mut o = MqttOptions::new(id, host, port);
        o.set_keep_alive(Duration::from_secs(10))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(o, 100);
        for f in filters {
            client.subscribe(f.clone(), QoS::AtLeastOnce).await.unwrap();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready_tx = Some(ready_tx);
        let mut acks = 0;
        let wanted = filters.len();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        acks += 1;
                        if acks == wanted
                            && let Some(r) = ready_tx.take()
                        {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Msg {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("test subscriber: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        tokio::time::timeout(WAIT, ready_rx)
            .await
            .expect("test subscriber: no SUBACK in time")
            .unwrap();
        Sub { client, rx, task }
    }

    /// The next message on `topic` (others are kept in `seen`).
    async fn next_on(&mut self, topic: &str, seen: &mut Vec<Msg>) -> Msg {
        if let Some(i) = seen.iter().position(|m| m.topic == topic) {
            return seen.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = tokio::time::timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no message on {topic} within {WAIT:?}; got {:?}",
                        seen.iter().map(|m| &m.topic).collect::<Vec<_>>()
                    )
                })
                .expect("subscriber stopped");
            if m.topic == topic {
                return m;
            }
            seen.push(m);
        }
    }

    /// Every message that arrives within `quiet` of the previous one.
    async fn drain(&mut self, quiet: Duration) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout(quiet, self.rx.recv()).await {
            out.push(m);
        }
        out
    }

    async fn stop(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.task.abort();
    }
}

/// Clear every retained message under the given filters (best effort).
async fn clear_retained(filters: &[String]) {
    let mut sub = Sub::new(&unique("clear"), filters).await;
    let retained: Vec<Msg> = sub
        .drain(Duration::from_millis(500))
        .await
        .into_iter()
        .filter(|m| m.retain && !m.payload.is_empty())
        .collect();
    for m in &retained {
        let _ = sub
            .client
            .publish(m.topic.clone(), QoS::AtLeastOnce, true, Vec::<u8>::new())
            .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    sub.stop().await;
}

fn mqtt_config(prefix: &str) -> Config {
    let (host, port) = broker();
    Config {
        mqtt: MqttConfig {
            url: format!("mqtt://{host}:{port}"),
            client_id: format!("{prefix}-out"),
            topic_prefix: prefix.to_string(),
            discovery_prefix: format!("{prefix}-ha"),
            ..MqttConfig::default()
        },
        ..Config::default()
    }
}

async fn wait_connected(outputs: &Outputs) {
    let deadline = Instant::now() + WAIT;
    while !outputs.mqtt_connected() {
        assert!(
            Instant::now() < deadline,
            "the MQTT output did not connect within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn event(
    org: &str,
    id: &str,
    camera: &str,
    kind: &str,
    person: Option<(&str, &str)>,
) -> OutboundEvent {
    let at = chrono::Utc::now();
    OutboundEvent {
        org_id: org.into(),
        event_id: id.into(),
        camera_id: camera.into(),
        camera_name: "Front door".into(),
        kind: kind.into(),
        person_id: person.map(|p| p.0.to_string()),
        person_name: person.map(|p| p.1.to_string()),
        at,
        payload: json!({
            "id": id,
            "camera_id": camera,
            "kind": kind,
            "person": person.map(|p| json!({"id": p.0, "name": p.1})),
            "score": 0.71,
            "at": at,
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_mqtt_topics_retained_state_and_discovery() {
    require_broker().await;
    let prefix = unique("mqtt");
    let ha = format!("{prefix}-ha");
    let filters = [format!("{prefix}/#"), format!("{ha}/#")];
    let mut sub = Sub::new(&format!("{prefix}-sub"), &filters).await;
    let outputs = Outputs::start(&mqtt_config(&prefix)).unwrap();
    wait_connected(&outputs).await;
    let mut seen = Vec::new();
    let m = sub
        .next_on(&format!("{prefix}/availability"), &mut seen)
        .await;
    assert_eq!(m.text(), "online");

    // A camera id with topic wildcards and a separator stays one level.
    let camera = "cam/1+#";
    let cam = "cam_1__";
    outputs.camera_state(camera, "Front door", true);
    let m = sub
        .next_on(&format!("{prefix}/{cam}/availability"), &mut seen)
        .await;
    assert_eq!(m.text(), "online");

    let person = Arc::new(event(
        "org-a",
        "evt-1",
        camera,
        "person",
        Some(("p/1", "Ada")),
    ));
    outputs.publish(person.clone());
    let unknown = Arc::new(event("org-a", "evt-2", camera, "unknown", None));
    outputs.publish(unknown.clone());

    // Every event on <prefix>/events, exactly as the API shows it.
    let e1 = sub.next_on(&format!("{prefix}/events"), &mut seen).await;
    let e2 = sub.next_on(&format!("{prefix}/events"), &mut seen).await;
    assert_eq!(e1.json(), person.payload);
    assert_eq!(e2.json(), unknown.payload);

    // Per camera and kind: the summary Home Assistant's templates read.
    let m = sub
        .next_on(&format!("{prefix}/{cam}/person"), &mut seen)
        .await;
    let v = m.json();
    assert_eq!(v["person_name"], "Ada");
    assert_eq!(v["person_id"], "p/1");
    assert_eq!(v["camera_id"], camera);
    assert_eq!(v["event_id"], "evt-1");
    assert_eq!(v["kind"], "person");
    let m = sub
        .next_on(&format!("{prefix}/{cam}/unknown"), &mut seen)
        .await;
    assert_eq!(m.json()["event_id"], "evt-2");
    assert!(m.json()["person_id"].is_null());

    // Where each person was last seen.
    let m = sub
        .next_on(&format!("{prefix}/person/p_1"), &mut seen)
        .await;
    let v = m.json();
    assert_eq!(v["name"], "Ada");
    assert_eq!(v["camera_id"], camera);
    assert_eq!(v["camera_name"], "Front door");
    assert!(v["at"].is_string());

    // Home Assistant discovery.
    let m = sub
        .next_on(
            &format!("{ha}/sensor/facegate_cam_1__/last_person/config"),
            &mut seen,
        )
        .await;
    let v = m.json();
    assert_eq!(v["state_topic"], format!("{prefix}/{cam}/person"));
    assert_eq!(v["unique_id"], "facegate_cam_1___last_person");
    assert_eq!(v["value_template"], "{{ value_json.person_name }}");
    assert_eq!(v["device"]["identifiers"], json!(["facegate_cam_1__"]));
    assert_eq!(v["device"]["name"], "Front door");
    assert_eq!(v["availability_mode"], "all");
    assert_eq!(
        v["availability"],
        json!([
            {"topic": format!("{prefix}/availability")},
            {"topic": format!("{prefix}/{cam}/availability")},
        ])
    );
    let m = sub
        .next_on(
            &format!("{ha}/sensor/facegate_cam_1__/last_unknown/config"),
            &mut seen,
        )
        .await;
    assert_eq!(m.json()["device_class"], "timestamp");
    assert_eq!(m.json()["state_topic"], format!("{prefix}/{cam}/unknown"));
    let m = sub
        .next_on(
            &format!("{ha}/sensor/facegate_person_p_1/last_seen/config"),
            &mut seen,
        )
        .await;
    let v = m.json();
    assert_eq!(v["state_topic"], format!("{prefix}/person/p_1"));
    assert_eq!(v["device"]["name"], "Ada");
    assert_eq!(v["unique_id"], "facegate_person_p_1_last_seen");

    // A subscriber arriving later gets the retained states.
    let mut late = Sub::new(
        &format!("{prefix}-late"),
        &[
            format!("{prefix}/person/#"),
            format!("{prefix}/availability"),
            format!("{prefix}/{cam}/#"),
        ],
    )
    .await;
    let mut late_seen = Vec::new();
    let m = late
        .next_on(&format!("{prefix}/person/p_1"), &mut late_seen)
        .await;
    assert!(m.retain, "person state is retained");
    assert_eq!(m.json()["name"], "Ada");
    let m = late
        .next_on(&format!("{prefix}/availability"), &mut late_seen)
        .await;
    assert!(m.retain);
    assert_eq!(m.text(), "online");
    let m = late
        .next_on(&format!("{prefix}/{cam}/availability"), &mut late_seen)
        .await;
    assert!(m.retain);
    assert_eq!(m.text(), "online");
    let m = late
        .next_on(&format!("{prefix}/{cam}/person"), &mut late_seen)
        .await;
    assert!(m.retain);
    late.stop().await;

    // The organisation filter holds for MQTT too.
    let mut cfg = mqtt_config(&format!("{prefix}-orgb"));
    cfg.mqtt.organisation = "org-b".into();
    cfg.mqtt.discovery = false;
    let only_b = Outputs::start(&cfg).unwrap();
    wait_connected(&only_b).await;
    let mut sub_b = Sub::new(&format!("{prefix}-subb"), &[format!("{prefix}-orgb/#")]).await;
    // A camera it has no event of (another tenant's, maybe) stays unnamed.
    only_b.camera_state("cam-of-a", "Org A's secret room", true);
    only_b.publish(person.clone());
    only_b.publish(Arc::new(event("org-b", "evt-b", "cam-b", "unknown", None)));
    let mut seen_b = Vec::new();
    let m = sub_b
        .next_on(&format!("{prefix}-orgb/events"), &mut seen_b)
        .await;
    assert_eq!(
        m.json()["id"],
        "evt-b",
        "org-a's event never reaches org-b's output"
    );
    seen_b.extend(sub_b.drain(Duration::from_millis(500)).await);
    assert!(
        seen_b
            .iter()
            .all(|m| !m.text().contains("evt-1") && !m.topic.contains("cam-of-a")),
        "{seen_b:?}"
    );
    only_b.shutdown().await;
    sub_b.stop().await;

    // Camera offline, then a clean stop says offline itself.
    outputs.camera_state(camera, "Front door", false);
    let m = sub
        .next_on(&format!("{prefix}/{cam}/availability"), &mut seen)
        .await;
    assert_eq!(m.text(), "offline");

    // A deleted camera and an erased person leave nothing retained: no
    // Home Assistant entity, no "last seen" state.
    seen.clear();
    outputs.camera_removed(camera);
    outputs.person_removed("p/1");
    for topic in [
        format!("{ha}/sensor/facegate_cam_1__/last_person/config"),
        format!("{ha}/sensor/facegate_cam_1__/last_unknown/config"),
        format!("{prefix}/{cam}/person"),
        format!("{prefix}/{cam}/availability"),
        format!("{ha}/sensor/facegate_person_p_1/last_seen/config"),
        format!("{prefix}/person/p_1"),
    ] {
        let m = sub.next_on(&topic, &mut seen).await;
        assert!(m.text().is_empty(), "{topic}: {m:?}");
    }
    let mut after = Sub::new(
        &format!("{prefix}-after"),
        &[
            format!("{prefix}/person/#"),
            format!("{prefix}/{cam}/#"),
            format!("{ha}/#"),
        ],
    )
    .await;
    let left = after.drain(Duration::from_millis(800)).await;
    assert!(
        left.iter().all(|m| m.text().is_empty()),
        "retained after deletion: {left:?}"
    );
    after.stop().await;
    outputs.shutdown().await;
    assert!(!outputs.mqtt_connected());
    let m = sub
        .next_on(&format!("{prefix}/availability"), &mut seen)
        .await;
    assert_eq!(m.text(), "offline");
    outputs.shutdown().await; // idempotent
    sub.stop().await;
    clear_retained(&[
        format!("{prefix}/#"),
        format!("{ha}/#"),
        format!("{prefix}-orgb/#"),
    ])
    .await;
}

/// A TCP relay between the output and the broker, so the test can cut the
/// connection as a crash or a network fault would.
struct Relay {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// While set, new connections are closed at once (broker unreachable).
    paused: Arc<std::sync::atomic::AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start() -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let c = conns.clone();
        let paused: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let p = paused.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if p.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let (host, port) = broker();
                let Ok(mut outbound) = tokio::net::TcpStream::connect((host.as_str(), port)).await
                else {
                    continue;
                };
                c.lock().push(tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }));
            }
        });
        Relay {
            addr,
            conns,
            paused,
            accept,
        }
    }

    fn pause(&self, paused: bool) {
        self.paused
            .store(paused, std::sync::atomic::Ordering::SeqCst);
    }

    /// Drop every open connection without an MQTT DISCONNECT.
    fn cut(&self) {
        for c in self.conns.lock().drain(..) {
            c.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_mqtt_last_will_and_reconnect() {
    require_broker().await;
    let prefix = unique("will");
    let relay = Relay::start().await;
    let mut sub = Sub::new(&format!("{prefix}-sub"), &[format!("{prefix}/#")]).await;
    let mut config = mqtt_config(&prefix);
    config.mqtt.url = format!("mqtt://{}", relay.addr);
    config.mqtt.keep_alive_secs = 5;
    let outputs = Outputs::start(&config).unwrap();
    wait_connected(&outputs).await;
    let mut seen = Vec::new();
    let topic = format!("{prefix}/availability");
    assert_eq!(sub.next_on(&topic, &mut seen).await.text(), "online");

    // The connection dies without a DISCONNECT: the broker publishes the
    // Last Will, retained. The broker stays unreachable until resumed.
    relay.pause(true);
    relay.cut();
    let m = sub.next_on(&topic, &mut seen).await;
    assert_eq!(m.text(), "offline", "Last Will");
    let mut late = Sub::new(&format!("{prefix}-late"), std::slice::from_ref(&topic)).await;
    let m = late.next_on(&topic, &mut Vec::new()).await;
    assert!(m.retain && m.text() == "offline", "the Will is retained");
    late.stop().await;

    // The output reconnects by itself (backoff) and says online again; a
    // retained state published while it was away arrives then.
    outputs.camera_state("cam-9", "Yard", true);
    assert!(!outputs.mqtt_connected());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    relay.pause(false);
    let m = sub.next_on(&topic, &mut seen).await;
    assert_eq!(m.text(), "online", "reconnected");
    let m = sub
        .next_on(&format!("{prefix}/cam-9/availability"), &mut seen)
        .await;
    assert_eq!(m.text(), "online");
    outputs.shutdown().await;
    relay.accept.abort();
    sub.stop().await;
    clear_retained(&[format!("{prefix}/#"), format!("{prefix}-ha/#")]).await;
}

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Received>>,
    /// Delivery id → attempts seen.
    attempts: Mutex<BTreeMap<String, u32>>,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let id = headers
        .get("x-facegate-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    r.got.lock().push(Received {
        path: uri.path().to_string(),
        headers,
        body,
        at: Instant::now(),
    });
    let n = {
        let mut a = r.attempts.lock();
        let n = a.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    match id.as_str() {
        "evt-retry" if n == 1 => StatusCode::INTERNAL_SERVER_ERROR,
        "evt-400" => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

async fn start_receiver() -> (SocketAddr, Arc<Receiver>, tokio::task::JoinHandle<()>) {
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, r, task)
}

const SECRET: &str = "whsec-0123456789abcdef";

/// What a receiver does: recompute the HMAC over "<timestamp>.<body>".
fn verify(headers: &HeaderMap, body: &[u8], secret: &str) -> bool {
    let ts = headers["x-facegate-timestamp"].to_str().unwrap();
    let sig = headers["x-facegate-signature"].to_str().unwrap();
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&hex::decode(hex_sig).unwrap()).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_webhooks_signed_retried_and_filtered() {
    let (addr, receiver, server) = start_receiver().await;
    let config = Config {
        webhooks: vec![
            WebhookConfig {
                name: "org-a".into(),
                url: format!("http://{addr}/a"),
                secret: SECRET.into(),
                organisation: "org-a".into(),
                ..WebhookConfig::default()
            },
            WebhookConfig {
                name: "unknowns".into(),
                url: format!("http://{addr}/unknowns"),
                secret: "another-secret-0123456789".into(),
                events: vec!["unknown".into()],
                ..WebhookConfig::default()
            },
        ],
        ..Config::default()
    };
    config.validate().unwrap();
    let outputs = Outputs::start(&config).unwrap();
    let retry = Arc::new(event(
        "org-a",
        "evt-retry",
        "cam-1",
        "person",
        Some(("p1", "Ada")),
    ));
    outputs.publish(retry.clone());
    outputs.publish(Arc::new(event(
        "org-b",
        "evt-other",
        "cam-2",
        "unknown",
        None,
    )));
    outputs.publish(Arc::new(event(
        "org-a",
        "evt-400",
        "cam-1",
        "person",
        Some(("p1", "Ada")),
    )));

    let deadline = Instant::now() + WAIT;
    loop {
        let a = outputs.webhook_stats("org-a").unwrap();
        let u = outputs.webhook_stats("unknowns").unwrap();
        if a.delivered == 1 && a.failed == 1 && u.delivered == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries not done in {WAIT:?}: {a:?} {u:?} {:?}",
            receiver.attempts.lock()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Long enough for a (wrong) retry of the 400 to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let got = receiver.got.lock().clone();
    let to_a: Vec<&Received> = got.iter().filter(|r| r.path == "/a").collect();
    let ids = |rs: &[&Received]| -> Vec<String> {
        rs.iter()
            .map(|r| {
                r.headers["x-facegate-delivery"]
                    .to_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };

    // The 500 was retried after about a second; the retry was accepted.
    let tries: Vec<&Received> = to_a
        .iter()
        .copied()
        .filter(|r| r.headers["x-facegate-delivery"] == "evt-retry")
        .collect();
    assert_eq!(tries.len(), 2, "one failure, one retry: {:?}", ids(&to_a));
    let gap = tries[1].at - tries[0].at;
    assert!(gap >= Duration::from_millis(900), "backoff {gap:?}");
    assert_eq!(tries[0].headers["x-facegate-attempt"], "1");
    assert_eq!(tries[1].headers["x-facegate-attempt"], "2");
    for t in &tries {
        assert!(verify(&t.headers, &t.body, SECRET), "signature verifies");
        assert!(!verify(&t.headers, &t.body, "not-the-secret-000"));
        assert_eq!(t.headers["x-facegate-event"], "person");
        assert_eq!(t.headers["content-type"], "application/json");
        let ts: i64 = t.headers["x-facegate-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
        let body: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(
            body, retry.payload,
            "the body is the event as the API shows it"
        );
    }
    // A signature is over this timestamp: replaying the body with another
    // timestamp fails.
    let mut forged = tries[0].headers.clone();
    forged.insert("x-facegate-timestamp", "1".parse().unwrap());
    assert!(!verify(&forged, &tries[0].body, SECRET));

    // A 400 is final.
    let refused = to_a
        .iter()
        .filter(|r| r.headers["x-facegate-delivery"] == "evt-400")
        .count();
    assert_eq!(refused, 1, "a 4xx is not retried");

    // Organisation and kind filters.
    assert!(
        !ids(&to_a).contains(&"evt-other".to_string()),
        "another organisation's event never reaches org-a's webhook"
    );
    let to_unknowns: Vec<&Received> = got.iter().filter(|r| r.path == "/unknowns").collect();
    assert_eq!(ids(&to_unknowns), ["evt-other"], "only unknown faces");
    assert!(verify(
        &to_unknowns[0].headers,
        &to_unknowns[0].body,
        "another-secret-0123456789"
    ));

    let a = outputs.webhook_stats("org-a").unwrap();
    assert_eq!((a.delivered, a.failed, a.retries, a.dropped), (1, 1, 1, 0));
    outputs.shutdown().await;
    // After shutdown nothing is queued; publishing is still harmless.
    outputs.publish(retry);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_webhook_queue_is_bounded_and_shutdown_is_prompt() {
    // A receiver that never answers: deliveries hang until their timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let config = Config {
        webhooks: vec![WebhookConfig {
            name: "slow".into(),
            url: format!("http://{addr}/"),
            secret: SECRET.into(),
            queue: 3,
            concurrency: 1,
            timeout_secs: 60,
            ..WebhookConfig::default()
        }],
        ..Config::default()
    };
    let outputs = Outputs::start(&config).unwrap();
    let started = Instant::now();
    for i in 0..20 {
        outputs.publish(Arc::new(event(
            "org-a",
            &format!("e{i}"),
            "c",
            "unknown",
            None,
        )));
    }
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "publish never waits"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = outputs.webhook_stats("slow").unwrap();
    // One in flight, three queued, the rest dropped.
    assert!(s.dropped >= 15, "{s:?}");
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), outputs.shutdown())
        .await
        .expect("shutdown is bounded");
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    let s = outputs.webhook_stats("slow").unwrap();
    assert_eq!(s.delivered, 0);
    assert_eq!(
        s.dropped + s.failed,
        20,
        "every event is accounted for: {s:?}"
    );
    hold.abort();
}

#[test]
fn outputs_config_is_validated_and_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let load = |toml: &str, env: &[(&str, &str)]| {
        let file = dir.path().join("c.toml");
        std::fs::write(&file, toml).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Config::load_from(Some(&file), &env)
    };
    let err = |toml: &str, env: &[(&str, &str)]| load(toml, env).unwrap_err().to_string();

    // Defaults load, with MQTT off and no webhooks.
    let c = load("", &[]).unwrap();
    assert!(c.mqtt.url.is_empty());
    assert_eq!(c.mqtt.topic_prefix, "facegate");
    assert!(c.mqtt.discovery);
    assert_eq!(c.mqtt.discovery_prefix, "homeassistant");
    assert!(c.webhooks.is_empty());

    // MQTT from the environment; the password never shows in Debug.
    let c = load(
        "[mqtt]\nurl = \"mqtt://broker.lan:1883\"\nusername = \"fg\"\n",
        &[
            ("FACEGATE_MQTT_PASSWORD", "hunter2-mqtt"),
            ("FACEGATE_MQTT_TOPIC_PREFIX", "site/fg"),
        ],
    )
    .unwrap();
    assert_eq!(c.mqtt.password, "hunter2-mqtt");
    assert_eq!(c.mqtt.topic_prefix, "site/fg");
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2-mqtt"), "{shown}");
    assert!(err("[mqtt]\nurl = \"http://broker\"\n", &[]).contains("mqtt://"));
    assert!(err("[mqtt]\nurl = \"mqtt://u:p@broker\"\n", &[]).contains("credentials"));
    assert!(
        err("[mqtt]\nurl = \"mqtt://b\"\ntopic_prefix = \"a/#\"\n", &[]).contains("topic_prefix")
    );

    // Webhooks: a secret is required, from the file or a named variable.
    let hook = "[[webhooks]]\nurl = \"https://hooks.example/x?token=t0ken\"\n";
    let e = err(hook, &[]);
    assert!(e.contains("no secret"), "{e}");
    let e = err(&format!("{hook}secret_env = \"HOOK_SECRET\"\n"), &[]);
    assert!(e.contains("HOOK_SECRET"), "{e}");
    let c = load(
        &format!(
            "{hook}secret_env = \"HOOK_SECRET\"\norganisation = \"org-a\"\nevents = [\"person\"]\n"
        ),
        &[("HOOK_SECRET", "from-the-env-0123456789")],
    )
    .unwrap();
    assert_eq!(c.webhooks[0].secret, "from-the-env-0123456789");
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("from-the-env") && !shown.contains("t0ken"),
        "{shown}"
    );
    let e = err(
        &format!("{hook}secret = \"x-0123456789abcdef\"\nsecret_env = \"HOOK_SECRET\"\n"),
        &[("HOOK_SECRET", "from-the-env-0123456789")],
    );
    assert!(e.contains("not both"), "{e}");
    assert!(err(&format!("{hook}secret = \"short\"\n"), &[]).contains("16"));
    let e = err(
        "[[webhooks]]\nurl = \"ftp://files.example/\"\nsecret = \"0123456789abcdef\"\n",
        &[],
    );
    assert!(e.contains("http://"), "{e}");
    let e = err(
        &format!("{hook}secret = \"0123456789abcdef\"\nevents = [\"spoof\"]\n"),
        &[],
    );
    assert!(e.contains("spoof"), "{e}");
    let two = format!(
        "{hook}secret = \"0123456789abcdef\"\nname = \"x\"\n{hook}secret = \"0123456789abcdef\"\nname = \"x\"\n"
    );
    assert!(err(&two, &[]).contains("twice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_in_the_service_metrics_and_shutdown() {
    require_broker().await;
    let prefix = unique("srv");
    let mqtt = mqtt_config(&prefix).mqtt;
    let Some(srv) = TestServer::start(Db::Sqlite, false, |c| {
        c.mqtt = mqtt;
        c.webhooks = vec![WebhookConfig {
            name: "ops".into(),
            url: "http://127.0.0.1:9/".into(),
            secret: SECRET.into(),
            ..WebhookConfig::default()
        }];
    })
    .await
    else {
        return;
    };
    assert!(srv.state().outputs.is_enabled());
    let text = srv
        .client
        .get(format!("{}/metrics", srv.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("facegate_webhook_events_total{webhook=\"ops\",result=\"delivered\"} 0"),
        "{text}"
    );
    assert!(!text.contains(SECRET));
    wait_connected(&srv.state().outputs).await;
    let text = srv
        .client
        .get(format!("{}/metrics", srv.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("facegate_mqtt_connected 1"), "{text}");

    // Stopping the service stops the outputs: `offline`, retained.
    let topic = format!("{prefix}/availability");
    let mut sub = Sub::new(&format!("{prefix}-sub"), std::slice::from_ref(&topic)).await;
    let mut seen = Vec::new();
    assert_eq!(sub.next_on(&topic, &mut seen).await.text(), "online");
    srv.stop().await;
    assert_eq!(sub.next_on(&topic, &mut seen).await.text(), "offline");
    sub.stop().await;
    clear_retained(&[format!("{prefix}/#")]).await;
}

/// A camera's event reaches the webhook and MQTT as the API's event log
/// shows it (a `push` camera fed one photo until it names the person).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outputs_carry_a_camera_event_end_to_end() {
    require_broker().await;
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP outputs end to end: ../shared (test images) is not present");
        return;
    };
    let photo_path = shared.join("datasets/peers/face_recognition/examples/lin-manuel-miranda.png");
    let (addr, receiver, server) = start_receiver().await;
    let prefix = unique("e2e");
    let mqtt = mqtt_config(&prefix).mqtt;
    let Some(srv) = TestServer::start(Db::Sqlite, true, |c| {
        c.mqtt = mqtt;
        c.webhooks = vec![WebhookConfig {
            name: "e2e".into(),
            url: format!("http://{addr}/e2e"),
            secret: SECRET.into(),
            ..WebhookConfig::default()
        }];
    })
    .await
    else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP outputs end to end: model pack {:?} is not installed in {}",
            srv.state().config.pack,
            models_dir().display()
        );
        srv.stop().await;
        server.abort();
        return;
    }
    wait_connected(&srv.state().outputs).await;
    let org = srv.init_org("Door", "owner@door.test").await;
    let person = srv.person(&org, "LMM", "Lin-Manuel Miranda").await;
    let photo = std::fs::read(&photo_path).unwrap();
    let (s, b) = srv
        .post_image(
            &format!("/api/v1/people/{person}/templates"),
            &org.owner,
            photo.clone(),
            "lin-manuel-miranda.png",
            "image/png",
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let mut sub = Sub::new(&format!("{prefix}-sub"), &[format!("{prefix}/#")]).await;
    let (s, cam) = srv
        .post(
            "/api/v1/cameras",
            &org.owner,
            json!({"name": "Door", "source_url": "push", "purpose": "watch",
                   "detection_fps": 5, "cooldown_s": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cam}");
    let cam_id = cam["id"].as_str().unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(60);
    let hook = loop {
        if let Some(r) = receiver.got.lock().iter().find(|r| r.path == "/e2e") {
            break r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no webhook delivery within 60 s; camera: {}",
            srv.get(&format!("/api/v1/cameras/{cam_id}/status"), &org.owner)
                .await
                .1
        );
        let r = srv
            .req(
                reqwest::Method::POST,
                &format!("/api/v1/cameras/{cam_id}/frames"),
                &org.owner,
            )
            .header("content-type", "image/png")
            .body(photo.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "push: {}", r.status());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(verify(&hook.headers, &hook.body, SECRET));
    assert_eq!(hook.headers["x-facegate-event"], "person");
    let event_id = hook.headers["x-facegate-delivery"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(body["id"], event_id.as_str());
    assert_eq!(body["person_id"], person.as_str());
    let (s, log) = srv
        .get(&format!("/api/v1/events?camera_id={cam_id}"), &org.owner)
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let item = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == event_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("event {event_id} not in the log: {log}"));
    assert_eq!(body, item, "the webhook body is the API's event");

    // MQTT: the same document on <prefix>/events, the summary per camera,
    // and where the person was last seen.
    let mut seen = Vec::new();
    let events = format!("{prefix}/events");
    loop {
        let m = sub.next_on(&events, &mut seen).await;
        if m.json()["id"] == event_id.as_str() {
            assert_eq!(m.json(), item);
            break;
        }
    }
    let cam = facegate_server::outputs::topic_segment(&cam_id);
    loop {
        let m = sub
            .next_on(&format!("{prefix}/{cam}/person"), &mut seen)
            .await;
        if m.json()["event_id"] == event_id.as_str() {
            assert_eq!(m.json()["person_name"], "Lin-Manuel Miranda");
            assert_eq!(m.json()["camera_name"], "Door");
            break;
        }
    }
    let m = sub
        .next_on(&format!("{prefix}/person/{person}"), &mut seen)
        .await;
    assert_eq!(m.json()["name"], "Lin-Manuel Miranda");
    assert_eq!(m.json()["camera_id"], cam_id.as_str());
    srv.stop().await;
    server.abort();
    sub.stop().await;
    clear_retained(&[format!("{prefix}/#"), format!("{prefix}-ha/#")]).await;
}
