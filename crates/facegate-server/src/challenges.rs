//! Liveness challenges waiting for their frames.
//!
//! A challenge is a random prompt (turn left/right, blink) that must be
//! answered within a short lifetime, once. They live in memory only: they
//! are worth nothing after a few seconds, so losing them on a restart costs a
//! client one retry, and a database row per attempt would be write traffic
//! for nothing. A multi-instance deployment therefore needs the submit to
//! reach the instance that issued the challenge (sticky sessions).
//!
//! The map is bounded (`liveness.max_open_challenges`): issuing first drops
//! entries past their retention, then, if still full, every expired or
//! already answered entry; if every entry is still open the new challenge is
//! refused (503) rather than evicting one a client is answering. Expired and
//! answered entries are retained for one more lifetime so that a late or
//! repeated submit is told 410/409 instead of a bare 404.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use facegate_vision::liveness::challenge::Prompt;
use parking_lot::Mutex;

use crate::config::LivenessConfig;
use crate::error::ApiError;

/// An issued challenge.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    pub id: String,
    pub org_id: String,
    /// The device the challenge is answered at, if the caller named one.
    pub device_id: Option<String>,
    pub prompt: Prompt,
    /// Unix milliseconds, for the client.
    pub expires_at: i64,
}

struct Entry {
    challenge: Challenge,
    /// Monotonic deadline: wall-clock jumps neither extend nor cut a lifetime.
    deadline: Instant,
    used: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// Unknown id, or another organisation's challenge.
    NotFound,
    Expired,
    AlreadyUsed,
    /// Every slot holds an open challenge.
    Full,
}

impl From<ChallengeError> for ApiError {
    fn from(e: ChallengeError) -> Self {
        match e {
            ChallengeError::NotFound => ApiError::not_found("challenge"),
            ChallengeError::Expired => ApiError::new(
                StatusCode::GONE,
                "challenge_expired",
                "the challenge has expired; request a new one",
            ),
            ChallengeError::AlreadyUsed => ApiError::new(
                StatusCode::CONFLICT,
                "challenge_used",
                "the challenge has already been answered; request a new one",
            ),
            ChallengeError::Full => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_challenges",
                "too many liveness challenges are open; try again in a few seconds",
            ),
        }
    }
}

pub struct Challenges {
    entries: Mutex<HashMap<String, Entry>>,
    ttl: Duration,
    capacity: usize,
}

impl Challenges {
    pub fn new(config: &LivenessConfig) -> Challenges {
        Challenges::with(
            Duration::from_secs(config.challenge_ttl_secs),
            config.max_open_challenges,
        )
    }

    pub fn with(ttl: Duration, capacity: usize) -> Challenges {
        Challenges {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Hold a new challenge for `org_id`. The id is a v4 UUID, drawn from the
    /// operating system's CSPRNG, so ids cannot be guessed.
    pub fn issue(
        &self,
        org_id: &str,
        device_id: Option<String>,
        prompt: Prompt,
    ) -> Result<Challenge, ChallengeError> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let retention = self.ttl;
        entries.retain(|_, e| now < e.deadline + retention);
        if entries.len() >= self.capacity {
            entries.retain(|_, e| !e.used && now < e.deadline);
        }
        if entries.len() >= self.capacity {
            return Err(ChallengeError::Full);
        }
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let challenge = Challenge {
            id: uuid::Uuid::new_v4().to_string(),
            org_id: org_id.to_string(),
            device_id,
            prompt,
            expires_at: facegate_store::now_ms().saturating_add(ttl_ms),
        };
        entries.insert(
            challenge.id.clone(),
            Entry {
                challenge: challenge.clone(),
                deadline: now + self.ttl,
                used: false,
            },
        );
        Ok(challenge)
    }

    /// The challenge if it can still be answered, without using it up.
    pub fn peek(&self, org_id: &str, id: &str) -> Result<Challenge, ChallengeError> {
        let entries = self.entries.lock();
        Self::answerable(entries.get(id), org_id).map(|e| e.challenge.clone())
    }

    /// Use the challenge up: every later `take` or `peek` says it was used.
    pub fn take(&self, org_id: &str, id: &str) -> Result<Challenge, ChallengeError> {
        let mut entries = self.entries.lock();
        Self::answerable(entries.get(id), org_id)?;
        let Some(entry) = entries.get_mut(id) else {
            return Err(ChallengeError::NotFound);
        };
        entry.used = true;
        Ok(entry.challenge.clone())
    }

    fn answerable<'e>(entry: Option<&'e Entry>, org_id: &str) -> Result<&'e Entry, ChallengeError> {
        // Another organisation's challenge reads as unknown: ids must not
        // leak across tenants.
        let entry = entry
            .filter(|e| e.challenge.org_id == org_id)
            .ok_or(ChallengeError::NotFound)?;
        if entry.used {
            return Err(ChallengeError::AlreadyUsed);
        }
        if Instant::now() >= entry.deadline {
            return Err(ChallengeError::Expired);
        }
        Ok(entry)
    }

    /// Challenges held now (open, expired or used, within retention).
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_use_and_tenant_bound() {
        let c = Challenges::with(Duration::from_secs(20), 10);
        let a = c.issue("org-a", None, Prompt::TurnLeft).unwrap();
        assert!(a.expires_at > facegate_store::now_ms());
        assert_eq!(c.peek("org-b", &a.id), Err(ChallengeError::NotFound));
        assert_eq!(c.take("org-b", &a.id), Err(ChallengeError::NotFound));
        assert_eq!(c.peek("org-a", &a.id), Ok(a.clone()));
        assert_eq!(c.take("org-a", &a.id), Ok(a.clone()));
        assert_eq!(c.take("org-a", &a.id), Err(ChallengeError::AlreadyUsed));
        assert_eq!(c.peek("org-a", &a.id), Err(ChallengeError::AlreadyUsed));
        assert_eq!(c.take("org-a", "nope"), Err(ChallengeError::NotFound));
    }

    #[test]
    fn expiry_and_bounded_size() {
        let c = Challenges::with(Duration::from_millis(200), 2);
        let a = c.issue("o", None, Prompt::Blink).unwrap();
        let b = c.issue("o", Some("d".into()), Prompt::TurnRight).unwrap();
        // Full of open challenges: refuse rather than evict one in use.
        assert_eq!(
            c.issue("o", None, Prompt::TurnLeft),
            Err(ChallengeError::Full)
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(c.take("o", &a.id), Err(ChallengeError::Expired));
        // Expired entries make room (and the others are dropped with them).
        let fresh = c.issue("o", None, Prompt::TurnLeft).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c.peek("o", &b.id), Err(ChallengeError::NotFound));
        assert!(c.take("o", &fresh.id).is_ok());
        // Past one more lifetime the entry is gone altogether.
        std::thread::sleep(Duration::from_millis(450));
        c.issue("o", None, Prompt::TurnLeft).unwrap();
        assert_eq!(c.peek("o", &fresh.id), Err(ChallengeError::NotFound));
    }
}
