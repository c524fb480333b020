//! Regressions from the seed clients' point of view and the security
//! items that need no face engine: attendance by employee, the OAuth2
//! password form, access by name, the OpenAPI document listing every
//! compatibility route and probe, `null` on every PATCH route, and account
//! creation that does not reveal other organisations' accounts.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::*;

async fn seed_routes(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let (_, key) = srv
        .api_key(&org, "admin", &["read", "people", "attendance", "access"])
        .await;
    let k = Auth::Key(key);

    // The FastAPI seed's OAuth2 password form, on both spellings of the path.
    for path in ["/auth/login/", "/auth/login"] {
        let resp = srv
            .req(Method::POST, path, &Auth::None)
            .form(&[
                ("grant_type", "password"),
                ("username", "owner@acme.test"),
                ("password", PASSWORD),
                ("scope", ""),
            ])
            .send()
            .await
            .unwrap();
        let (s, b) = read(resp).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        assert_eq!(b["token_type"], "Bearer");
        let token = b["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        let (s, _) = srv.get("/employees/", &Auth::Bearer(token)).await;
        assert_eq!(s, StatusCode::OK, "the form's token works");
    }
    let resp = srv
        .req(Method::POST, "/auth/login/", &Auth::None)
        .form(&[("username", "owner@acme.test"), ("password", "wrong wrong")])
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "invalid_credentials"
    );
    let resp = srv
        .req(Method::POST, "/auth/login/", &Auth::None)
        .header("content-type", "text/plain")
        .body("username=owner@acme.test")
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        "unsupported_media_type"
    );

    // GET /attendance/{employee_id}, with and without the trailing slash
    // (marked by card, which needs `require_face` off).
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({"settings": {"require_face": false}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = srv
        .post(
            "/employees/",
            &k,
            json!({"employee_id": "E-1", "name": "Ann Smith", "rfid_code": "CARD-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let ann_id = b["id"].as_str().unwrap().to_string();
    let (s, b) = srv
        .post(
            "/employees/",
            &k,
            json!({"employee_id": "E-2", "name": "Bob"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = srv
        .post("/attendance/", &k, json!({"credential": "CARD-1"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["recorded"], true, "{b}");
    for path in ["/attendance/E-1", "/attendance/E-1/"] {
        let (s, b) = srv.get(path, &k).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        let records = b.as_array().expect("a list");
        assert_eq!(records.len(), 1, "{b}");
        assert_eq!(records[0]["person_id"], ann_id.as_str());
    }
    let (s, b) = srv.get("/attendance/E-2/", &k).await;
    assert_eq!((s, b.as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    let (s, b) = srv.get(&format!("/attendance/{ann_id}"), &k).await;
    assert_eq!((s, b.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (s, b) = srv.get("/attendance/NOBODY/", &k).await;
    assert_eq!(assert_error(s, &b, StatusCode::NOT_FOUND), "not_found");

    // POST /access {user: NAME}: a unique active name is matched (any case),
    // a shared one is denied as ambiguous, and cards still win.
    let (s, b) = srv.post("/access", &k, json!({"user": "ann smith"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (&b["access"], &b["reason"]),
        (&json!("granted"), &json!("ok")),
        "{b}"
    );
    assert_eq!(b["person"]["external_id"], "E-1", "{b}");
    let (s, b) = srv
        .post(
            "/employees/",
            &k,
            json!({"employee_id": "E-3", "name": "Ann Smith"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = srv.post("/access", &k, json!({"user": "Ann Smith"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (&b["access"], &b["reason"]),
        (&json!("denied"), &json!("ambiguous")),
        "{b}"
    );
    assert!(b["person"].is_null(), "nobody is named: {b}");
    let (s, b) = srv.post("/access", &k, json!({"user": "CARD-1"})).await;
    assert_eq!(
        (s, &b["access"]),
        (StatusCode::OK, &json!("granted")),
        "{b}"
    );
    // Only active people are matched by name: suspend one Ann, the other is unique.
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/employees/E-3/",
            &k,
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = srv.post("/access", &k, json!({"user": "Ann Smith"})).await;
    assert_eq!((s, &b["reason"]), (StatusCode::OK, &json!("ok")), "{b}");
    let (s, b) = srv.post("/access", &k, json!({"user": "Nobody"})).await;
    assert_eq!(
        (s, &b["reason"]),
        (StatusCode::OK, &json!("unknown")),
        "{b}"
    );
    // The v1 route does not read names: a credential is a card or an id.
    let (s, b) = srv
        .post("/api/v1/access/decide", &k, json!({"credential": "Bob"}))
        .await;
    assert_eq!(
        (s, &b["reason"]),
        (StatusCode::OK, &json!("unknown")),
        "{b}"
    );
    // Every decision, the ambiguous one included, is in the access log.
    let (s, log) = srv.get("/api/v1/access-log?per_page=50", &org.owner).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "ambiguous"),
        "{log}"
    );

    srv.stop().await;
}

both_backends!(seed_routes_tests, seed_routes);

/// Every PATCH route refuses `null` for a field it cannot clear, instead of
/// answering 200 and keeping the old value.
async fn patch_refuses_null(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let o = &org.owner;
    let person = srv.person(&org, "P-1", "Pat").await;
    let device = srv.device(&org, "Door", "door").await;
    let account = srv
        .create(
            "/api/v1/accounts",
            o,
            json!({"email": "op@acme.test", "password": PASSWORD, "role": "operator"}),
        )
        .await;
    let schedule = srv
        .create(
            "/api/v1/schedules",
            o,
            json!({"name": "Day", "weekdays": ["mon"], "start": "08:00", "end": "18:00"}),
        )
        .await;
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("/api/v1/people/{person}"),
            vec!["name", "external_id", "department", "email", "status"],
        ),
        (
            format!("/api/v1/devices/{device}"),
            vec!["name", "kind", "location", "enabled"],
        ),
        (
            format!("/api/v1/accounts/{account}"),
            vec!["name", "role", "password", "disabled"],
        ),
        (
            "/api/v1/organisations/current".to_string(),
            vec!["name", "settings"],
        ),
        (
            format!("/api/v1/schedules/{schedule}"),
            vec!["name", "weekdays", "start", "end"],
        ),
        (
            "/employees/P-1/".to_string(),
            vec!["name", "employee_id", "status", "is_active"],
        ),
    ];
    for (path, fields) in &cases {
        let (_, before) = srv.get(path, o).await;
        for field in fields {
            let mut body = serde_json::Map::new();
            body.insert(field.to_string(), Value::Null);
            for method in [Method::PATCH]
                .into_iter()
                .chain(path.starts_with("/employees").then_some(Method::PUT))
            {
                let (s, b) = srv
                    .call(method.clone(), path, o, Some(Value::Object(body.clone())))
                    .await;
                assert_eq!(
                    s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{method} {path} {{{field}: null}}: {b}"
                );
                let message = b["error"]["message"].as_str().unwrap_or("");
                assert!(
                    message.contains(field) && message.contains("null"),
                    "{method} {path}: the message names the field: {b}"
                );
            }
        }
        let (_, after) = srv.get(path, o).await;
        assert_eq!(before, after, "{path} changed by a refused PATCH");
    }
    // Where null means "clear", it still does.
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/people/{person}"),
            o,
            Some(json!({"rfid_code": "C-9"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/people/{person}"),
            o,
            Some(json!({"rfid_code": null})),
        )
        .await;
    assert_eq!((s, &b["rfid_code"]), (StatusCode::OK, &Value::Null), "{b}");
    srv.stop().await;
}

both_backends!(patch_null_tests, patch_refuses_null);

/// The document lists the compatibility routes and the probes, and every
/// path it lists is served (no "route not found" for any of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_compat_routes_and_probes() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |_| {}).await else {
        return;
    };
    let (s, doc) = srv.get("/api/v1/openapi.json", &Auth::None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/health", "get"),
        ("/access", "post"),
        ("/enroll", "post"),
        ("/recognize", "post"),
        ("/main", "post"),
        ("/identity", "post"),
        ("/liveness", "post"),
        ("/auth/login/", "post"),
        ("/employees/", "get"),
        ("/employees/{id}/", "patch"),
        ("/attendance/", "post"),
        ("/attendance/{employee_id}/", "get"),
        ("/attendance/{employee_id}", "get"),
        ("/embeddings/enroll/", "post"),
        ("/embeddings/add/", "post"),
        ("/embeddings/delete_all/{id}/", "post"),
        ("/embeddings/archive_all/{id}/", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the document"
        );
    }
    assert_eq!(paths["/healthz"]["get"]["security"], json!([{}]));
    assert!(
        paths["/auth/login/"]["post"]["requestBody"]["content"]
            .get("application/x-www-form-urlencoded")
            .is_some()
    );
    for (path, item) in paths {
        if path.starts_with("/api/v1/") {
            continue;
        }
        let concrete = path
            .replace("{id}", "E-404")
            .replace("{employee_id}", "E-404");
        for (method, _) in item.as_object().unwrap() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = srv.req(m, &concrete, &Auth::None).send().await.unwrap();
            let (s, b) = read(resp).await;
            let unrouted = s == StatusCode::METHOD_NOT_ALLOWED
                || (s == StatusCode::NOT_FOUND
                    && b["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("route ")));
            assert!(
                !unrouted,
                "{method} {path} is documented but not served: {s} {b}"
            );
        }
    }
    srv.stop().await;
}

/// A group photo is not enrolled unless the caller says which face: 422
/// `multiple_faces` with the boxes, then `face=largest` or an index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_photos_need_a_chosen_face() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP group photo enrolment: ../shared (test images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(Db::Sqlite, true, |_| {}).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP group photo enrolment: model pack {:?} is not installed in {}",
            srv.state().config.pack,
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let o = &org.owner;
    let group = std::fs::read(shared.join("datasets/peers/face-api.js/test_images/faces.jpg"))
        .expect("the face-api.js group photo");
    let person = srv.person(&org, "G-1", "Gail").await;
    let path = format!("/api/v1/people/{person}/templates");

    let (s, b) = srv
        .post_image(&path, o, group.clone(), "faces.jpg", "image/jpeg", &[])
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "multiple_faces"
    );
    let faces = b["error"]["details"]["faces"]
        .as_array()
        .unwrap_or_else(|| panic!("no details.faces: {b}"));
    assert_eq!(faces.len(), 6, "{b}");
    for (i, f) in faces.iter().enumerate() {
        assert_eq!(f["index"], i);
        assert!(
            f["box"]["right"].as_f64() > f["box"]["left"].as_f64(),
            "{f}"
        );
    }
    let (s, t) = srv.get(&path, o).await;
    assert_eq!(
        (s, t["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );

    // By index: the face enrolled is the one that was listed there.
    let (s, b2) = srv
        .post_image(
            &path,
            o,
            group.clone(),
            "faces.jpg",
            "image/jpeg",
            &[("face", "2")],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b2}");
    assert_eq!(b2["face"]["box"], faces[2]["box"], "{b2}");
    // The largest, as a JSON body.
    let (s, b3) = srv
        .post(
            &path,
            o,
            json!({"image": base64_of(&group), "face": "largest"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b3}");
    let area = |b: &Value| {
        let at = |k: &str| b[k].as_f64().unwrap();
        (at("right") - at("left")) * (at("bottom") - at("top"))
    };
    let largest = faces.iter().map(|f| area(&f["box"])).fold(0.0, f64::max);
    assert!((area(&b3["face"]["box"]) - largest).abs() < 1e-6, "{b3}");
    let (s, b) = srv
        .post_image(
            &path,
            o,
            group.clone(),
            "faces.jpg",
            "image/jpeg",
            &[("face", "6")],
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "no_such_face"
    );
    let (s, b) = srv
        .post_image(
            &path,
            o,
            group.clone(),
            "faces.jpg",
            "image/jpeg",
            &[("face", "biggest")],
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_field"
    );

    // The seed's /enroll and /embeddings/*: the same rule, `face` in the body.
    let (s, b) = srv
        .post(
            "/enroll",
            o,
            json!({"user_id": "G-2", "name": "Gus", "image": base64_of(&group)}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "multiple_faces"
    );
    let (s, b) = srv
        .post(
            "/enroll",
            o,
            json!({"user_id": "G-2", "name": "Gus", "image": base64_of(&group), "face": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = srv
        .post(
            "/embeddings/add/",
            o,
            json!({"employee_id": "G-2", "image": base64_of(&group)}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY),
        "multiple_faces"
    );
    srv.stop().await;
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `/docs` says how to install Swagger UI until `facegate setup` has, then
/// serves it from the data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_serves_the_installed_swagger_ui() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |c| {
        // Not the shared test data, where setup may have installed it.
        c.models_dir = c.data_dir.join("models");
    })
    .await
    else {
        return;
    };
    let get = |path: &str| {
        let url = format!("{}{path}", srv.url);
        let client = srv.client.clone();
        async move {
            let resp = client.get(url).send().await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    let (s, page) = get("/docs").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("facegate setup") && page.contains("/api/v1/openapi.json"),
        "{page}"
    );
    let (s, _) = get("/docs/assets/swagger-ui-bundle.js").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let assets = srv.state().config.data_dir.join("swagger-ui");
    std::fs::create_dir_all(&assets).unwrap();
    for (file, text) in [
        ("swagger-ui.css", "/* css */"),
        ("swagger-ui-bundle.js", "window.SwaggerUIBundle = 1;"),
        ("favicon-32x32.png", "png"),
    ] {
        std::fs::write(assets.join(file), text).unwrap();
    }
    let (s, page) = get("/docs").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("/docs/assets/swagger-ui-bundle.js"), "{page}");
    let (s, js) = get("/docs/assets/swagger-ui-bundle.js").await;
    assert_eq!(
        (s, js.as_str()),
        (StatusCode::OK, "window.SwaggerUIBundle = 1;")
    );
    let (s, init) = get("/docs/assets/facegate-init.js").await;
    assert_eq!(s, StatusCode::OK);
    assert!(init.contains("/api/v1/openapi.json"));
    // Only the listed files: nothing else in (or above) the directory.
    std::fs::write(assets.join("secret.txt"), "no").unwrap();
    for path in ["/docs/assets/secret.txt", "/docs/assets/..%2Fjwt.key"] {
        let (s, body) = get(path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    srv.stop().await;
}

/// Creating an account never reveals that its email has an account in
/// another organisation: emails are unique per organisation, and the
/// password tells the two accounts apart at login.
async fn account_emails_are_per_organisation(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let a = srv.init_org("Alpha", "owner@alpha.test").await;
    let b = srv.init_org("Beta", "owner@beta.test").await;
    let create = |org: &Org, password: &str| {
        let srv = &srv;
        let owner = org.owner.clone();
        let body = json!({"email": "Sam@Shared.test", "password": password, "role": "viewer"});
        async move { srv.post("/api/v1/accounts", &owner, body).await }
    };
    let (s, in_a) = create(&a, "alpha password 1").await;
    assert_eq!(s, StatusCode::CREATED, "{in_a}");
    // Another organisation's account with that email: created as if new.
    let (s, in_b) = create(&b, "beta password 22").await;
    assert_eq!(s, StatusCode::CREATED, "{in_b}");
    assert!(in_a["id"].is_string() && in_b["id"].is_string(), "{in_b}");
    assert_ne!(in_a["id"], in_b["id"]);
    assert_eq!(in_b["email"], "sam@shared.test");
    // An email already in the admin's own organisation is a conflict there.
    let (s, again) = create(&b, "beta password 33").await;
    assert_eq!(assert_error(s, &again, StatusCode::CONFLICT), "conflict");
    // The owner of another organisation with this email: still not revealed.
    let (s, b_owner_email) = srv
        .post(
            "/api/v1/accounts",
            &a.owner,
            json!({"email": "owner@beta.test", "password": "some password 4", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b_owner_email}");

    // Each password opens its own account and organisation.
    for (password, org) in [("alpha password 1", &a), ("beta password 22", &b)] {
        let (s, t) = srv.try_login("sam@shared.test", password).await;
        assert_eq!(s, StatusCode::OK, "{t}");
        assert_eq!(t["organisation_id"], org.id.as_str(), "{t}");
        assert_eq!(t["role"], "viewer");
    }
    let (s, t) = srv.try_login("owner@beta.test", PASSWORD).await;
    assert_eq!(
        (s, &t["organisation_id"]),
        (StatusCode::OK, &json!(b.id)),
        "{t}"
    );
    let (s, t) = srv.try_login("sam@shared.test", "neither password").await;
    assert_eq!(
        assert_error(s, &t, StatusCode::UNAUTHORIZED),
        "invalid_credentials"
    );
    srv.stop().await;
}

both_backends!(account_email_tests, account_emails_are_per_organisation);
