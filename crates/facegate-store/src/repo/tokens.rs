//! Refresh tokens: opaque random strings, stored as SHA-256 hashes, rotated on
//! every use. Presenting an already-used token means it was stolen (or
//! replayed), so the whole family is revoked.
//!
//! Each row is also the session an access token is bound to: a token carries
//! the row's id (`sid`) and is honoured only while that row is neither used
//! (rotated), revoked (logout, reuse, disabled account, new password) nor
//! deleted (membership removed, organisation deleted). See [`Store::session_role`].

use super::get;
use crate::{Role, Store, StoreError, new_id, now_ms};

/// Who a refresh token belongs to.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub account_id: String,
    pub org_id: String,
    pub family_id: String,
    /// Id of the row issued by the rotation: the new session id (`sid`).
    pub session_id: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RefreshFailure {
    /// Unknown, expired or revoked.
    Invalid,
    /// Already used once: the family has now been revoked.
    Reused,
}

impl Store {
    /// Store a new refresh token; returns its row id, the session id that
    /// access tokens issued alongside it carry.
    pub async fn insert_refresh_token(
        &self,
        token_hash: &str,
        family_id: &str,
        account_id: &str,
        org_id: &str,
        expires_at: i64,
    ) -> Result<String, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO refresh_tokens (id, token_hash, family_id, account_id, org_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(token_hash)
        .bind(family_id)
        .bind(account_id)
        .bind(org_id)
        .bind(expires_at)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// Consume `old_hash` and issue `new_hash` in the same family, atomically.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_at: i64,
    ) -> Result<Result<RefreshGrant, RefreshFailure>, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let consumed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
             AND kind = 'api'",
        )
        .bind(old_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query(
            "SELECT account_id, org_id, family_id, used_at FROM refresh_tokens WHERE token_hash = $1 AND kind = 'api'",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(RefreshFailure::Invalid));
        };
        let grant = RefreshGrant {
            account_id: get(&row, "account_id")?,
            org_id: get(&row, "org_id")?,
            family_id: get(&row, "family_id")?,
            session_id: new_id(),
        };
        if consumed == 0 {
            let used_at: Option<i64> = get(&row, "used_at")?;
            if used_at.is_some() {
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
                )
                .bind(&grant.family_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(Err(RefreshFailure::Reused));
            }
            return Ok(Err(RefreshFailure::Invalid));
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (id, token_hash, family_id, account_id, org_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&grant.session_id)
        .bind(new_hash)
        .bind(&grant.family_id)
        .bind(&grant.account_id)
        .bind(&grant.org_id)
        .bind(new_expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(grant))
    }

    /// Logout: revoke the family the token belongs to. Returns whether it existed.
    pub async fn revoke_refresh_family(&self, token_hash: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
        )
        .bind(token_hash)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// The role behind an access token: `account_id`'s role in `org_id`, but
    /// only while the account is enabled and the session `session_id` is
    /// current (not rotated, revoked, expired or deleted). One query, so
    /// binding tokens to sessions costs no extra round trip per request.
    pub async fn session_role(
        &self,
        account_id: &str,
        org_id: &str,
        session_id: &str,
    ) -> Result<Option<Role>, StoreError> {
        let row = sqlx::query(
            "SELECT m.role FROM memberships m \
             JOIN accounts a ON a.id = m.account_id \
             JOIN refresh_tokens r ON r.account_id = m.account_id AND r.org_id = m.org_id \
             WHERE m.account_id = $1 AND m.org_id = $2 AND a.disabled = 0 AND r.id = $3 \
             AND r.used_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > $4",
        )
        .bind(account_id)
        .bind(org_id)
        .bind(session_id)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(Some(get::<String>(&r, "role")?.parse()?)),
            None => Ok(None),
        }
    }

    /// Revoke every session of an account in one organisation.
    pub async fn revoke_account_sessions(
        &self,
        account_id: &str,
        org_id: &str,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $3 WHERE account_id = $1 AND org_id = $2 AND revoked_at IS NULL",
        )
        .bind(account_id)
        .bind(org_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}
