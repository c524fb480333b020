//! Persistence for the facegate service.
//!
//! One schema, two backends: embedded SQLite (WAL) by default and PostgreSQL
//! when the database URL says so. Both go through sqlx's `Any` driver with
//! runtime queries and `$n` placeholders, so every repository function is
//! written once. Column types are restricted to what `Any` carries on both
//! backends: `TEXT`, `BIGINT`, `DOUBLE PRECISION` and blobs. Timestamps are
//! Unix milliseconds, ids are UUID strings.
//!
//! Every query that touches tenant data takes the organisation id and filters
//! on it; there is deliberately no "get by id" that ignores the tenant.
//!
//! Write transactions always begin with a write (usually "touch the row we
//! serialise on"), so that SQLite takes its write lock up front and PostgreSQL
//! locks the row: that is what makes the attendance rules and the audit chain
//! safe under concurrent requests.

mod error;
pub mod gallery;
pub mod import;
pub mod migrations;
pub mod models;
pub mod repo;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

pub use error::StoreError;
pub use gallery::{Gallery, GalleryHit};
pub use models::*;
pub use repo::accounts::MemberUpdate;
pub use repo::api_keys::NewApiKey;
pub use repo::attendance::{AttendanceInput, AttendanceRules, MarkOutcome};
pub use repo::audit::{AuditEvent, ChainReport};
pub use repo::cameras::{Camera, CameraEventFilter, CameraEventRow, CameraFields, NewCameraEvent};
pub use repo::orgs::OrgDeletion;
pub use repo::privacy::PersonPrivacy;
pub use repo::review::{Review, ReviewEvent};
pub use repo::tokens::{RefreshFailure, RefreshGrant};
pub use repo::ui_sessions::UiSession;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The database handle plus the in-memory gallery that mirrors its templates.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    gallery: std::sync::Arc<Gallery>,
}

/// The SQLite URL for a database file in `data_dir`.
pub fn sqlite_url_for_dir(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("facegate.db").display()
    )
}

impl Store {
    /// Connect, run migrations and load the gallery.
    ///
    /// `url` is `sqlite://PATH?mode=rwc` or `postgres://...`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Invalid(
                "database_url must start with sqlite:// or postgres://".into(),
            ));
        };
        let options = AnyConnectOptions::from_str(url).map_err(StoreError::Database)?;
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            // WAL lets readers proceed while one writer holds the lock; the busy
            // timeout makes writers queue instead of failing with SQLITE_BUSY.
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(StoreError::Database)?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let store = Store {
            pool,
            backend,
            gallery: std::sync::Arc::new(Gallery::default()),
        };
        store.reload_gallery().await?;
        Ok(store)
    }

    /// A store over a pool that is neither migrated nor loaded into the
    /// gallery, for tools that only read (`facegate doctor`) and must not
    /// change the schema they are inspecting. Only call repository
    /// functions whose tables the schema already has.
    pub fn without_migrating(pool: AnyPool, backend: Backend) -> Store {
        Store {
            pool,
            backend,
            gallery: std::sync::Arc::new(Gallery::default()),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn gallery(&self) -> &Gallery {
        &self.gallery
    }

    /// Cheap liveness probe of the database for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
