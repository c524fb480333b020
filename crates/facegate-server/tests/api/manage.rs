//! Changing schedules (PATCH) and deleting organisations.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::*;

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

async fn patch(srv: &TestServer, path: &str, auth: &Auth, body: Value) -> (StatusCode, Value) {
    srv.call(Method::PATCH, path, auth, Some(body)).await
}

async fn schedule_patch(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let a = srv.init_org("Alpha", "owner@alpha.test").await;
    let b = srv.init_org("Bravo", "owner@bravo.test").await;
    let o = &a.owner;
    let person = srv.ann_with_card(&a).await;
    let device = srv.device(&a, "Door", "door").await;
    let foreign_person = srv.person(&b, "B-1", "Bob").await;
    // Expired, so access is denied by schedule whatever the clock says.
    let (s, sc) = srv
        .post(
            "/api/v1/schedules",
            o,
            json!({"name": "office", "person_id": person, "weekdays": ["mon"], "start": "08:00",
                   "end": "18:00", "valid_from": "2019-01-01", "valid_until": "2020-01-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sc}");
    let id = sc["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/schedules/{id}");
    let (_, decision) = srv
        .post("/api/v1/access/decide", o, json!({"credential": "CARD-A"}))
        .await;
    assert_eq!(decision["reason"], "schedule", "{decision}");

    // Absent fields keep their value.
    let (s, up) = patch(&srv, &path, o, json!({"name": "front office"})).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["name"], "front office");
    for k in [
        "id",
        "org_id",
        "person_id",
        "device_id",
        "weekdays",
        "start_minute",
        "end_minute",
        "valid_from",
        "valid_until",
        "created_at",
    ] {
        assert_eq!(up[k], sc[k], "{k} changed");
    }
    // A value sets, null clears (where clearing means something).
    let (s, up) = patch(&srv, &path, o, json!({"device_id": device})).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["device_id"], device.as_str());
    let (s, up) = patch(
        &srv,
        &path,
        o,
        json!({"person_id": null, "valid_from": null, "weekdays": ["mon", "tuesday", "SUN"]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["person_id"], Value::Null, "null = everyone");
    assert_eq!(up["valid_from"], Value::Null);
    assert_eq!(up["valid_until"], "2020-01-01", "absent = kept");
    assert_eq!(up["device_id"], device.as_str(), "absent = kept");
    assert_eq!(up["weekdays"], 0b100_0011);
    // 00:00 to 24:00 is the whole day, stored as equal minutes.
    let (s, up) = patch(
        &srv,
        &path,
        o,
        json!({"start": "00:00", "end": "24:00", "person_id": person, "device_id": null,
               "valid_until": null, "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(
        (up["start_minute"].clone(), up["end_minute"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(up["person_id"], person.as_str());
    let (_, decision) = srv
        .post("/api/v1/access/decide", o, json!({"credential": "CARD-A"}))
        .await;
    assert_eq!(
        decision["decision"], "granted",
        "the new window applies: {decision}"
    );
    let after_good = srv.get(&path, o).await.1;

    // The checks of create apply to the merged result; nothing is written on failure.
    for (body, status) in [
        (json!({"start": "24:00"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"start": "8am"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"end": "23:60"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"weekdays": []}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"weekdays": ["funday"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"name": ""}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"name": null}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"weekdays": null}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"start": null}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"valid_from": "2026-13-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"valid_from": "2026-02-01", "valid_until": "2026-01-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"nmae": "typo"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"weekdays": "mon"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"person_id": foreign_person}), StatusCode::NOT_FOUND),
        (json!({"person_id": "not-a-uuid"}), StatusCode::NOT_FOUND),
        (json!({"device_id": NO_SUCH_ID}), StatusCode::NOT_FOUND),
    ] {
        let (s, e) = patch(&srv, &path, o, body.clone()).await;
        assert_error(s, &e, status);
        assert!(
            !e["error"]["message"].as_str().unwrap().is_empty(),
            "{body}"
        );
    }
    // valid_until alone, before the stored valid_from: the merge is checked.
    let (s, _) = patch(&srv, &path, o, json!({"valid_from": "2026-03-01"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = patch(&srv, &path, o, json!({"valid_until": "2026-02-01"})).await;
    assert_eq!(
        assert_error(s, &e, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );
    let (s, _) = patch(&srv, &path, o, json!({"valid_from": null})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        srv.get(&path, o).await.1,
        after_good,
        "failed PATCHes wrote nothing"
    );

    // Tenants, ids and roles.
    let (s, e) = patch(&srv, &path, &b.owner, json!({"name": "mine now"})).await;
    assert_error(s, &e, StatusCode::NOT_FOUND);
    let (s, e) = patch(
        &srv,
        &format!("/api/v1/schedules/{NO_SUCH_ID}"),
        o,
        json!({"name": "x"}),
    )
    .await;
    assert_error(s, &e, StatusCode::NOT_FOUND);
    let (s, e) = patch(&srv, "/api/v1/schedules/abc", o, json!({"name": "x"})).await;
    assert_error(s, &e, StatusCode::NOT_FOUND);
    let operator = srv.member(&a, "op@alpha.test", "operator").await;
    let (s, e) = patch(&srv, &path, &operator, json!({"name": "x"})).await;
    assert_error(s, &e, StatusCode::FORBIDDEN);
    let admin = srv.member(&a, "admin@alpha.test", "admin").await;
    let (s, up) = patch(&srv, &path, &admin, json!({"name": "by admin"})).await;
    assert_eq!(s, StatusCode::OK, "{up}");
    let (_, key) = srv.api_key(&a, "admin", &["read"]).await;
    let (s, e) = patch(&srv, &path, &Auth::Key(key), json!({"name": "x"})).await;
    assert_error(s, &e, StatusCode::FORBIDDEN);
    srv.stop().await;
}

both_backends!(schedule_patch_tests, schedule_patch);

async fn delete_org(
    srv: &TestServer,
    id: &str,
    auth: &Auth,
    body: Option<Value>,
) -> (StatusCode, Value) {
    srv.call(
        Method::DELETE,
        &format!("/api/v1/organisations/{id}"),
        auth,
        body,
    )
    .await
}

async fn organisation_delete(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let a = srv.init_org("Alpha", "owner@alpha.test").await;
    let b = srv.init_org("Bravo", "owner@bravo.test").await;
    let person = srv.person(&a, "A-1", "Ann").await;
    srv.person(&b, "B-1", "Bob").await;
    let admin = srv.member(&a, "admin@alpha.test", "admin").await;
    let (_, key) = srv.api_key(&a, "admin", &["admin", "read"]).await;
    let key = Auth::Key(key);
    let (s, _) = srv
        .post(
            "/api/v1/access/decide",
            &a.owner,
            json!({"credential": "A-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let confirm = Some(json!({"confirm": "Alpha"}));

    // Who may not.
    let (s, e) = delete_org(&srv, &a.id, &admin, confirm.clone()).await;
    assert_error(s, &e, StatusCode::FORBIDDEN);
    let (s, e) = delete_org(&srv, &a.id, &key, confirm.clone()).await;
    assert_error(s, &e, StatusCode::FORBIDDEN);
    let (s, e) = delete_org(&srv, &a.id, &b.owner, confirm.clone()).await;
    assert_error(s, &e, StatusCode::NOT_FOUND);
    let (s, e) = delete_org(&srv, &a.id, &Auth::None, confirm.clone()).await;
    assert_error(s, &e, StatusCode::UNAUTHORIZED);
    // Without the right confirmation nothing happens.
    for (body, status, code) in [
        (
            Some(json!({"confirm": "alpha"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirmation_mismatch",
        ),
        (
            Some(json!({"confirm": "Alpha "})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirmation_mismatch",
        ),
        (
            Some(json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Some(json!({"confirm": "Alpha", "force": true})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ] {
        let (s, e) = delete_org(&srv, &a.id, &a.owner, body).await;
        assert_eq!(assert_error(s, &e, status), code);
    }
    let (s, e) = delete_org(&srv, "abc", &a.owner, confirm.clone()).await;
    assert_error(s, &e, StatusCode::NOT_FOUND);
    let (s, e) = delete_org(&srv, NO_SUCH_ID, &a.owner, confirm.clone()).await;
    assert_error(s, &e, StatusCode::NOT_FOUND);
    let (s, p) = srv.get(&format!("/api/v1/people/{person}"), &a.owner).await;
    assert_eq!(s, StatusCode::OK, "still there: {p}");

    // The owner may.
    let (s, body) = delete_org(&srv, &a.id, &a.owner, confirm.clone()).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    // Every credential into Alpha is dead; its only-Alpha accounts are gone.
    for auth in [&a.owner, &admin, &key] {
        let (s, e) = srv.get("/api/v1/people", auth).await;
        assert_error(s, &e, StatusCode::UNAUTHORIZED);
    }
    for email in ["owner@alpha.test", "admin@alpha.test"] {
        let (s, e) = srv.try_login(email, PASSWORD).await;
        assert_error(s, &e, StatusCode::UNAUTHORIZED);
    }
    // Bravo is untouched and the remaining chains verify.
    let (s, people) = srv.get("/api/v1/people", &b.owner).await;
    assert_eq!((s, people["total"].clone()), (StatusCode::OK, json!(1)));
    let report = facegate_server::verify_audit(&srv.state().config)
        .await
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.organisations, 1);

    // An owner of two organisations deletes one from a token for the other,
    // and keeps the account.
    let (s, c) = srv
        .post(
            "/api/v1/organisations",
            &b.owner,
            json!({"name": "Charlie"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let c_id = c["id"].as_str().unwrap().to_string();
    let (s, _) = delete_org(&srv, &c_id, &b.owner, Some(json!({"confirm": "Charlie"}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, me) = srv.get("/api/v1/auth/me", &b.owner).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["organisations"].as_array().unwrap().len(), 1, "{me}");
    srv.stop().await;
}

both_backends!(organisation_delete_tests, organisation_delete);
