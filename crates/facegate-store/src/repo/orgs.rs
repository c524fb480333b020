use sqlx::any::AnyRow;

use super::get;
use crate::{Account, OrgSettings, Organisation, Role, Store, StoreError, new_id, now_ms};

pub(crate) fn org_from_row(row: &AnyRow) -> Result<Organisation, StoreError> {
    let settings: String = get(row, "settings")?;
    Ok(Organisation {
        id: get(row, "id")?,
        name: get(row, "name")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(format!("organisation settings: {e}")))?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

const ORG_COLS: &str = "id, name, settings, created_at, updated_at";

/// What [`Store::delete_org`] removed, for the service's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgDeletion {
    pub people: u64,
    pub templates: u64,
    pub attendance: u64,
    /// Entries of the organisation's access-log hash chain.
    pub access_log: u64,
    /// Accounts that belonged to no other organisation and went with it.
    pub accounts: u64,
}

/// Tenant rows, children before parents, so the deletes succeed whether or
/// not the backend enforces (or cascades) foreign keys. `access_log` has no
/// foreign key at all (it must outlive people and devices), so only an
/// explicit delete removes it. Tables added later that reference
/// `organisations(id) ON DELETE CASCADE` go with the final delete; the store
/// tests check that no table with an `org_id` column keeps a row.
const ORG_CHILD_TABLES: [&str; 10] = [
    "access_log",
    "attendance",
    "templates",
    "schedules",
    "refresh_tokens",
    "api_keys",
    "memberships",
    "people",
    "devices",
    "organisations",
];

impl Store {
    /// Create an organisation and make `account_id` its owner, atomically.
    pub async fn create_org(
        &self,
        name: &str,
        settings: &OrgSettings,
        owner_account_id: &str,
    ) -> Result<Organisation, StoreError> {
        let now = now_ms();
        let id = new_id();
        let settings_json =
            serde_json::to_string(settings).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO organisations (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(&settings_json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (account_id, org_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(owner_account_id)
        .bind(&id)
        .bind(Role::Owner.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_org(&id).await
    }

    /// `facegate init`: the first organisation and its owner account in one
    /// transaction, so a failure leaves nothing half-made.
    pub async fn init_org_with_owner(
        &self,
        org_name: &str,
        email: &str,
        password_hash: &str,
    ) -> Result<(Organisation, Account), StoreError> {
        let now = now_ms();
        let org_id = new_id();
        let account_id = new_id();
        let settings_json = serde_json::to_string(&OrgSettings::default())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO organisations (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&org_id)
        .bind(org_name)
        .bind(&settings_json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO accounts (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, '', $3, $4, $4)",
        )
        .bind(&account_id)
        .bind(email)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (account_id, org_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
        )
        .bind(&account_id)
        .bind(&org_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let org = self.get_org(&org_id).await?;
        let account = self.get_account(&account_id).await?;
        Ok((org, account))
    }

    pub async fn get_org(&self, id: &str) -> Result<Organisation, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ORG_COLS} FROM organisations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("organisation"))?;
        org_from_row(&row)
    }

    pub async fn list_orgs(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ORG_COLS} FROM organisations ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(org_from_row).collect()
    }

    /// Delete an organisation and everything it owns in one transaction:
    /// people, templates, attendance, schedules, devices, API keys, sessions,
    /// memberships, its access-log chain, and the accounts that were members
    /// of no other organisation. The gallery drops its templates after the
    /// commit. Irreversible; the caller checks who may do it.
    pub async fn delete_org(&self, id: &str) -> Result<OrgDeletion, StoreError> {
        let mut tx = self.pool().begin().await?;
        // Write first (see the crate docs): SQLite takes its write lock now and
        // PostgreSQL locks the row that access-log appends also update, so an
        // append racing with this either commits first and is deleted here, or
        // waits and then finds no organisation.
        let found = sqlx::query("UPDATE organisations SET updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if found == 0 {
            return Err(StoreError::NotFound("organisation"));
        }
        // Accounts whose only membership is this one: without an organisation
        // they can do nothing, and they hold personal data (email, password
        // hash). Must run before the memberships go.
        let accounts = sqlx::query(
            "DELETE FROM accounts WHERE id IN (SELECT account_id FROM memberships WHERE org_id = $1) \
             AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = accounts.id AND m.org_id <> $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let mut removed = OrgDeletion {
            accounts,
            ..OrgDeletion::default()
        };
        for table in ORG_CHILD_TABLES {
            let column = if table == "organisations" {
                "id"
            } else {
                "org_id"
            };
            // Table and column names are the constants above, never input.
            let n = sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            match table {
                "people" => removed.people = n,
                "templates" => removed.templates = n,
                "attendance" => removed.attendance = n,
                "access_log" => removed.access_log = n,
                _ => {}
            }
        }
        tx.commit().await?;
        self.gallery().remove_org(id);
        Ok(removed)
    }

    pub async fn update_org(
        &self,
        id: &str,
        name: &str,
        settings: &OrgSettings,
    ) -> Result<Organisation, StoreError> {
        let settings_json =
            serde_json::to_string(settings).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let n = sqlx::query(
            "UPDATE organisations SET name = $2, settings = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(&settings_json)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("organisation"));
        }
        self.get_org(id).await
    }
}
