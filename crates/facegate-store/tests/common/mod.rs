//! Shared set-up for the store's integration tests: a fresh SQLite file or
//! a fresh PostgreSQL database (dropped afterwards, even on a failed
//! assertion), and an embedding from raw values.

// Each test crate uses its own subset of these helpers.
#![allow(dead_code)]

use facegate_core::Embedding;
use facegate_store::{Store, sqlite_url_for_dir};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_admin_url() -> String {
    std::env::var("FACEGATE_TEST_PG").unwrap_or_else(|_| PG_ADMIN.into())
}

/// Drops the test database even when an assertion fails.
pub struct PgGuard(String);

impl PgGuard {
    /// Guard a database the test created itself.
    pub fn new(name: String) -> PgGuard {
        PgGuard(name)
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::AnyConnection::connect(&pg_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A store over a fresh PostgreSQL database named `{prefix}_{pid}_{nanos}`,
/// dropped with the guard; `None` (after a SKIP line) without a server.
pub async fn pg_store(prefix: &str, max_connections: u32) -> Option<(Store, PgGuard)> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = pg_admin_url();
    let Ok(mut admin) = sqlx::AnyConnection::connect(&url).await else {
        eprintln!("SKIP postgres: no server at {url}");
        return None;
    };
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let guard = PgGuard(name.clone());
    let base = url.rsplit_once('/').unwrap().0;
    let store = Store::connect(&format!("{base}/{name}"), max_connections)
        .await
        .unwrap();
    Some((store, guard))
}

/// A store over the SQLite file in `dir`.
pub async fn sqlite_store(dir: &std::path::Path, max_connections: u32) -> Store {
    Store::connect(&sqlite_url_for_dir(dir), max_connections)
        .await
        .unwrap()
}

pub fn emb(v: &[f32]) -> Embedding {
    Embedding::from_raw(v.to_vec()).unwrap()
}
