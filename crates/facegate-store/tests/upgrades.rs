//! Upgrades from every earlier schema: a database is migrated to version k
//! (each k below the latest), filled with one row per table that schema
//! has, then opened by `Store::connect`, which applies the rest; every row
//! must still be there with its values, and the gallery must load the
//! template. On SQLite and, when one answers, PostgreSQL.

mod common;

use std::time::Duration;

use facegate_store::migrations::{self, MigrationStatus};
use facegate_store::{Backend, Store};
use sqlx::{AnyPool, Row};

const ORG: &str = "00000000-0000-4000-8000-000000000001";
const ACCOUNT: &str = "00000000-0000-4000-8000-000000000002";
const PERSON: &str = "00000000-0000-4000-8000-000000000003";
const DEVICE: &str = "00000000-0000-4000-8000-000000000004";
const T0: i64 = 1_767_225_600_000;

/// A unit embedding as the store writes it (little-endian f32).
fn embedding_bytes() -> Vec<u8> {
    let v = [0.6f32, 0.8, 0.0, 0.0];
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

async fn exec(pool: &AnyPool, sql: &str) {
    sqlx::query(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// One row per table of schema `version`, written as that schema's
/// columns (never through the current repository code, which expects
/// the latest schema).
async fn fill(pool: &AnyPool, version: i64) {
    exec(pool, &format!(
        "INSERT INTO organisations (id, name, settings, audit_seq, audit_head, created_at, updated_at) \
         VALUES ('{ORG}', 'Upgrade Co', '{{}}', 1, 'head', {T0}, {T0})"
    )).await;
    exec(pool, &format!(
        "INSERT INTO accounts (id, email, name, password_hash, failed_logins, locked_until, disabled, created_at, updated_at) \
         VALUES ('{ACCOUNT}', 'owner@upgrade.test', 'Owner', 'argon2-hash', 2, 0, 0, {T0}, {T0})"
    )).await;
    exec(pool, &format!(
        "INSERT INTO memberships (account_id, org_id, role, created_at) VALUES ('{ACCOUNT}', '{ORG}', 'owner', {T0})"
    )).await;
    exec(pool, &format!(
        "INSERT INTO refresh_tokens (id, token_hash, family_id, account_id, org_id, expires_at, created_at) \
         VALUES ('rt1', 'token-hash', 'family', '{ACCOUNT}', '{ORG}', {}, {T0})",
        T0 + 1000
    )).await;
    exec(
        pool,
        &format!(
            "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, role, scopes, created_at) \
         VALUES ('key1', '{ORG}', 'kiosk', 'fg_abc', 'key-hash', 'device', '[]', {T0})"
        ),
    )
    .await;
    exec(pool, &format!(
        "INSERT INTO devices (id, org_id, name, kind, location, enabled, created_at, updated_at) \
         VALUES ('{DEVICE}', '{ORG}', 'Front door', 'door', 'Lobby', 1, {T0}, {T0})"
    )).await;
    exec(pool, &format!(
        "INSERT INTO people (id, org_id, external_id, name, department, email, status, created_at, updated_at) \
         VALUES ('{PERSON}', '{ORG}', 'E-1', 'Ada Lovelace', 'R&D', 'ada@upgrade.test', 'active', {T0}, {T0})"
    )).await;
    exec(pool, &format!(
        "INSERT INTO schedules (id, org_id, name, person_id, device_id, weekdays, start_minute, end_minute, created_at) \
         VALUES ('s1', '{ORG}', 'Day', '{PERSON}', '{DEVICE}', 31, 480, 1080, {T0})"
    )).await;
    sqlx::query(
        "INSERT INTO templates (id, org_id, person_id, model_id, dim, embedding, quality, status, created_at) \
         VALUES ('t1', $1, $2, 'model#1', 4, $3, 0.9, 'active', $4)",
    )
    .bind(ORG)
    .bind(PERSON)
    .bind(embedding_bytes())
    .bind(T0)
    .execute(pool)
    .await
    .unwrap();
    exec(pool, &format!(
        "INSERT INTO attendance (id, org_id, person_id, ts, day, kind, confidence, device_id, source, created_at) \
         VALUES ('a1', '{ORG}', '{PERSON}', {T0}, '2026-01-01', 'in', 0.75, '{DEVICE}', 'api', {T0})"
    )).await;
    exec(pool, &format!(
        "INSERT INTO access_log (id, org_id, seq, ts, action, decision, reason, person_id, device_id, prev_hash, hash) \
         VALUES ('l1', '{ORG}', 1, {T0}, 'face', 'granted', 'match', '{PERSON}', '{DEVICE}', '', 'head')"
    )).await;
    if version >= 2 {
        exec(pool, &format!(
            "INSERT INTO spoof_events (id, org_id, occurred_at, device_id, person_id, score, threshold, action, source, created_at) \
             VALUES ('sp1', '{ORG}', {T0}, '{DEVICE}', '{PERSON}', 0.1, 0.5, 'reject', 'api', {T0})"
        )).await;
    }
    if version >= 4 {
        exec(pool, &format!(
            "INSERT INTO cameras (id, org_id, name, source_url, rtsp_transport, device_id, purpose, detection_fps, \
             min_face_px, min_sharpness, cooldown_s, enabled, created_at, updated_at) \
             VALUES ('c1', '{ORG}', 'Gate', 'rtsp://u:p@10.0.0.9/s', 'tcp', '{DEVICE}', 'access', 5.0, 36, 5.0, 30, 0, {T0}, {T0})"
        )).await;
    }
}

/// The rows [`fill`] wrote, read back after the upgrade.
async fn check(store: &Store, version: i64) {
    let pool = store.pool();
    let one = move |sql: &'static str| async move {
        sqlx::query(sql)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("from version {version}: {sql}: {e}"))
    };
    let r = one("SELECT name, audit_seq, audit_head FROM organisations").await;
    assert_eq!(r.get::<String, _>(0), "Upgrade Co");
    assert_eq!(r.get::<i64, _>(1), 1);
    assert_eq!(r.get::<String, _>(2), "head");
    let r = one("SELECT email, name, password_hash, failed_logins FROM accounts").await;
    assert_eq!(r.get::<String, _>(0), "owner@upgrade.test");
    assert_eq!(r.get::<String, _>(2), "argon2-hash");
    assert_eq!(r.get::<i64, _>(3), 2);
    let r = one("SELECT account_id, org_id, role FROM memberships").await;
    assert_eq!(r.get::<String, _>(2), "owner", "from version {version}");
    let r = one("SELECT token_hash, family_id, account_id FROM refresh_tokens").await;
    assert_eq!(
        r.get::<String, _>(0),
        "token-hash",
        "from version {version}"
    );
    assert_eq!(r.get::<String, _>(2), ACCOUNT);
    let r = one("SELECT name, key_hash, role FROM api_keys").await;
    assert_eq!(r.get::<String, _>(1), "key-hash");
    let r = one("SELECT name, kind, location FROM devices").await;
    assert_eq!(r.get::<String, _>(0), "Front door");
    let r = one("SELECT external_id, name, department, status FROM people").await;
    assert_eq!(r.get::<String, _>(1), "Ada Lovelace");
    assert_eq!(r.get::<String, _>(2), "R&D");
    let r = one("SELECT weekdays, start_minute, end_minute FROM schedules").await;
    assert_eq!(
        (r.get::<i64, _>(0), r.get::<i64, _>(1), r.get::<i64, _>(2)),
        (31, 480, 1080)
    );
    let r = one("SELECT embedding, quality FROM templates").await;
    assert_eq!(r.get::<Vec<u8>, _>(0), embedding_bytes());
    assert_eq!(store.gallery().total(), 1, "the template is searchable");
    let r = one("SELECT day, kind, confidence FROM attendance").await;
    assert_eq!(r.get::<String, _>(0), "2026-01-01");
    assert!((r.get::<f64, _>(2) - 0.75).abs() < 1e-9);
    let r = one("SELECT seq, decision, hash FROM access_log").await;
    assert_eq!(r.get::<String, _>(2), "head");
    if version >= 2 {
        let r = one("SELECT action, threshold FROM spoof_events").await;
        assert_eq!(r.get::<String, _>(0), "reject");
    }
    if version >= 4 {
        let r = one("SELECT name, source_url, enabled FROM cameras").await;
        assert_eq!(r.get::<String, _>(1), "rtsp://u:p@10.0.0.9/s");
    }
    // Through the repositories as well: what the service reads.
    let org = store.get_org(ORG).await.unwrap();
    assert_eq!(org.name, "Upgrade Co");
    let person = store.get_person(ORG, PERSON).await.unwrap();
    assert_eq!(person.name, "Ada Lovelace");
}

/// Upgrade from every earlier version on the database `url` names; `fresh`
/// gives a new empty database for each.
async fn upgrade_from_every_version<F, Fut>(backend: Backend, mut fresh: F)
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let known = migrations::known_migrations(backend);
    let latest = known.last().unwrap().version;
    assert!(latest >= 5, "{known:?}");
    for m in &known[..known.len() - 1] {
        let url = fresh(m.version).await;
        let pool = migrations::connect_plain(&url, Duration::from_secs(10))
            .await
            .unwrap();
        let applied = migrations::migrate_up_to(&pool, backend, m.version)
            .await
            .unwrap();
        assert_eq!(applied.last().map(|a| a.version), Some(m.version));
        fill(&pool, m.version).await;
        let status: MigrationStatus = migrations::status(&pool, backend).await.unwrap();
        assert_eq!(status.applied.len() as i64, m.version);
        assert!(!status.pending.is_empty() && status.unknown.is_empty());
        pool.close().await;

        let store = Store::connect(&url, 2)
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: upgrading from version {}: {e}", m.version));
        check(&store, m.version).await;
        let after = migrations::status(store.pool(), backend).await.unwrap();
        assert!(after.is_current(), "{after:?}");
        assert_eq!(after.applied.last().map(|a| a.version), Some(latest));
        store.close().await;
    }
}

#[tokio::test]
async fn sqlite_upgrades_from_every_earlier_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    upgrade_from_every_version(Backend::Sqlite, |version| {
        let dir = base.join(format!("v{version}"));
        async move {
            std::fs::create_dir_all(&dir).unwrap();
            facegate_store::sqlite_url_for_dir(&dir)
        }
    })
    .await;
}

#[tokio::test]
async fn postgres_upgrades_from_every_earlier_schema() {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let admin_url = common::pg_admin_url();
    if sqlx::AnyConnection::connect(&admin_url).await.is_err() {
        eprintln!("SKIP postgres: no server at {admin_url}");
        return;
    }
    let base = admin_url.rsplit_once('/').unwrap().0.to_string();
    // Dropped when the test ends, passed or failed: each drops its database.
    let guards: std::sync::Arc<parking_lot::Mutex<Vec<common::PgGuard>>> = Default::default();
    let made = guards.clone();
    upgrade_from_every_version(Backend::Postgres, move |version| {
        let admin_url = admin_url.clone();
        let base = base.clone();
        let made = made.clone();
        async move {
            let name = format!(
                "upgrade_v{version}_{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            );
            let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            made.lock().push(common::PgGuard::new(name.clone()));
            format!("{base}/{name}")
        }
    })
    .await;
    drop(guards);
}
