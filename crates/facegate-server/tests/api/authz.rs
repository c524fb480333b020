//! Authorisation matrix: every route × role × foreign organisation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::*;

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    /// Lowest role allowed: 0 viewer, 1 operator, 2 admin, 3 owner.
    min_role: usize,
    /// Whether another organisation's owner must get 404 (resource routes).
    foreign_404: bool,
    /// Allowed callers may get any non-auth status (e.g. 400 for a missing image, 503 without engine).
    loose: bool,
}

fn case(
    method: Method,
    path: &str,
    body: Option<Value>,
    min_role: usize,
    foreign_404: bool,
) -> Case {
    Case {
        method,
        path: path.to_string(),
        body,
        min_role,
        foreign_404,
        loose: false,
    }
}

async fn matrix(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let a = srv.init_org("Alpha", "owner@alpha.test").await;
    let b = srv.init_org("Bravo", "owner@bravo.test").await;
    let roles = [
        srv.member(&a, "viewer@alpha.test", "viewer").await,
        srv.member(&a, "operator@alpha.test", "operator").await,
        srv.member(&a, "admin@alpha.test", "admin").await,
        a.owner.clone(),
    ];
    let person = srv.ann_with_card(&a).await;
    let device = srv.device(&a, "Door", "door").await;
    let (_, sc) = srv
        .post(
            "/api/v1/schedules",
            &a.owner,
            json!({"name": "s", "weekdays": ["mon"], "start": "08:00", "end": "18:00"}),
        )
        .await;
    let schedule = sc["id"].as_str().unwrap().to_string();
    let camera = srv
        .create(
            "/api/v1/cameras",
            &a.owner,
            json!({"name": "Cam", "source_url": "push"}),
        )
        .await;
    let (key_id, _) = srv.api_key(&a, "viewer", &["read"]).await;
    let (_, acc) = srv
        .post(
            "/api/v1/accounts",
            &a.owner,
            json!({"email": "x@alpha.test", "password": PASSWORD, "role": "operator"}),
        )
        .await;
    let account = acc["account"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| acc["id"].as_str().unwrap().to_string());

    let counter = std::cell::Cell::new(0);
    // Unique values for creating routes, so repeated creates do not conflict.
    let fresh = |c: &Case| {
        c.body.clone().map(|mut b| {
            counter.set(counter.get() + 1);
            let n = counter.get();
            if let Some(e) = b.get_mut("external_id") {
                *e = json!(format!("new-{n}"));
            }
            if let Some(e) = b.get_mut("email") {
                *e = json!(format!("new{n}@alpha.test"));
            }
            if (c.path.ends_with("/devices") || c.path.ends_with("/cameras"))
                && let Some(e) = b.get_mut("name")
            {
                *e = json!(format!("dev-{n}"));
            }
            b
        })
    };
    let mut cases = vec![
        case(Method::GET, "/api/v1/people", None, 0, false),
        case(
            Method::POST,
            "/api/v1/people",
            Some(json!({"external_id": "new", "name": "N"})),
            1,
            false,
        ),
        case(
            Method::GET,
            &format!("/api/v1/people/{person}"),
            None,
            0,
            true,
        ),
        case(
            Method::PATCH,
            &format!("/api/v1/people/{person}"),
            Some(json!({"department": "R&D"})),
            1,
            true,
        ),
        case(
            Method::GET,
            &format!("/api/v1/people/{person}/templates"),
            None,
            0,
            true,
        ),
        case(
            Method::DELETE,
            &format!("/api/v1/people/{person}/templates"),
            None,
            1,
            true,
        ),
        case(
            Method::POST,
            &format!("/api/v1/people/{person}/templates/archive"),
            None,
            1,
            true,
        ),
        case(Method::GET, "/api/v1/devices", None, 0, false),
        case(
            Method::POST,
            "/api/v1/devices",
            Some(json!({"name": "D", "kind": "kiosk"})),
            2,
            false,
        ),
        case(
            Method::GET,
            &format!("/api/v1/devices/{device}"),
            None,
            0,
            true,
        ),
        case(
            Method::PATCH,
            &format!("/api/v1/devices/{device}"),
            Some(json!({"location": "lobby"})),
            2,
            true,
        ),
        case(Method::GET, "/api/v1/schedules", None, 0, false),
        case(
            Method::POST,
            "/api/v1/schedules",
            Some(json!({"name": "n", "weekdays": ["tue"], "start": "09:00", "end": "10:00"})),
            2,
            false,
        ),
        case(
            Method::GET,
            &format!("/api/v1/schedules/{schedule}"),
            None,
            0,
            true,
        ),
        case(
            Method::PATCH,
            &format!("/api/v1/schedules/{schedule}"),
            Some(json!({"name": "renamed", "weekdays": ["mon", "fri"]})),
            2,
            true,
        ),
        case(Method::GET, "/api/v1/accounts", None, 2, false),
        case(
            Method::POST,
            "/api/v1/accounts",
            Some(json!({"email": "new@alpha.test", "password": PASSWORD, "role": "viewer"})),
            2,
            false,
        ),
        case(
            Method::PATCH,
            &format!("/api/v1/accounts/{account}"),
            Some(json!({"role": "viewer"})),
            2,
            true,
        ),
        case(Method::GET, "/api/v1/api-keys", None, 2, false),
        case(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "k", "role": "viewer", "scopes": ["read"]})),
            2,
            false,
        ),
        case(
            Method::GET,
            &format!("/api/v1/api-keys/{key_id}"),
            None,
            2,
            true,
        ),
        case(Method::GET, "/api/v1/attendance", None, 0, false),
        case(Method::GET, "/api/v1/attendance/summary", None, 0, false),
        case(Method::GET, "/api/v1/attendance/export.csv", None, 0, false),
        case(Method::GET, "/api/v1/access-log", None, 2, false),
        case(Method::GET, "/api/v1/access-log/verify", None, 2, false),
        case(Method::GET, "/api/v1/organisations/current", None, 0, false),
        case(
            Method::PATCH,
            "/api/v1/organisations/current",
            Some(json!({"settings": {"min_interval_seconds": 30}})),
            2,
            false,
        ),
        case(
            Method::POST,
            "/api/v1/access/decide",
            Some(json!({"credential": "CARD-A"})),
            1,
            false,
        ),
        Case {
            loose: true,
            ..case(
                Method::POST,
                "/api/v1/attendance/mark",
                Some(json!({"kind": "in"})),
                1,
                false,
            )
        },
        case(
            Method::DELETE,
            &format!("/api/v1/schedules/{schedule}"),
            None,
            2,
            true,
        ),
        case(
            Method::DELETE,
            &format!("/api/v1/devices/{device}"),
            None,
            2,
            true,
        ),
        case(
            Method::DELETE,
            &format!("/api/v1/api-keys/{key_id}"),
            None,
            2,
            true,
        ),
        case(
            Method::DELETE,
            &format!("/api/v1/accounts/{account}"),
            None,
            2,
            true,
        ),
        case(
            Method::DELETE,
            &format!("/api/v1/people/{person}"),
            None,
            2,
            true,
        ),
    ];
    cases.push(case(Method::GET, "/api/v1/liveness/events", None, 0, false));
    // Cameras and their events (the SSE feed never ends, so it is checked
    // in `cameras.rs`, not here). Without an engine the live routes answer
    // 503 (snapshot, stream) or 409/503 (frames, ws): allowed, not refused.
    cases.push(case(Method::GET, "/api/v1/cameras", None, 0, false));
    cases.push(case(
        Method::POST,
        "/api/v1/cameras",
        Some(json!({"name": "c", "source_url": "push", "enabled": false})),
        2,
        false,
    ));
    cases.push(case(Method::GET, "/api/v1/events", None, 0, false));
    for (method, sub, min_role, loose) in [
        (Method::GET, "", 0, false),
        (Method::PATCH, "", 2, false),
        (Method::GET, "/status", 0, false),
        (Method::GET, "/snapshot", 0, true),
        (Method::GET, "/stream", 0, true),
        (Method::POST, "/frames", 1, true),
        (Method::GET, "/ws", 1, true),
        (Method::DELETE, "", 2, false),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"cooldown_s": 10}));
        cases.push(Case {
            loose,
            ..case(
                method,
                &format!("/api/v1/cameras/{camera}{sub}"),
                body,
                min_role,
                true,
            )
        });
    }
    for path in [
        "/api/v1/recognition/identify",
        "/api/v1/recognition/verify",
        "/api/v1/recognition/detect",
        // Without an engine: 503 to create, 404 for a challenge nobody issued.
        "/api/v1/liveness/challenges",
        "/api/v1/liveness/challenges/00000000-0000-4000-8000-000000000000",
    ] {
        cases.insert(
            0,
            Case {
                loose: true,
                ..case(Method::POST, path, Some(json!({})), 1, false)
            },
        );
    }
    cases.insert(
        0,
        Case {
            loose: true,
            ..case(
                Method::POST,
                &format!("/api/v1/people/{person}/templates"),
                Some(json!({})),
                1,
                true,
            )
        },
    );

    for c in &cases {
        let what = format!("{} {}", c.method, c.path);
        // No credentials at all.
        let (s, _) = srv
            .call(c.method.clone(), &c.path, &Auth::None, fresh(c))
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what} without credentials");
        // Another organisation's owner.
        let (s, resp) = srv
            .call(c.method.clone(), &c.path, &b.owner, fresh(c))
            .await;
        if c.foreign_404 {
            assert_eq!(
                s,
                StatusCode::NOT_FOUND,
                "{what} by a foreign owner: {resp}"
            );
        } else if c.path.contains("access/decide") {
            assert_eq!(
                resp["decision"], "denied",
                "{what}: another org's card must be unknown: {resp}"
            );
            assert_eq!(resp["reason"], "unknown");
        }
        // Roles, lowest first; destructive routes stop at the first allowed role.
        for (level, auth) in roles.iter().enumerate() {
            let (s, resp) = srv.call(c.method.clone(), &c.path, auth, fresh(c)).await;
            if level < c.min_role {
                assert_eq!(s, StatusCode::FORBIDDEN, "{what} as role {level}: {resp}");
                assert_eq!(resp["error"]["code"], "forbidden");
            } else {
                if c.loose {
                    assert!(
                        s != StatusCode::FORBIDDEN && s != StatusCode::UNAUTHORIZED,
                        "{what} as role {level}: {s} {resp}"
                    );
                } else {
                    assert!(s.is_success(), "{what} as role {level}: {s} {resp}");
                }
                if c.method != Method::GET {
                    break;
                }
            }
        }
    }

    // Lists never show another organisation's rows.
    let (_, people) = srv.get("/api/v1/people", &b.owner).await;
    assert!(
        people["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["external_id"] != "A-1")
    );
    let (_, keys) = srv.get("/api/v1/api-keys", &b.owner).await;
    assert!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != key_id.as_str() && k["org_id"] == b.id.as_str())
    );
    let (_, accounts) = srv.get("/api/v1/accounts", &b.owner).await;
    assert!(
        accounts["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["email"] != "viewer@alpha.test" && a["email"] != "owner@alpha.test"),
        "{accounts}"
    );
    let (_, att) = srv.get("/api/v1/access-log", &b.owner).await;
    assert!(
        att["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["org_id"] == b.id.as_str())
    );

    // Foreign ids inside bodies are not found either (fresh rows: the matrix deleted the others).
    let person = srv.person(&a, "A-2", "Abe").await;
    let device = srv.device(&a, "Gate", "door").await;
    let (s, _) = srv
        .post(
            "/api/v1/attendance/mark",
            &a.owner,
            json!({"device_id": device, "credential": "none"}),
        )
        .await;
    assert_ne!(
        s,
        StatusCode::NOT_FOUND,
        "the device exists for its own organisation"
    );
    let (s, _) = srv
        .post(
            "/api/v1/schedules",
            &b.owner,
            json!({"name": "x", "person_id": person, "weekdays": ["mon"], "start": "08:00", "end": "09:00"}),
        )
        .await;
    assert!(
        s == StatusCode::NOT_FOUND,
        "foreign person in a schedule: {s}"
    );
    let (s, _) = srv
        .post(
            "/api/v1/attendance/mark",
            &b.owner,
            json!({"device_id": device, "credential": "CARD-A"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "foreign device in attendance");

    // Admins cannot create or promote to owner/admin; keys cannot exceed scopes.
    let admin = &roles[2];
    let (s, _) = srv
        .post(
            "/api/v1/accounts",
            admin,
            json!({"email": "o2@alpha.test", "password": PASSWORD, "role": "owner"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = srv
        .post(
            "/api/v1/api-keys",
            &roles[2],
            json!({"name": "k", "role": "owner", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, key) = srv.api_key(&a, "operator", &["read"]).await;
    let (s, b2) = srv
        .post(
            "/api/v1/people",
            &Auth::Key(key.clone()),
            json!({"external_id": "k1", "name": "K"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b2}");
    assert!(b2["error"]["message"].as_str().unwrap().contains("people"));
    let (s, _) = srv.get("/api/v1/people", &Auth::Key(key.clone())).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = srv
        .post(
            "/api/v1/organisations",
            &Auth::Key(key),
            json!({"name": "Z"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "API keys cannot create organisations"
    );
    // The last owner cannot be demoted.
    let (_, me) = srv.get("/api/v1/auth/me", &a.owner).await;
    let owner_id = me["account"]["id"].as_str().unwrap();
    let (s, _) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/accounts/{owner_id}"),
            &a.owner,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    srv.stop().await;
}

both_backends!(authz_matrix, matrix);
