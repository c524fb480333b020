//! The web UI over HTTP: sessions (cookie flags, rotation, logout, idle
//! timeout, disabling), CSRF refusal on every state-changing route, role
//! refusal, the people pages, and the enrol → identify → attendance → CSV →
//! erase flow with the real engine. The browser walk-through is in
//! `ui_browser.rs`.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::both_backends;
use crate::common::*;

/// A browser-like client: keeps cookies, never follows redirects (the tests
/// look at each 303), sends the page's own `Origin`.
pub struct UiClient {
    pub http: reqwest::Client,
    pub base: String,
}

/// The `_csrf` value of the first form of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = r#"name="_csrf" value=""#;
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF field in page: {html}"))
        + marker.len();
    html[start..start + 64].to_string()
}

impl UiClient {
    pub fn new(srv: &TestServer) -> UiClient {
        UiClient {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: srv.url.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, HeaderMap, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let (s, h) = (r.status(), r.headers().clone());
        (s, h, r.text().await.unwrap())
    }

    /// POST a form with this origin's `Origin`.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
        self.post_from(path, form, Some(&self.base)).await
    }

    pub async fn post_from(
        &self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut r = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        let r = r.send().await.unwrap();
        let (s, h) = (r.status(), r.headers().clone());
        (s, h, r.text().await.unwrap())
    }

    pub async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> (StatusCode, HeaderMap, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let (s, h) = (r.status(), r.headers().clone());
        (s, h, r.text().await.unwrap())
    }

    /// Log in through the login form; returns the session cookie's value.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let (s, h, body) = self.try_login(email, password).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "login {email}: {body}");
        session_cookie(&h).expect("a session cookie")
    }

    pub async fn try_login(&self, email: &str, password: &str) -> (StatusCode, HeaderMap, String) {
        let (s, _, page) = self.get("/ui/login").await;
        assert_eq!(s, StatusCode::OK);
        let csrf = csrf_of(&page);
        self.post(
            "/ui/login",
            &[("_csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }

    /// The CSRF token of the session (from a page that has forms).
    pub async fn csrf(&self) -> String {
        let (s, _, page) = self.get("/ui/me").await;
        assert_eq!(s, StatusCode::OK, "{page}");
        csrf_of(&page)
    }
}

/// The `fg_session` value a response sets (None when it sets none).
pub fn session_cookie(h: &HeaderMap) -> Option<String> {
    h.get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("fg_session="))
        .map(|c| {
            c.trim_start_matches("fg_session=")
                .split(';')
                .next()
                .unwrap_or("")
                .to_string()
        })
}

fn location(h: &HeaderMap) -> String {
    h.get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// GET `path` with only the given session cookie (no cookie store).
async fn get_with_cookie(srv: &TestServer, path: &str, cookie: &str) -> (StatusCode, String) {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", srv.url))
        .header("cookie", format!("fg_session={cookie}"))
        .send()
        .await
        .unwrap();
    let s = r.status();
    let l = location(r.headers());
    (s, l)
}

async fn sessions(db: Db) {
    let Some(srv) = TestServer::start(db, false, |c| {
        c.ui.session_idle_secs = 600;
    })
    .await
    else {
        return;
    };
    let _org = srv.init_org("Acme", "owner@acme.test").await;
    let ui = UiClient::new(&srv);

    // Not logged in: pages send you to the login page, remembering where.
    let (s, h, _) = ui.get("/ui/people?q=x").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/ui/login?next=%2Fui%2Fpeople%3Fq%3Dx");

    // The login page sets the pre-login cookie; a wrong password is a page
    // with a readable error, not a redirect.
    let (s, _, body) = ui.try_login("owner@acme.test", "wrong password").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body.contains("the email or password is wrong"), "{body}");

    // Login: a session cookie with the right flags, and a redirect home.
    let (s, _, page) = ui.get("/ui/login").await;
    assert_eq!(s, StatusCode::OK);
    let (s, h, _) = ui
        .post(
            "/ui/login",
            &[
                ("_csrf", &csrf_of(&page)),
                ("email", "owner@acme.test"),
                ("password", PASSWORD),
                ("next", "/ui/people"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/ui/people");
    let set: Vec<&str> = h
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let cookie = set
        .iter()
        .find(|c| c.starts_with("fg_session="))
        .expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http without a proxy: no Secure"
    );
    let first = session_cookie(&h).unwrap();
    assert_eq!(first.len(), 64);
    let (s, _, body) = ui.get("/ui/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("Dashboard"), "{body}");

    // An open redirect through `next` is refused.
    let ui2 = UiClient::new(&srv);
    let (_, _, page) = ui2.get("/ui/login").await;
    let (s, h, _) = ui2
        .post(
            "/ui/login",
            &[
                ("_csrf", &csrf_of(&page)),
                ("email", "owner@acme.test"),
                ("password", PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/ui/");

    // Rotation: logging in again issues a new id and ends the old session.
    let second = ui.login("owner@acme.test", PASSWORD).await;
    assert_ne!(first, second);
    let (s, l) = get_with_cookie(&srv, "/ui/people", &first).await;
    assert_eq!(
        (s, l.as_str()),
        (StatusCode::SEE_OTHER, "/ui/login?next=%2Fui%2Fpeople")
    );
    let (s, _) = get_with_cookie(&srv, "/ui/people", &second).await;
    assert_eq!(s, StatusCode::OK);

    // A UI session cookie is not a refresh token.
    let (s, _) = srv
        .post(
            "/api/v1/auth/refresh",
            &Auth::None,
            json!({"refresh_token": second}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Behind a trusted https proxy the cookie is Secure.
    // (Covered by the unit tests of `cookies`; the peer here is not a proxy.)

    // Logout ends the session on the server: the old cookie is dead.
    let csrf = ui.csrf().await;
    let (s, h, _) = ui.post("/ui/logout", &[("_csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), "/ui/login");
    let (s, _) = get_with_cookie(&srv, "/ui/people", &second).await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    // Idle timeout: a session unseen for longer than the limit is refused.
    let third = ui.login("owner@acme.test", PASSWORD).await;
    let (s, _) = get_with_cookie(&srv, "/ui/me", &third).await;
    assert_eq!(s, StatusCode::OK);
    sqlx::query("UPDATE refresh_tokens SET seen_at = $1 WHERE kind = 'ui'")
        .bind(facegate_store::now_ms() - 601_000)
        .execute(srv.state().store.pool())
        .await
        .unwrap();
    let (s, _) = get_with_cookie(&srv, "/ui/me", &third).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "idle session refused");
    // Absolute timeout: expired however recently used.
    let fourth = ui.login("owner@acme.test", PASSWORD).await;
    sqlx::query(
        "UPDATE refresh_tokens SET expires_at = $1 WHERE kind = 'ui' AND revoked_at IS NULL",
    )
    .bind(facegate_store::now_ms() - 1)
    .execute(srv.state().store.pool())
    .await
    .unwrap();
    let (s, _) = get_with_cookie(&srv, "/ui/me", &fourth).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "expired session refused");
    srv.stop().await;
}
both_backends!(ui_sessions, sessions);

async fn throttle_shared_with_api(db: Db) {
    let Some(srv) = TestServer::start(db, false, |c| {
        c.limits.login_per_ip_per_minute = 3;
    })
    .await
    else {
        return;
    };
    let cfg = &srv.state().config;
    facegate_server::init_organisation(cfg, "Acme", "owner@acme.test", PASSWORD)
        .await
        .unwrap();
    // Two API attempts and one UI attempt use up the address's three.
    for _ in 0..2 {
        let (s, _) = srv.try_login("owner@acme.test", "nope").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let ui = UiClient::new(&srv);
    let (s, _, _) = ui.try_login("owner@acme.test", "nope").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, h, body) = ui.try_login("owner@acme.test", PASSWORD).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(h.get("retry-after").is_some());
    assert!(body.contains("too many requests"), "{body}");
    let (s, _) = srv.try_login("owner@acme.test", PASSWORD).await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "the API shares the bucket"
    );
    srv.stop().await;
}
both_backends!(ui_login_throttle, throttle_shared_with_api);

async fn csrf_on_every_route(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let person = srv.person(&org, "P-1", "Pat").await;
    let (key_id, _) = srv.api_key(&org, "viewer", &["read"]).await;
    let template_id = "00000000-0000-4000-8000-000000000000";
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let token = ui.csrf().await;
    let evil = "https://evil.example";
    for route in facegate_server::ui::STATE_CHANGING_ROUTES {
        let path = route
            .replace(
                "{id}",
                if route.contains("keys") {
                    &key_id
                } else {
                    &person
                },
            )
            .replace("{template_id}", template_id);
        // Fields that would make the request succeed, but for CSRF.
        let form: Vec<(&str, &str)> = vec![
            ("name", "Changed"),
            ("external_id", "P-1"),
            ("confirm", "P-1"),
            ("action", "archive"),
            ("id", &person),
            ("role", "viewer"),
            ("scope", "read"),
            ("email", "owner@acme.test"),
            ("password", PASSWORD),
        ];
        // No token at all.
        let (s, _, body) = ui.post(&path, &form).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path} without a token: {body}");
        assert!(body.contains("Request refused"), "{path}: {body}");
        // A wrong token.
        let mut wrong = form.clone();
        let bad = "0".repeat(64);
        wrong.push(("_csrf", &bad));
        let (s, _, _) = ui.post(&path, &wrong).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path} with a wrong token");
        // The right token, forged from another site.
        let mut forged = form.clone();
        forged.push(("_csrf", &token));
        let (s, _, body) = ui.post_from(&path, &forged, Some(evil)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path} cross-site: {body}");
        assert!(body.contains("cross-site"), "{path}: {body}");
        // ... or with neither Origin nor Referer.
        let (s, _, _) = ui.post_from(&path, &forged, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path} without an origin");
        // The header form of the token obeys the same rules.
        let r = ui
            .http
            .post(format!("{}{path}", ui.base))
            .header("origin", evil)
            .header("x-csrf-token", &token)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path} header, cross-site"
        );
        // A multipart body without the field.
        let r = ui
            .http
            .post(format!("{}{path}", ui.base))
            .header("origin", &ui.base)
            .multipart(reqwest::multipart::Form::new().text("name", "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path} multipart without a token"
        );
    }
    // Nothing changed: the person is still active and named Pat, still logged in.
    let (s, p) = srv
        .get(&format!("/api/v1/people/{person}"), &org.owner)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (p["name"].as_str(), p["status"].as_str()),
        (Some("Pat"), Some("active"))
    );
    let (s, k) = srv
        .get(&format!("/api/v1/api-keys/{key_id}"), &org.owner)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(k["revoked_at"].is_null(), "{k}");
    // The control: the same request with the token from this origin works.
    let (s, h, _) = ui
        .post(
            &format!("/ui/people/{person}"),
            &[
                ("_csrf", &token),
                ("name", "Patricia"),
                ("external_id", "P-1"),
                ("status", "active"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(location(&h), format!("/ui/people/{person}?ok=saved"));
    let (_, p) = srv
        .get(&format!("/api/v1/people/{person}"), &org.owner)
        .await;
    assert_eq!(p["name"], "Patricia");
    // A multipart request carrying the field passes the check (and then
    // fails on its content, not on CSRF).
    let form = reqwest::multipart::Form::new().text("_csrf", token.clone());
    let (s, _, body) = ui.post_multipart("/ui/recognize", form).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("Choose a photo"), "{body}");
    srv.stop().await;
}
both_backends!(ui_csrf, csrf_on_every_route);

#[tokio::test]
async fn every_listed_route_exists() {
    // A listed route that the router lacks would make the CSRF test pass
    // vacuously (a 404 would be... refused by the middleware first, so
    // check the router itself: without CSRF headers a GET-only or unknown
    // path answers 405/404, a POST route answers 403).
    let Some(srv) = TestServer::start(Db::Sqlite, false, |_| {}).await else {
        return;
    };
    let id = "00000000-0000-4000-8000-000000000000";
    let client = reqwest::Client::new();
    for route in facegate_server::ui::STATE_CHANGING_ROUTES {
        let path = route.replace("{id}", id).replace("{template_id}", id);
        let r = client
            .post(format!("{}{path}", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} is a POST route");
    }
    let r = client
        .post(format!("{}/ui/no-such-route", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    srv.stop().await;
}

async fn roles(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    srv.member(&org, "viewer@acme.test", "viewer").await;
    srv.member(&org, "op@acme.test", "operator").await;
    let person = srv.person(&org, "V-1", "Vera").await;
    // Vera is the viewer's own person record (same email).
    let (s, _) = srv
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/people/{person}"),
            &org.owner,
            Some(json!({"email": "Viewer@Acme.test"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let viewer = UiClient::new(&srv);
    viewer.login("viewer@acme.test", PASSWORD).await;
    let (s, h, _) = viewer.get("/ui/").await;
    assert_eq!(
        (s, location(&h).as_str()),
        (StatusCode::SEE_OTHER, "/ui/me")
    );
    let (s, _, body) = viewer.get("/ui/me").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("Vera"), "{body}");
    assert!(!body.contains("/ui/settings"), "no admin menu for a viewer");
    for page in [
        "/ui/people",
        "/ui/people/new",
        &format!("/ui/people/{person}"),
        &format!("/ui/people/{person}/export"),
        "/ui/recognize",
        "/ui/attendance",
        "/ui/attendance.csv",
        "/ui/access-log",
        "/ui/spoof-events",
        "/ui/settings",
    ] {
        let (s, h, body) = viewer.get(page).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "viewer on {page}");
        assert!(
            h.get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{page}"
        );
        assert!(body.contains("Not allowed"), "{page}: {body}");
    }
    let csrf = viewer.csrf().await;
    let (s, _, _) = viewer
        .post(
            "/ui/people",
            &[("_csrf", &csrf), ("name", "X"), ("external_id", "X-1")],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a viewer cannot create people");

    let op = UiClient::new(&srv);
    op.login("op@acme.test", PASSWORD).await;
    for page in [
        "/ui/",
        "/ui/people",
        "/ui/recognize",
        "/ui/attendance",
        "/ui/spoof-events",
    ] {
        let (s, _, body) = op.get(page).await;
        assert_eq!(s, StatusCode::OK, "operator on {page}: {body}");
    }
    for page in [
        "/ui/access-log",
        "/ui/settings",
        &format!("/ui/people/{person}/export"),
    ] {
        let (s, _, _) = op.get(page).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "operator on {page}");
    }
    let csrf = op.csrf().await;
    let (s, _, _) = op
        .post(
            &format!("/ui/people/{person}/erase"),
            &[("_csrf", &csrf), ("confirm", "V-1")],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "erasure is for admins");

    // Disabling the operator's account ends their UI session at once.
    let (_, members) = srv.get("/api/v1/accounts", &org.owner).await;
    let op_id = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "op@acme.test" || m["account"]["email"] == "op@acme.test")
        .map(|m| {
            m["id"]
                .as_str()
                .or_else(|| m["account"]["id"].as_str())
                .unwrap()
                .to_string()
        })
        .expect("operator listed");
    let (s, b) = srv
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/accounts/{op_id}"),
            &org.owner,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, h, _) = op.get("/ui/people").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(location(&h).starts_with("/ui/login"));
    srv.stop().await;
}
both_backends!(ui_roles, roles);

async fn people_pages(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let csrf = ui.csrf().await;
    // Create through the form: 303 to the person page.
    let (s, h, _) = ui
        .post(
            "/ui/people",
            &[
                ("_csrf", &csrf),
                ("name", "Ada <b>Lovelace</b>"),
                ("external_id", "E-1"),
                ("department", "R&D"),
                ("email", ""),
                ("status", "active"),
                ("rfid_code", ""),
                ("nfc_tag", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let to = location(&h);
    assert!(
        to.starts_with("/ui/people/") && to.ends_with("?ok=created"),
        "{to}"
    );
    let id = to["/ui/people/".len()..to.len() - "?ok=created".len()].to_string();
    let (s, _, page) = ui.get(&to).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("Ada &#60;b&#62;Lovelace&#60;/b&#62;")
            || page.contains("Ada &lt;b&gt;Lovelace&lt;/b&gt;"),
        "escaped: {page}"
    );
    assert!(!page.contains("<b>Lovelace</b>"));
    assert!(page.contains("No face enrolled yet"));
    // Bad input is a readable 422 page.
    let (s, _, body) = ui
        .post(
            "/ui/people",
            &[("_csrf", &csrf), ("name", ""), ("external_id", "E-2")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Name must not be empty"), "{body}");
    // A duplicate external id is a 409 page.
    let (s, _, body) = ui
        .post(
            "/ui/people",
            &[("_csrf", &csrf), ("name", "Other"), ("external_id", "E-1")],
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    // Search and filter.
    srv.person(&org, "E-2", "Grace Hopper").await;
    let (_, _, list) = ui.get("/ui/people?q=grace").await;
    assert!(
        list.contains("Grace Hopper") && !list.contains("Lovelace"),
        "{list}"
    );
    // Bulk suspend.
    let (s, _, _) = ui
        .post(
            "/ui/people/bulk",
            &[("_csrf", &csrf), ("id", &id), ("action", "suspend")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, p) = srv.get(&format!("/api/v1/people/{id}"), &org.owner).await;
    assert_eq!(p["status"], "suspended");
    let (_, _, list) = ui.get("/ui/people?status=suspended").await;
    assert!(
        list.contains("Lovelace") && !list.contains("Grace"),
        "{list}"
    );
    // Unknown ids and paths are 404 pages, malformed filters 422 pages.
    let (s, _, body) = ui.get("/ui/people/not-a-uuid").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("Person not found"), "{body}");
    let (s, _, _) = ui
        .get("/ui/people/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, h, _) = ui.get("/ui/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let (s, _, _) = ui.get("/ui/people?status=bogus").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, body) = ui.get("/ui/attendance?from=2026-13-40").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Consent and retention: saved, shown, checked, exported.
    let privacy = format!("/ui/people/{id}/privacy");
    let (s, _, body) = ui
        .post(
            &privacy,
            &[("_csrf", &csrf), ("consent_date", "2026-13-01")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, _, _) = ui
        .post(
            &privacy,
            &[
                ("_csrf", &csrf),
                ("consent_date", "2026-01-15"),
                ("consent_note", "form #42"),
                ("retain_until", "2020-01-01"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = ui.get(&format!("/ui/people/{id}")).await;
    assert!(
        page.contains(r#"value="2026-01-15""#) && page.contains("form #42"),
        "{page}"
    );
    assert!(
        page.contains("The retention period ended on 2020-01-01"),
        "{page}"
    );
    // Export (admin): JSON with the person.
    let (s, h, body) = ui.get(&format!("/ui/people/{id}/export")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .contains("person-E-1.json")
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["person"]["external_id"], "E-1");
    assert_eq!(v["consent_and_retention"]["consent_note"], "form #42");
    assert_eq!(v["consent_and_retention"]["retain_until"], "2020-01-01");
    // Erase needs the external id typed in.
    let (s, _, _) = ui
        .post(
            &format!("/ui/people/{id}/erase"),
            &[("_csrf", &csrf), ("confirm", "nope")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, h, _) = ui
        .post(
            &format!("/ui/people/{id}/erase"),
            &[("_csrf", &csrf), ("confirm", "E-1")],
        )
        .await;
    assert_eq!(
        (s, location(&h).as_str()),
        (StatusCode::SEE_OTHER, "/ui/people?ok=erased")
    );
    let (s, _) = srv.get(&format!("/api/v1/people/{id}"), &org.owner).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // API keys: created in settings, the secret shown once, usable, revocable.
    let (s, _, page) = ui
        .post(
            "/ui/settings/keys",
            &[
                ("_csrf", &csrf),
                ("name", "door"),
                ("role", "operator"),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let start = page.find("fgk_").expect("the secret is shown");
    let key: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let (s, _) = srv.get("/api/v1/people", &Auth::Key(key.clone())).await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, again) = ui.get("/ui/settings").await;
    assert!(!again.contains(&key), "shown only once");
    srv.stop().await;
}
both_backends!(ui_people, people_pages);

#[tokio::test]
async fn pages_keep_the_content_security_policy() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |_| {}).await else {
        return;
    };
    srv.init_org("Acme", "owner@acme.test").await;
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    for page in [
        "/ui/",
        "/ui/people",
        "/ui/people/new",
        "/ui/recognize",
        "/ui/attendance",
        "/ui/settings",
        "/ui/access-log",
        "/ui/spoof-events",
        "/ui/me",
        "/ui/cameras",
        "/ui/cameras/new",
        "/ui/recognitions",
    ] {
        let (s, h, body) = ui.get(page).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("form-action 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["cache-control"], "no-store", "{page}");
        // No inline script or handler for the CSP to block.
        assert!(!body.contains("<script>"), "{page}: inline script");
        for handler in [
            " onclick=",
            " onload=",
            " onsubmit=",
            " onchange=",
            " style=",
        ] {
            assert!(!body.contains(handler), "{page}: {handler}");
        }
    }
    let (s, h, css) = ui.get("/ui/static/app.css").await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(h["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(css.contains(":root"));
    let (s, _, _) = ui.get("/ui/static/nope.js").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    srv.stop().await;
}

/// Enrol from a photo, identify it on the test page (and record attendance),
/// see it in the report and the CSV, erase the person, see the templates go.
async fn recognition_flow(db: Db) {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP ui recognition flow: ../shared (test images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(db, true, |_| {}).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP ui recognition flow: model pack is not installed in {}",
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let examples = shared.join("datasets/peers/face_recognition/examples");
    let obama = std::fs::read(examples.join("obama.jpg")).unwrap();
    let obama2 = std::fs::read(examples.join("obama2.jpg")).unwrap();
    let biden = std::fs::read(examples.join("biden.jpg")).unwrap();
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let csrf = ui.csrf().await;
    let person = srv.person(&org, "OB-1", "Barack Obama").await;
    srv.person(&org, "JB-1", "Joe Biden").await;
    let part = |bytes: &[u8], name: &str| {
        reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str("image/jpeg")
            .unwrap()
    };
    // Two files at once; a photo with no face fails alone, readably.
    let blank = {
        let img = image::RgbImage::from_pixel(64, 64, image::Rgb([200, 200, 200]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.clone())
        .part("photos", part(&obama, "obama.jpg"))
        .part("photos", part(&blank, "blank.png"));
    let (s, _, page) = ui
        .post_multipart(&format!("/ui/people/{person}/templates"), form)
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("obama.jpg</b>: enrolled"), "{page}");
    assert!(page.contains("blank.png</b>: no face"), "{page}");
    assert_eq!(page.matches("/delete\"").count(), 1, "one template listed");
    // The test page names Obama in another photo and records attendance.
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.clone())
        .text("mark", "on")
        .part("photo", part(&obama2, "obama2.jpg"));
    let (s, _, page) = ui.post_multipart("/ui/recognize", form).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains(r#"id="decision">match<"#), "{page}");
    assert!(page.contains("Barack Obama 0."), "{page}");
    assert!(page.contains("<rect"), "a box is drawn");
    assert!(page.contains("recorded for Barack Obama"), "{page}");
    assert!(
        page.contains("FPIR"),
        "the operating point is named: {page}"
    );
    // Biden is not enrolled: unknown.
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.clone())
        .part("photo", part(&biden, "biden.jpg"));
    let (_, _, page) = ui.post_multipart("/ui/recognize", form).await;
    assert!(page.contains(r#"id="decision">no_match<"#), "{page}");
    // The report and the CSV show the record.
    let (_, _, report) = ui.get("/ui/attendance").await;
    assert!(
        report.contains("Barack Obama") && report.contains("OB-1"),
        "{report}"
    );
    let (s, h, csv) = ui.get("/ui/attendance.csv").await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.lines().nth(1).unwrap().contains("\"Barack Obama\""),
        "{csv}"
    );
    // Erase: the person, templates and attendance are gone, and so is the
    // face from the gallery.
    let (s, _, _) = ui
        .post(
            &format!("/ui/people/{person}/erase"),
            &[("_csrf", &csrf), ("confirm", "OB-1")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let store = &srv.state().store;
    assert!(
        store
            .list_templates(&org.id, &person)
            .await
            .unwrap()
            .is_empty()
    );
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.clone())
        .part("photo", part(&obama2, "obama2.jpg"));
    let (_, _, page) = ui.post_multipart("/ui/recognize", form).await;
    assert!(page.contains(r#"id="decision">no_match<"#), "{page}");
    let (_, _, csv) = ui.get("/ui/attendance.csv").await;
    assert_eq!(csv.lines().count(), 1, "{csv}");
    srv.stop().await;
}
both_backends!(ui_recognition, recognition_flow);

#[tokio::test]
async fn spoof_events_show_their_snapshots() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    srv.member(&org, "viewer@acme.test", "viewer").await;
    let png = {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([10, 20, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let store = &srv.state().store;
    let event = |snapshot| facegate_store::NewSpoofEvent {
        occurred_at: facegate_store::now_ms(),
        device_id: None,
        person_id: None,
        score: Some(0.12),
        threshold: 0.5,
        action: facegate_store::SpoofAction::Rejected,
        source: facegate_store::SpoofSource::Access,
        snapshot,
    };
    let kept = store
        .insert_spoof_event(&org.id, &event(Some(&png)))
        .await
        .unwrap();
    let bare = store
        .insert_spoof_event(&org.id, &event(None))
        .await
        .unwrap();
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let (s, _, page) = ui.get("/ui/spoof-events").await;
    assert_eq!(s, StatusCode::OK);
    let link = format!("/ui/spoof-events/{}/snapshot", kept.id);
    assert!(page.contains(&format!(r#"src="{link}""#)), "{page}");
    assert!(
        page.contains("0.120") && page.contains("rejected"),
        "{page}"
    );
    let r = ui
        .http
        .get(format!("{}{link}", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png);
    let (s, _, body) = ui
        .get(&format!("/ui/spoof-events/{}/snapshot", bare.id))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("No image was kept"), "{body}");
    let viewer = UiClient::new(&srv);
    viewer.login("viewer@acme.test", PASSWORD).await;
    let (s, _, _) = viewer.get(&link).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    srv.stop().await;
}

/// An admin manages cameras through the forms (the password never shown
/// back, the redacted URL keeping it), an operator only watches, a viewer
/// and another organisation get nothing. No engine: cameras stay stopped
/// with the reason shown.
async fn camera_pages(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let other = srv.init_org("Other", "owner@other.test").await;
    srv.member(&org, "viewer@acme.test", "viewer").await;
    srv.member(&org, "op@acme.test", "operator").await;
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let csrf = ui.csrf().await;
    let (s, _, page) = ui.get("/ui/cameras").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("No camera yet"), "{page}");
    let (s, _, page) = ui.get("/ui/cameras/new").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains(r#"name="source_url""#), "{page}");

    let url = "rtsp://admin:hunter2-long@10.1.2.3:554/cam?channel=1";
    let form = |name: &'static str, url: &'static str, fps: &'static str| {
        vec![
            ("name", name),
            ("source_url", url),
            ("rtsp_transport", "tcp"),
            ("purpose", "watch"),
            ("device_id", ""),
            ("detection_fps", fps),
            ("min_face_px", "36"),
            ("min_sharpness", "5"),
            ("fpir", ""),
            ("match_threshold", ""),
            ("cooldown_s", "30"),
        ]
    };
    // Readable refusals naming the field.
    let mut bad = form("Gate", url, "fast");
    bad.push(("_csrf", &csrf));
    let (s, _, body) = ui.post("/ui/cameras", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("Detection fps must be a number"), "{body}");
    let mut bad = form("Gate", url, "99");
    bad.push(("_csrf", &csrf));
    let (s, _, body) = ui.post("/ui/cameras", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("etection_fps must be in (0, 30]"), "{body}");
    let mut bad = form("Gate", "ftp://cam/x", "5");
    bad.push(("_csrf", &csrf));
    let (s, _, _) = ui.post("/ui/cameras", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Created disabled (the checkbox unticked).
    let mut ok = form("Gate", url, "5");
    ok.push(("_csrf", &csrf));
    let (s, h, body) = ui.post("/ui/cameras", &ok).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location(&h), "/ui/cameras?ok=created");
    let (_, _, list) = ui.get("/ui/cameras?ok=created").await;
    assert!(
        list.contains("Gate") && list.contains("camera was added"),
        "{list}"
    );
    assert!(list.contains("rtsp://admin:***@10.1.2.3"), "{list}");
    assert!(!list.contains("hunter2"), "the password is never shown");
    let store = &srv.state().store;
    let cams = store.list_cameras(&org.id).await.unwrap();
    assert_eq!(cams.len(), 1);
    let id = cams[0].id.clone();
    assert!(!cams[0].fields.enabled);

    // Edit: the form shows the redacted URL; sending it back keeps the stored one.
    let (s, _, edit) = ui.get(&format!("/ui/cameras/{id}/edit")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        edit.contains("admin:***@") && !edit.contains("hunter2"),
        "{edit}"
    );
    let mut changed = form("Gate 2", "rtsp://admin:***@10.1.2.3:554/cam?channel=1", "2");
    changed.retain(|(k, _)| *k != "fpir");
    changed.push(("_csrf", &csrf));
    changed.push(("fpir", "0.01"));
    // A repeated field is a readable page, not the API's JSON.
    let mut twice = changed.clone();
    twice.push(("fpir", "0.02"));
    let (s, h, body) = ui.post(&format!("/ui/cameras/{id}"), &twice).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        h["content-type"].to_str().unwrap().starts_with("text/html"),
        "{body}"
    );
    let (s, h, body) = ui.post(&format!("/ui/cameras/{id}"), &changed).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location(&h), "/ui/cameras?ok=saved");
    let row = store.get_camera(&org.id, &id).await.unwrap();
    assert_eq!(row.fields.name, "Gate 2");
    assert_eq!(row.fields.source_url, url, "credentials kept");
    assert_eq!(row.fields.detection_fps, 2.0);

    // Enable: saved, but without an engine it stays stopped, saying why.
    let (s, h, _) = ui
        .post(
            &format!("/ui/cameras/{id}/enabled"),
            &[("_csrf", &csrf), ("enabled", "on")],
        )
        .await;
    assert_eq!(
        (s, location(&h).as_str()),
        (StatusCode::SEE_OTHER, "/ui/cameras?ok=enabled")
    );
    assert!(store.get_camera(&org.id, &id).await.unwrap().fields.enabled);
    let (s, _, live) = ui.get(&format!("/ui/cameras/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        live.contains("not running") && live.contains("face engine"),
        "{live}"
    );
    let (s, h, status) = ui.get(&format!("/ui/cameras/{id}/status.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["state"], "stopped");
    let (s, _, body) = ui.get(&format!("/ui/cameras/{id}/live.mjpeg")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // The dashboard's camera health.
    let (_, _, dash) = ui.get("/ui/").await;
    assert!(
        dash.contains("camera-health") && dash.contains("Gate 2"),
        "{dash}"
    );
    // The session-authenticated event feed.
    let r = ui
        .http
        .get(format!("{}/ui/events/stream?camera_id={id}", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    drop(r);

    // An operator watches but does not manage.
    let op = UiClient::new(&srv);
    op.login("op@acme.test", PASSWORD).await;
    for page in [
        "/ui/cameras",
        &format!("/ui/cameras/{id}"),
        "/ui/recognitions",
    ] {
        let (s, _, body) = op.get(page).await;
        assert_eq!(s, StatusCode::OK, "operator on {page}: {body}");
    }
    let (_, _, list) = op.get("/ui/cameras").await;
    assert!(!list.contains("/edit"), "no edit links for an operator");
    let op_csrf = op.csrf().await;
    let (s, _, _) = op.get("/ui/cameras/new").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = op.get(&format!("/ui/cameras/{id}/edit")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for path in [
        "/ui/cameras".to_string(),
        format!("/ui/cameras/{id}"),
        format!("/ui/cameras/{id}/enabled"),
        format!("/ui/cameras/{id}/delete"),
    ] {
        let mut f = form("X", "push", "5");
        f.push(("_csrf", &op_csrf));
        let (s, _, _) = op.post(&path, &f).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "operator POST {path}");
    }
    // A viewer gets none of it.
    let viewer = UiClient::new(&srv);
    viewer.login("viewer@acme.test", PASSWORD).await;
    let event = "00000000-0000-4000-8000-000000000000";
    for page in [
        "/ui/cameras".to_string(),
        "/ui/cameras/new".to_string(),
        format!("/ui/cameras/{id}"),
        format!("/ui/cameras/{id}/edit"),
        format!("/ui/cameras/{id}/status.json"),
        format!("/ui/cameras/{id}/live.mjpeg"),
        "/ui/events/stream".to_string(),
        "/ui/recognitions".to_string(),
        format!("/ui/events/{event}/crop"),
    ] {
        let (s, _, body) = viewer.get(&page).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "viewer on {page}");
        assert!(body.contains("Not allowed"), "{page}: {body}");
    }
    let (_, _, me) = viewer.get("/ui/me").await;
    assert!(!me.contains("/ui/cameras"), "no camera menu for a viewer");
    // Another organisation's admin: not found, nothing changed.
    let foreign = UiClient::new(&srv);
    foreign.login("owner@other.test", PASSWORD).await;
    let f_csrf = foreign.csrf().await;
    for page in [
        format!("/ui/cameras/{id}"),
        format!("/ui/cameras/{id}/edit"),
        format!("/ui/cameras/{id}/status.json"),
        format!("/ui/cameras/{id}/live.mjpeg"),
    ] {
        let (s, _, _) = foreign.get(&page).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "other organisation on {page}");
    }
    let (s, _, _) = foreign
        .post(&format!("/ui/cameras/{id}/delete"), &[("_csrf", &f_csrf)])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, _, list) = foreign.get("/ui/cameras").await;
    assert!(!list.contains("Gate"), "{list}");
    let _ = other;
    // Delete.
    let (s, h, _) = ui
        .post(&format!("/ui/cameras/{id}/delete"), &[("_csrf", &csrf)])
        .await;
    assert_eq!(
        (s, location(&h).as_str()),
        (StatusCode::SEE_OTHER, "/ui/cameras?ok=deleted")
    );
    assert!(store.list_cameras(&org.id).await.unwrap().is_empty());
    srv.stop().await;
}
both_backends!(ui_cameras, camera_pages);

/// Unknown camera faces (with their embeddings, as the event processor keeps
/// them when the organisation stores images) from real photos: grouped by
/// similarity, a group labelled as a new person (enrolled), another
/// dismissed; a recognition marked "not X"; and on the test page, "this is
/// not X" stops the same photo being named X.
async fn review_flow(db: Db) {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP ui review flow: ../shared (test images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(db, true, |_| {}).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP ui review flow: model pack is not installed in {}",
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let other = srv.init_org("Other", "owner@other.test").await;
    let examples = shared.join("datasets/peers/face_recognition/examples");
    let ids = insert_unknown_faces(&srv, &org.id, &examples).await;
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let csrf = ui.csrf().await;

    // Two groups: Obama's two photos together, Biden alone.
    let (s, _, page) = ui.get("/ui/recognitions").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page.matches(r#"class="group stack""#).count(), 2, "{page}");
    let first = page.find(r#"class="group stack""#).unwrap();
    assert!(
        page[first..].contains(r#"<span class="count">2</span>"#),
        "the larger group first: {page}"
    );
    assert!(
        page.contains(&format!("/ui/events/{}/crop", ids[0])),
        "{page}"
    );
    // Crops: this organisation's only.
    let r = ui
        .http
        .get(format!("{}/ui/events/{}/crop", srv.url, ids[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let foreign = UiClient::new(&srv);
    foreign.login("owner@other.test", PASSWORD).await;
    let (s, _, _) = foreign.get(&format!("/ui/events/{}/crop", ids[0])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Another organisation cannot label these faces.
    let f_csrf = foreign.csrf().await;
    let (s, _, _) = foreign
        .post(
            "/ui/recognitions/label",
            &[
                ("_csrf", &f_csrf),
                ("id", &ids[0]),
                ("new_name", "Mallory"),
                ("new_external_id", "M-1"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = srv.get("/api/v1/people", &other.owner).await;
    assert_eq!(list["total"], 0);

    // Label Obama's group as a new person: both faces enrolled.
    let (s, _, body) = ui
        .post(
            "/ui/recognitions/label",
            &[
                ("_csrf", &csrf),
                ("id", &ids[0]),
                ("id", &ids[1]),
                ("action", "label"),
            ],
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no person chosen: {body}"
    );
    let (s, h, body) = ui
        .post(
            "/ui/recognitions/label",
            &[
                ("_csrf", &csrf),
                ("id", &ids[0]),
                ("id", &ids[1]),
                ("person_id", ""),
                ("new_name", "Barack Obama"),
                ("new_external_id", "OB-1"),
                ("action", "label"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location(&h), "/ui/recognitions?ok=labelled");
    let store = &srv.state().store;
    let (people, _) = store
        .list_people(
            &org.id,
            &facegate_store::PeopleFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let obama = people
        .iter()
        .find(|p| p.external_id == "OB-1")
        .expect("created");
    assert_eq!(
        store
            .list_templates(&org.id, &obama.id)
            .await
            .unwrap()
            .len(),
        2
    );
    let reviewed = store
        .review_events_by_ids(&org.id, &ids[..2])
        .await
        .unwrap();
    assert!(
        reviewed
            .iter()
            .all(|e| e.review.as_deref() == Some("reassigned")
                && e.person_id.as_deref() == Some(obama.id.as_str())
                && e.embedding.is_none())
    );
    let (_, _, page) = ui.get("/ui/recognitions?ok=labelled").await;
    assert_eq!(page.matches(r#"class="group stack""#).count(), 1, "{page}");
    // Dismiss Biden's: the embedding goes.
    let (s, h, _) = ui
        .post(
            "/ui/recognitions/label",
            &[("_csrf", &csrf), ("id", &ids[2]), ("action", "dismiss")],
        )
        .await;
    assert_eq!(
        (s, location(&h).as_str()),
        (StatusCode::SEE_OTHER, "/ui/recognitions?ok=dismissed")
    );
    let e = &store
        .review_events_by_ids(&org.id, &ids[2..3])
        .await
        .unwrap()[0];
    assert_eq!(e.review.as_deref(), Some("dismissed"));
    assert!(e.embedding.is_none());
    let (_, _, page) = ui.get("/ui/recognitions").await;
    assert!(page.contains("No unknown face to review"), "{page}");

    // The test page names Obama from the enrolled camera faces...
    let obama2 = std::fs::read(examples.join("obama2.jpg")).unwrap();
    let test = |bytes: Vec<u8>| {
        reqwest::multipart::Form::new()
            .text("_csrf", csrf.clone())
            .part(
                "photo",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name("probe.jpg")
                    .mime_str("image/jpeg")
                    .unwrap(),
            )
    };
    let (s, _, page) = ui
        .post_multipart("/ui/recognize", test(obama2.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains(r#"id="decision">match<"#), "{page}");
    assert!(page.contains("This is not Barack Obama"), "{page}");
    let hidden = |name: &str| {
        let marker = format!(r#"name="{name}" value=""#);
        let start = page.find(&marker).unwrap_or_else(|| panic!("{name}")) + marker.len();
        page[start..start + page[start..].find('"').unwrap()].to_string()
    };
    let (person_id, model_id, embedding, sig) = (
        hidden("person_id"),
        hidden("model_id"),
        hidden("embedding"),
        hidden("sig"),
    );
    assert_eq!(person_id, obama.id);
    // A signature for another person is refused.
    let (s, _, body) = ui
        .post(
            "/ui/recognize/not",
            &[
                ("_csrf", &csrf),
                ("person_id", "00000000-0000-4000-8000-000000000000"),
                ("model_id", &model_id),
                ("embedding", &embedding),
                ("sig", &sig),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // ... "this is not Barack Obama": the same photo is no longer named him.
    let (s, h, body) = ui
        .post(
            "/ui/recognize/not",
            &[
                ("_csrf", &csrf),
                ("person_id", &person_id),
                ("model_id", &model_id),
                ("embedding", &embedding),
                ("sig", &sig),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location(&h), "/ui/recognize?ok=not");
    assert_eq!(store.count_negatives(&org.id, &obama.id).await.unwrap(), 1);
    let (_, _, page) = ui
        .post_multipart("/ui/recognize", test(obama2.clone()))
        .await;
    assert!(page.contains(r#"id="decision">no_match<"#), "{page}");
    assert!(!page.contains("Barack Obama 0."), "{page}");
    // The API's identify consults the same list.
    let (s, b) = srv
        .post_image(
            "/api/v1/recognition/identify",
            &org.owner,
            obama2.clone(),
            "obama2.jpg",
            "image/jpeg",
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["decision"], "no_match", "{b}");
    // Another photo of him is still named him.
    let obama1 = std::fs::read(examples.join("obama.jpg")).unwrap();
    let (_, _, page) = ui.post_multipart("/ui/recognize", test(obama1)).await;
    assert!(page.contains(r#"id="decision">match<"#), "{page}");

    // A camera recognition to review: "not X" adds its face to X's list.
    let biden = std::fs::read(examples.join("biden.jpg")).unwrap();
    let wrong = insert_event(&srv, &org.id, &biden, "person", Some(&obama.id)).await;
    let (_, _, page) = ui.get("/ui/recognitions").await;
    assert!(page.contains(&format!(r#"value="{wrong}:not""#)), "{page}");
    let (s, h, _) = ui
        .post(
            "/ui/recognitions/review",
            &[("_csrf", &csrf), ("one", &format!("{wrong}:not"))],
        )
        .await;
    assert_eq!(
        (s, location(&h).as_str()),
        (StatusCode::SEE_OTHER, "/ui/recognitions?ok=rejected")
    );
    assert_eq!(store.count_negatives(&org.id, &obama.id).await.unwrap(), 2);
    // Bulk confirm needs a selection and an action.
    let other_one = insert_event(&srv, &org.id, &obama2, "person", Some(&obama.id)).await;
    let (s, _, _) = ui
        .post(
            "/ui/recognitions/review",
            &[("_csrf", &csrf), ("action", "confirm")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = ui
        .post(
            "/ui/recognitions/review",
            &[("_csrf", &csrf), ("id", &other_one), ("action", "confirm")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let e = &store
        .review_events_by_ids(&org.id, std::slice::from_ref(&other_one))
        .await
        .unwrap()[0];
    assert_eq!(e.review.as_deref(), Some("confirmed"));
    let (_, _, page) = ui.get("/ui/recognitions").await;
    assert!(page.contains("Nothing to review"), "{page}");
    srv.stop().await;
}
both_backends!(ui_review, review_flow);

/// A stored camera event of a disabled push camera "Door" (created when
/// missing), with the face of `photo` (embedding and crop) as the event
/// processor keeps it; returns its id.
pub async fn insert_event(
    srv: &TestServer,
    org_id: &str,
    photo: &[u8],
    kind: &str,
    person_id: Option<&str>,
) -> String {
    let state = srv.state();
    let store = &state.store;
    let camera = match store.list_cameras(org_id).await.unwrap().into_iter().next() {
        Some(c) => c.id,
        None => {
            store
                .create_camera(
                    org_id,
                    &facegate_store::CameraFields {
                        name: "Door".into(),
                        source_url: "push".into(),
                        rtsp_transport: "tcp".into(),
                        device_id: None,
                        purpose: "watch".into(),
                        detection_fps: 5.0,
                        min_face_px: 36,
                        min_sharpness: 5.0,
                        fpir: None,
                        match_threshold: None,
                        cooldown_s: 30,
                        enabled: false,
                    },
                )
                .await
                .unwrap()
                .id
        }
    };
    let engine = state.engine.as_ref().unwrap();
    let analysis = engine
        .analyze(std::sync::Arc::new(photo.to_vec()))
        .await
        .unwrap();
    let embedding = analysis.faces[0].embedding.clone();
    let id = uuid::Uuid::new_v4().to_string();
    let payload = serde_json::json!({"id": id, "kind": kind, "camera_name": "Door", "score": 0.2,
        "person_id": person_id, "quality": 0.8});
    store
        .insert_camera_event(
            org_id,
            &facegate_store::NewCameraEvent {
                id: &id,
                camera_id: &camera,
                track_id: 1,
                kind,
                decision: if person_id.is_some() {
                    "match"
                } else {
                    "unknown"
                },
                person_id,
                score: Some(0.2),
                operating_point: "{}",
                liveness: None,
                latency_ms: 100.0,
                outcome: None,
                payload: &payload.to_string(),
                crop: Some(photo),
                embedding: Some((&embedding, engine.model_id())),
                occurred_at: facegate_store::now_ms(),
            },
        )
        .await
        .unwrap();
    id
}

/// Unknown faces: obama.jpg, obama2.jpg, biden.jpg (in that order).
pub async fn insert_unknown_faces(
    srv: &TestServer,
    org_id: &str,
    examples: &std::path::Path,
) -> Vec<String> {
    let mut ids = Vec::new();
    for file in ["obama.jpg", "obama2.jpg", "biden.jpg"] {
        let photo = std::fs::read(examples.join(file)).unwrap();
        ids.push(insert_event(srv, org_id, &photo, "unknown", None).await);
    }
    ids
}

/// The retention day: once past, the sweep deletes the person's face data
/// (templates, negatives) and keeps the person; a later day keeps it all.
#[tokio::test]
async fn retention_sweep_erases_expired_face_data() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    let expired = srv.person(&org, "E-1", "Expired").await;
    let kept = srv.person(&org, "K-1", "Kept").await;
    let store = &srv.state().store;
    let face = facegate_core::Embedding::from_raw(vec![0.6, 0.8, 0.0]).unwrap();
    for p in [&expired, &kept] {
        store
            .add_template(&org.id, p, "test-model", &face, 0.9, None)
            .await
            .unwrap();
    }
    store
        .add_negative(&org.id, &expired, "test-model", &face, "test")
        .await
        .unwrap();
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let csrf = ui.csrf().await;
    for (p, day) in [(&expired, "2020-01-01"), (&kept, "2999-12-31")] {
        let (s, _, _) = ui
            .post(
                &format!("/ui/people/{p}/privacy"),
                &[
                    ("_csrf", &csrf),
                    ("consent_date", "2019-01-01"),
                    ("retain_until", day),
                ],
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
    }
    let swept = facegate_server::retention::sweep(srv.state())
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert!(
        store
            .list_templates(&org.id, &expired)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_negatives(&org.id, &expired).await.unwrap(), 0);
    assert_eq!(store.gallery().people(&org.id, "test-model"), 1);
    assert_eq!(store.list_templates(&org.id, &kept).await.unwrap().len(), 1);
    // The person and their consent record stay.
    let (s, _, page) = ui.get(&format!("/ui/people/{expired}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("No face enrolled yet"), "{page}");
    srv.stop().await;
}

/// The person page's access schedule editor: an admin adds and deletes the
/// person's schedules (checked as the API checks them), sees the ones for
/// everyone; an operator only reads; another organisation gets 404.
#[tokio::test]
async fn person_schedule_editor() {
    let Some(srv) = TestServer::start(Db::Sqlite, false, |_| {}).await else {
        return;
    };
    let org = srv.init_org("Acme", "owner@acme.test").await;
    srv.init_org("Other", "owner@other.test").await;
    srv.member(&org, "op@acme.test", "operator").await;
    let person = srv.person(&org, "S-1", "Sam").await;
    let door = srv.device(&org, "Front door", "door").await;
    let everyone = srv
        .create(
            "/api/v1/schedules",
            &org.owner,
            json!({"name": "Cleaning window", "weekdays": ["sat"], "start": "06:00", "end": "07:00"}),
        )
        .await;
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let csrf = ui.csrf().await;
    let page_url = format!("/ui/people/{person}");
    let (_, _, page) = ui.get(&page_url).await;
    assert!(
        page.contains("Cleaning window") && page.contains("(everyone)"),
        "{page}"
    );
    let add = format!("/ui/people/{person}/schedules");
    let (s, _, body) = ui
        .post(
            &add,
            &[
                ("_csrf", &csrf),
                ("name", "Office"),
                ("weekday", "mon"),
                ("start", "25:00"),
                ("end", "17:00"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("must be a time like 08:30"), "{body}");
    let (s, _, body) = ui
        .post(
            &add,
            &[
                ("_csrf", &csrf),
                ("name", "Office"),
                ("start", "09:00"),
                ("end", "17:00"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "no day: {body}");
    let (s, h, body) = ui
        .post(
            &add,
            &[
                ("_csrf", &csrf),
                ("name", "Office"),
                ("weekday", "mon"),
                ("weekday", "tue"),
                ("start", "09:00"),
                ("end", "17:30"),
                ("device_id", &door),
                ("valid_from", "2026-01-01"),
                ("valid_until", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(
        location(&h),
        format!("/ui/people/{person}?ok=schedule_added#schedules")
    );
    let (_, list) = srv.get("/api/v1/schedules", &org.owner).await;
    let own = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Office")
        .expect("stored")
        .clone();
    assert_eq!(own["person_id"], person.as_str());
    assert_eq!(own["device_id"], door.as_str());
    let own_id = own["id"].as_str().unwrap().to_string();
    let (_, _, page) = ui.get(&page_url).await;
    assert!(
        page.contains("mon tue") && page.contains("09:00–17:30") && page.contains("Front door"),
        "{page}"
    );
    // A schedule for everyone is not deleted from a person's page.
    let (s, _, _) = ui
        .post(
            &format!("/ui/people/{person}/schedules/{everyone}/delete"),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An operator reads, cannot change.
    let op = UiClient::new(&srv);
    op.login("op@acme.test", PASSWORD).await;
    let (_, _, page) = op.get(&page_url).await;
    assert!(
        page.contains("Office") && !page.contains("schedule-form"),
        "{page}"
    );
    let op_csrf = op.csrf().await;
    let (s, _, _) = op
        .post(
            &add,
            &[
                ("_csrf", &op_csrf),
                ("name", "X"),
                ("weekday", "mon"),
                ("start", "01:00"),
                ("end", "02:00"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = op
        .post(
            &format!("/ui/people/{person}/schedules/{own_id}/delete"),
            &[("_csrf", &op_csrf)],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Another organisation: not found.
    let foreign = UiClient::new(&srv);
    foreign.login("owner@other.test", PASSWORD).await;
    let f_csrf = foreign.csrf().await;
    let (s, _, _) = foreign
        .post(
            &add,
            &[
                ("_csrf", &f_csrf),
                ("name", "X"),
                ("weekday", "mon"),
                ("start", "01:00"),
                ("end", "02:00"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = foreign
        .post(
            &format!("/ui/people/{person}/schedules/{own_id}/delete"),
            &[("_csrf", &f_csrf)],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Delete.
    let (s, h, _) = ui
        .post(
            &format!("/ui/people/{person}/schedules/{own_id}/delete"),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(
        (s, location(&h)),
        (
            StatusCode::SEE_OTHER,
            format!("/ui/people/{person}?ok=schedule_deleted#schedules")
        )
    );
    let (s, _) = srv
        .get(&format!("/api/v1/schedules/{own_id}"), &org.owner)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    srv.stop().await;
}

/// The webcam's live feedback: a frame with a face answers its quality and
/// liveness, one without says so; the token is needed, a viewer refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enrol_check_gives_live_feedback() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP ui enrol check: ../shared (test images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(Db::Sqlite, true, |_| {}).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP ui enrol check: no model pack in {}",
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Acme", "owner@acme.test").await;
    srv.member(&org, "viewer@acme.test", "viewer").await;
    let examples = shared.join("datasets/peers/face_recognition/examples");
    let ui = UiClient::new(&srv);
    ui.login("owner@acme.test", PASSWORD).await;
    let csrf = ui.csrf().await;
    let check = |client: &UiClient, token: Option<&str>, bytes: Vec<u8>| {
        let mut r = client
            .http
            .post(format!("{}/ui/enrol/check", client.base))
            .header("origin", &client.base)
            .header("content-type", "image/jpeg")
            .body(bytes);
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        r.send()
    };
    let obama = std::fs::read(examples.join("obama.jpg")).unwrap();
    let r = check(&ui, Some(&csrf), obama.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["face_found"], true, "{j}");
    assert_eq!(j["faces"], 1, "{j}");
    assert!(j["quality"].as_f64().unwrap() > 0.0, "{j}");
    assert!(
        ["good", "fair", "poor"].contains(&j["badge"].as_str().unwrap()),
        "{j}"
    );
    assert!(
        j["message"].as_str().unwrap().starts_with("Face found"),
        "{j}"
    );
    let blank = {
        let img = image::RgbImage::from_pixel(64, 64, image::Rgb([200, 200, 200]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let j: serde_json::Value = check(&ui, Some(&csrf), blank)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(j["face_found"], false, "{j}");
    assert!(j["message"].as_str().unwrap().contains("No face"), "{j}");
    // Not an image: a readable JSON error.
    let r = check(&ui, Some(&csrf), b"not an image".to_vec())
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let j: serde_json::Value = r.json().await.unwrap();
    assert!(j["error"].is_string(), "{j}");
    // No token: refused by the CSRF check.
    let r = check(&ui, None, obama.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A viewer: refused.
    let viewer = UiClient::new(&srv);
    viewer.login("viewer@acme.test", PASSWORD).await;
    let v_csrf = viewer.csrf().await;
    let r = check(&viewer, Some(&v_csrf), obama).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    srv.stop().await;
}
