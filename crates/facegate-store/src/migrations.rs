//! Schema state without changing it: which migrations a database has and
//! which this build would apply (`facegate migrate --dry-run`, `facegate
//! doctor`), and applying them only up to a version (upgrade tests start a
//! database at every earlier schema).
//!
//! Migrations are forward-only: a database is upgraded by applying the
//! migrations it lacks, in order, and a migration file is never edited once
//! released (sqlx refuses a database whose applied checksums differ).

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{AnyPool, Row};

use crate::{Backend, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, StoreError};

/// One migration, as this build knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationInfo {
    pub version: i64,
    pub description: String,
}

/// How a database's schema compares with this build's migrations.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    /// Applied, in version order.
    pub applied: Vec<MigrationInfo>,
    /// Known to this build and not applied yet: what `facegate migrate`
    /// (and `facegate serve` at start) would apply, in order.
    pub pending: Vec<MigrationInfo>,
    /// Applied versions this build does not know: the database was
    /// migrated by a newer facegate, and this one must not serve it.
    pub unknown: Vec<i64>,
    /// Versions whose migration started and did not finish (sqlx marks
    /// them unsuccessful); the schema is in an unknown state.
    pub failed: Vec<i64>,
}

impl MigrationStatus {
    /// The schema is exactly what this build expects.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && self.failed.is_empty()
    }
}

/// The backend a URL names.
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Invalid(
            "database_url must start with sqlite:// or postgres://".into(),
        ))
    }
}

fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// Every migration this build carries for `backend`, in order.
pub fn known_migrations(backend: Backend) -> Vec<MigrationInfo> {
    migrator(backend)
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| MigrationInfo {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect()
}

/// A pool on `url` that neither migrates nor loads anything; connecting
/// gives up after `timeout` (a closed port or a dead host answers quickly
/// either way, a black-holed one would otherwise hang for the pool's 30 s).
pub async fn connect_plain(url: &str, timeout: Duration) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    backend_of(url)?;
    let options = AnyConnectOptions::from_str(url).map_err(StoreError::Database)?;
    AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await
        .map_err(StoreError::Database)
}

/// Compare the database behind `pool` with this build's migrations. Reads
/// only: a database that was never migrated has every migration pending.
pub async fn status(pool: &AnyPool, backend: Backend) -> Result<MigrationStatus, StoreError> {
    let table_query = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()"
        }
    };
    let tables: i64 = sqlx::query(table_query).fetch_one(pool).await?.try_get(0)?;
    let mut rows: Vec<(i64, bool)> = Vec::new();
    if tables > 0 {
        // `success` is a boolean, which the Any driver cannot decode from
        // SQLite: ask for each value in turn and read only versions.
        for (filter, success) in [("success", true), ("NOT success", false)] {
            let query = format!("SELECT version FROM _sqlx_migrations WHERE {filter}");
            for row in sqlx::query(&query).fetch_all(pool).await? {
                rows.push((row.try_get(0)?, success));
            }
        }
        rows.sort_unstable();
    }
    let known = known_migrations(backend);
    let mut status = MigrationStatus {
        applied: Vec::new(),
        pending: Vec::new(),
        unknown: Vec::new(),
        failed: Vec::new(),
    };
    for (version, success) in &rows {
        if !success {
            status.failed.push(*version);
        }
        match known.iter().find(|m| m.version == *version) {
            Some(m) => status.applied.push(m.clone()),
            None => status.unknown.push(*version),
        }
    }
    status.pending = known
        .into_iter()
        .filter(|m| !rows.iter().any(|(v, _)| *v == m.version))
        .collect();
    Ok(status)
}

/// Apply this build's migrations up to and including `version` (all of
/// them with `i64::MAX`), skipping those already applied. Upgrade tests use
/// it to create a database at an earlier schema; `Store::connect` applies
/// the rest.
pub async fn migrate_up_to(
    pool: &AnyPool,
    backend: Backend,
    version: i64,
) -> Result<Vec<MigrationInfo>, StoreError> {
    let mut conn = pool.acquire().await?;
    conn.ensure_migrations_table().await?;
    conn.lock().await?;
    let result = async {
        let applied = conn.list_applied_migrations().await?;
        let mut done = Vec::new();
        for m in migrator(backend).iter() {
            if !m.migration_type.is_up_migration()
                || m.version > version
                || applied.iter().any(|a| a.version == m.version)
            {
                continue;
            }
            conn.apply(m).await?;
            done.push(MigrationInfo {
                version: m.version,
                description: m.description.to_string(),
            });
        }
        Ok::<_, StoreError>(done)
    }
    .await;
    conn.unlock().await?;
    result
}
