//! The spoof-event repository against SQLite and (when reachable) PostgreSQL:
//! insert, filters, paging, snapshots and tenant isolation.

mod common;

use common::{pg_store, sqlite_store};
use facegate_store::*;

async fn exercise(store: &Store) {
    let (org, _) = store
        .init_org_with_owner("Acme", "owner@acme.test", "hash")
        .await
        .unwrap();
    let (other, _) = store
        .init_org_with_owner("Other", "owner@other.test", "hash")
        .await
        .unwrap();
    let door = store
        .create_device(&org.id, "Door", "door", "", true)
        .await
        .unwrap();
    let kiosk = store
        .create_device(&org.id, "Kiosk", "kiosk", "", true)
        .await
        .unwrap();
    let foreign_door = store
        .create_device(&other.id, "Door", "door", "", true)
        .await
        .unwrap();
    let ada = store
        .create_person(
            &org.id,
            &PersonFields {
                external_id: "E1".into(),
                name: "Ada".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let base = NewSpoofEvent {
        occurred_at: 1_000,
        device_id: Some(&door.id),
        person_id: Some(&ada.id),
        score: Some(0.12),
        threshold: 0.5,
        action: SpoofAction::Rejected,
        source: SpoofSource::Access,
        snapshot: Some(b"\xFF\xD8\xFFjpeg bytes"),
    };
    let first = store.insert_spoof_event(&org.id, &base).await.unwrap();
    assert_eq!(first.org_id, org.id);
    assert_eq!(first.device_id.as_deref(), Some(door.id.as_str()));
    assert_eq!(first.person_id.as_deref(), Some(ada.id.as_str()));
    assert_eq!(first.score, Some(0.12));
    assert_eq!(first.threshold, 0.5);
    assert_eq!(
        (first.action, first.source),
        (SpoofAction::Rejected, SpoofSource::Access)
    );
    assert!(first.has_snapshot);
    let second = store
        .insert_spoof_event(
            &org.id,
            &NewSpoofEvent {
                occurred_at: 2_000,
                device_id: Some(&kiosk.id),
                person_id: None,
                score: None,
                action: SpoofAction::Flagged,
                source: SpoofSource::Identify,
                snapshot: None,
                ..base.clone()
            },
        )
        .await
        .unwrap();
    assert!(!second.has_snapshot);
    assert_eq!((second.score, second.person_id.as_deref()), (None, None));
    let third = store
        .insert_spoof_event(
            &org.id,
            &NewSpoofEvent {
                occurred_at: 3_000,
                device_id: None,
                source: SpoofSource::Challenge,
                ..base.clone()
            },
        )
        .await
        .unwrap();

    // Another tenant's device or person is refused, not silently stored.
    assert!(matches!(
        store
            .insert_spoof_event(
                &org.id,
                &NewSpoofEvent {
                    device_id: Some(&foreign_door.id),
                    ..base.clone()
                }
            )
            .await,
        Err(StoreError::NotFound("device"))
    ));
    assert!(matches!(
        store
            .insert_spoof_event(
                &other.id,
                &NewSpoofEvent {
                    device_id: None,
                    ..base.clone()
                }
            )
            .await,
        Err(StoreError::NotFound("person"))
    ));
    assert!(matches!(
        store
            .insert_spoof_event(
                &org.id,
                &NewSpoofEvent {
                    score: Some(f64::NAN),
                    ..base.clone()
                }
            )
            .await,
        Err(StoreError::Invalid(_))
    ));

    let list = |f: SpoofEventFilter| {
        let org_id = org.id.clone();
        async move {
            let (items, total) = store
                .list_spoof_events(
                    &org_id,
                    &SpoofEventFilter {
                        limit: if f.limit == 0 { 50 } else { f.limit },
                        ..f
                    },
                )
                .await
                .unwrap();
            (items.into_iter().map(|e| e.id).collect::<Vec<_>>(), total)
        }
    };
    // Newest first.
    assert_eq!(
        list(SpoofEventFilter::default()).await,
        (
            vec![third.id.clone(), second.id.clone(), first.id.clone()],
            3
        )
    );
    assert_eq!(
        list(SpoofEventFilter {
            from: Some(1_500),
            to: Some(3_000),
            ..Default::default()
        })
        .await,
        (vec![third.id.clone(), second.id.clone()], 2)
    );
    assert_eq!(
        list(SpoofEventFilter {
            device_id: Some(door.id.clone()),
            ..Default::default()
        })
        .await,
        (vec![first.id.clone()], 1)
    );
    assert_eq!(
        list(SpoofEventFilter {
            action: Some(SpoofAction::Flagged),
            ..Default::default()
        })
        .await,
        (vec![second.id.clone()], 1)
    );
    assert_eq!(
        list(SpoofEventFilter {
            source: Some(SpoofSource::Challenge),
            ..Default::default()
        })
        .await,
        (vec![third.id.clone()], 1)
    );
    // Paging keeps the total.
    assert_eq!(
        list(SpoofEventFilter {
            limit: 1,
            offset: 1,
            ..Default::default()
        })
        .await,
        (vec![second.id.clone()], 3)
    );

    // Snapshots: bytes when kept, None when not, NotFound across tenants.
    assert_eq!(
        store
            .spoof_event_snapshot(&org.id, &first.id)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"\xFF\xD8\xFFjpeg bytes"[..])
    );
    assert_eq!(
        store
            .spoof_event_snapshot(&org.id, &second.id)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.spoof_event_snapshot(&other.id, &first.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_spoof_event(&other.id, &first.id).await,
        Err(StoreError::NotFound(_))
    ));
    let (items, total) = store
        .list_spoof_events(
            &other.id,
            &SpoofEventFilter {
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((items.len(), total), (0, 0));

    // Deleting the person or device keeps the event without the reference.
    store.delete_person(&org.id, &ada.id).await.unwrap();
    store.delete_device(&org.id, &door.id).await.unwrap();
    let kept = store.get_spoof_event(&org.id, &first.id).await.unwrap();
    assert_eq!((kept.person_id, kept.device_id), (None, None));
    assert!(kept.has_snapshot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_spoof_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path(), 4).await;
    exercise(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_spoof_events() {
    let Some((store, _guard)) = pg_store("fg_spoof", 4).await else {
        return;
    };
    exercise(&store).await;
    store.close().await;
}
