//! Bad input: every case is a 4xx with a clear message and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::common::*;

async fn bad_input(db: Db) {
    let Some(srv) = TestServer::start(db, false, |c| {
        c.max_body_bytes = 64 * 1024;
    })
    .await
    else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    assert_eq!(people_count(&srv, &org).await, 0);

    // Malformed JSON.
    let resp = srv
        .req(Method::POST, "/api/v1/people", &org.owner)
        .header("Content-Type", "application/json")
        .body("{\"external_id\": \"x\", ")
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::BAD_REQUEST),
        "malformed_json"
    );

    // Unknown field: named in the message.
    let (s, b) = srv
        .post(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": "x", "name": "X", "nmae": "typo"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_body"
    );
    assert!(
        b["error"]["message"].as_str().unwrap().contains("nmae"),
        "{b}"
    );

    // Wrong types.
    let (s, b) = srv
        .post(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": 5, "name": "X"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_body"
    );
    let (s, b) = srv
        .post("/api/v1/people", &org.owner, json!(["not", "an", "object"]))
        .await;
    assert!(s.is_client_error(), "{b}");
    let (s, b) = srv
        .post(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": "x", "name": "X", "status": "retired"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_body"
    );
    assert!(
        b["error"]["message"].as_str().unwrap().contains("retired"),
        "{b}"
    );

    // Empty / over-long / control characters.
    let (s, b) = srv
        .post(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": "  ", "name": "X"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("external_id")
    );
    let (s, b) = srv
        .post(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": "x", "name": "a".repeat(500)}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, b) = srv
        .post(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": "x\u{0}y", "name": "X"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );

    // Wrong content type.
    let resp = srv
        .req(Method::POST, "/api/v1/people", &org.owner)
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        "unsupported_media_type"
    );

    // Huge bodies, JSON and raw.
    let big = "x".repeat(80 * 1024);
    let (s, b) = srv
        .post(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": big, "name": "X"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE),
        "body_too_large"
    );
    let person = srv.person(&org, "P1", "Pat").await;
    let resp = srv
        .req(
            Method::POST,
            &format!("/api/v1/people/{person}/templates"),
            &org.owner,
        )
        .header("Content-Type", "application/octet-stream")
        .body(vec![0u8; 80 * 1024])
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert!(
        s == StatusCode::PAYLOAD_TOO_LARGE || s == StatusCode::SERVICE_UNAVAILABLE,
        "raw oversized image: {s} {b}"
    );
    assert!(b["error"]["code"].is_string());

    // Bad base64 and missing image.
    let (s, b) = srv
        .post(
            &format!("/api/v1/people/{person}/templates"),
            &org.owner,
            json!({"image": "%%% not base64 %%%"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_base64"
    );
    let (s, b) = srv
        .post(
            &format!("/api/v1/people/{person}/templates"),
            &org.owner,
            json!({}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::BAD_REQUEST),
        "missing_image"
    );
    let (s, b) = srv
        .post(
            &format!("/api/v1/people/{person}/templates"),
            &org.owner,
            json!({"image": "aGVsbG8=", "colour": 1}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_body"
    );
    let (s, b) = srv
        .post(
            "/api/v1/recognition/identify?top_k=lots",
            &org.owner,
            json!({"image": "aGVsbG8="}),
        )
        .await;
    assert!(
        s.is_client_error() || s == StatusCode::SERVICE_UNAVAILABLE,
        "{s} {b}"
    );

    // Bad query strings and paths.
    let (s, b) = srv.get("/api/v1/people?page=zero", &org.owner).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::BAD_REQUEST),
        "invalid_query"
    );
    let (s, b) = srv.get("/api/v1/people?per_page=100000", &org.owner).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, b) = srv.get("/api/v1/people?sort=name", &org.owner).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::BAD_REQUEST),
        "invalid_query"
    );
    let (s, b) = srv.get("/api/v1/people/not-a-uuid", &org.owner).await;
    assert_eq!(assert_error(s, &b, StatusCode::NOT_FOUND), "not_found");
    let (s, b) = srv
        .get("/api/v1/attendance?from=yesterday", &org.owner)
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, b) = srv.get("/api/v1/no-such-route", &org.owner).await;
    assert_eq!(assert_error(s, &b, StatusCode::NOT_FOUND), "not_found");
    let (s, b) = srv
        .call(Method::PUT, "/api/v1/people", &org.owner, None)
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::METHOD_NOT_ALLOWED),
        "method_not_allowed"
    );

    // Invalid settings and schedules.
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({"settings": {"timezone": "Mars/Olympus"}})),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({"settings": {"max_per_day": 3}})),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_per_day"),
        "{b}"
    );
    let (s, b) = srv
        .post(
            "/api/v1/schedules",
            &org.owner,
            json!({"name": "s", "weekdays": ["funday"], "start": "08:00", "end": "09:00"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, b) = srv
        .post(
            "/api/v1/schedules",
            &org.owner,
            json!({"name": "s", "weekdays": ["mon"], "start": "25:00", "end": "09:00"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, b) = srv
        .post(
            "/api/v1/accounts",
            &org.owner,
            json!({"email": "a@b.test", "password": "short", "role": "viewer"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, b) = srv
        .post(
            "/api/v1/accounts",
            &org.owner,
            json!({"email": "not an email", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, b) = srv
        .post(
            "/api/v1/api-keys",
            &org.owner,
            json!({"name": "k", "role": "viewer", "scopes": ["everything"]}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );

    // Duplicates are 409 and name the field.
    let (s, b) = srv
        .post(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": "P1", "name": "Again"}),
        )
        .await;
    assert_eq!(assert_error(s, &b, StatusCode::CONFLICT), "conflict");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("external_id"),
        "{b}"
    );

    // Nothing above wrote anything except the one person created on purpose.
    assert_eq!(people_count(&srv, &org).await, 1);
    let (_, keys) = srv.get("/api/v1/api-keys", &org.owner).await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 0);
    let (_, accounts) = srv.get("/api/v1/accounts", &org.owner).await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 1);
    let (_, schedules) = srv.get("/api/v1/schedules", &org.owner).await;
    assert_eq!(schedules["items"].as_array().unwrap().len(), 0);
    let (_, o) = srv.get("/api/v1/organisations/current", &org.owner).await;
    assert_eq!(o["settings"]["timezone"], "UTC");

    srv.stop().await;
}

both_backends!(bad_input_tests, bad_input);

async fn people_count(srv: &TestServer, org: &Org) -> i64 {
    srv.get("/api/v1/people", &org.owner).await.1["total"]
        .as_i64()
        .unwrap()
}
