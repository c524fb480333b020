//! Offline administration used by the CLI: `init` and `audit verify`.

use facegate_store::ChainReport;

use crate::auth::password::{check_password_policy, hash_password_sync};
use crate::config::Config;

/// What `facegate init` created.
#[derive(Debug, Clone)]
pub struct InitReport {
    pub org_id: String,
    pub org_name: String,
    pub account_id: String,
    pub email: String,
}

/// Create the first organisation and its owner. Refuses weak passwords and
/// an email that already has an account.
pub async fn init_organisation(
    config: &Config,
    org: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<InitReport> {
    let org = org.trim();
    if org.is_empty() || org.chars().count() > 200 {
        anyhow::bail!("--org must be 1 to 200 characters");
    }
    let email =
        crate::routes::accounts::check_email(email).map_err(|e| anyhow::anyhow!(e.message))?;
    check_password_policy(password).map_err(|e| anyhow::anyhow!(e.message))?;
    let store = crate::datadir::open_store(config, 2).await?;
    if store.find_account_by_email(&email).await?.is_some() {
        anyhow::bail!("an account with email {email} already exists");
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password_sync(&password))
        .await?
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let (o, a) = store
        .init_org_with_owner(org, &email, &hash)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await;
    Ok(InitReport {
        org_id: o.id,
        org_name: o.name,
        account_id: a.id,
        email: a.email,
    })
}

/// Recompute every organisation's access-log chain.
pub async fn verify_audit(config: &Config) -> anyhow::Result<ChainReport> {
    let store = crate::datadir::open_store(config, 2).await?;
    let report = store.verify_audit_chain().await?;
    store.close().await;
    Ok(report)
}
