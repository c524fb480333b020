//! Token-bucket rate limits per client IP, per API key and for logins.
//! The client IP is the socket peer, or behind a trusted proxy the address
//! it forwarded (see `client_ip`).
//!
//! In memory, per process: good enough for one node and a first line of
//! defence; put a proxy in front for multi-node fleets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use axum::http::StatusCode;
use parking_lot::Mutex;

use crate::config::RateLimitConfig;
use crate::error::ApiError;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// One family of buckets with the same rate.
struct Buckets<K> {
    per_minute: u32,
    map: Mutex<HashMap<K, Bucket>>,
}

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    fn new(per_minute: u32) -> Self {
        Buckets {
            per_minute,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Take a token, or say how long until the next one (whole seconds,
    /// rounded up, for `Retry-After`).
    fn take(&self, key: &K) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0;
        let now = Instant::now();
        let mut map = self.map.lock();
        if map.len() > 100_000 {
            // Forget full buckets so memory stays bounded under address scans.
            map.retain(|_, b| {
                b.tokens + now.duration_since(b.last).as_secs_f64() * rate < capacity
            });
        }
        let b = map.entry(key.clone()).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(capacity);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }

    #[cfg(test)]
    fn check(&self, key: &K) -> bool {
        self.take(key).is_ok()
    }
}

pub struct RateLimiter {
    ip: Buckets<IpAddr>,
    key: Buckets<String>,
    login: Buckets<IpAddr>,
}

impl RateLimiter {
    pub fn new(c: &RateLimitConfig) -> Self {
        RateLimiter {
            ip: Buckets::new(c.per_ip_per_minute),
            key: Buckets::new(c.per_key_per_minute),
            login: Buckets::new(c.login_per_ip_per_minute),
        }
    }
    /// A request from `ip`; the error is the 429 to answer.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.ip.take(&ip).map_err(|s| too_many("this address", s))
    }
    /// A request with API key `key_id`.
    pub fn check_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.key
            .take(&key_id.to_string())
            .map_err(|s| too_many("this API key", s))
    }
    /// A login attempt from `ip`.
    pub fn check_login(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.login
            .take(&ip)
            .map_err(|s| too_many("this address (login attempts)", s))
    }
}

/// 429 with `Retry-After`: the seconds until the bucket holds a token again.
pub fn too_many(who: &str, retry_after_secs: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests from {who}; retry in {retry_after_secs} s"),
    )
    .with_retry_after(retry_after_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses() {
        let b = Buckets::new(3);
        assert!(b.check(&1));
        assert!(b.check(&1));
        assert!(b.check(&1));
        assert!(!b.check(&1));
        assert!(b.check(&2), "other keys are independent");
        let unlimited = Buckets::new(0);
        assert!((0..1000).all(|_| unlimited.check(&1)));
    }

    #[test]
    fn refusal_says_when_to_retry() {
        // 60 a minute: one token a second, so an empty bucket refills in 1 s.
        let b = Buckets::new(60);
        for _ in 0..60 {
            assert!(b.take(&1).is_ok());
        }
        assert_eq!(b.take(&1), Err(1));
        // 2 a minute: a token every 30 s.
        let slow = Buckets::new(2);
        assert!(slow.take(&1).is_ok() && slow.take(&1).is_ok());
        let wait = slow.take(&1).unwrap_err();
        assert!((29..=30).contains(&wait), "{wait}");
        let e = too_many("x", wait);
        assert_eq!(e.retry_after_secs, Some(wait));
    }
}
