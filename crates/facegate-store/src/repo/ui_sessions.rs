//! Sessions of the admin web UI.
//!
//! A UI session is a `refresh_tokens` row with `kind = 'ui'`: the cookie
//! holds a random secret, the row its SHA-256 (as for refresh tokens). Being
//! the same row type as an API session means every event that already ends
//! sessions (logout, disabling an account, a new password, removing a
//! membership, deleting an organisation) ends UI sessions with no extra code,
//! and the role is re-read from the membership on every request, so a
//! demotion applies at once. A UI row is never accepted by the refresh-token
//! rotation (`kind = 'api'` there), so the cookie cannot be turned into API
//! tokens.
//!
//! Two timeouts: `expires_at` is absolute (set at login, never extended);
//! `seen_at` is refreshed while the session is used and a session unseen for
//! longer than the idle limit is refused.

use super::get;
use crate::{Role, Store, StoreError, new_id, now_ms};

/// A live UI session with the account's current role in its organisation.
#[derive(Debug, Clone)]
pub struct UiSession {
    /// The row id: the session id (`sid`), also what logout revokes.
    pub id: String,
    pub account_id: String,
    pub org_id: String,
    pub role: Role,
    pub email: String,
    pub name: String,
    pub org_name: String,
    /// Last time the session was used (Unix ms).
    pub seen_at: i64,
    /// Absolute end of the session (Unix ms).
    pub expires_at: i64,
}

impl Store {
    /// Store a new UI session for `token_hash`; returns its id.
    pub async fn create_ui_session(
        &self,
        token_hash: &str,
        account_id: &str,
        org_id: &str,
        expires_at: i64,
    ) -> Result<String, StoreError> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO refresh_tokens (id, token_hash, family_id, account_id, org_id, expires_at, created_at, kind, seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'ui', $7)",
        )
        .bind(&id)
        .bind(token_hash)
        .bind(new_id())
        .bind(account_id)
        .bind(org_id)
        .bind(expires_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The session whose cookie hashes to `token_hash`, when it is current:
    /// not revoked, before its absolute expiry, seen after `idle_cutoff`
    /// (Unix ms), the account enabled and still a member. One query, like
    /// [`Store::session_role`].
    pub async fn ui_session(
        &self,
        token_hash: &str,
        idle_cutoff: i64,
    ) -> Result<Option<UiSession>, StoreError> {
        let row = sqlx::query(
            "SELECT r.id, r.account_id, r.org_id, r.seen_at, r.expires_at, m.role, a.email, a.name, o.name AS org_name \
             FROM refresh_tokens r \
             JOIN memberships m ON m.account_id = r.account_id AND m.org_id = r.org_id \
             JOIN accounts a ON a.id = r.account_id \
             JOIN organisations o ON o.id = r.org_id \
             WHERE r.token_hash = $1 AND r.kind = 'ui' AND a.disabled = 0 \
             AND r.used_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > $2 AND r.seen_at > $3",
        )
        .bind(token_hash)
        .bind(now_ms())
        .bind(idle_cutoff)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(UiSession {
            id: get(&r, "id")?,
            account_id: get(&r, "account_id")?,
            org_id: get(&r, "org_id")?,
            role: get::<String>(&r, "role")?.parse()?,
            email: get(&r, "email")?,
            name: get(&r, "name")?,
            org_name: get(&r, "org_name")?,
            seen_at: get(&r, "seen_at")?,
            expires_at: get(&r, "expires_at")?,
        }))
    }

    /// Record that a UI session was used now (restarts its idle timeout).
    pub async fn touch_ui_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE refresh_tokens SET seen_at = $2 WHERE id = $1 AND kind = 'ui'")
            .bind(id)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Logout: end one UI session. Returns whether it was still open.
    pub async fn end_ui_session(&self, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE id = $1 AND kind = 'ui' AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}
