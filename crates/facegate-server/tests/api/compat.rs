//! Compatibility routes that need no face engine (the engine ones are in
//! `recognition.rs`).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::common::*;

async fn compat_without_engine(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let (_, key) = srv
        .api_key(
            &org,
            "admin",
            &[
                "read",
                "people",
                "enroll",
                "recognize",
                "attendance",
                "access",
            ],
        )
        .await;
    let k = Auth::Key(key);

    let (s, b) = srv.get("/health", &Auth::None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")));

    // /auth/login/ gives both naming conventions.
    let (s, b) = srv
        .post(
            "/auth/login/",
            &Auth::None,
            json!({"username": "owner@acme.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["access"].is_string() && b["refresh"].is_string() && b["access_token"].is_string());
    let (s, _) = srv
        .post(
            "/auth/login/",
            &Auth::None,
            json!({"username": "owner@acme.test", "password": "nope nope nope"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // /employees/ CRUD by employee id.
    let (s, e) = srv
        .post("/employees/", &k, json!({"employee_id": "E-7", "name": "Eve", "department": "Ops", "rfid_code": "RF-7", "extra": 1}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["employee_id"], "E-7");
    let (s, list) = srv.get("/employees/", &k).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, one) = srv.get("/employees/E-7/", &k).await;
    assert_eq!((s, one["name"].as_str()), (StatusCode::OK, Some("Eve")));
    let (s, upd) = srv
        .call(
            Method::PUT,
            "/employees/E-7/",
            &k,
            Some(json!({"department": "R&D"})),
        )
        .await;
    assert_eq!(
        (s, upd["department"].as_str()),
        (StatusCode::OK, Some("R&D"))
    );
    let (s, _) = srv.get("/employees/nobody/", &k).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // POST /access {user}: credential-only decision, logged.
    let (s, a) = srv.post("/access", &k, json!({"user": "RF-7"})).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["access"], "granted");
    let (s, a) = srv
        .post("/access", &k, json!({"user": "unknown-card"}))
        .await;
    assert_eq!(
        (s, a["access"].as_str(), a["reason"].as_str()),
        (StatusCode::OK, Some("denied"), Some("unknown"))
    );
    let (s, b) = srv.post("/access", &k, json!({})).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY);
    // Suspended people are denied.
    let (s, _) = srv
        .call(
            Method::PATCH,
            "/employees/E-7/",
            &k,
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, a) = srv.post("/access", &k, json!({"user": "RF-7"})).await;
    assert_eq!(a["reason"], "suspended");

    // Template management routes work without the engine.
    let (s, d) = srv.post("/embeddings/delete_all/E-7", &k, json!({})).await;
    assert_eq!((s, d["deleted"].as_u64()), (StatusCode::OK, Some(0)));
    let (s, d) = srv
        .post("/embeddings/archive_all/E-7/", &k, json!({}))
        .await;
    assert_eq!((s, d["archived"].as_u64()), (StatusCode::OK, Some(0)));
    let (s, _) = srv
        .post("/embeddings/delete_all/nobody", &k, json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // /attendance/ lists; credential marking works when faces are not required.
    let (s, _) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({"settings": {"require_face": false}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = srv
        .call(
            Method::PATCH,
            "/employees/E-7/",
            &k,
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, m) = srv
        .post("/attendance/", &k, json!({"credential": "RF-7"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["recorded"], true, "{m}");
    let (s, list) = srv.get("/attendance/", &k).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Compat routes need credentials like everything else.
    let (s, _) = srv.get("/employees/", &Auth::None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = srv
        .post("/access", &Auth::None, json!({"user": "RF-7"}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (s, _) = srv.call(Method::DELETE, "/employees/E-7/", &k, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(
        facegate_server::verify_audit(&srv.state().config)
            .await
            .unwrap()
            .is_ok()
    );
    srv.stop().await;
}

both_backends!(compat_basic, compat_without_engine);
