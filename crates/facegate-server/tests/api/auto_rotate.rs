//! `auto_rotate` through the service (issue #10, item 4): a photo turned by
//! 90° without an EXIF tag enrols by default (the organisation setting turns
//! images for enrolment), gives no face — not a wrong one — to identify and
//! detect unless the request or the organisation asks for turning, and is
//! then recognised as the person enrolled. Responses report the turn.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::*;

/// `obama2.jpg` turned 90° clockwise, as a JPEG with no EXIF tag, and the
/// upright image's size.
fn turned_obama(shared: &std::path::Path) -> (Vec<u8>, (u32, u32)) {
    let path = shared.join("datasets/peers/face_recognition/test_images/obama2.jpg");
    let upright = image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let turned = image::imageops::rotate90(&upright);
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(turned)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .expect("encode");
    (jpeg, upright.dimensions())
}

async fn raw(srv: &TestServer, path: &str, auth: &Auth, bytes: &[u8]) -> (StatusCode, Value) {
    let resp = srv
        .req(Method::POST, path, auth)
        .header("Content-Type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    read(resp).await
}

async fn scenario(db: Db) {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP auto_rotate: ../shared (test images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(db, true, |_| {}).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP auto_rotate: model pack {:?} is not installed in {}",
            srv.state().config.pack,
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Turned", "owner@turned.test").await;
    let op = srv.member(&org, "op@turned.test", "operator").await;
    let (turned, (w, h)) = turned_obama(&shared);
    let person = srv.person(&org, "obama", "Barack Obama").await;
    let templates = format!("/api/v1/people/{person}/templates");

    // Enrolment turns by default; asked not to, it finds no upright face.
    let (s, b) = raw(
        &srv,
        &format!("{templates}?auto_rotate=false"),
        &op,
        &turned,
    )
    .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = raw(&srv, &templates, &op, &turned).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["face"]["rotation"], 270, "{b}");

    // Recognition does not turn by default: no face rather than a wrong one.
    let (s, b) = raw(&srv, "/api/v1/recognition/identify", &op, &turned).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["decision"], "no_face", "{b}");
    assert_eq!(b["rotation"], 0);
    let (s, b) = raw(&srv, "/api/v1/recognition/detect", &op, &turned).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["faces_found"], 0, "{b}");

    // The request turns it: found, upright size, recognised.
    let (s, b) = raw(
        &srv,
        "/api/v1/recognition/detect?auto_rotate=true",
        &op,
        &turned,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["faces_found"], 1, "{b}");
    assert_eq!(b["rotation"], 270);
    assert_eq!(
        (b["width"].as_u64(), b["height"].as_u64()),
        (Some(w.into()), Some(h.into()))
    );
    let (s, b) = raw(
        &srv,
        "/api/v1/recognition/identify?auto_rotate=true",
        &op,
        &turned,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["decision"], "match", "{b}");
    assert_eq!(b["rotation"], 270);
    assert_eq!(b["faces"][0]["matches"][0]["person_id"], person.as_str());

    // So does the organisation, for every flow.
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({"settings": {"auto_rotate": "always"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, b) = raw(&srv, "/api/v1/recognition/identify", &op, &turned).await;
    assert_eq!(b["decision"], "match", "{b}");

    // A setting it does not know is refused with a reason, not stored.
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({"settings": {"auto_rotate": "sideways"}})),
        )
        .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let message = b["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("sideways"), "{message}");
    srv.stop().await;
}

both_backends!(auto_rotate_flow, scenario);
