//! Open-set identification with the organisation's default settings: the
//! threshold follows from a target FPIR, the pack's FAR curve and the number
//! of people enrolled, and every answer says so. Regression for the field
//! report: with face_recognition's five knn_examples people enrolled, a
//! stranger in face-api.js's `faces.jpg` and in insightface's `t1.jpg` was
//! named as `alex_lacamoire`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::*;

async fn identify(srv: &TestServer, auth: &Auth, bytes: Vec<u8>) -> Value {
    let (s, b) = srv
        .post_image(
            "/api/v1/recognition/identify",
            auth,
            bytes,
            "probe.jpg",
            "image/jpeg",
            &[("top_k", "3")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn settings(srv: &TestServer, org: &Org, settings: Value) -> (StatusCode, Value) {
    srv.call(
        Method::PATCH,
        "/api/v1/organisations/current",
        &org.owner,
        Some(json!({ "settings": settings })),
    )
    .await
}

async fn scenario(db: Db) {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP open-set identification: ../shared (test images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(db, true, |_| {}).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP open-set identification: model pack {:?} is not installed in {}",
            srv.state().config.pack,
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Door", "owner@door.test").await;
    let op = srv.member(&org, "op@door.test", "operator").await;
    let knn = shared.join("datasets/peers/face_recognition/examples/knn_examples");
    let read = |p: std::path::PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));

    // The five knn_examples people, one photo each.
    for (who, file) in [
        ("alex_lacamoire", "img1.jpg"),
        ("biden", "biden.jpg"),
        ("kit_harington", "john1.jpeg"),
        ("obama", "obama.jpg"),
        ("rose_leslie", "img1.jpg"),
    ] {
        let id = srv.person(&org, who, who).await;
        let (s, b) = srv
            .post_image(
                &format!("/api/v1/people/{id}/templates"),
                &op,
                read(knn.join("train").join(who).join(file)),
                file,
                "image/jpeg",
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "enrol {who}: {b}");
    }

    // The operating point is explained: FPIR 1e-3 over 5 people.
    let b = identify(&srv, &op, read(knn.join("test/obama1.jpg"))).await;
    let point = &b["operating_point"];
    assert_eq!(point["source"], "fpir", "{b}");
    assert_eq!(point["fpir"], 0.001, "{b}");
    assert_eq!(point["gallery_size"], 5, "{b}");
    let far = point["far"].as_f64().unwrap();
    assert!((far - 2e-4).abs() < 1e-6, "FAR = 1-(1-FPIR)^(1/5): {b}");
    assert_eq!(b["threshold"], point["threshold"]);
    let threshold = point["threshold"].as_f64().unwrap();
    let pack_threshold = f64::from(srv.state().engine.as_ref().unwrap().match_threshold());
    assert!(
        threshold > pack_threshold,
        "an identification threshold is stricter than the 1:1 best-accuracy one: {threshold} vs {pack_threshold}"
    );
    assert_eq!(b["decision"], "match", "{b}");
    assert_eq!(b["faces"][0]["matches"][0]["external_id"], "obama");

    // Strangers in two group photos are named as nobody.
    for photo in [
        "datasets/peers/face-api.js/test_images/faces.jpg",
        "datasets/peers/insightface/t1.jpg",
    ] {
        let b = identify(&srv, &op, read(shared.join(photo))).await;
        assert!(b["faces_found"].as_u64().unwrap() >= 5, "{photo}: {b}");
        for face in b["faces"].as_array().unwrap() {
            assert_ne!(
                face["decision"], "match",
                "{photo}: a stranger was named: {face}"
            );
        }
        assert_eq!(b["decision"], "no_match", "{photo}");
    }

    // A looser FPIR lowers the threshold; attendance has its own.
    let (s, b) = settings(&srv, &org, json!({"fpir": 0.05, "attendance_fpir": 0.01})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let b = identify(&srv, &op, read(knn.join("test/obama1.jpg"))).await;
    let loose = b["operating_point"]["threshold"].as_f64().unwrap();
    assert!(loose < threshold, "{loose} vs {threshold}");
    assert_eq!(b["operating_point"]["fpir"], 0.05);

    // A fixed organisation threshold wins, and says so.
    let (s, _) = settings(&srv, &org, json!({"fpir": 0.001, "match_threshold": 0.9})).await;
    assert_eq!(s, StatusCode::OK);
    let b = identify(&srv, &op, read(knn.join("test/obama1.jpg"))).await;
    assert_eq!(b["operating_point"]["source"], "organisation", "{b}");
    assert_eq!(b["operating_point"]["fpir"], Value::Null);

    // Bad rates are refused with a message, and change nothing.
    for bad in [
        json!({"fpir": 0.0}),
        json!({"fpir": 1.0}),
        json!({"fpir": -0.1}),
        json!({"attendance_fpir": 0.9}),
        json!({"ambiguity_margin": 0.7}),
        json!({"ambiguity_margin": -0.01}),
    ] {
        let (s, body) = settings(&srv, &org, bad.clone()).await;
        assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("settings."), "{bad}: {body}");
    }

    // Two people enrolled from the same photo are as close as can be: with
    // an ambiguity margin the answer names neither, and access is denied.
    let (s, _) = settings(
        &srv,
        &org,
        json!({"match_threshold": null, "fpir": 0.001, "ambiguity_margin": 0.03}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let twin = srv.person(&org, "obama-twin", "Obama's twin").await;
    let (s, b) = srv
        .post_image(
            &format!("/api/v1/people/{twin}/templates"),
            &op,
            read(knn.join("train/obama/obama.jpg")),
            "obama.jpg",
            "image/jpeg",
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let b = identify(&srv, &op, read(knn.join("test/obama1.jpg"))).await;
    assert_eq!(b["faces"][0]["decision"], "ambiguous", "{b}");
    assert_eq!(b["operating_point"]["gallery_size"], 6);
    let margin = b["operating_point"]["margin"].as_f64().unwrap();
    assert!((margin - 0.03).abs() < 1e-6, "{b}");
    let (s, a) = srv
        .post_image(
            "/api/v1/access/decide",
            &op,
            read(knn.join("test/obama1.jpg")),
            "probe.jpg",
            "image/jpeg",
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["granted"], false, "{a}");
    assert_eq!(a["reason"], "ambiguous", "{a}");
    assert_eq!(a["operating_point"]["source"], "fpir", "{a}");
    srv.stop().await;
}

both_backends!(open_set_identification, scenario);
