//! Shared state handed to every handler.

use std::ops::Deref;
use std::sync::Arc;

use facegate_store::Store;

use crate::auth::tokens::JwtKeys;
use crate::challenges::Challenges;
use crate::client_ip::TrustedProxies;
use crate::config::Config;
use crate::engine::FaceEngine;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::outputs::Outputs;
use crate::ratelimit::RateLimiter;

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub engine: Option<Arc<FaceEngine>>,
    pub jwt: JwtKeys,
    pub limiter: RateLimiter,
    /// `config.trusted_proxies`, parsed once.
    pub trusted_proxies: TrustedProxies,
    pub metrics: Metrics,
    /// Liveness challenges awaiting their frames (in memory, bounded; see
    /// the module for why).
    pub challenges: Challenges,
    /// A valid hash of a random password: logins for unknown emails verify
    /// against it so response times do not reveal which emails exist.
    pub dummy_hash: String,
    /// MQTT and webhooks: where camera events leave the service.
    pub outputs: Arc<Outputs>,
    /// Running cameras, their events and the server's shutdown signal
    /// (`cameras` module).
    pub cameras: crate::cameras::Cameras,
    /// Set when shutdown begins: `/readyz` answers 503 from then on, so
    /// load balancers stop sending requests while those in flight finish.
    pub draining: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn engine(&self) -> Result<&Arc<FaceEngine>, ApiError> {
        self.engine
            .as_ref()
            .ok_or_else(ApiError::engine_unavailable)
    }
}
