//! Truncated uploads are refused: a cut JPEG decodes with its lower part
//! filled grey, so without the check it would be detected (200) and enrolled
//! (201) as if whole. Shared images, cut by the test; skips when the pack or
//! `../shared` is missing.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::common::*;

async fn template_count(srv: &TestServer, person: &str, auth: &Auth) -> usize {
    let (s, t) = srv
        .get(&format!("/api/v1/people/{person}/templates"), auth)
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    t["items"].as_array().map_or(0, Vec::len)
}

fn assert_truncated(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(
        assert_error(status, body, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_image",
        "{what}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("truncated"), "{what}: {message}");
}

async fn truncated_uploads(db: Db) {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP truncated uploads: ../shared (test images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(db, true, |_| {}).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP truncated uploads: model pack {:?} is not installed in {}",
            srv.state().config.pack,
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let op = srv.member(&org, "op@acme.test", "operator").await;
    let person = srv.person(&org, "obama", "Barack").await;
    let templates = format!("/api/v1/people/{person}/templates");
    let baseline =
        std::fs::read(shared.join("datasets/peers/face_recognition/test_images/obama.jpg"))
            .expect("obama.jpg");
    // Progressive (SOF2), cut mid-way through its refinement scans.
    let progressive =
        std::fs::read(shared.join("datasets/peers/deepface/dataset/img4.jpg")).expect("img4.jpg");

    for (name, whole) in [("obama.jpg", &baseline), ("img4.jpg", &progressive)] {
        for percent in [40, 75] {
            let cut = whole[..whole.len() * percent / 100].to_vec();
            let what = format!("{name} cut at {percent}%");
            let (s, b) = srv
                .post_image(&templates, &op, cut.clone(), name, "image/jpeg", &[])
                .await;
            assert_truncated(s, &b, &format!("enrol {what}"));
            let (s, b) = srv
                .post_image(
                    "/api/v1/recognition/detect",
                    &op,
                    cut,
                    name,
                    "image/jpeg",
                    &[],
                )
                .await;
            assert_truncated(s, &b, &format!("detect {what}"));
        }
    }
    assert_eq!(
        template_count(&srv, &person, &op).await,
        0,
        "nothing stored from a truncated upload"
    );

    // The whole file enrols, so the refusals above were about the cut.
    let (s, b) = srv
        .post_image(&templates, &op, baseline, "obama.jpg", "image/jpeg", &[])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(template_count(&srv, &person, &op).await, 1);
    srv.stop().await;
}

both_backends!(truncated_upload_tests, truncated_uploads);
