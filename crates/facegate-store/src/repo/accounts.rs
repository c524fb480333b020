use sqlx::any::AnyRow;

use super::{flag, get};
use crate::{Account, Member, Membership, Role, Store, StoreError, new_id, now_ms};

const ACCOUNT_COLS: &str = "a.id, a.email, a.name, a.password_hash, a.failed_logins, a.locked_until, a.disabled, a.created_at, a.updated_at";

fn account_from_row(row: &AnyRow) -> Result<Account, StoreError> {
    Ok(Account {
        id: get(row, "id")?,
        email: get(row, "email")?,
        name: get(row, "name")?,
        password_hash: get(row, "password_hash")?,
        failed_logins: get(row, "failed_logins")?,
        locked_until: get(row, "locked_until")?,
        disabled: get::<i64>(row, "disabled")? != 0,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn member_from_row(row: &AnyRow) -> Result<Member, StoreError> {
    let role: String = get(row, "role")?;
    Ok(Member {
        account: account_from_row(row)?,
        role: role.parse()?,
    })
}

/// Changes to a member; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct MemberUpdate {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub password_hash: Option<String>,
    pub disabled: Option<bool>,
}

impl Store {
    pub async fn get_account(&self, id: &str) -> Result<Account, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("account"))?;
        account_from_row(&row)
    }

    /// The accounts with this email, oldest first, at most `limit`. An email
    /// is unique within an organisation, not across them, so logins check
    /// the password against each.
    pub async fn find_accounts_by_email(
        &self,
        email: &str,
        limit: i64,
    ) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.email = $1 ORDER BY a.created_at, a.id LIMIT $2"
        ))
        .bind(email)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    /// Any account with this email (the oldest), in any organisation.
    pub async fn find_account_by_email(&self, email: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.email = $1 ORDER BY a.created_at, a.id LIMIT 1"
        ))
        .bind(email)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// Count a failed login; lock the account once `max_failures` is reached.
    /// Returns the lock expiry when this failure locked it.
    pub async fn record_login_failure(
        &self,
        account_id: &str,
        max_failures: u32,
        lockout_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE accounts SET failed_logins = failed_logins + 1 WHERE id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT failed_logins FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_one(&mut *tx)
            .await?;
        let failures: i64 = get(&row, "failed_logins")?;
        let mut locked = None;
        if failures >= i64::from(max_failures) {
            let until = now + lockout_ms;
            sqlx::query("UPDATE accounts SET failed_logins = 0, locked_until = $2 WHERE id = $1")
                .bind(account_id)
                .bind(until)
                .execute(&mut *tx)
                .await?;
            locked = Some(until);
        }
        tx.commit().await?;
        Ok(locked)
    }

    pub async fn record_login_success(&self, account_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET failed_logins = 0, locked_until = 0 WHERE id = $1")
            .bind(account_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn memberships_of(&self, account_id: &str) -> Result<Vec<Membership>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.org_id, o.name, m.role FROM memberships m JOIN organisations o ON o.id = m.org_id \
             WHERE m.account_id = $1 ORDER BY o.created_at, o.id",
        )
        .bind(account_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = get(r, "role")?;
                Ok(Membership {
                    org_id: get(r, "org_id")?,
                    org_name: get(r, "name")?,
                    role: role.parse()?,
                })
            })
            .collect()
    }

    /// The role an account holds in an organisation, or `None` when it is not
    /// a member (or the account is disabled).
    pub async fn membership_role(
        &self,
        account_id: &str,
        org_id: &str,
    ) -> Result<Option<Role>, StoreError> {
        let row = sqlx::query(
            "SELECT m.role FROM memberships m JOIN accounts a ON a.id = m.account_id \
             WHERE m.account_id = $1 AND m.org_id = $2 AND a.disabled = 0",
        )
        .bind(account_id)
        .bind(org_id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(Some(get::<String>(&r, "role")?.parse()?)),
            None => Ok(None),
        }
    }

    pub async fn list_members(&self, org_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLS}, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id \
             WHERE m.org_id = $1 ORDER BY a.email"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(member_from_row).collect()
    }

    pub async fn get_member(&self, org_id: &str, account_id: &str) -> Result<Member, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLS}, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id \
             WHERE m.org_id = $1 AND m.account_id = $2"
        ))
        .bind(org_id)
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("account"))?;
        member_from_row(&row)
    }

    /// Create a new account as a member of `org_id`. The email must not
    /// belong to a member of `org_id` already; accounts of other
    /// organisations are neither looked at nor revealed.
    pub async fn create_member(
        &self,
        org_id: &str,
        email: &str,
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<Member, StoreError> {
        let now = now_ms();
        let id = new_id();
        let mut tx = self.pool().begin().await?;
        // Writing first takes the organisation's row lock (SQLite: the write
        // lock), so two creations with one email cannot both pass the check.
        sqlx::query("UPDATE organisations SET updated_at = updated_at WHERE id = $1")
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        let taken = sqlx::query(
            "SELECT 1 AS one FROM accounts a JOIN memberships m ON m.account_id = a.id \
             WHERE m.org_id = $1 AND a.email = $2",
        )
        .bind(org_id)
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(
                "an account with this email is already a member of this organisation".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO accounts (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (account_id, org_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_member(org_id, &id).await
    }

    pub async fn update_member(
        &self,
        org_id: &str,
        account_id: &str,
        update: &MemberUpdate,
    ) -> Result<Member, StoreError> {
        let current = self.get_member(org_id, account_id).await?;
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        if let Some(role) = update.role {
            sqlx::query("UPDATE memberships SET role = $3 WHERE org_id = $1 AND account_id = $2")
                .bind(org_id)
                .bind(account_id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE accounts SET name = $2, password_hash = $3, disabled = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(account_id)
        .bind(update.name.as_deref().unwrap_or(&current.account.name))
        .bind(
            update
                .password_hash
                .as_deref()
                .unwrap_or(&current.account.password_hash),
        )
        .bind(flag(update.disabled.unwrap_or(current.account.disabled)))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if update.password_hash.is_some() || update.disabled == Some(true) {
            // A new password or a disabled account ends every session.
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
            )
            .bind(account_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.get_member(org_id, account_id).await
    }

    /// Remove an account from an organisation; an account left with no
    /// organisation at all is deleted.
    pub async fn remove_member(&self, org_id: &str, account_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let n = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND account_id = $2")
            .bind(org_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("account"));
        }
        sqlx::query("DELETE FROM refresh_tokens WHERE account_id = $1 AND org_id = $2")
            .bind(account_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM accounts WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE account_id = $1)",
        )
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn count_owners(&self, org_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM memberships WHERE org_id = $1 AND role = 'owner'",
        )
        .bind(org_id)
        .fetch_one(self.pool())
        .await?;
        get(&row, "n")
    }
}
