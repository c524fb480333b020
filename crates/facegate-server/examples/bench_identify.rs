//! Identify throughput and latency over HTTP on loopback, and memory with a
//! large gallery. Not a timed test: run it and read the numbers.
//!
//! ```text
//! cargo run --release -p facegate-server --example bench_identify
//! ```
//!
//! Environment: `FACEGATE_BENCH_MODELS_DIR` (default: the data dir packs are
//! installed to), `FACEGATE_BENCH_PACK` (default `auto`),
//! `FACEGATE_BENCH_ENGINE_SESSIONS` / `_THREADS` / `_CONCURRENCY` (the
//! server's `engine_sessions` / `engine_threads` / `engine_concurrency`),
//! `FACEGATE_BENCH_TEMPLATES` (10000), `FACEGATE_BENCH_CLIENTS` (32),
//! `FACEGATE_BENCH_SECONDS` (20), `FACEGATE_BENCH_IMAGE` (default: a 640×480
//! crop of ../shared/.../obama-480p.jpg).
//!
//! The server runs in this process, so RSS includes the load generator
//! (small next to the models and gallery).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use facegate_core::Embedding;
use facegate_store::PersonFields;
use serde_json::{Value, json};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn bench_image() -> anyhow::Result<Vec<u8>> {
    if let Ok(p) = std::env::var("FACEGATE_BENCH_IMAGE") {
        return Ok(std::fs::read(p)?);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../../../shared"));
    let src = Some(shared.join("datasets/peers/face_recognition/examples/obama-480p.jpg"))
        .filter(|p| p.is_file())
        .ok_or_else(|| anyhow::anyhow!("../shared is missing; set FACEGATE_BENCH_IMAGE"))?;
    let img = image::open(src)?;
    let x = (img.width().saturating_sub(640)) / 2;
    let crop = img.crop_imm(x, 0, 640, 480);
    let mut out = std::io::Cursor::new(Vec::new());
    crop.to_rgb8()
        .write_to(&mut out, image::ImageFormat::Jpeg)?;
    Ok(out.into_inner())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let templates: usize = env("FACEGATE_BENCH_TEMPLATES", 10_000);
    let clients: usize = env("FACEGATE_BENCH_CLIENTS", 32);
    let seconds: u64 = env("FACEGATE_BENCH_SECONDS", 20);
    let dir = tempfile::tempdir()?;
    let config = facegate_server::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        models_dir: std::env::var_os("FACEGATE_BENCH_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(facegate_vision::default_data_dir),
        pack: std::env::var("FACEGATE_BENCH_PACK").unwrap_or_else(|_| "auto".into()),
        engine_sessions: env(
            "FACEGATE_BENCH_ENGINE_SESSIONS",
            facegate_server::Config::default().engine_sessions,
        ),
        engine_threads: env("FACEGATE_BENCH_ENGINE_THREADS", 1),
        engine_concurrency: env(
            "FACEGATE_BENCH_ENGINE_CONCURRENCY",
            facegate_server::Config::default().engine_concurrency,
        ),
        limits: facegate_server::config::RateLimitConfig {
            per_ip_per_minute: 0,
            per_key_per_minute: 0,
            login_per_ip_per_minute: 100,
        },
        logging: facegate_server::config::LoggingConfig {
            level: "warn".into(),
            ..Default::default()
        },
        ..facegate_server::Config::default()
    };
    let (rss_empty, _) = rss_mb();
    let server = facegate_server::start(config.clone()).await?;
    let base = format!("http://{}", server.addr);
    let password = "benchmark password";
    let report =
        facegate_server::init_organisation(&config, "Bench", "bench@example.test", password)
            .await?;
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "bench@example.test", "password": password}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let image = bench_image()?;

    // One real person, then synthetic templates of the same dimension.
    let store = &server.state.store;
    let person = store
        .create_person(
            &report.org_id,
            &PersonFields {
                external_id: "obama".into(),
                name: "Obama".into(),
                ..Default::default()
            },
        )
        .await?;
    let r = http
        .post(format!("{base}/api/v1/people/{}/templates", person.id))
        .bearer_auth(&token)
        .header("Content-Type", "application/octet-stream")
        .body(image.clone())
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "enrol failed: {}", r.text().await?);
    let t = store.list_templates(&report.org_id, &person.id).await?;
    let (dim, model) = (t[0].dim as usize, t[0].model_id.clone());
    let (rss_engine, _) = rss_mb();
    let start = Instant::now();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let per_person = 4;
    for i in 0..templates.div_ceil(per_person) {
        let p = store
            .create_person(
                &report.org_id,
                &PersonFields {
                    external_id: format!("synthetic-{i}"),
                    name: format!("Synthetic {i}"),
                    ..Default::default()
                },
            )
            .await?;
        for _ in 0..per_person {
            let v: Vec<f32> = (0..dim)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed as f64 / u64::MAX as f64 - 0.5) as f32
                })
                .collect();
            store
                .add_template(
                    &report.org_id,
                    &p.id,
                    &model,
                    &Embedding::from_raw(v)?,
                    0.5,
                    None,
                )
                .await?;
        }
    }
    let gallery = store.gallery().len(&report.org_id, &model);
    println!(
        "gallery: {gallery} templates (inserted in {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    let (rss_loaded, _) = rss_mb();

    // Warm up, then 32 clients for the duration.
    for _ in 0..3 {
        http.post(format!("{base}/api/v1/recognition/identify"))
            .bearer_auth(&token)
            .header("Content-Type", "application/octet-stream")
            .body(image.clone())
            .send()
            .await?;
    }
    let image = Arc::new(image);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, base, token, image) = (http.clone(), base.clone(), token.clone(), image.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = http
                    .post(format!("{base}/api/v1/recognition/identify"))
                    .bearer_auth(&token)
                    .header("Content-Type", "application/octet-stream")
                    .body(image.as_ref().clone())
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if ok {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let wall = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let (rss_end, hwm) = rss_mb();
    let result = json!({
        "model_id": model,
        "templates": gallery,
        "clients": clients,
        "image_bytes": image.len(),
        "requests": lat.len(),
        "errors": errors,
        "identify_per_s": lat.len() as f64 / wall,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "rss_mb": {"start": rss_empty, "engine_loaded": rss_engine, "gallery_loaded": rss_loaded, "after_load": rss_end, "peak": hwm},
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    server.stop().await;
    Ok(())
}
