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
