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

    fn check(&self, key: &K) -> bool {
        if self.per_minute == 0 {
            return true;
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
            true
        } else {
            false
        }
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
    pub fn check_ip(&self, ip: IpAddr) -> bool {
        self.ip.check(&ip)
    }
    pub fn check_key(&self, key_id: &str) -> bool {
        self.key.check(&key_id.to_string())
    }
    pub fn check_login(&self, ip: IpAddr) -> bool {
        self.login.check(&ip)
    }
}

pub fn too_many(who: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests from {who}; slow down and retry in a few seconds"),
    )
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
}
