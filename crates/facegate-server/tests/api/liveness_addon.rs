//! The service on the `auto` pack with `minifasnet` installed: `auto` is
//! `yunet` (or `default`), neither of which ships a liveness model, yet
//! `/liveness` and the `reject` policy use MiniFASNet from the add-on
//! instead of answering "no liveness model". Skips when `minifasnet` or
//! `../shared` is missing.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::*;

fn sample(shared: &Path, file: &str) -> Vec<u8> {
    let p = shared.join("datasets/liveness/silent-face").join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

async fn raw(srv: &TestServer, path: &str, auth: &Auth, bytes: Vec<u8>) -> (StatusCode, Value) {
    let resp = srv
        .req(Method::POST, path, auth)
        .header("Content-Type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    read(resp).await
}

async fn auto_pack_liveness(db: Db) {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP liveness add-on: ../shared (test images) is not present");
        return;
    };
    // `facegate_models::pack::LIVENESS_ADDON` (not a dependency of this crate).
    let addon = "minifasnet";
    if !models_dir()
        .join("packs")
        .join(addon)
        .join("lock.json")
        .is_file()
    {
        eprintln!(
            "SKIP liveness add-on: pack {addon} is not installed in {}",
            models_dir().display()
        );
        return;
    }
    let Some(srv) = TestServer::start(db, true, |c| c.pack = "auto".into()).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP liveness add-on: no pack for `auto` in {}",
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    assert!(
        srv.state()
            .engine
            .as_ref()
            .is_some_and(|e| e.liveness_threshold().is_some()),
        "`auto` serves a liveness model"
    );
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let (_, key) = srv
        .api_key(
            &org,
            "operator",
            &["read", "recognize", "attendance", "access"],
        )
        .await;
    let k = Auth::Key(key);

    let (s, live) = raw(&srv, "/liveness", &k, sample(&shared, "image_T1.jpg")).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    assert_eq!(live["message"], "live", "{live}");
    let score = live["liveness_score"].as_f64().expect("a score");
    assert!(score >= live["threshold"].as_f64().unwrap(), "{live}");
    let (s, print) = raw(&srv, "/liveness", &k, sample(&shared, "image_F1.jpg")).await;
    assert_eq!(s, StatusCode::OK, "{print}");
    assert_eq!(print["message"], "spoof", "a printed photo: {print}");

    // The `reject` policy refuses the printed photo at the kiosk, even for
    // the person it shows (enrolled from it: enrolment applies no liveness).
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({"settings": {"liveness_policy": "reject", "min_interval_seconds": 0}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let person = srv.person(&org, "p1", "Pat").await;
    let (s, b) = srv
        .post_image(
            &format!("/api/v1/people/{person}/templates"),
            &org.owner,
            sample(&shared, "image_F1.jpg"),
            "face.jpg",
            "image/jpeg",
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, main) = raw(&srv, "/main", &k, sample(&shared, "image_F1.jpg")).await;
    assert_eq!(s, StatusCode::OK, "{main}");
    assert_eq!(main["decision"], "match", "{main}");
    assert!(main["liveness_score"].is_number(), "{main}");
    assert_eq!(
        (
            main["attendance"]["recorded"].as_bool(),
            main["attendance"]["reason"].as_str()
        ),
        (Some(false), Some("liveness")),
        "{main}"
    );
    srv.stop().await;
}

both_backends!(auto_pack_liveness_tests, auto_pack_liveness);
