//! Test harness: a real server on 127.0.0.1:0 over a fresh SQLite file or a
//! fresh PostgreSQL database (dropped afterwards), driven with reqwest.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use facegate_server::{Config, RunningServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const PASSWORD: &str = "correct horse battery";
const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub url: String,
    pub client: reqwest::Client,
    pub server: Option<RunningServer>,
    pub _dir: tempfile::TempDir,
    pub pg_db: Option<String>,
}

fn pg_admin_url() -> String {
    std::env::var("FACEGATE_TEST_PG").unwrap_or_else(|_| PG_ADMIN.into())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

async fn create_pg_db() -> Option<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = pg_admin_url();
    let Ok(mut admin) = sqlx::AnyConnection::connect(&url).await else {
        eprintln!("SKIP: no PostgreSQL at {url} (set FACEGATE_TEST_PG)");
        return None;
    };
    let name = format!(
        "fg_api_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        chrono::Utc::now().timestamp_micros()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .ok()?;
    Some(name)
}

async fn drop_pg_db(name: &str) {
    use sqlx::Connection;
    if let Ok(mut admin) = sqlx::AnyConnection::connect(&pg_admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}

/// Where the face engine's packs are: `FACEGATE_TEST_MODELS_DIR`, else the
/// default data directory that `facegate models install` writes to.
pub fn models_dir() -> PathBuf {
    std::env::var_os("FACEGATE_TEST_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(facegate_vision::default_data_dir)
}

pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    dir.join("datasets").is_dir().then_some(dir)
}

impl TestServer {
    /// Start a server; `None` when the database is unavailable (skip).
    pub async fn start(
        db: Db,
        with_engine: bool,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".into(),
            engine_required: false,
            models_dir: models_dir(),
            pack: std::env::var("FACEGATE_TEST_PACK").unwrap_or_else(|_| "default".into()),
            engine_sessions: 2,
            ..Config::default()
        };
        if !with_engine {
            config.pack = "no-such-pack-in-tests".into();
        }
        config.auth.jwt_secret = JWT_SECRET.into();
        config.limits.per_ip_per_minute = 0;
        config.limits.login_per_ip_per_minute = 10_000;
        config.max_body_bytes = 4 * 1024 * 1024;
        let mut pg_db = None;
        if db == Db::Postgres {
            let name = create_pg_db().await?;
            let base = pg_admin_url();
            let base = base
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(base);
            config.database_url = format!("{base}/{name}");
            pg_db = Some(name);
        }
        tweak(&mut config);
        let server = facegate_server::start(config).await.expect("server starts");
        Some(TestServer {
            url: format!("http://{}", server.addr),
            client: reqwest::Client::new(),
            server: Some(server),
            _dir: dir,
            pg_db,
        })
    }

    pub fn has_engine(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|s| s.state.engine.is_some())
    }

    pub fn state(&self) -> &facegate_server::state::AppState {
        &self.server.as_ref().unwrap().state
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
        if let Some(name) = self.pg_db.take() {
            drop_pg_db(&name).await;
        }
    }

    pub fn req(&self, method: Method, path: &str, auth: &Auth) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.url));
        match auth {
            Auth::None => r,
            Auth::Bearer(t) => r.bearer_auth(t),
            Auth::Key(k) => r.header("X-API-Key", k),
        }
    }

    /// Send JSON (or nothing) and return status + parsed body (Null if empty / not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.req(method, path, auth);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("request sent");
        read(resp).await
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> (StatusCode, Value) {
        self.call(Method::GET, path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, auth, Some(body)).await
    }

    /// Bootstrap an organisation with an owner (as `facegate init` does) and log in.
    pub async fn init_org(&self, org: &str, email: &str) -> Org {
        let cfg = &self.state().config;
        let report = facegate_server::init_organisation(cfg, org, email, PASSWORD)
            .await
            .expect("init");
        let token = self.login(email, PASSWORD).await;
        Org {
            id: report.org_id,
            owner: Auth::Bearer(token),
        }
    }

    /// POST the login form; the caller judges the answer.
    pub async fn try_login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/auth/login",
            &Auth::None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (s, b) = self.try_login(email, password).await;
        assert_eq!(s, StatusCode::OK, "login {email}: {b}");
        b["access_token"].as_str().unwrap().to_string()
    }

    /// Create an account with `role` in the owner's organisation and log in as it.
    pub async fn member(&self, org: &Org, email: &str, role: &str) -> Auth {
        let (s, b) = self
            .post(
                "/api/v1/accounts",
                &org.owner,
                json!({"email": email, "password": PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "create {role}: {b}");
        Auth::Bearer(self.login(email, PASSWORD).await)
    }

    pub async fn api_key(&self, org: &Org, role: &str, scopes: &[&str]) -> (String, String) {
        let (s, b) = self
            .post(
                "/api/v1/api-keys",
                &org.owner,
                json!({"name": "test key", "role": role, "scopes": scopes}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        (
            b["id"].as_str().unwrap().to_string(),
            b["key"].as_str().unwrap().to_string(),
        )
    }

    /// POST `body` to a collection, expect 201 and return the new row's id.
    pub async fn create(&self, path: &str, auth: &Auth, body: Value) -> String {
        let (s, b) = self.post(path, auth, body).await;
        assert_eq!(s, StatusCode::CREATED, "{path}: {b}");
        b["id"].as_str().unwrap().to_string()
    }

    pub async fn person(&self, org: &Org, external_id: &str, name: &str) -> String {
        self.create(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": external_id, "name": name}),
        )
        .await
    }

    /// Ann (`A-1`) with the RFID card `CARD-A`, in `org`.
    pub async fn ann_with_card(&self, org: &Org) -> String {
        self.create(
            "/api/v1/people",
            &org.owner,
            json!({"external_id": "A-1", "name": "Ann", "rfid_code": "CARD-A"}),
        )
        .await
    }

    pub async fn device(&self, org: &Org, name: &str, kind: &str) -> String {
        self.create(
            "/api/v1/devices",
            &org.owner,
            json!({"name": name, "kind": kind}),
        )
        .await
    }

    /// POST `bytes` as the multipart `image` file (named `file_name`, of type
    /// `mime`) with the text `fields`.
    pub async fn post_image(
        &self,
        path: &str,
        auth: &Auth,
        bytes: Vec<u8>,
        file_name: &str,
        mime: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form = reqwest::multipart::Form::new().part(
            "image",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(file_name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let resp = self
            .req(Method::POST, path, auth)
            .multipart(form)
            .send()
            .await
            .unwrap();
        read(resp).await
    }
}

impl Drop for TestServer {
    /// A failed assertion skips `stop`; still drop the PostgreSQL database.
    fn drop(&mut self) {
        if let Some(name) = self.pg_db.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_pg_db(&name));
                }
            })
            .join();
        }
    }
}

pub async fn read(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(String),
    Key(String),
}

pub struct Org {
    pub id: String,
    pub owner: Auth,
}

/// Assert a 4xx with our error shape and return its code.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode) -> String {
    assert_eq!(status, expected, "body: {body}");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"));
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.message in {body}"));
    assert!(!message.is_empty());
    code.to_string()
}

/// Run a scenario against SQLite and PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $scenario:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $scenario($crate::common::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $scenario($crate::common::Db::Postgres).await;
            }
        }
    };
}
