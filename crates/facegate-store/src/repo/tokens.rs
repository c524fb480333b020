//! Refresh tokens: opaque random strings, stored as SHA-256 hashes, rotated on
//! every use. Presenting an already-used token means it was stolen (or
//! replayed), so the whole family is revoked.

use super::get;
use crate::{Store, StoreError, new_id, now_ms};

/// Who a refresh token belongs to.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub account_id: String,
    pub org_id: String,
    pub family_id: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RefreshFailure {
    /// Unknown, expired or revoked.
    Invalid,
    /// Already used once: the family has now been revoked.
    Reused,
}

impl Store {
    pub async fn insert_refresh_token(
        &self,
        token_hash: &str,
        family_id: &str,
        account_id: &str,
        org_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, token_hash, family_id, account_id, org_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_id())
        .bind(token_hash)
        .bind(family_id)
        .bind(account_id)
        .bind(org_id)
        .bind(expires_at)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
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
             WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(old_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query(
            "SELECT account_id, org_id, family_id, used_at FROM refresh_tokens WHERE token_hash = $1",
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
        .bind(new_id())
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
