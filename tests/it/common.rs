//! Test harness: each test gets its own database (a SQLite file in a temp dir, or
//! a fresh PostgreSQL database), the real app on a random port, a manual clock and
//! an HTTP client with a cookie jar. The backend is chosen by `TEST_BACKEND`
//! (`sqlite` by default, or `postgres`, using `TEST_DATABASE_URL` or the local
//! server at 127.0.0.1:5432).

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;

use awc::http::Method;
use chrono::Duration;
use diesel::prelude::*;
use diesel::Connection;
use pharmacy::clock::{Clock, ManualClock};
use pharmacy::config::Settings;
use pharmacy::context::Ctx;
use pharmacy::db::{self, DbConnection, Pool, PoolOptions};
use pharmacy::domain::patient::PatientInput;
use pharmacy::domain::pharmacy::PharmacyInput;
use pharmacy::domain::role::Role;
use pharmacy::web::AppState;
use serde_json::Value;

/// Password of every test account.
pub const PASSWORD: &str = "correct-horse-battery";

/// Which backend this run tests.
pub fn backend() -> &'static str {
    match std::env::var("TEST_BACKEND").as_deref() {
        Ok("postgres") => "postgres",
        _ => "sqlite",
    }
}

fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// Creates an empty database on the selected backend.
    pub fn new() -> TestDb {
        if backend() == "postgres" {
            let name = format!("pharmacy_test_{}", uuid::Uuid::new_v4().simple());
            let admin = pg_admin_url();
            let mut c = diesel::PgConnection::establish(&admin)
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin} unreachable: {e}"));
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .expect("create test database");
            let (base, _) = admin.rsplit_once('/').expect("database URL has a path");
            TestDb {
                url: format!("{base}/{name}"),
                dir: None,
                pg_name: Some(name),
            }
        } else {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            TestDb {
                url,
                dir: Some(dir),
                pg_name: None,
            }
        }
    }

    /// A direct connection (outside the app's pool).
    pub fn connect(&self) -> DbConnection {
        match db::DatabaseUrl::parse(&self.url).unwrap() {
            db::DatabaseUrl::Sqlite(p) => {
                let mut c = diesel::SqliteConnection::establish(&p.display().to_string()).unwrap();
                use diesel::connection::SimpleConnection;
                c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                    .unwrap();
                DbConnection::Sqlite(c)
            }
            db::DatabaseUrl::Postgres(u) => {
                DbConnection::Postgres(diesel::PgConnection::establish(&u).unwrap())
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut c) = diesel::PgConnection::establish(&pg_admin_url()) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c);
            }
        }
    }
}

/// The application under test.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub clock: ManualClock,
    pub pool: Pool,
    pub db: TestDb,
    /// The copies file store.
    pub files: tempfile::TempDir,
    server: actix_web::dev::ServerHandle,
}

/// Options for spawning.
#[derive(Default, Clone)]
pub struct Options {
    pub env: Vec<(&'static str, String)>,
    pub demo_mode: bool,
}

impl TestApp {
    /// Spawns the app with default test settings.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    /// Spawns the app with extra configuration (as environment-style overrides).
    pub async fn spawn_with(opts: Options) -> TestApp {
        let db = TestDb::new();
        let files = tempfile::tempdir().expect("files dir");
        let mut env: Vec<(String, String)> = vec![
            ("PHARMACY__DATABASE__URL".into(), db.url.clone()),
            (
                "PHARMACY__COPIES__FILES_DIR".into(),
                files.path().display().to_string(),
            ),
            ("PHARMACY__SERVER__COOKIE_SECURE".into(), "false".into()),
            ("PHARMACY__DATABASE__POOL_SIZE".into(), "4".into()),
        ];
        env.extend(opts.env.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let mut settings = Settings::load_with_env(None, env)
            .expect("settings")
            .validate()
            .expect("valid settings");
        // Tests hash with few iterations to stay fast; production strength is
        // checked by unit tests and the configuration validator.
        settings.raw.security.pbkdf2_iterations = 1_000;
        let d = &settings.raw.database;
        let pool = db::connect(
            &settings.database,
            &PoolOptions {
                max_size: d.pool_size,
                connect_timeout: std::time::Duration::from_secs(10),
                sqlite_busy_timeout_ms: d.sqlite_busy_timeout_ms,
            },
        )
        .expect("pool");
        db::run_migrations(&mut pool.get().unwrap()).expect("migrations");
        let clock = ManualClock::new();
        let state = AppState::new(
            pool.clone(),
            settings,
            Arc::new(clock.clone()),
            opts.demo_mode,
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // The server runs on its own thread and runtime so that dropping the test
        // app can stop it (and its workers) from anywhere.
        let (tx, rx) = std::sync::mpsc::channel();
        let st = state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = pharmacy::web::server::build(st, listener, 2).expect("server");
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            })
        });
        let handle = rx.recv().expect("server started");
        TestApp {
            base,
            state,
            clock,
            pool,
            db,
            files,
            server: handle,
        }
    }

    /// The operator's context (setup done "from the command line").
    pub fn operator(&self) -> Ctx {
        Ctx::operator(self.clock.now())
    }

    /// A pooled connection.
    pub fn conn(&self) -> db::PooledConn {
        self.pool.get().unwrap()
    }

    /// Registers a pharmacy with the given code.
    pub fn pharmacy(&self, code: &str, name: &str) -> String {
        let input = PharmacyInput {
            code: code.into(),
            name: name.into(),
            postal_code: "1600022".into(),
            address: "東京都新宿区新宿3-1-1".into(),
            phone: "0312345678".into(),
            email: "store@example.jp".into(),
            founder: "株式会社テスト".into(),
        };
        pharmacy::pharmacies::create(&mut self.conn(), &self.operator(), &input)
            .expect("pharmacy")
            .id
    }

    /// Creates an account with [`PASSWORD`].
    pub fn user(&self, pharmacy_id: &str, username: &str, role: Role) -> String {
        let hash = pharmacy::auth::hashing::hash_password(PASSWORD, 1_000);
        pharmacy::users::add(
            &mut self.conn(),
            &self.operator(),
            pharmacy_id,
            username,
            &format!("{username} さん"),
            role,
            &hash,
        )
        .expect("user")
    }

    /// Enrols TOTP for a user directly; returns the secret.
    pub fn enable_totp(&self, user_id: &str) -> String {
        use pharmacy::db::schema::users;
        let secret = pharmacy::auth::totp::new_secret();
        diesel::update(users::table.find(user_id))
            .set((
                users::totp_secret.eq(Some(&secret)),
                users::totp_enabled_at.eq(Some(self.clock.now().naive_utc())),
            ))
            .execute(&mut self.conn())
            .unwrap();
        secret
    }

    /// The TOTP code for `secret` at the app's current time.
    pub fn totp_code(&self, secret: &str) -> String {
        pharmacy::auth::totp::code_at(secret, self.clock.now().timestamp() as u64).unwrap()
    }

    /// Registers a patient directly.
    pub fn patient(&self, pharmacy_id: &str, kanji: &str, kana: &str) -> String {
        let input = PatientInput {
            name_kanji: kanji.into(),
            name_kana: kana.into(),
            birth_date: "1970-01-02".into(),
            sex: "female".into(),
            insurer_number: Some("01130012".into()),
            insured_number: Some("123".into()),
            ..PatientInput::default()
        };
        pharmacy::patients::create(&mut self.conn(), &self.operator(), pharmacy_id, &input)
            .expect("patient")
            .id
    }

    /// Audit rows of every chain with this action, oldest first:
    /// (pharmacy_id, actor_name, outcome, subject_id, detail).
    pub fn audit(&self, action: &str) -> Vec<AuditLine> {
        use pharmacy::db::schema::audit_events as a;
        a::table
            .filter(a::action.eq(action))
            .order((a::occurred_at.asc(), a::seq.asc()))
            .select((
                a::pharmacy_id,
                a::actor_name,
                a::outcome,
                a::subject_id,
                a::detail,
            ))
            .load::<(
                Option<String>,
                Option<String>,
                String,
                Option<String>,
                String,
            )>(&mut self.conn())
            .unwrap()
            .into_iter()
            .map(
                |(pharmacy_id, actor, outcome, subject_id, detail)| AuditLine {
                    pharmacy_id,
                    actor,
                    outcome,
                    subject_id,
                    detail,
                },
            )
            .collect()
    }

    /// Moves the app's clock.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// A job worker on this app's pool and clock.
    pub fn worker(&self) -> pharmacy::jobs::worker::Worker {
        self.state.worker().expect("worker")
    }

    /// A fresh browser-like client.
    pub fn client(&self) -> TestClient {
        TestClient::new(&self.base)
    }

    /// A client signed in through the API as `username` (TOTP if `secret`).
    pub async fn signed_in(&self, username: &str, secret: Option<&str>) -> TestClient {
        let c = self.client();
        let r = c.sign_in(username, PASSWORD).await;
        assert_eq!(r.status, 200, "sign-in failed: {}", r.text());
        if let Some(s) = secret {
            let r = c
                .post_json(
                    "/api/v1/session/second-factor",
                    serde_json::json!({"code": self.totp_code(s)}),
                )
                .await;
            assert_eq!(r.status, 200, "second factor failed: {}", r.text());
            c.set_csrf_from(&r);
        }
        c
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let h = self.server.clone();
        let _ = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(h.stop(false));
        })
        .join();
    }
}

/// One audit row, as tests look at it.
#[derive(Debug, Clone)]
pub struct AuditLine {
    pub pharmacy_id: Option<String>,
    pub actor: Option<String>,
    pub outcome: String,
    pub subject_id: Option<String>,
    pub detail: String,
}

/// A response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// An HTTP client with a cookie jar and the CSRF token of its session.
pub struct TestClient {
    base: String,
    client: awc::Client,
    cookies: RefCell<BTreeMap<String, String>>,
    pub csrf: RefCell<Option<String>>,
    extra: RefCell<Vec<(String, String)>>,
}

impl TestClient {
    pub fn new(base: &str) -> TestClient {
        TestClient {
            base: base.to_string(),
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
            cookies: RefCell::new(BTreeMap::new()),
            csrf: RefCell::new(None),
            extra: RefCell::new(Vec::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends a request; `csrf` adds the `X-CSRF-Token` header when known.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        csrf: bool,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        let cookies = self.cookie_header();
        if !cookies.is_empty() {
            req = req.insert_header(("Cookie", cookies));
        }
        if let Some(ct) = content_type {
            req = req.insert_header(("Content-Type", ct));
        }
        if csrf {
            if let Some(t) = self.csrf.borrow().clone() {
                req = req.insert_header(("X-CSRF-Token", t));
            }
        }
        for (k, v) in self.extra.borrow().iter() {
            req = req.insert_header((k.as_str(), v.as_str()));
        }
        let mut res = req.send_body(body).await.expect("request");
        let body = res
            .body()
            .limit(16 * 1024 * 1024)
            .await
            .expect("body")
            .to_vec();
        for sc in res.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap_or_default();
            let first = sc.split(';').next().unwrap_or_default();
            if let Some((k, v)) = first.split_once('=') {
                let removal = v.is_empty() || sc.contains("Max-Age=0") || sc.contains("max-age=0");
                if removal {
                    self.cookies.borrow_mut().remove(k.trim());
                } else {
                    self.cookies
                        .borrow_mut()
                        .insert(k.trim().to_string(), v.trim().to_string());
                }
            }
        }
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body,
        }
    }

    /// A JSON request with extra headers (and the CSRF token).
    pub async fn send_with_headers(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Resp {
        *self.extra.borrow_mut() = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let r = self
            .send(method, path, Some("application/json"), body, true)
            .await;
        self.extra.borrow_mut().clear();
        r
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, Vec::new(), false).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Resp {
        self.send(
            Method::POST,
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
            true,
        )
        .await
    }

    pub async fn put_json(&self, path: &str, body: Value) -> Resp {
        self.send(
            Method::PUT,
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
            true,
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, Vec::new(), true)
            .await
    }

    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        self.send(
            Method::POST,
            path,
            Some("application/x-www-form-urlencoded"),
            body.into_bytes(),
            false,
        )
        .await
    }

    /// Signs in through the API and remembers the CSRF token.
    pub async fn sign_in(&self, username: &str, password: &str) -> Resp {
        let r = self
            .post_json(
                "/api/v1/session",
                serde_json::json!({"username": username, "password": password}),
            )
            .await;
        if r.status == 200 {
            self.set_csrf_from(&r);
        }
        r
    }

    pub fn set_csrf_from(&self, r: &Resp) {
        if let Some(t) = r.json()["csrf_token"].as_str() {
            *self.csrf.borrow_mut() = Some(t.to_string());
        }
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.borrow().contains_key(name)
    }

    pub fn forget_csrf(&self) {
        *self.csrf.borrow_mut() = None;
    }
}

/// Extracts `name="csrf_token" value="..."` from a page.
pub fn form_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("csrf field in page") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}
