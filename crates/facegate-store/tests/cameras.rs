//! The camera and camera-event repositories against SQLite and (when
//! reachable) PostgreSQL: CRUD, nullable overrides, filters, paging, crops
//! and tenant isolation.

mod common;

use common::{pg_store, sqlite_store};
use facegate_store::*;

fn fields(name: &str) -> CameraFields {
    CameraFields {
        name: name.into(),
        source_url: "rtsp://admin:secret@10.0.0.5:554/Streaming/Channels/101".into(),
        rtsp_transport: "tcp".into(),
        device_id: None,
        purpose: "attendance".into(),
        detection_fps: 5.0,
        min_face_px: 36,
        min_sharpness: 5.0,
        fpir: None,
        match_threshold: None,
        cooldown_s: 30,
        enabled: true,
    }
}

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
    let foreign_door = store
        .create_device(&other.id, "Door", "door", "", true)
        .await
        .unwrap();

    let mut f = fields("Lobby");
    f.device_id = Some(door.id.clone());
    let lobby = store.create_camera(&org.id, &f).await.unwrap();
    assert_eq!(lobby.fields, f);
    // A name is unique per organisation, not across them.
    assert!(matches!(
        store.create_camera(&org.id, &fields("Lobby")).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_camera(&other.id, &fields("Lobby"))
        .await
        .unwrap();
    // Another organisation's device cannot be linked.
    let mut bad = fields("Gate");
    bad.device_id = Some(foreign_door.id.clone());
    assert!(matches!(
        store.create_camera(&org.id, &bad).await,
        Err(StoreError::NotFound(_))
    ));

    // Overrides: NULL, then values, then NULL again (the `Any` float NULL case).
    let mut g = fields("Gate");
    g.purpose = "access".into();
    g.enabled = false;
    let gate = store.create_camera(&org.id, &g).await.unwrap();
    g.fpir = Some(0.01);
    g.match_threshold = Some(0.42);
    let updated = store.update_camera(&org.id, &gate.id, &g).await.unwrap();
    assert_eq!(updated.fields.fpir, Some(0.01));
    assert_eq!(updated.fields.match_threshold, Some(0.42));
    g.fpir = None;
    let updated = store.update_camera(&org.id, &gate.id, &g).await.unwrap();
    assert_eq!(updated.fields.fpir, None);
    assert!(matches!(
        store.update_camera(&other.id, &gate.id, &g).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_camera(&other.id, &lobby.id).await,
        Err(StoreError::NotFound(_))
    ));
    let names: Vec<String> = store
        .list_cameras(&org.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.fields.name)
        .collect();
    assert_eq!(names, ["Gate", "Lobby"]);
    // Enabled cameras of every organisation (boot).
    let enabled = store.list_enabled_cameras().await.unwrap();
    assert_eq!(enabled.len(), 2);
    assert!(enabled.iter().all(|c| c.fields.enabled));

    // Events.
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
    let ids: Vec<String> = (0..3)
        .map(|i| format!("00000000-0000-4000-8000-00000000000{i}"))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let person = (i < 2).then_some(ada.id.as_str());
        store
            .insert_camera_event(
                &org.id,
                &NewCameraEvent {
                    id,
                    camera_id: &lobby.id,
                    track_id: i as i64,
                    kind: if person.is_some() {
                        "person"
                    } else {
                        "unknown"
                    },
                    decision: if person.is_some() { "match" } else { "unknown" },
                    person_id: person,
                    score: if i == 0 { None } else { Some(0.61) },
                    operating_point: "{}",
                    liveness: None,
                    latency_ms: 420.0,
                    outcome: None,
                    payload: &format!("{{\"n\":{i}}}"),
                    crop: (i == 2).then_some(&b"jpeg"[..]),
                    embedding: None,
                    occurred_at: 1_000 + i as i64,
                },
            )
            .await
            .unwrap();
    }
    // Another organisation cannot write to this camera.
    assert!(matches!(
        store
            .insert_camera_event(
                &other.id,
                &NewCameraEvent {
                    id: "00000000-0000-4000-8000-000000000009",
                    camera_id: &lobby.id,
                    track_id: 9,
                    kind: "unknown",
                    decision: "unknown",
                    person_id: None,
                    score: None,
                    operating_point: "{}",
                    liveness: None,
                    latency_ms: 1.0,
                    outcome: None,
                    payload: "{}",
                    crop: None,
                    embedding: None,
                    occurred_at: 1,
                },
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    let all = CameraEventFilter {
        limit: 50,
        ..Default::default()
    };
    let (items, total) = store.list_camera_events(&org.id, &all).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(items[0].payload, "{\"n\":2}", "newest first");
    assert!(items[0].has_crop && !items[1].has_crop);
    let (items, total) = store
        .list_camera_events(
            &org.id,
            &CameraEventFilter {
                person_id: Some(ada.id.clone()),
                kind: Some("person".into()),
                camera_id: Some(lobby.id.clone()),
                since: Some(1_001),
                until: Some(1_001),
                limit: 10,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!((items.len(), total), (1, 1));
    let (items, total) = store
        .list_camera_events(
            &org.id,
            &CameraEventFilter {
                limit: 1,
                offset: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((items.len(), total), (1, 3));
    let (_, total) = store.list_camera_events(&other.id, &all).await.unwrap();
    assert_eq!(total, 0);
    assert_eq!(
        store.camera_event_crop(&org.id, &ids[2]).await.unwrap(),
        Some(b"jpeg".to_vec())
    );
    assert_eq!(
        store.camera_event_crop(&org.id, &ids[0]).await.unwrap(),
        None
    );
    assert!(store.camera_event_crop(&other.id, &ids[2]).await.is_err());

    // Deleting the camera or the person keeps the events without the reference;
    // deleting the device unlinks the camera.
    store.delete_device(&org.id, &door.id).await.unwrap();
    assert_eq!(
        store
            .get_camera(&org.id, &lobby.id)
            .await
            .unwrap()
            .fields
            .device_id,
        None
    );
    store.delete_person(&org.id, &ada.id).await.unwrap();
    assert!(matches!(
        store.delete_camera(&other.id, &lobby.id).await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_camera(&org.id, &lobby.id).await.unwrap();
    let (items, total) = store.list_camera_events(&org.id, &all).await.unwrap();
    assert_eq!(total, 3);
    assert!(
        items
            .iter()
            .all(|e| e.camera_id.is_none() && e.person_id.is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_cameras() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path(), 4).await;
    exercise(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_cameras() {
    let Some((store, _guard)) = pg_store("fg_cameras", 4).await else {
        return;
    };
    exercise(&store).await;
    store.close().await;
}
