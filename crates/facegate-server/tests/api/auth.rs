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

/// Every event that ends a session ends the access tokens issued with it, at
/// once: logout, rotation (the old token), refresh-token reuse (the newest
/// token too), disabling the account, a new password, removal from the
/// organisation and deleting the organisation.
async fn access_tokens_end_with_their_session(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let login = |email: &'static str| {
        let srv = &srv;
        async move {
            let (s, t) = srv.try_login(email, PASSWORD).await;
            assert_eq!(s, StatusCode::OK, "{t}");
            (
                Auth::Bearer(t["access_token"].as_str().unwrap().to_string()),
                t["refresh_token"].as_str().unwrap().to_string(),
            )
        }
    };
    let works = |auth: Auth| {
        let srv = &srv;
        async move { srv.get("/api/v1/people", &auth).await.0 == StatusCode::OK }
    };
    let ended = |auth: Auth| {
        let srv = &srv;
        async move {
            let (s, b) = srv.get("/api/v1/people", &auth).await;
            assert_eq!(
                assert_error(s, &b, StatusCode::UNAUTHORIZED),
                "session_ended"
            );
        }
    };
    let refresh = |r: String| {
        let srv = &srv;
        async move {
            srv.post(
                "/api/v1/auth/refresh",
                &Auth::None,
                json!({"refresh_token": r}),
            )
            .await
        }
    };

    // Logout.
    let (access, r) = login("owner@acme.test").await;
    assert!(works(access.clone()).await);
    let (s, _) = srv
        .post(
            "/api/v1/auth/logout",
            &Auth::None,
            json!({"refresh_token": r}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    ended(access).await;

    // Rotation: the old access token ends, the new one works; other sessions
    // of the same account are untouched.
    let (other_session, _) = login("owner@acme.test").await;
    let (a1, r1) = login("owner@acme.test").await;
    let (s, t2) = refresh(r1.clone()).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    let a2 = Auth::Bearer(t2["access_token"].as_str().unwrap().to_string());
    ended(a1).await;
    assert!(works(a2.clone()).await);
    assert!(works(other_session.clone()).await);

    // Reuse of a spent refresh token revokes the session: the newest access
    // token ends too.
    let (s, b) = refresh(r1).await;
    assert_eq!(
        assert_error(s, &b, StatusCode::UNAUTHORIZED),
        "refresh_token_reused"
    );
    ended(a2).await;
    assert!(works(other_session.clone()).await);

    // A new password ends every session of the account, including this one.
    let (s, me) = srv.get("/api/v1/auth/me", &other_session).await;
    assert_eq!(s, StatusCode::OK);
    let owner_id = me["account"]["id"].as_str().unwrap().to_string();
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/accounts/{owner_id}"),
            &other_session,
            Some(json!({"password": "another long password"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    ended(other_session).await;
    ended(org.owner.clone()).await;
    let (s, t) = srv
        .try_login("owner@acme.test", "another long password")
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let owner = Auth::Bearer(t["access_token"].as_str().unwrap().to_string());

    // Disabling and removing accounts.
    let member = |email: &'static str| {
        let srv = &srv;
        let owner = owner.clone();
        async move {
            let (s, b) = srv
                .post(
                    "/api/v1/accounts",
                    &owner,
                    json!({"email": email, "password": PASSWORD, "role": "viewer"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            b["id"].as_str().unwrap().to_string()
        }
    };
    let disabled_id = member("disabled@acme.test").await;
    let (disabled, _) = login("disabled@acme.test").await;
    assert!(works(disabled.clone()).await);
    let (s, b) = srv
        .call(
            Method::PATCH,
            &format!("/api/v1/accounts/{disabled_id}"),
            &owner,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    ended(disabled).await;

    let removed_id = member("removed@acme.test").await;
    let (removed, _) = login("removed@acme.test").await;
    assert!(works(removed.clone()).await);
    let (s, b) = srv
        .call(
            Method::DELETE,
            &format!("/api/v1/accounts/{removed_id}"),
            &owner,
            None,
        )
        .await;
    assert!(s.is_success(), "{s} {b}");
    ended(removed).await;

    // Deleting the organisation ends its members' sessions.
    let (s, b) = srv
        .call(
            Method::DELETE,
            &format!("/api/v1/organisations/{}", org.id),
            &owner,
            Some(json!({"confirm": "Acme"})),
        )
        .await;
    assert!(s.is_success(), "{s} {b}");
    let (s, _) = srv.get("/api/v1/people", &owner).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    srv.stop().await;
}

both_backends!(session_binding_tests, access_tokens_end_with_their_session);
