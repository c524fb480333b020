//! Repository tests against SQLite and (when reachable) PostgreSQL.

mod common;

use common::{emb, pg_store, sqlite_store};
use facegate_store::*;

async fn exercise(store: &Store) {
    let (org, owner) = store
        .init_org_with_owner("Acme", "owner@acme.test", "hash")
        .await
        .unwrap();
    assert_eq!(
        store.membership_role(&owner.id, &org.id).await.unwrap(),
        Some(Role::Owner)
    );
    let (other, _) = store
        .init_org_with_owner("Other", "owner@other.test", "hash")
        .await
        .unwrap();
    assert!(matches!(
        store.init_org_with_owner("Acme", "x@y.z", "h").await,
        Err(StoreError::Conflict(_))
    ));

    // People, tenant isolation, search.
    let alice = store
        .create_person(
            &org.id,
            &PersonFields {
                external_id: "E1".into(),
                name: "Alice Smith".into(),
                department: "R&D".into(),
                rfid_code: Some("CARD-1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let bob = store
        .create_person(
            &org.id,
            &PersonFields {
                external_id: "E2".into(),
                name: "Bob".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let dup = store
        .create_person(
            &org.id,
            &PersonFields {
                external_id: "E1".into(),
                name: "X".into(),
                ..Default::default()
            },
        )
        .await;
    match dup {
        Err(StoreError::Conflict(m)) => assert!(m.contains("external_id"), "{m}"),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert!(matches!(
        store.get_person(&other.id, &alice.id).await,
        Err(StoreError::NotFound(_))
    ));
    let (found, total) = store
        .list_people(
            &org.id,
            &PeopleFilter {
                q: Some("ALICE".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((found.len(), total), (1, 1));
    let (_, total) = store
        .list_people(
            &org.id,
            &PeopleFilter {
                q: Some("%".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(total, 0, "LIKE wildcards are escaped");
    assert_eq!(
        store
            .find_person_by_credential(&org.id, "CARD-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert!(
        store
            .find_person_by_credential(&other.id, "CARD-1")
            .await
            .unwrap()
            .is_none()
    );

    // Templates and gallery.
    store
        .add_template(&org.id, &alice.id, "m", &emb(&[1.0, 0.0, 0.0]), 0.9, None)
        .await
        .unwrap();
    let t = store
        .add_template(
            &org.id,
            &bob.id,
            "m",
            &emb(&[0.0, 1.0, 0.0]),
            0.8,
            Some(b"img"),
        )
        .await
        .unwrap();
    assert!(t.has_image);
    assert!(matches!(
        store
            .add_template(&other.id, &alice.id, "m", &emb(&[1.0, 0.0, 0.0]), 0.9, None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let hits = store
        .gallery()
        .search(&org.id, "m", &emb(&[0.9, 0.1, 0.0]), 3, &[]);
    assert_eq!(hits[0].person_id, alice.id);
    assert!(
        store
            .gallery()
            .search(&other.id, "m", &emb(&[0.9, 0.1, 0.0]), 3, &[])
            .is_empty()
    );
    assert_eq!(store.reload_gallery().await.unwrap(), 2);
    assert_eq!(
        store.archive_all_templates(&org.id, &bob.id).await.unwrap(),
        1
    );
    assert_eq!(store.gallery().len(&org.id, "m"), 1);
    assert_eq!(store.reload_gallery().await.unwrap(), 1);
    assert_eq!(
        store.list_templates(&org.id, &bob.id).await.unwrap()[0].status,
        "archived"
    );

    // Attendance rules.
    let rules = |ts: i64| AttendanceRules {
        max_per_day: 2,
        min_interval_ms: 60_000,
        day: "2026-01-05".into(),
        ts,
        kind: None,
    };
    let input = AttendanceInput {
        source: "face".into(),
        confidence: Some(0.9),
        ..Default::default()
    };
    let t0 = 1_767_600_000_000;
    let MarkOutcome::Recorded { record, .. } = store
        .mark_attendance(&org.id, &alice.id, &rules(t0), &input)
        .await
        .unwrap()
    else {
        panic!("first record refused")
    };
    assert_eq!(record.kind, "in");
    assert!(matches!(
        store.mark_attendance(&org.id, &alice.id, &rules(t0 + 1000), &input).await.unwrap(),
        MarkOutcome::Rejected { ref reason, .. } if reason == "min_interval"
    ));
    let MarkOutcome::Recorded { record, .. } = store
        .mark_attendance(&org.id, &alice.id, &rules(t0 + 120_000), &input)
        .await
        .unwrap()
    else {
        panic!("second record refused")
    };
    assert_eq!(record.kind, "out");
    assert!(matches!(
        store.mark_attendance(&org.id, &alice.id, &rules(t0 + 240_000), &input).await.unwrap(),
        MarkOutcome::Rejected { ref reason, .. } if reason == "max_per_day"
    ));
    // Concurrent marks for one person cannot exceed the maximum.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        let (o, p) = (org.id.clone(), bob.id.clone());
        let input = input.clone();
        tasks.push(tokio::spawn(async move {
            let r = AttendanceRules {
                max_per_day: 2,
                min_interval_ms: 0,
                day: "2026-01-05".into(),
                ts: t0 + i,
                kind: None,
            };
            matches!(
                s.mark_attendance(&o, &p, &r, &input).await.unwrap(),
                MarkOutcome::Recorded { .. }
            )
        }));
    }
    let mut recorded = 0;
    for t in tasks {
        recorded += usize::from(t.await.unwrap());
    }
    assert_eq!(recorded, 2);
    let (list, total) = store
        .list_attendance(
            &org.id,
            &AttendanceFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((list.len(), total), (4, 4));
    let summary = store.daily_summary(&org.id, "2026-01-05").await.unwrap();
    assert_eq!(summary.len(), 2);
    let (none, _) = store
        .list_attendance(
            &other.id,
            &AttendanceFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());

    // Audit chain: intact, then tampered.
    store
        .append_audit(
            &other.id,
            &AuditEvent {
                action: "access".into(),
                decision: "denied".into(),
                reason: "unknown_face".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.entries, 13);
    sqlx::query("UPDATE access_log SET reason = 'ok' WHERE org_id = $1 AND seq = 2")
        .bind(&org.id)
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].contains("seq 2"));
    // Removing the last entry, or appending a forged one, is detected too.
    sqlx::query("DELETE FROM access_log WHERE org_id = $1")
        .bind(&other.id)
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&other.id) && p.contains("removed")),
        "{:?}",
        report.problems
    );
    sqlx::query(
        "INSERT INTO access_log (id, org_id, seq, ts, action, decision, reason, prev_hash, hash) \
         VALUES ('forged', $1, 99, 0, 'access', 'granted', 'ok', '', '')",
    )
    .bind(&org.id)
    .execute(store.pool())
    .await
    .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("after the recorded head")),
        "{:?}",
        report.problems
    );

    // Refresh rotation with reuse detection; each row is the session that
    // access tokens are bound to.
    let first_session = store
        .insert_refresh_token("h1", "fam", &owner.id, &org.id, now_ms() + 60_000)
        .await
        .unwrap();
    assert!(
        store
            .session_role(&owner.id, &org.id, &first_session)
            .await
            .unwrap()
            .is_some(),
        "a fresh session is current"
    );
    let second_session = store
        .rotate_refresh_token("h1", "h2", now_ms() + 60_000)
        .await
        .unwrap()
        .unwrap()
        .session_id;
    assert_eq!(
        store
            .session_role(&owner.id, &org.id, &first_session)
            .await
            .unwrap(),
        None,
        "rotation ends the old session"
    );
    assert!(
        store
            .session_role(&owner.id, &org.id, &second_session)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .rotate_refresh_token("h1", "h3", now_ms() + 60_000)
            .await
            .unwrap()
            .unwrap_err(),
        RefreshFailure::Reused
    );
    assert_eq!(
        store
            .session_role(&owner.id, &org.id, &second_session)
            .await
            .unwrap(),
        None,
        "reuse revokes the current session too"
    );
    assert_eq!(
        store
            .rotate_refresh_token("h2", "h4", now_ms() + 60_000)
            .await
            .unwrap()
            .unwrap_err(),
        RefreshFailure::Invalid,
        "the family was revoked"
    );

    // Schedules, devices, API keys.
    let door = store
        .create_device(&org.id, "Front door", "door", "lobby", true)
        .await
        .unwrap();
    let s = Schedule {
        id: String::new(),
        org_id: String::new(),
        name: "office hours".into(),
        person_id: Some(alice.id.clone()),
        device_id: Some(door.id.clone()),
        weekdays: 0b0011111,
        start_minute: 8 * 60,
        end_minute: 18 * 60,
        valid_from: None,
        valid_until: Some("2030-01-01".into()),
        created_at: 0,
    };
    store.create_schedule(&org.id, &s).await.unwrap();
    assert_eq!(
        store
            .schedules_for(&org.id, &alice.id, Some(&door.id))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .schedules_for(&org.id, &alice.id, None)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .schedules_for(&org.id, &bob.id, Some(&door.id))
            .await
            .unwrap()
            .len(),
        0
    );
    let key = store
        .create_api_key(NewApiKey {
            org_id: &org.id,
            name: "kiosk",
            prefix: "fg_abc",
            key_hash: "khash",
            role: Role::Operator,
            scopes: &["recognize".into(), "attendance".into()],
            created_by: Some(&owner.id),
            expires_at: None,
        })
        .await
        .unwrap();
    assert_eq!(key.scopes.len(), 2);
    assert!(store.find_api_key_by_hash("khash").await.unwrap().is_some());
    assert!(matches!(
        store.revoke_api_key(&other.id, &key.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .revoke_api_key(&org.id, &key.id)
            .await
            .unwrap()
            .revoked_at
            .is_some()
    );

    // Deleting a person removes them from the gallery too.
    store.delete_person(&org.id, &alice.id).await.unwrap();
    assert!(
        store
            .gallery()
            .search(&org.id, "m", &emb(&[1.0, 0.0, 0.0]), 3, &[])
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path(), 4).await;
    assert_eq!(store.backend(), Backend::Sqlite);
    exercise(&store).await;
    store.close().await;
    // Reopening runs migrations idempotently.
    let store = sqlite_store(dir.path(), 2).await;
    assert!(store.verify_audit_chain().await.unwrap().entries > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_repositories() {
    let Some((store, _guard)) = pg_store("fg_store", 4).await else {
        return;
    };
    assert_eq!(store.backend(), Backend::Postgres);
    exercise(&store).await;
    store.close().await;
}
