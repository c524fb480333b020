//! Login, lockout, refresh rotation, logout, token validation.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::common::*;

async fn auth_flow(db: Db) {
    let Some(srv) = TestServer::start(db, false, |c| {
        c.auth.max_failed_logins = 3;
    })
    .await
    else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;

    // me
    let (s, me) = srv.get("/api/v1/auth/me", &org.owner).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "owner");
    assert_eq!(me["account"]["email"], "owner@acme.test");
    assert!(
        me["account"].get("password_hash").is_none(),
        "hash never leaves the server"
    );

    // Wrong password: 401 with the same message as an unknown email.
    let (s, b) = srv.try_login("owner@acme.test", "wrong password!").await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "invalid_credentials"
    );
    let (s, b2) = srv.try_login("nobody@acme.test", "wrong password!").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["message"], b2["error"]["message"]);

    // Refresh rotation and reuse detection.
    let (s, t) = srv.try_login("owner@acme.test", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    let r1 = t["refresh_token"].as_str().unwrap().to_string();
    let (s, t2) = srv
        .post(
            "/api/v1/auth/refresh",
            &Auth::None,
            json!({"refresh_token": r1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    let r2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    let (s, b) = srv
        .get(
            "/api/v1/auth/me",
            &Auth::Bearer(t2["access_token"].as_str().unwrap().into()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = srv
        .post(
            "/api/v1/auth/refresh",
            &Auth::None,
            json!({"refresh_token": r1}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "refresh_token_reused"
    );
    let (s, b) = srv
        .post(
            "/api/v1/auth/refresh",
            &Auth::None,
            json!({"refresh_token": r2}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "invalid_refresh_token",
        "family revoked"
    );

    // Logout revokes the session.
    let (_, t) = srv.try_login("owner@acme.test", PASSWORD).await;
    let r = t["refresh_token"].as_str().unwrap().to_string();
    let (s, _) = srv
        .post(
            "/api/v1/auth/logout",
            &Auth::None,
            json!({"refresh_token": r}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = srv
        .post(
            "/api/v1/auth/refresh",
            &Auth::None,
            json!({"refresh_token": r}),
        )
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "invalid_refresh_token"
    );

    // Missing, malformed, forged and expired tokens.
    let (s, b) = srv.get("/api/v1/people", &Auth::None).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "missing_credentials"
    );
    let (s, b) = srv
        .get("/api/v1/people", &Auth::Bearer("not-a-jwt".into()))
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "invalid_token"
    );
    let sub = me["account"]["id"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| json!({"sub": sub, "org": org.id, "iat": now - 100, "exp": exp, "jti": "x", "typ": "access"});
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims(now + 600),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-that-is-long-enough-000"),
    )
    .unwrap();
    let (s, b) = srv.get("/api/v1/people", &Auth::Bearer(forged)).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "invalid_token"
    );
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims(now - 10),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let (s, b) = srv.get("/api/v1/people", &Auth::Bearer(expired)).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "token_expired"
    );
    let (s, b) = srv
        .req(Method::GET, "/api/v1/people", &Auth::None)
        .header("Authorization", "Basic abc")
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    let (_, body) = read(b).await;
    assert_eq!(
        assert_error(s, &body, StatusCode::UNAUTHORIZED),
        "invalid_authorization"
    );

    // Lockout after 3 failures: even the right password is refused.
    for _ in 0..2 {
        let (s, _) = srv.try_login("owner@acme.test", "wrong password!").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, b) = srv.try_login("owner@acme.test", "wrong password!").await;
    assert_eq!(assert_error(s, &b, StatusCode::LOCKED), "account_locked");
    let (s, b) = srv.try_login("owner@acme.test", PASSWORD).await;
    assert_eq!(assert_error(s, &b, StatusCode::LOCKED), "account_locked");

    // A disabled or removed account's token stops working at once.
    let org2 = srv.init_org("Beta", "owner@beta.test").await;
    let viewer = srv.member(&org2, "viewer@beta.test", "viewer").await;
    let (s, list) = srv.get("/api/v1/accounts", &org2.owner).await;
    assert_eq!(s, StatusCode::OK);
    let viewer_id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == "viewer@beta.test")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = srv.get("/api/v1/people", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/accounts/{viewer_id}"),
            &org2.owner,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = srv.get("/api/v1/people", &viewer).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // API keys: revoked keys are refused.
    let (key_id, key) = srv.api_key(&org2, "operator", &["read"]).await;
    let (s, _) = srv.get("/api/v1/people", &Auth::Key(key.clone())).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = srv
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{key_id}"),
            &org2.owner,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = srv.get("/api/v1/people", &Auth::Key(key)).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "api_key_revoked"
    );
    let (s, b) = srv
        .get("/api/v1/people", &Auth::Key("fgk_00000000_nonsense".into()))
        .await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "invalid_api_key"
    );

    srv.stop().await;
}

both_backends!(auth_flow_tests, auth_flow);
