//! Prometheus text exposition without a metrics framework: a handful of
//! counters and sums behind one mutex is all the service needs.

use std::collections::BTreeMap;
use std::fmt::Write;

use parking_lot::Mutex;

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<MetricsInner>,
}

#[derive(Default)]
struct MetricsInner {
    /// (method, route, status) → count
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) → (count, seconds)
    latency: BTreeMap<(String, String), (u64, f64)>,
    /// decision → count
    recognitions: BTreeMap<String, u64>,
    /// (action, source) → count of stored spoof events
    spoof_events: BTreeMap<(String, String), u64>,
    engine_calls: u64,
    engine_seconds: f64,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.inner.lock();
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let e = m
            .latency
            .entry((method.to_string(), route.to_string()))
            .or_default();
        e.0 += 1;
        e.1 += seconds;
    }

    pub fn record_recognition(&self, decision: &str, engine_seconds: f64) {
        let mut m = self.inner.lock();
        *m.recognitions.entry(decision.to_string()).or_default() += 1;
        m.engine_calls += 1;
        m.engine_seconds += engine_seconds;
    }

    pub fn record_spoof(&self, action: &str, source: &str) {
        let mut m = self.inner.lock();
        *m.spoof_events
            .entry((action.to_string(), source.to_string()))
            .or_default() += 1;
    }

    pub fn render(&self, gallery_templates: usize, engine_loaded: bool) -> String {
        let m = self.inner.lock();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP facegate_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE facegate_http_requests_total counter");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "facegate_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP facegate_http_request_duration_seconds Time spent handling requests."
        );
        let _ = writeln!(out, "# TYPE facegate_http_request_duration_seconds summary");
        for ((method, route), (n, s)) in &m.latency {
            let r = escape(route);
            let _ = writeln!(
                out,
                "facegate_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{r}\"}} {s}"
            );
            let _ = writeln!(
                out,
                "facegate_http_request_duration_seconds_count{{method=\"{method}\",route=\"{r}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP facegate_recognitions_total Recognition decisions."
        );
        let _ = writeln!(out, "# TYPE facegate_recognitions_total counter");
        for (d, n) in &m.recognitions {
            let _ = writeln!(
                out,
                "facegate_recognitions_total{{decision=\"{}\"}} {n}",
                escape(d)
            );
        }
        let _ = writeln!(
            out,
            "# HELP facegate_spoof_events_total Liveness spoof events stored, by action and source."
        );
        let _ = writeln!(out, "# TYPE facegate_spoof_events_total counter");
        for ((action, source), n) in &m.spoof_events {
            let _ = writeln!(
                out,
                "facegate_spoof_events_total{{action=\"{}\",source=\"{}\"}} {n}",
                escape(action),
                escape(source)
            );
        }
        let _ = writeln!(
            out,
            "# HELP facegate_engine_seconds Time spent in the face engine."
        );
        let _ = writeln!(out, "# TYPE facegate_engine_seconds summary");
        let _ = writeln!(out, "facegate_engine_seconds_sum {}", m.engine_seconds);
        let _ = writeln!(out, "facegate_engine_seconds_count {}", m.engine_calls);
        let _ = writeln!(
            out,
            "# HELP facegate_gallery_templates Templates held in the in-memory gallery."
        );
        let _ = writeln!(out, "# TYPE facegate_gallery_templates gauge");
        let _ = writeln!(out, "facegate_gallery_templates {gallery_templates}");
        let _ = writeln!(
            out,
            "# HELP facegate_engine_loaded Whether the face engine is loaded."
        );
        let _ = writeln!(out, "# TYPE facegate_engine_loaded gauge");
        let _ = writeln!(out, "facegate_engine_loaded {}", u8::from(engine_loaded));
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
