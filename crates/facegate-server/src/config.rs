//! Service configuration: a TOML file, then `FACEGATE_*` environment
//! overrides, then validation. Every error names the option and where its
//! value came from, because a service that refuses to start must say why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Everything `facegate serve` needs. Field names are the TOML keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database, JWT key, logs and (by default) model packs live here.
    pub data_dir: PathBuf,
    /// Socket address to listen on.
    pub listen: String,
    /// `sqlite://...` or `postgres://...`; empty = SQLite file in `data_dir`.
    pub database_url: String,
    /// Database connections the service keeps open at most.
    pub database_max_connections: u32,
    /// Model pack to load; `auto` = the best installed (yunet, else default).
    pub pack: String,
    /// Where installed packs and the ONNX runtime live; empty = `data_dir`.
    pub models_dir: PathBuf,
    /// Refuse to start without the face engine. When false the service starts
    /// without it and recognition routes answer 503.
    pub engine_required: bool,
    /// ONNX sessions per model. Requests pipeline across the pack's models
    /// (one detects while another embeds), so one session each already keeps
    /// every core busy; each extra session holds another copy of the weights
    /// and activations. On 2 cores: 1 session, 72 identify/s at 180–190 MB
    /// RSS; 2 sessions, 70/s at 270 MB (`examples/bench_identify.rs`).
    pub engine_sessions: usize,
    /// Requests inside the engine at once (decode to embeddings); the rest
    /// queue. Bounds memory under load; default twice the cores.
    pub engine_concurrency: usize,
    /// ONNX Runtime threads per session.
    pub engine_threads: usize,
    /// Largest request body in bytes (images included, base64 or not).
    pub max_body_bytes: usize,
    /// Largest decoded image, width × height.
    pub max_image_pixels: u64,
    /// Serve the Swagger UI page at `/docs`.
    pub swagger_ui: bool,
    /// On SIGTERM, seconds to keep serving with `/readyz` answering 503
    /// before closing the listener, so a load balancer or orchestrator
    /// stops sending new requests first (Ctrl-C skips this).
    pub shutdown_drain_secs: u64,
    /// Seconds requests still in flight get to finish once the listener
    /// closes; then the service stops anyway.
    pub shutdown_timeout_secs: u64,
    /// Reverse proxies (IP addresses or CIDR ranges) whose
    /// `X-Forwarded-For` names the client for rate limits and login
    /// throttling. Empty = the socket peer is the client (see `client_ip`).
    pub trusted_proxies: Vec<String>,
    /// Logins, tokens and lockout.
    pub auth: AuthConfig,
    /// Request rate limits.
    pub limits: RateLimitConfig,
    /// Cross-origin requests from browser apps on other origins.
    pub cors: CorsConfig,
    /// Log level, format and files.
    pub logging: LoggingConfig,
    /// Liveness challenges.
    pub liveness: LivenessConfig,
    /// MQTT output (events, availability, Home Assistant discovery); off
    /// while `url` is empty.
    pub mqtt: MqttConfig,
    /// Signed webhooks, one `[[webhooks]]` table each.
    pub webhooks: Vec<WebhookConfig>,
    /// Cameras and live streams.
    pub streams: StreamsConfig,
    /// The admin web UI at `/ui` (sessions, cookies).
    pub ui: crate::ui::UiConfig,
}

/// `[streams]`: cameras and live streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamsConfig {
    /// Cameras running at once, across organisations; creating or enabling
    /// one more answers 409 `too_many_streams`.
    pub max_concurrent_streams: usize,
    /// Camera frames in recognition at once, across cameras (the cameras'
    /// share of the engine); a camera that finds none free waits up to one
    /// frame interval, then skips the frame, so API requests keep their
    /// latency. A machine that only watches cameras: one more than its
    /// cores (`facegate bench --streams --engine-slots N` measures it).
    pub engine_slots: usize,
    /// Detection frames per second of a camera created without one, in (0, 30].
    pub detection_fps: f32,
    /// Frames wider than this are scaled down before recognition.
    pub max_width: u32,
    /// Recognition events waiting to be stored and published; when full,
    /// new events are dropped (counted in `/metrics` and logged).
    pub event_queue: usize,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            max_concurrent_streams: 8,
            engine_slots: 1,
            detection_fps: 5.0,
            max_width: 1280,
            event_queue: 256,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 signing key (≥ 32 bytes). Empty = generated once into
    /// `data_dir/jwt.key` with mode 0600.
    pub jwt_secret: String,
    /// Seconds an access token (JWT) is valid.
    pub access_token_ttl_secs: u64,
    /// Seconds a refresh token (a login session) is valid.
    pub refresh_token_ttl_secs: u64,
    /// Failed logins before an account is locked.
    pub max_failed_logins: u32,
    /// Seconds a locked account stays locked.
    pub lockout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per minute per client IP (0 = unlimited).
    pub per_ip_per_minute: u32,
    /// Requests per minute per API key (0 = unlimited).
    pub per_key_per_minute: u32,
    /// Login attempts per minute per client IP.
    pub login_per_ip_per_minute: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins (`https://app.example.com`), or `["*"]`. Empty = no CORS.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// `tracing` filter, e.g. `info` or `facegate_server=debug,info`.
    pub level: String,
    /// Directory for daily-rotated log files; empty = `data_dir/logs`.
    pub dir: PathBuf,
    /// Days of log files to keep.
    pub retention_days: usize,
    /// JSON lines instead of text.
    pub json: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessConfig {
    /// Seconds a challenge (`POST /liveness/challenges`) stays answerable.
    /// Short on purpose: a random prompt that must be answered at once is
    /// what defeats a prerecorded video.
    pub challenge_ttl_secs: u64,
    /// Challenges held in memory at once, across organisations; issuing
    /// more while all are unexpired answers 503.
    pub max_open_challenges: usize,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            challenge_ttl_secs: 20,
            max_open_challenges: 10_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: facegate_vision::default_data_dir(),
            listen: "127.0.0.1:8080".into(),
            database_url: String::new(),
            database_max_connections: 8,
            pack: "auto".into(),
            models_dir: PathBuf::new(),
            engine_required: true,
            engine_sessions: 1,
            engine_concurrency: 2 * facegate_vision::session::available_cores(),
            engine_threads: 1,
            max_body_bytes: 10 * 1024 * 1024,
            max_image_pixels: 40_000_000,
            swagger_ui: true,
            shutdown_drain_secs: 2,
            shutdown_timeout_secs: 30,
            trusted_proxies: Vec::new(),
            auth: AuthConfig::default(),
            limits: RateLimitConfig::default(),
            cors: CorsConfig::default(),
            logging: LoggingConfig::default(),
            liveness: LivenessConfig::default(),
            mqtt: MqttConfig::default(),
            webhooks: Vec::new(),
            streams: StreamsConfig::default(),
            ui: crate::ui::UiConfig::default(),
        }
    }
}

/// `[mqtt]`: see the service README, "MQTT and webhooks".
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:1883` or `mqtts://host:8883`; empty = no MQTT.
    pub url: String,
    /// Empty = `facegate-<random>` per start.
    pub client_id: String,
    /// Broker user name; empty = anonymous.
    pub username: String,
    /// Prefer `FACEGATE_MQTT_PASSWORD` to writing it in the file.
    pub password: String,
    /// First level of every topic facegate publishes.
    pub topic_prefix: String,
    /// Publish Home Assistant discovery configs.
    pub discovery: bool,
    /// Topic prefix Home Assistant watches for discovery configs.
    pub discovery_prefix: String,
    /// Only this organisation's events (its id); empty = every organisation.
    pub organisation: String,
    /// PEM file of CA certificates trusted for `mqtts://` besides the
    /// system's (a broker with its own CA).
    pub ca_file: PathBuf,
    /// Messages waiting for the broker; more are dropped and counted.
    pub queue: usize,
    /// Seconds between MQTT keep-alive pings.
    pub keep_alive_secs: u64,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: String::new(),
            client_id: String::new(),
            username: String::new(),
            password: String::new(),
            topic_prefix: "facegate".into(),
            discovery: true,
            discovery_prefix: "homeassistant".into(),
            organisation: String::new(),
            ca_file: PathBuf::new(),
            queue: 1000,
            keep_alive_secs: 30,
        }
    }
}

impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("url", &crate::outputs::redact_url(&self.url))
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("topic_prefix", &self.topic_prefix)
            .field("discovery", &self.discovery)
            .field("discovery_prefix", &self.discovery_prefix)
            .field("organisation", &self.organisation)
            .field("ca_file", &self.ca_file)
            .field("queue", &self.queue)
            .field("keep_alive_secs", &self.keep_alive_secs)
            .finish()
    }
}

/// One `[[webhooks]]` entry.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the webhook in logs and metrics (never the URL, which may carry
    /// a token); empty = `webhook<N>`, N counting from 1.
    pub name: String,
    /// `http://` or `https://`.
    pub url: String,
    /// HMAC-SHA256 key for `X-Facegate-Signature` (≥ 16 characters).
    pub secret: String,
    /// Environment variable holding the secret instead of `secret`.
    pub secret_env: String,
    /// Only this organisation's events (its id); empty = every organisation.
    pub organisation: String,
    /// Event kinds to send (`person`, `unknown`); empty = all.
    pub events: Vec<String>,
    /// Tries per event, the first included (retries on network errors, 429
    /// and 5xx, 1 s, 2 s, 4 s … apart).
    pub max_attempts: u32,
    /// Seconds per HTTP attempt.
    pub timeout_secs: u64,
    /// Events waiting for delivery; more are dropped and counted.
    pub queue: usize,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            name: String::new(),
            url: String::new(),
            secret: String::new(),
            secret_env: String::new(),
            organisation: String::new(),
            events: Vec::new(),
            max_attempts: 5,
            timeout_secs: 10,
            queue: 1000,
            concurrency: 4,
        }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &crate::outputs::redact_url(&self.url))
            .field("secret", &redacted(&self.secret))
            .field("secret_env", &self.secret_env)
            .field("organisation", &self.organisation)
            .field("events", &self.events)
            .field("max_attempts", &self.max_attempts)
            .field("timeout_secs", &self.timeout_secs)
            .field("queue", &self.queue)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "***" }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: String::new(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            max_failed_logins: 5,
            lockout_secs: 15 * 60,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_ip_per_minute: 6000,
            per_key_per_minute: 6000,
            login_per_ip_per_minute: 20,
        }
    }
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".into(),
            dir: PathBuf::new(),
            retention_days: 14,
            json: false,
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    List,
}

/// Every environment override: variable, TOML path, type.
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    ("FACEGATE_DATA_DIR", "data_dir", "path"),
    ("FACEGATE_LISTEN", "listen", "address"),
    ("FACEGATE_DATABASE_URL", "database_url", "url"),
    (
        "FACEGATE_DATABASE_MAX_CONNECTIONS",
        "database_max_connections",
        "integer",
    ),
    ("FACEGATE_PACK", "pack", "string"),
    ("FACEGATE_MODELS_DIR", "models_dir", "path"),
    ("FACEGATE_ENGINE_REQUIRED", "engine_required", "bool"),
    ("FACEGATE_ENGINE_SESSIONS", "engine_sessions", "integer"),
    (
        "FACEGATE_ENGINE_CONCURRENCY",
        "engine_concurrency",
        "integer",
    ),
    ("FACEGATE_ENGINE_THREADS", "engine_threads", "integer"),
    ("FACEGATE_MAX_BODY_BYTES", "max_body_bytes", "integer"),
    ("FACEGATE_MAX_IMAGE_PIXELS", "max_image_pixels", "integer"),
    ("FACEGATE_SWAGGER_UI", "swagger_ui", "bool"),
    ("FACEGATE_TRUSTED_PROXIES", "trusted_proxies", "list"),
    (
        "FACEGATE_SHUTDOWN_DRAIN_SECS",
        "shutdown_drain_secs",
        "integer",
    ),
    (
        "FACEGATE_SHUTDOWN_TIMEOUT_SECS",
        "shutdown_timeout_secs",
        "integer",
    ),
    ("FACEGATE_JWT_SECRET", "auth.jwt_secret", "string"),
    (
        "FACEGATE_ACCESS_TOKEN_TTL_SECS",
        "auth.access_token_ttl_secs",
        "integer",
    ),
    (
        "FACEGATE_REFRESH_TOKEN_TTL_SECS",
        "auth.refresh_token_ttl_secs",
        "integer",
    ),
    (
        "FACEGATE_MAX_FAILED_LOGINS",
        "auth.max_failed_logins",
        "integer",
    ),
    ("FACEGATE_LOCKOUT_SECS", "auth.lockout_secs", "integer"),
    (
        "FACEGATE_RATE_LIMIT_PER_IP",
        "limits.per_ip_per_minute",
        "integer",
    ),
    (
        "FACEGATE_RATE_LIMIT_PER_KEY",
        "limits.per_key_per_minute",
        "integer",
    ),
    (
        "FACEGATE_LOGIN_RATE_LIMIT",
        "limits.login_per_ip_per_minute",
        "integer",
    ),
    ("FACEGATE_CORS_ORIGINS", "cors.allowed_origins", "list"),
    ("FACEGATE_LOG_LEVEL", "logging.level", "string"),
    ("FACEGATE_LOG_DIR", "logging.dir", "path"),
    (
        "FACEGATE_LOG_RETENTION_DAYS",
        "logging.retention_days",
        "integer",
    ),
    ("FACEGATE_LOG_JSON", "logging.json", "bool"),
    (
        "FACEGATE_LIVENESS_CHALLENGE_TTL_SECS",
        "liveness.challenge_ttl_secs",
        "integer",
    ),
    (
        "FACEGATE_LIVENESS_MAX_OPEN_CHALLENGES",
        "liveness.max_open_challenges",
        "integer",
    ),
    ("FACEGATE_MQTT_URL", "mqtt.url", "url"),
    ("FACEGATE_MQTT_CLIENT_ID", "mqtt.client_id", "string"),
    ("FACEGATE_MQTT_USERNAME", "mqtt.username", "string"),
    ("FACEGATE_MQTT_PASSWORD", "mqtt.password", "string"),
    ("FACEGATE_MQTT_TOPIC_PREFIX", "mqtt.topic_prefix", "string"),
    ("FACEGATE_MQTT_DISCOVERY", "mqtt.discovery", "bool"),
    (
        "FACEGATE_MQTT_DISCOVERY_PREFIX",
        "mqtt.discovery_prefix",
        "string",
    ),
    ("FACEGATE_MQTT_ORGANISATION", "mqtt.organisation", "string"),
    ("FACEGATE_MQTT_CA_FILE", "mqtt.ca_file", "path"),
    (
        "FACEGATE_STREAMS_MAX_CONCURRENT",
        "streams.max_concurrent_streams",
        "integer",
    ),
    (
        "FACEGATE_STREAMS_ENGINE_SLOTS",
        "streams.engine_slots",
        "integer",
    ),
];

fn kind_of(name: &str) -> Kind {
    match name {
        "integer" => Kind::Int,
        "bool" => Kind::Bool,
        "list" => Kind::List,
        _ => Kind::Str,
    }
}

impl Config {
    /// Load from an optional TOML file and the process environment, then validate.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &vars)
    }

    /// [`Config::load`] with an explicit environment (tests).
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Parse {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    })?
            }
            None => toml::Table::new(),
        };
        for (var, value) in env {
            let Some((_, path, kind)) = ENV_VARS.iter().find(|(v, _, _)| v == var) else {
                continue;
            };
            let parsed = match kind_of(kind) {
                Kind::Str => toml::Value::String(value.clone()),
                Kind::Int => value
                    .trim()
                    .parse::<i64>()
                    .map(toml::Value::Integer)
                    .map_err(|_| ConfigError::Env {
                        var: var.clone(),
                        message: format!("{value:?} is not an integer"),
                    })?,
                Kind::Bool => match value.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => toml::Value::Boolean(true),
                    "0" | "false" | "no" | "off" => toml::Value::Boolean(false),
                    _ => {
                        return Err(ConfigError::Env {
                            var: var.clone(),
                            message: format!("{value:?} is not a boolean (true/false)"),
                        });
                    }
                },
                Kind::List => toml::Value::Array(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_string()))
                        .collect(),
                ),
            };
            set_path(&mut table, path, parsed);
        }
        let source = file.map_or_else(|| PathBuf::from("<environment>"), Path::to_path_buf);
        let mut config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: source,
                    message: e.message().to_string(),
                })?;
        resolve_webhook_secrets(&mut config.webhooks, env)?;
        config.validate()?;
        Ok(config)
    }

    /// Check every option; the first problem is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.data_dir.as_os_str().is_empty() {
            return bad("data_dir (FACEGATE_DATA_DIR) must be set".into());
        }
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad(format!(
                "listen (FACEGATE_LISTEN) = {:?} is not a socket address like 127.0.0.1:8080",
                self.listen
            ));
        }
        let url = &self.database_url;
        if !url.is_empty()
            && !url.starts_with("sqlite:")
            && !url.starts_with("postgres://")
            && !url.starts_with("postgresql://")
        {
            return bad("database_url (FACEGATE_DATABASE_URL) must start with sqlite:, postgres:// or postgresql://".into());
        }
        if self.database_max_connections == 0 || self.database_max_connections > 1000 {
            return bad("database_max_connections must be between 1 and 1000".into());
        }
        if self.pack.trim().is_empty() {
            return bad("pack (FACEGATE_PACK) must name a model pack".into());
        }
        if !(1..=256).contains(&self.engine_sessions)
            || !(1..=256).contains(&self.engine_threads)
            || !(1..=1024).contains(&self.engine_concurrency)
        {
            return bad(
                "engine_sessions and engine_threads must be between 1 and 256, engine_concurrency between 1 and 1024"
                    .into(),
            );
        }
        if !(1024..=512 * 1024 * 1024).contains(&self.max_body_bytes) {
            return bad(
                "max_body_bytes (FACEGATE_MAX_BODY_BYTES) must be between 1024 and 536870912"
                    .into(),
            );
        }
        if !(1024..=400_000_000).contains(&self.max_image_pixels) {
            return bad("max_image_pixels must be between 1024 and 400000000".into());
        }
        if self.shutdown_drain_secs > 300 {
            return bad(
                "shutdown_drain_secs (FACEGATE_SHUTDOWN_DRAIN_SECS) must be at most 300".into(),
            );
        }
        if !(1..=3600).contains(&self.shutdown_timeout_secs) {
            return bad(
                "shutdown_timeout_secs (FACEGATE_SHUTDOWN_TIMEOUT_SECS) must be between 1 and 3600"
                    .into(),
            );
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            return bad("auth.jwt_secret (FACEGATE_JWT_SECRET) must be at least 32 characters; leave it empty to generate one".into());
        }
        if !(30..=24 * 3600).contains(&self.auth.access_token_ttl_secs) {
            return bad("auth.access_token_ttl_secs must be between 30 and 86400".into());
        }
        if !(60..=365 * 24 * 3600).contains(&self.auth.refresh_token_ttl_secs) {
            return bad("auth.refresh_token_ttl_secs must be between 60 and 31536000".into());
        }
        if self.auth.max_failed_logins == 0 {
            return bad("auth.max_failed_logins must be at least 1".into());
        }
        if self.limits.login_per_ip_per_minute == 0 {
            return bad("limits.login_per_ip_per_minute must be at least 1".into());
        }
        for origin in &self.cors.allowed_origins {
            let ok = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && axum::http::HeaderValue::from_str(origin).is_ok()
                    && !origin.ends_with('/'));
            if !ok {
                return bad(format!(
                    "cors.allowed_origins: {origin:?} must be \"*\" or an origin like https://app.example.com (no path, no trailing slash)"
                ));
            }
        }
        if self.cors.allowed_origins.len() > 1 && self.cors.allowed_origins.iter().any(|o| o == "*")
        {
            return bad("cors.allowed_origins: \"*\" cannot be combined with other origins".into());
        }
        if let Err(e) = crate::client_ip::TrustedProxies::parse(&self.trusted_proxies) {
            return bad(format!(
                "trusted_proxies (FACEGATE_TRUSTED_PROXIES): {e}; use addresses or ranges like 10.0.0.1, 10.0.0.0/8 or fd00::/8"
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.logging.level).is_err() {
            return bad(format!(
                "logging.level {:?} is not a valid filter",
                self.logging.level
            ));
        }
        if self.logging.retention_days == 0 {
            return bad("logging.retention_days must be at least 1".into());
        }
        if !(1..=3600).contains(&self.liveness.challenge_ttl_secs) {
            return bad("liveness.challenge_ttl_secs (FACEGATE_LIVENESS_CHALLENGE_TTL_SECS) must be between 1 and 3600".into());
        }
        if !(1..=1_000_000).contains(&self.liveness.max_open_challenges) {
            return bad("liveness.max_open_challenges (FACEGATE_LIVENESS_MAX_OPEN_CHALLENGES) must be between 1 and 1000000".into());
        }
        let st = &self.streams;
        if st.max_concurrent_streams > 256 {
            return bad("streams.max_concurrent_streams (FACEGATE_STREAMS_MAX_CONCURRENT) must be between 0 and 256".into());
        }
        if !(1..=64).contains(&st.engine_slots) {
            return bad(
                "streams.engine_slots (FACEGATE_STREAMS_ENGINE_SLOTS) must be between 1 and 64"
                    .into(),
            );
        }
        if !(st.detection_fps.is_finite() && st.detection_fps > 0.0 && st.detection_fps <= 30.0) {
            return bad("streams.detection_fps must be in (0, 30]".into());
        }
        if !(64..=7680).contains(&st.max_width) {
            return bad("streams.max_width must be between 64 and 7680".into());
        }
        if !(1..=100_000).contains(&st.event_queue) {
            return bad("streams.event_queue must be between 1 and 100000".into());
        }
        validate_mqtt(&self.mqtt).map_err(ConfigError::Invalid)?;
        validate_webhooks(&self.webhooks).map_err(ConfigError::Invalid)?;
        self.ui.validate().map_err(ConfigError::Invalid)?;
        Ok(())
    }

    pub fn listen_addr(&self) -> SocketAddr {
        // Validated in `validate`.
        self.listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            facegate_store::sqlite_url_for_dir(&self.data_dir)
        } else {
            self.database_url.clone()
        }
    }

    pub fn models_dir(&self) -> PathBuf {
        if self.models_dir.as_os_str().is_empty() {
            self.data_dir.clone()
        } else {
            self.models_dir.clone()
        }
    }

    pub fn log_dir(&self) -> PathBuf {
        if self.logging.dir.as_os_str().is_empty() {
            self.data_dir.join("logs")
        } else {
            self.logging.dir.clone()
        }
    }
}

/// `secret_env` names the variable that holds a webhook's secret: read it
/// from the same environment as the overrides. Naming both a secret and a
/// variable is refused (which one wins would be a guess).
fn resolve_webhook_secrets(
    hooks: &mut [WebhookConfig],
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    for (i, hook) in hooks.iter_mut().enumerate() {
        let var = hook.secret_env.trim();
        if var.is_empty() {
            continue;
        }
        if !hook.secret.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "webhooks[{i}]: set either secret or secret_env, not both"
            )));
        }
        match env.iter().find(|(k, _)| k == var) {
            Some((_, v)) if !v.trim().is_empty() => hook.secret = v.trim().to_string(),
            _ => {
                return Err(ConfigError::Env {
                    var: var.to_string(),
                    message: format!("webhooks[{i}].secret_env names it, but it is unset or empty"),
                });
            }
        }
    }
    Ok(())
}

/// A topic prefix: one or more levels, no wildcards, no empty level.
fn check_topic_prefix(what: &str, prefix: &str) -> Result<(), String> {
    if prefix.is_empty()
        || prefix.contains(['+', '#', '\0'])
        || prefix.split('/').any(str::is_empty)
        || prefix.len() > 200
    {
        return Err(format!(
            "{what} = {prefix:?} must be a topic like facegate or site/facegate: no +, #, empty level or leading/trailing /"
        ));
    }
    Ok(())
}

fn validate_mqtt(m: &MqttConfig) -> Result<(), String> {
    if m.url.trim().is_empty() {
        return Ok(());
    }
    let url = url::Url::parse(m.url.trim()).map_err(|e| {
        format!(
            "mqtt.url (FACEGATE_MQTT_URL) = {:?}: {e}; use mqtt://host:1883 or mqtts://host:8883",
            crate::outputs::redact_url(&m.url)
        )
    })?;
    if !matches!(url.scheme(), "mqtt" | "mqtts" | "tcp" | "ssl") || url.host_str().is_none() {
        return Err(format!(
            "mqtt.url (FACEGATE_MQTT_URL) = {:?} must be mqtt://host[:port] or mqtts://host[:port]",
            crate::outputs::redact_url(&m.url)
        ));
    }
    if url.password().is_some() || !url.username().is_empty() {
        return Err("mqtt.url must not carry credentials; use mqtt.username and mqtt.password (FACEGATE_MQTT_PASSWORD)".into());
    }
    if !m.password.is_empty() && m.username.is_empty() {
        return Err("mqtt.password is set without mqtt.username".into());
    }
    if m.client_id.len() > 128 || m.client_id.contains(['+', '#', '/']) {
        return Err("mqtt.client_id must be at most 128 characters, without +, # or /".into());
    }
    check_topic_prefix(
        "mqtt.topic_prefix (FACEGATE_MQTT_TOPIC_PREFIX)",
        &m.topic_prefix,
    )?;
    check_topic_prefix(
        "mqtt.discovery_prefix (FACEGATE_MQTT_DISCOVERY_PREFIX)",
        &m.discovery_prefix,
    )?;
    if !(1..=100_000).contains(&m.queue) {
        return Err("mqtt.queue must be between 1 and 100000".into());
    }
    if !(5..=3600).contains(&m.keep_alive_secs) {
        return Err("mqtt.keep_alive_secs must be between 5 and 3600".into());
    }
    if !m.ca_file.as_os_str().is_empty() && url.scheme() != "mqtts" && url.scheme() != "ssl" {
        return Err("mqtt.ca_file is only used with mqtts:// URLs".into());
    }
    Ok(())
}

fn validate_webhooks(hooks: &[WebhookConfig]) -> Result<(), String> {
    let mut names = std::collections::BTreeSet::new();
    for (i, h) in hooks.iter().enumerate() {
        let at = format!("webhooks[{i}]");
        let url = url::Url::parse(h.url.trim())
            .map_err(|e| format!("{at}.url = {:?}: {e}", crate::outputs::redact_url(&h.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "{at}.url = {:?} must be an http:// or https:// URL",
                crate::outputs::redact_url(&h.url)
            ));
        }
        if h.secret.is_empty() {
            return Err(format!(
                "{at} has no secret: set secret, or secret_env naming an environment variable (every delivery is signed)"
            ));
        }
        if h.secret.chars().count() < 16 {
            return Err(format!("{at}.secret must be at least 16 characters"));
        }
        for e in &h.events {
            if e != "person" && e != "unknown" {
                return Err(format!(
                    "{at}.events: {e:?} is not an event kind (person, unknown)"
                ));
            }
        }
        if !(1..=20).contains(&h.max_attempts) {
            return Err(format!("{at}.max_attempts must be between 1 and 20"));
        }
        if !(1..=300).contains(&h.timeout_secs) {
            return Err(format!("{at}.timeout_secs must be between 1 and 300"));
        }
        if !(1..=100_000).contains(&h.queue) {
            return Err(format!("{at}.queue must be between 1 and 100000"));
        }
        if !(1..=64).contains(&h.concurrency) {
            return Err(format!("{at}.concurrency must be between 1 and 64"));
        }
        let name = webhook_name(i, h);
        if name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(format!(
                "{at}.name {name:?} must be up to 64 letters, digits, _, - or ."
            ));
        }
        if !names.insert(name.clone()) {
            return Err(format!("{at}.name {name:?} is used twice"));
        }
    }
    Ok(())
}

/// A webhook's name in logs and metrics: its `name`, else `webhook<N>`.
pub fn webhook_name(index: usize, hook: &WebhookConfig) -> String {
    if hook.name.trim().is_empty() {
        format!("webhook{}", index + 1)
    } else {
        hook.name.trim().to_string()
    }
}

fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    match path.split_once('.') {
        Some((section, key)) => {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.insert(key.to_string(), value);
            }
        }
        None => {
            table.insert(path.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_file_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\n[auth]\naccess_token_ttl_secs = 60\n",
        )
        .unwrap();
        let c = Config::load_from(
            Some(&file),
            &env(&[
                ("FACEGATE_DATA_DIR", "/tmp/x"),
                ("FACEGATE_LISTEN", "0.0.0.0:8081"),
                (
                    "FACEGATE_CORS_ORIGINS",
                    "https://a.example, https://b.example",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:8081");
        assert_eq!(c.auth.access_token_ttl_secs, 60);
        assert_eq!(c.cors.allowed_origins.len(), 2);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn trusted_proxies_from_env_are_validated() {
        let c = Config::load_from(
            None,
            &env(&[(
                "FACEGATE_TRUSTED_PROXIES",
                "10.0.0.0/8, fd00::/8 ,192.0.2.1",
            )]),
        )
        .unwrap();
        assert_eq!(c.trusted_proxies, ["10.0.0.0/8", "fd00::/8", "192.0.2.1"]);
        assert!(Config::default().trusted_proxies.is_empty());
        let e = Config::load_from(
            None,
            &env(&[("FACEGATE_TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/40")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("FACEGATE_TRUSTED_PROXIES") && e.contains("10.0.0.0/40"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_option() {
        let e = Config::load_from(None, &env(&[("FACEGATE_LISTEN", "nope")])).unwrap_err();
        assert!(e.to_string().contains("FACEGATE_LISTEN"), "{e}");
        let e = Config::load_from(None, &env(&[("FACEGATE_MAX_BODY_BYTES", "lots")])).unwrap_err();
        assert!(e.to_string().contains("not an integer"), "{e}");
        let e = Config::load_from(None, &env(&[("FACEGATE_JWT_SECRET", "short")])).unwrap_err();
        assert!(e.to_string().contains("32"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let e = Config::load_from(Some(&file), &[]).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
    }
}
