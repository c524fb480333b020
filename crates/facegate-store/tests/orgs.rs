//! Deleting an organisation, updating schedules, and optional floats after
//! NULLs, on SQLite and (when reachable) PostgreSQL.

mod common;

use common::{emb, pg_store, sqlite_store};
use facegate_store::*;
use sqlx::Row;

/// Every table with an `org_id` column, read from the catalogue so that a
/// table added by a later migration is checked too.
async fn tenant_tables(store: &Store) -> Vec<String> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT m.name AS t FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'org_id' ORDER BY m.name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.columns \
             WHERE column_name = 'org_id' AND table_schema = current_schema() ORDER BY 1"
        }
    };
    sqlx::query(sql)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("t"))
        .collect()
}

async fn rows_of(store: &Store, table: &str, org_id: &str) -> i64 {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM {table} WHERE org_id = $1"
    ))
    .bind(org_id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    row.get::<i64, _>("n")
}

/// Fill an organisation with one of everything it can own.
async fn populate(store: &Store, org_id: &str, owner_id: &str, tag: &str) -> Person {
    let person = store
        .create_person(
            org_id,
            &PersonFields {
                external_id: format!("E-{tag}"),
                name: format!("Person {tag}"),
                rfid_code: Some(format!("CARD-{tag}")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .add_template(
            org_id,
            &person.id,
            "m",
            &emb(&[1.0, 0.0, 0.0]),
            0.9,
            Some(b"img"),
        )
        .await
        .unwrap();
    let device = store
        .create_device(org_id, &format!("Door {tag}"), "door", "", true)
        .await
        .unwrap();
    store
        .create_schedule(
            org_id,
            &Schedule {
                id: String::new(),
                org_id: String::new(),
                name: "office hours".into(),
                person_id: Some(person.id.clone()),
                device_id: Some(device.id.clone()),
                weekdays: 0b1_1111,
                start_minute: 8 * 60,
                end_minute: 18 * 60,
                valid_from: None,
                valid_until: None,
                created_at: 0,
            },
        )
        .await
        .unwrap();
    let outcome = store
        .mark_attendance(
            org_id,
            &person.id,
            &AttendanceRules {
                max_per_day: 5,
                min_interval_ms: 0,
                day: "2026-01-05".into(),
                ts: now_ms(),
                kind: None,
            },
            &AttendanceInput {
                confidence: Some(0.8),
                liveness: None,
                liveness_flagged: false,
                device_id: Some(device.id.clone()),
                source: "api".into(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(outcome, MarkOutcome::Recorded { .. }));
    store
        .append_audit(
            org_id,
            &AuditEvent {
                action: "access".into(),
                decision: "granted".into(),
                reason: "ok".into(),
                person_id: Some(person.id.clone()),
                device_id: Some(device.id.clone()),
                ..AuditEvent::default()
            },
        )
        .await
        .unwrap();
    store
        .insert_spoof_event(
            org_id,
            &NewSpoofEvent {
                occurred_at: now_ms(),
                device_id: Some(&device.id),
                person_id: Some(&person.id),
                score: Some(0.1),
                threshold: 0.5,
                action: SpoofAction::Rejected,
                source: SpoofSource::Access,
                snapshot: Some(b"img"),
            },
        )
        .await
        .unwrap();
    store
        .create_api_key(NewApiKey {
            org_id,
            name: "kiosk",
            prefix: "fgk_test",
            key_hash: &format!("hash-{tag}"),
            role: Role::Operator,
            scopes: &["recognize".to_string()],
            created_by: Some(owner_id),
            expires_at: None,
        })
        .await
        .unwrap();
    store
        .insert_refresh_token(
            &format!("refresh-{tag}"),
            &format!("family-{tag}"),
            owner_id,
            org_id,
            now_ms() + 60_000,
        )
        .await
        .unwrap();
    person
}

async fn delete_org_removes_everything(store: &Store) {
    let (a, owner) = store
        .init_org_with_owner("Alpha", "owner@alpha.test", "hash")
        .await
        .unwrap();
    // The owner also owns Bravo, so their account must survive Alpha.
    let b = store
        .create_org("Bravo", &OrgSettings::default(), &owner.id)
        .await
        .unwrap();
    let only_alpha = store
        .create_member(&a.id, "viewer@alpha.test", "", "hash", Role::Viewer)
        .await
        .unwrap();
    populate(store, &a.id, &owner.id, "a").await;
    let bravo_person = populate(store, &b.id, &owner.id, "b").await;
    assert_eq!(store.gallery().len(&a.id, "m"), 1);
    let tables = tenant_tables(store).await;
    for t in [
        "people",
        "templates",
        "attendance",
        "access_log",
        "api_keys",
        "spoof_events",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} not in {tables:?}");
    }

    let removed = store.delete_org(&a.id).await.unwrap();
    assert_eq!(
        removed,
        OrgDeletion {
            people: 1,
            templates: 1,
            attendance: 1,
            // The attendance mark and the access decision.
            access_log: 2,
            accounts: 1,
        }
    );
    for t in &tables {
        assert_eq!(rows_of(store, t, &a.id).await, 0, "{t} kept Alpha's rows");
    }
    assert!(matches!(
        store.get_org(&a.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.gallery().len(&a.id, "m"), 0, "gallery dropped Alpha");
    assert!(
        store
            .find_account_by_email("viewer@alpha.test")
            .await
            .unwrap()
            .is_none(),
        "an account of Alpha only is deleted"
    );
    let _ = only_alpha;
    assert_eq!(
        store.membership_role(&owner.id, &b.id).await.unwrap(),
        Some(Role::Owner),
        "an account that is also in Bravo stays"
    );
    // Bravo is untouched, its chain included.
    for t in [
        "people",
        "templates",
        "attendance",
        "access_log",
        "schedules",
        "devices",
        "api_keys",
        "refresh_tokens",
        "memberships",
        "spoof_events",
    ] {
        assert!(rows_of(store, t, &b.id).await > 0, "{t} lost Bravo's rows");
    }
    assert_eq!(store.gallery().len(&b.id, "m"), 1);
    store.get_person(&b.id, &bravo_person.id).await.unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.organisations, 1);

    assert!(matches!(
        store.delete_org(&a.id).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn update_schedule_is_scoped(store: &Store) {
    let (a, _) = store
        .init_org_with_owner("Sched A", "a@sched.test", "hash")
        .await
        .unwrap();
    let (b, _) = store
        .init_org_with_owner("Sched B", "b@sched.test", "hash")
        .await
        .unwrap();
    let s = store
        .create_schedule(
            &a.id,
            &Schedule {
                id: String::new(),
                org_id: String::new(),
                name: "weekdays".into(),
                person_id: None,
                device_id: None,
                weekdays: 0b1_1111,
                start_minute: 480,
                end_minute: 1080,
                valid_from: Some("2026-01-01".into()),
                valid_until: None,
                created_at: 0,
            },
        )
        .await
        .unwrap();
    let mut changed = s.clone();
    changed.name = "late shift".into();
    changed.start_minute = 1320;
    changed.end_minute = 360;
    changed.valid_from = None;
    assert!(matches!(
        store.update_schedule(&b.id, &s.id, &changed).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.get_schedule(&a.id, &s.id).await.unwrap().name,
        "weekdays"
    );
    let updated = store.update_schedule(&a.id, &s.id, &changed).await.unwrap();
    assert_eq!(updated.id, s.id);
    assert_eq!(updated.org_id, a.id);
    assert_eq!(updated.created_at, s.created_at);
    assert_eq!(
        (
            updated.name.as_str(),
            updated.start_minute,
            updated.end_minute
        ),
        ("late shift", 1320, 360)
    );
    assert_eq!(updated.valid_from, None);
    assert!(matches!(
        store
            .update_schedule(&a.id, "00000000-0000-4000-8000-000000000000", &changed)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_orgs_and_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path(), 4).await;
    delete_org_removes_everything(&store).await;
    update_schedule_is_scoped(&store).await;
    optional_floats_after_nulls(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_orgs_and_schedules() {
    let Some((store, _guard)) = pg_store("fg_orgs", 4).await else {
        return;
    };
    delete_org_removes_everything(&store).await;
    update_schedule_is_scoped(&store).await;
    store.close().await;
}

/// sqlx 0.8's `Any` driver sends a NULL `f64` to PostgreSQL typed as
/// `float4`, and each connection caches the prepared statement with that
/// type: a later non-null score on the same connection must still work.
async fn optional_floats_after_nulls(store: &Store) {
    let (org, _) = store
        .init_org_with_owner("Floats", "floats@test.test", "hash")
        .await
        .unwrap();
    for score in [None, Some(0.75), None, Some(0.5)] {
        let e = store
            .append_audit(
                &org.id,
                &AuditEvent {
                    action: "access".into(),
                    decision: "denied".into(),
                    reason: "unknown".into(),
                    score,
                    liveness: score,
                    ..AuditEvent::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(e.score, score);
    }
    let person = store
        .create_person(
            &org.id,
            &PersonFields {
                external_id: "F-1".into(),
                name: "F".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for (i, confidence) in [None, Some(0.9), None, Some(0.8)].into_iter().enumerate() {
        let outcome = store
            .mark_attendance(
                &org.id,
                &person.id,
                &AttendanceRules {
                    max_per_day: 10,
                    min_interval_ms: 0,
                    day: "2026-01-06".into(),
                    ts: now_ms() + i as i64,
                    kind: None,
                },
                &AttendanceInput {
                    confidence,
                    liveness: confidence,
                    liveness_flagged: false,
                    device_id: None,
                    source: "api".into(),
                },
            )
            .await
            .unwrap();
        assert!(matches!(outcome, MarkOutcome::Recorded { .. }));
    }
    // A spoof event's score is NULL when the pack has no liveness model.
    for (i, score) in [None, Some(0.25), None, Some(0.125)]
        .into_iter()
        .enumerate()
    {
        let e = store
            .insert_spoof_event(
                &org.id,
                &NewSpoofEvent {
                    occurred_at: now_ms() + i as i64,
                    device_id: None,
                    person_id: Some(&person.id),
                    score,
                    threshold: 0.5,
                    action: SpoofAction::Rejected,
                    source: SpoofSource::Access,
                    snapshot: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(e.score, score);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_optional_floats_after_nulls() {
    // One connection, so every statement meets its cached predecessor.
    let Some((store, _guard)) = pg_store("fg_orgs", 1).await else {
        return;
    };
    optional_floats_after_nulls(&store).await;
    store.close().await;
}
