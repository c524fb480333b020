//! Wiring: state, router, middleware, listener, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::password::hash_password_sync;
use crate::auth::tokens::{JwtKeys, load_or_create_secret, random_bytes};
use crate::challenges::Challenges;
use crate::client_ip::{ClientIp, TrustedProxies};
use crate::config::Config;
use crate::engine::FaceEngine;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::state::{AppState, Inner};

/// Open the database (running migrations), load the gallery and the engine.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let store = crate::datadir::open_store(&config, config.database_max_connections).await?;
    let engine = {
        let c = config.clone();
        match tokio::task::spawn_blocking(move || FaceEngine::load(&c)).await? {
            Ok(e) => {
                tracing::info!(model_id = e.model_id(), "face engine loaded");
                Some(Arc::new(e))
            }
            Err(e) if config.engine_required => {
                anyhow::bail!(
                    "cannot load model pack {:?} from {}: {e}\n(install it with `facegate models install {}`, \
                     or set engine_required = false / FACEGATE_ENGINE_REQUIRED=false to run without recognition)",
                    config.pack,
                    config.models_dir().display(),
                    config.pack
                );
            }
            Err(e) => {
                tracing::warn!("face engine not loaded, recognition routes will answer 503: {e}");
                None
            }
        }
    };
    let secret = load_or_create_secret(&config.auth.jwt_secret, &config.data_dir)
        .context("cannot read or create the JWT key")?;
    let dummy_hash =
        tokio::task::spawn_blocking(|| hash_password_sync(&hex::encode(random_bytes::<16>())))
            .await?
            .map_err(|e| anyhow::anyhow!("argon2: {}", e.message))?;
    // Validated with the rest of the config; parsed once here for requests.
    let trusted_proxies = TrustedProxies::parse(&config.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
    if !trusted_proxies.is_empty() {
        tracing::info!(proxies = ?config.trusted_proxies, "client addresses from X-Forwarded-For of trusted proxies");
    }
    let outputs = Arc::new(
        crate::outputs::Outputs::start(&config).context("cannot start the MQTT/webhook outputs")?,
    );
    Ok(AppState(Arc::new(Inner {
        outputs,
        cameras: crate::cameras::Cameras::new(
            &config.streams,
            tokio_util::sync::CancellationToken::new(),
        ),
        jwt: JwtKeys::from_secret(&secret),
        limiter: RateLimiter::new(&config.limits),
        trusted_proxies,
        metrics: Metrics::default(),
        challenges: Challenges::new(&config.liveness),
        config,
        store,
        engine,
        dummy_hash,
        draining: std::sync::atomic::AtomicBool::new(false),
    })))
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let config = &state.config;
    let mut router = Router::new()
        .nest("/api/v1", crate::routes::v1())
        .merge(crate::ui::router(state.clone()))
        .merge(crate::routes::health::router())
        .merge(crate::compat::router())
        .merge(crate::openapi::router())
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::map_response(json_errors))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::internal().into_response()
        }));
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
        ("cache-control", "no-store"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    if !config.cors.allowed_origins.is_empty() {
        let origins = if config.cors.allowed_origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                config
                    .cors
                    .allowed_origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok()),
            )
        };
        router = router.layer(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("x-api-key"),
                    HeaderName::from_static("x-request-id"),
                ])
                .max_age(Duration::from_secs(600)),
        );
    }
    let request_id = HeaderName::from_static("x-request-id");
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<Body>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings may carry personal data.
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                // `observe` writes the request line (with the route).
                .on_response(()),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

async fn fallback(method: Method, uri: axum::http::Uri) -> Response {
    if uri.path() == "/ui" || uri.path().starts_with("/ui/") {
        return crate::ui::error::not_found().await;
    }
    ApiError::not_found(&format!("route {method} {}", uri.path())).into_response()
}

/// Per-IP rate limit and request metrics. The client address is resolved
/// once here (trusted proxies applied) and left for handlers as [`ClientIp`].
async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| state.trusted_proxies.client_ip(c.0.ip(), req.headers()));
    let mut refused = None;
    if let Some(ip) = ip {
        req.extensions_mut().insert(ClientIp(ip));
        refused = state.limiter.check_ip(ip).err();
    }
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let start = Instant::now();
    let response = match refused {
        Some(error) => error.into_response(),
        None => next.run(req).await,
    };
    let status = response.status();
    let elapsed = start.elapsed();
    state
        .metrics
        .record_request(&method, &route, status.as_u16(), elapsed.as_secs_f64());
    // One line per request, with the route template rather than the path
    // (ids stay out of the log, and lines group by endpoint).
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(request_id = %request_id, method = %method, route = %route, status = status.as_u16(), latency_ms, "request failed");
    } else {
        tracing::info!(request_id = %request_id, method = %method, route = %route, status = status.as_u16(), latency_ms, "request");
    }
    response
}

/// Errors produced outside our handlers (405, 413 from limits, ...) get the
/// same JSON shape as ours.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // The web UI renders its own error pages.
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_json || is_html {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not accept that HTTP method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("body_too_large", "the request body is over the size limit")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported Content-Type")
        }
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("bad_request", "the request is not valid"),
    };
    let mut r = ApiError::new(status, code, message).into_response();
    for name in ["allow", "x-request-id"] {
        if let Some(v) = response.headers().get(name) {
            r.headers_mut()
                .insert(HeaderName::from_static(name), v.clone());
        }
    }
    r
}

/// A server running in the background (tests, embedding).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    pub async fn stop(self) {
        self.stop_within(Duration::from_secs(30)).await;
    }

    /// Stop accepting, let requests in flight finish within `deadline`
    /// (then drop them), stop the cameras, flush the outputs, close the
    /// database.
    pub async fn stop_within(mut self, deadline: Duration) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Cancels the camera workers and every MJPEG/SSE response, so the
        // graceful shutdown above is not held open by a streaming client;
        // camera events still queued are stored before the outputs stop.
        self.state.cameras.shutdown(Duration::from_secs(5)).await;
        if tokio::time::timeout(deadline, &mut self.handle)
            .await
            .is_err()
        {
            tracing::warn!(
                secs = deadline.as_secs(),
                "requests still in flight at the shutdown deadline are dropped"
            );
            self.handle.abort();
        }
        self.state.outputs.shutdown().await;
        self.state.store.close().await;
    }
}

/// Bind `config.listen` (port 0 picks a free one) and serve in the background.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(config.listen_addr())
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = build_state(config).await?;
    state.cameras.start(&state).await;
    crate::retention::spawn(state.clone(), state.cameras.cancel_token());
    let app = app(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let server = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            tracing::error!("server error: {e}");
        }
    });
    Ok(RunningServer {
        addr,
        state,
        shutdown: Some(tx),
        handle,
    })
}

/// `facegate serve`: run until Ctrl-C or SIGTERM, without a file to
/// reload on SIGHUP (see [`serve_with_reload`]).
pub async fn serve(config: Config) -> anyhow::Result<()> {
    serve_with_reload(config, None).await
}

/// `facegate serve`: run until Ctrl-C or SIGTERM; SIGHUP reloads what can
/// change without a restart.
///
/// Shutdown, in order: `/readyz` turns 503; on SIGTERM the service keeps
/// serving for `shutdown_drain_secs` so a load balancer sees that and stops
/// sending (Ctrl-C skips the wait); the listener closes and requests in
/// flight get `shutdown_timeout_secs` to finish; cameras stop and their
/// queued events are stored; outputs flush; the database closes. A second
/// signal exits at once.
///
/// SIGHUP re-reads `config_file` (and the environment) and applies
/// `logging.level`; options that need a restart are named in the log. It
/// also makes the running cameras match the database and refreshes the
/// organisation rules the cameras use.
pub async fn serve_with_reload(
    config: Config,
    config_file: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    // Handlers first: SIGHUP's default action would end the process, and
    // the address line below tells supervisors and tests it is safe to send.
    let mut signals = Signals::new()?;
    let running = start(config).await?;
    tracing::info!(addr = %running.addr, "facegate listening");
    println!("facegate listening on http://{}", running.addr);
    let drain = loop {
        match signals.next().await {
            Signal::Hangup => reload(&running.state, config_file.as_deref()).await,
            Signal::Terminate => {
                break Duration::from_secs(running.state.config.shutdown_drain_secs);
            }
            Signal::Interrupt => break Duration::ZERO,
        }
    };
    running
        .state
        .draining
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let deadline = Duration::from_secs(running.state.config.shutdown_timeout_secs);
    tracing::info!(
        drain_secs = drain.as_secs(),
        timeout_secs = deadline.as_secs(),
        "shutting down: /readyz answers 503"
    );
    // Any signal from here on means "now": a stuck shutdown must not need
    // SIGKILL.
    tokio::spawn(async move {
        loop {
            if matches!(signals.next().await, Signal::Terminate | Signal::Interrupt) {
                tracing::warn!("second signal: exiting without waiting");
                std::process::exit(130);
            }
        }
    });
    tokio::time::sleep(drain).await;
    tracing::info!("listener closed; waiting for requests in flight");
    running.stop_within(deadline).await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGHUP: apply what can change while running, say what cannot. The
/// outcome is logged at `warn`, so an operator sees it at any log level.
async fn reload(state: &AppState, config_file: Option<&std::path::Path>) {
    tracing::info!("SIGHUP: reloading");
    match Config::load(config_file) {
        Ok(new) => {
            let old = &state.config;
            if new.logging.level != old.logging.level {
                match crate::logging::set_level(&new.logging.level) {
                    Ok(()) => tracing::warn!(
                        from = %old.logging.level,
                        to = %new.logging.level,
                        "logging.level reloaded"
                    ),
                    Err(e) => tracing::error!("logging.level not reloaded: {e}"),
                }
            }
            let restart = restart_needed(old, &new);
            if !restart.is_empty() {
                tracing::warn!(
                    options = %restart.join(", "),
                    "changed options take effect at the next restart"
                );
            }
        }
        Err(e) => tracing::error!("configuration not reloaded, keeping the running one: {e}"),
    }
    match state.cameras.resync(state).await {
        Ok((started, stopped)) => {
            tracing::warn!(
                started,
                stopped,
                "configuration reloaded; cameras in sync with the database"
            )
        }
        Err(e) => tracing::error!("cameras not reloaded: {e}"),
    }
}

/// Top-level options (sections by name) that differ, other than the log
/// level, which reloads.
fn restart_needed(old: &Config, new: &Config) -> Vec<String> {
    let (Ok(toml::Value::Table(mut a)), Ok(toml::Value::Table(mut b))) =
        (toml::Value::try_from(old), toml::Value::try_from(new))
    else {
        return Vec::new();
    };
    for t in [&mut a, &mut b] {
        if let Some(toml::Value::Table(logging)) = t.get_mut("logging") {
            logging.remove("level");
        }
    }
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Hangup,
    Terminate,
    Interrupt,
}

/// SIGHUP, SIGTERM and SIGINT (Ctrl-C) as one stream.
struct Signals {
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                hangup: signal(SignalKind::hangup()).context("cannot handle SIGHUP")?,
                terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn next(&mut self) -> Signal {
        let interrupt = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.hangup.recv() => Signal::Hangup,
                _ = self.terminate.recv() => Signal::Terminate,
                () = interrupt => Signal::Interrupt,
            }
        }
        #[cfg(not(unix))]
        {
            interrupt.await;
            Signal::Interrupt
        }
    }
}
