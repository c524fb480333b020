//! Probes, metrics, headers, OpenAPI, config errors, rate limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_headers_and_docs() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |c| {
        c.cors.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await
    else {
        return;
    };
    let resp = srv
        .client
        .get(format!("{}/healthz", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h.contains_key("content-security-policy"));
    assert!(h.contains_key("x-request-id"), "request ids are returned");
    let resp = srv
        .client
        .get(format!("{}/healthz", srv.url))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");

    // Without an engine the service is up but not ready when the engine is required.
    let (s, b) = srv.get("/readyz", &Auth::None).await;
    assert_eq!(s, StatusCode::OK, "engine not required in this config: {b}");
    assert_eq!(b["database"], true);

    let resp = srv
        .client
        .get(format!("{}/metrics", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(
            "facegate_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(text.contains("facegate_gallery_templates 0"));

    let (s, doc) = srv.get("/api/v1/openapi.json", &Auth::None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/api/v1/recognition/identify"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/people/{id}/templates"]["post"].is_object());
    let resp = srv
        .client
        .get(format!("{}/docs", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("openapi.json"));

    // CORS: allowed origin echoed, others not.
    let resp = srv
        .client
        .get(format!("{}/healthz", srv.url))
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let resp = srv
        .client
        .get(format!("{}/healthz", srv.url))
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));

    // Recognition without an engine: 503 with a clear message (after auth).
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let (s, b) = srv
        .post(
            "/api/v1/recognition/identify",
            &org.owner,
            json!({"image": "aGVsbG8="}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::SERVICE_UNAVAILABLE),
        "engine_unavailable"
    );

    // The JWT key was generated nowhere (configured); a generated one is 0600.
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_jwt_key_is_private_and_rate_limits_apply() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |c| {
        c.auth.jwt_secret = String::new();
        c.limits.per_ip_per_minute = 5;
    })
    .await
    else {
        return;
    };
    let key = srv.state().config.data_dir.join("jwt.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let mut limited = false;
    for _ in 0..10 {
        let resp = srv
            .req(Method::GET, "/healthz", &Auth::None)
            .send()
            .await
            .unwrap();
        let wait = retry_after(&resp);
        let (s, b) = read(resp).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(b["error"]["code"], "rate_limited");
            // 5 a minute: a token every 12 s.
            assert!(wait.is_some_and(|w| (1..=12).contains(&w)), "{wait:?}");
            limited = true;
            break;
        }
    }
    assert!(limited, "the per-IP limit of 5/min was not enforced");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rate_limit() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |c| {
        c.limits.login_per_ip_per_minute = 3;
    })
    .await
    else {
        return;
    };
    let mut codes = Vec::new();
    for _ in 0..5 {
        let (s, _) = srv
            .post(
                "/api/v1/auth/login",
                &Auth::None,
                json!({"email": "x@y.test", "password": "whatever123"}),
            )
            .await;
        codes.push(s.as_u16());
    }
    assert_eq!(codes, vec![401, 401, 401, 429, 429]);
    let resp = srv
        .req(Method::POST, "/api/v1/auth/login", &Auth::None)
        .json(&json!({"email": "x@y.test", "password": "whatever123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // 3 a minute: a token every 20 s.
    let wait = retry_after(&resp);
    assert!(wait.is_some_and(|w| (1..=20).contains(&w)), "{wait:?}");
    srv.stop().await;
}

/// The `Retry-After` seconds of a response, if it has a valid one.
fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[test]
fn config_errors_are_clear() {
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let e =
        facegate_server::Config::load_from(None, &env(&[("FACEGATE_DATABASE_URL", "mysql://x")]))
            .unwrap_err();
    assert!(e.to_string().contains("FACEGATE_DATABASE_URL"), "{e}");
    let e = facegate_server::Config::load_from(
        None,
        &env(&[("FACEGATE_CORS_ORIGINS", "app.example.com")]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("cors"), "{e}");
    let e =
        facegate_server::Config::load_from(None, &env(&[("FACEGATE_ENGINE_REQUIRED", "maybe")]))
            .unwrap_err();
    assert!(e.to_string().contains("FACEGATE_ENGINE_REQUIRED"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_required_refuses_to_start_without_pack() {
    let dir = tempfile::tempdir().unwrap();
    let config = facegate_server::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        pack: "no-such-pack".into(),
        engine_required: true,
        ..facegate_server::Config::default()
    };
    let err = facegate_server::start(config)
        .await
        .err()
        .expect("must refuse");
    let text = format!("{err:#}");
    assert!(
        text.contains("no-such-pack") && text.contains("engine_required"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_refuses_weak_passwords_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let config = facegate_server::Config {
        data_dir: dir.path().to_path_buf(),
        ..facegate_server::Config::default()
    };
    let e = facegate_server::init_organisation(&config, "Acme", "a@acme.test", "short")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("10 characters"), "{e}");
    facegate_server::init_organisation(&config, "Acme", "a@acme.test", PASSWORD)
        .await
        .unwrap();
    let e = facegate_server::init_organisation(&config, "Other", "a@acme.test", PASSWORD)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let report = facegate_server::verify_audit(&config).await.unwrap();
    assert!(report.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_rate_limit() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |c| {
        c.limits.per_key_per_minute = 3;
    })
    .await
    else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let (_, key) = srv.api_key(&org, "viewer", &["read"]).await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(
            srv.get("/api/v1/people", &Auth::Key(key.clone()))
                .await
                .0
                .as_u16(),
        );
    }
    assert_eq!(codes, vec![200, 200, 200, 429, 429]);
    let resp = srv
        .req(Method::GET, "/api/v1/people", &Auth::Key(key.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&resp).is_some_and(|w| (1..=20).contains(&w)));
    // Accounts are not affected by the key's limit.
    assert_eq!(
        srv.get("/api/v1/people", &org.owner).await.0,
        StatusCode::OK
    );
    srv.stop().await;
}

/// `GET /healthz` with an `X-Forwarded-For` header; the status only.
async fn healthz_from(srv: &TestServer, forwarded_for: &str) -> u16 {
    srv.client
        .get(format!("{}/healthz", srv.url))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_only_believed_from_trusted_proxies() {
    // No trusted proxies (the default): a client that invents a new
    // X-Forwarded-For per request is still one client.
    let Some(srv) = TestServer::start(Db::Sqlite, false, |c| {
        c.limits.per_ip_per_minute = 3;
    })
    .await
    else {
        return;
    };
    let mut codes = Vec::new();
    for i in 0..5 {
        codes.push(healthz_from(&srv, &format!("198.51.100.{i}")).await);
    }
    assert_eq!(codes, vec![200, 200, 200, 429, 429]);
    srv.stop().await;

    // Behind a trusted proxy (here: the test client's loopback address),
    // each forwarded client has its own bucket, and entries the client
    // prepends cannot move it to a fresh one.
    let Some(srv) = TestServer::start(Db::Sqlite, false, |c| {
        c.limits.per_ip_per_minute = 3;
        c.limits.login_per_ip_per_minute = 2;
        c.trusted_proxies = vec!["127.0.0.0/8".into(), "::1".into()];
    })
    .await
    else {
        return;
    };
    let mut codes = Vec::new();
    for i in 0..3 {
        codes.push(healthz_from(&srv, &format!("6.6.6.{i}, 198.51.100.7")).await);
    }
    codes.push(healthz_from(&srv, "198.51.100.7").await);
    codes.push(healthz_from(&srv, "7.7.7.7, 198.51.100.7").await);
    assert_eq!(codes, vec![200, 200, 200, 429, 429]);
    assert_eq!(
        healthz_from(&srv, "198.51.100.8").await,
        200,
        "another client"
    );
    // Login throttling uses the same address.
    let login = |xff: &'static str| {
        srv.client
            .post(format!("{}/api/v1/auth/login", srv.url))
            .header("x-forwarded-for", xff)
            .json(&json!({"email": "x@y.test", "password": "whatever123"}))
            .send()
    };
    let mut codes = Vec::new();
    for xff in ["203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"] {
        codes.push(login(xff).await.unwrap().status().as_u16());
    }
    assert_eq!(codes, vec![401, 401, 429, 401]);
    srv.stop().await;
}
