//! API keys for devices and integrations. Only a SHA-256 of the key is
//! stored: keys are 256-bit random, so a slow password hash buys nothing and
//! a fast hash keeps per-request authentication cheap.

use sqlx::any::AnyRow;

use super::get;
use crate::{ApiKey, Role, Store, StoreError, new_id, now_ms};

const COLS: &str = "id, org_id, name, prefix, role, scopes, created_by, created_at, expires_at, last_used_at, revoked_at";

fn key_from_row(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let scopes: String = get(row, "scopes")?;
    Ok(ApiKey {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        role: get::<String>(row, "role")?.parse()?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        created_by: get(row, "created_by")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        last_used_at: get(row, "last_used_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

/// What to create; the caller generates the secret and its hash.
pub struct NewApiKey<'a> {
    pub org_id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub role: Role,
    pub scopes: &'a [String],
    pub created_by: Option<&'a str>,
    pub expires_at: Option<i64>,
}

impl Store {
    pub async fn create_api_key(&self, new: NewApiKey<'_>) -> Result<ApiKey, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role, scopes, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(new.org_id)
        .bind(new.name)
        .bind(new.prefix)
        .bind(new.key_hash)
        .bind(new.role.as_str())
        .bind(new.scopes.join(","))
        .bind(new.created_by)
        .bind(now_ms())
        .bind(new.expires_at)
        .execute(self.pool())
        .await?;
        self.get_api_key(new.org_id, &id).await
    }

    pub async fn get_api_key(&self, org_id: &str, id: &str) -> Result<ApiKey, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM api_keys WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("api key"))?;
        key_from_row(&row)
    }

    pub async fn list_api_keys(&self, org_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM api_keys WHERE org_id = $1 ORDER BY created_at, id"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Look a presented key up by its hash (revoked and expired keys included:
    /// the caller reports why they are refused).
    pub async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM api_keys WHERE key_hash = $1"))
            .bind(key_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn touch_api_key(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn revoke_api_key(&self, org_id: &str, id: &str) -> Result<ApiKey, StoreError> {
        let n = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(org_id)
        .bind(id)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        let key = self.get_api_key(org_id, id).await?;
        if n == 0 && key.revoked_at.is_none() {
            return Err(StoreError::NotFound("api key"));
        }
        Ok(key)
    }
}
