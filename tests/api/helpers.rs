//! The shared harness: every test gets the real application (the same
//! `Application::build` as `mandaat serve`) on 127.0.0.1 port 0, with a fresh data
//! directory and a fresh database: SQLite by default, or a new PostgreSQL database
//! when MANDAAT_TEST_DATABASE_URL is set (dropped afterwards).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tempfile::TempDir;
use uuid::Uuid;

use mandaat::Application;
use mandaat::auth::{LocalIssuer, Role, TokenRequest};
use mandaat::config::{Config, StorageConfig, TokenConfig};
use mandaat::domain::member::Sector;
use mandaat::domain::statement::{BASE64URL, KeyId};

pub const ISSUER: &str = "mandaat";
pub const AUDIENCE: &str = "mandaat-api";

/// DUO's open data as kept in the repository (`data/duo`, `data/duo-vo`).
pub fn duo_data(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(folder)
}

/// A database for one test. PostgreSQL databases are dropped when this is dropped.
pub struct TestDatabase {
    url: Option<String>,
    drop: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn new() -> Self {
        let Ok(server) = std::env::var("MANDAAT_TEST_DATABASE_URL") else {
            return TestDatabase {
                url: None,
                drop: None,
            };
        };
        // Set means required: an unreachable server fails the test, never skips it.
        let admin = Database::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("MANDAAT_TEST_DATABASE_URL is set but unreachable: {e}"));
        let name = format!("mandaat_test_{}", Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let base = server.split('?').next().unwrap_or(&server);
        let base = &base[..base.rfind('/').expect("database URL has a path")];
        TestDatabase {
            url: Some(format!("{base}/{name}")),
            drop: Some((server.clone(), name)),
        }
    }

    /// Embedded SQLite, whatever MANDAAT_TEST_DATABASE_URL says.
    pub fn sqlite() -> Self {
        TestDatabase {
            url: None,
            drop: None,
        }
    }

    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The PostgreSQL server's address (`host:port` of the URL); `None` on SQLite.
    pub fn server_address(&self) -> Option<String> {
        let url = reqwest::Url::parse(self.url.as_deref()?).expect("database URL");
        Some(format!(
            "{}:{}",
            url.host_str().expect("database URL has a host"),
            url.port().unwrap_or(5432)
        ))
    }

    /// The same PostgreSQL database reached through `proxy` (a fault-injecting proxy
    /// in front of the server), without TLS so the proxy can read the protocol. It is
    /// still dropped at the real server.
    pub fn through(mut self, proxy: std::net::SocketAddr) -> Self {
        let url = self.url.as_deref().expect("a PostgreSQL database");
        let mut url = reqwest::Url::parse(url).expect("database URL");
        url.set_host(Some(&proxy.ip().to_string()))
            .expect("proxy host");
        url.set_port(Some(proxy.port())).expect("proxy port");
        url.set_query(Some("sslmode=disable"));
        self.url = Some(url.to_string());
        self
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.drop.take() else {
            return;
        };
        // Drop runs inside the test's runtime; use a runtime of our own on a thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = Database::connect(&server).await.ok()?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

/// A clock the test moves by hand, so voting windows open and close on cue. It stands
/// still, or (`running`) follows real time plus whatever `advance` added: for a browser
/// that signs statements with its own clock.
pub struct TestClock {
    at: std::sync::Mutex<chrono::DateTime<chrono::Utc>>,
    running_since: Option<std::time::Instant>,
}

impl TestClock {
    pub fn fixed(at: chrono::DateTime<chrono::Utc>) -> Self {
        TestClock {
            at: std::sync::Mutex::new(at),
            running_since: None,
        }
    }

    pub fn running() -> Self {
        TestClock {
            at: std::sync::Mutex::new(chrono::Utc::now()),
            running_since: Some(std::time::Instant::now()),
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.at.lock().unwrap();
        *now += by;
    }
}

impl mandaat::clock::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let at = *self.at.lock().unwrap();
        match self.running_since {
            None => at,
            Some(start) => at + chrono::Duration::from_std(start.elapsed()).unwrap(),
        }
    }
}

pub struct TestApp {
    pub base: String,
    /// `http://…` of the `--metrics-listen` address, when the config set one.
    pub metrics_base: Option<String>,
    pub clock: Arc<TestClock>,
    pub client: reqwest::Client,
    pub issuer: Arc<LocalIssuer>,
    /// Holds the server's next batch of ballots and proxies before it is judged.
    pub hold: Arc<mandaat::service::sequencer::BatchHold>,
    pub data_dir: TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    // Declared last: dropped after the server is told to stop.
    pub db: TestDatabase,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::new().await;
        Self::spawn_with(data_dir, db, 256 * 1024).await
    }

    pub async fn spawn_with(data_dir: TempDir, db: TestDatabase, max_body_bytes: usize) -> TestApp {
        let clock = Arc::new(TestClock::fixed(chrono::Utc::now()));
        Self::spawn_on(data_dir, db, max_body_bytes, clock, |_| {}).await
    }

    /// A fresh app (as `spawn`) whose server reads this clock.
    pub async fn spawn_with_clock(clock: Arc<TestClock>) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::new().await;
        Self::spawn_on(data_dir, db, 256 * 1024, clock, |_| {}).await
    }

    /// A fresh app (as `spawn`) on this clock, whose configuration `adjust` changes first.
    pub async fn spawn_with_clock_and_config(
        clock: Arc<TestClock>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::new().await;
        Self::spawn_on(data_dir, db, 256 * 1024, clock, adjust).await
    }

    /// A fresh app (as `spawn`) whose configuration `adjust` changes first.
    pub async fn spawn_with_config(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::new().await;
        let clock = Arc::new(TestClock::fixed(chrono::Utc::now()));
        Self::spawn_on(data_dir, db, 256 * 1024, clock, adjust).await
    }

    /// A fresh app on this database with a running clock (for clients that sign with
    /// the real time), whose configuration `adjust` changes first.
    pub async fn spawn_on_database(db: TestDatabase, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(TestClock::running());
        Self::spawn_on(data_dir, db, 256 * 1024, clock, adjust).await
    }

    async fn spawn_on(
        data_dir: TempDir,
        db: TestDatabase,
        max_body_bytes: usize,
        clock: Arc<TestClock>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = test_config(data_dir.path(), &db);
        config.max_body_bytes = max_body_bytes;
        config.clock = mandaat::clock::SharedClock(clock.clone());
        adjust(&mut config);
        let app = Application::build(config)
            .await
            .expect("application builds");
        let base = format!("http://{}", app.local_addr());
        let metrics_base = app.metrics_addr().map(|a| format!("http://{a}"));
        let issuer = app.issuer();
        let hold = app.batch_hold();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        TestApp {
            base,
            metrics_base,
            clock,
            hold,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            issuer,
            data_dir,
            shutdown: Some(tx),
            server: Some(server),
            db,
        }
    }

    /// Stops the server as at shutdown (its background work is cut off wherever it
    /// is) and waits until it has; the data and database stay for a restart.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// The configuration of another server on this app's data: a restart.
    pub fn restart_config(&self) -> Config {
        let mut config = test_config(self.data_dir.path(), &self.db);
        config.max_body_bytes = 1024;
        config
    }

    pub fn token(&self, role: Role, member_id: Option<Uuid>, sector: Option<Sector>) -> String {
        let request = TokenRequest {
            subject: format!("test-{role}"),
            role,
            member_id,
            sector,
            ttl: Duration::from_secs(600),
        };
        self.issuer
            .issue(&request, chrono::Utc::now())
            .expect("token")
    }

    pub fn admin(&self) -> String {
        self.token(Role::Admin, None, None)
    }

    pub fn auditor(&self) -> String {
        self.token(Role::Auditor, None, None)
    }

    pub fn council(&self, sector: Sector) -> String {
        self.token(Role::Council, None, Some(sector))
    }

    pub fn board(&self, member_id: Uuid) -> String {
        self.token(Role::Board, Some(member_id), None)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self.raw(method, path, token, body).await;
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).unwrap_or(Value::String(body))
        };
        (status, value)
    }

    /// Status, content type and body text.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, String, String) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.checked().await;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.text().await.expect("body");
        check_problem(status, &content_type, &body);
        (status, content_type, body)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Creates a board as admin and admits it as a member from 2020-01-01 (before
    /// any test's opening day); returns its id.
    pub async fn create_member(
        &self,
        bg_number: u32,
        name: &str,
        po: Option<u64>,
        vo: Option<u64>,
    ) -> Uuid {
        let id = self.create_board(bg_number, name, po, vo).await;
        self.admit(id, "2020-01-01").await;
        id
    }

    /// Admits a board as a member from `date` (YYYY-MM-DD) through the API.
    pub async fn admit(&self, member: Uuid, date: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/api/v1/members/{member}/membership"),
                &self.admin(),
                &json!({"action": "admit", "date": date}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Admits every board in the register from 2020-01-01 through the real CLI
    /// (`mandaat members admit --all`), e.g. after an import; the server signs the
    /// admissions into the log before the next proposal opens.
    pub fn admit_all(&self) {
        let out = self.cli(&["members", "admit", "--all", "--date", "2020-01-01"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates a board (not a member) as admin and returns its id.
    pub async fn create_board(
        &self,
        bg_number: u32,
        name: &str,
        po: Option<u64>,
        vo: Option<u64>,
    ) -> Uuid {
        let mut pupils = serde_json::Map::new();
        if let Some(po) = po {
            pupils.insert("po".into(), json!(po));
        }
        if let Some(vo) = vo {
            pupils.insert("vo".into(), json!(vo));
        }
        let (status, body) = self
            .post(
                "/api/v1/members",
                &self.admin(),
                &json!({"bg_number": bg_number, "name": name, "pupils": pupils}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("member id")
    }

    /// A direct connection to this app's database, to look at rows the API does not show.
    pub async fn database(&self) -> sea_orm::DatabaseConnection {
        let url = match self.db.url() {
            Some(url) => url.to_owned(),
            None => format!(
                "sqlite://{}",
                storage(self.data_dir.path(), &self.db)
                    .sqlite_path()
                    .display()
            ),
        };
        sea_orm::Database::connect(url).await.unwrap()
    }

    /// Runs the real `mandaat` binary against this app's data directory and database.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mandaat"));
        cmd.args(args).arg("--data-dir").arg(self.data_dir.path());
        if let Some(url) = self.db.url() {
            cmd.arg("--database-url").arg(url);
        }
        cmd.env_remove("MANDAAT_DATABASE_URL")
            .env("RUST_LOG", "warn");
        cmd.output().expect("mandaat runs")
    }

    /// Another server on this app's data directory (its key files) and database, with
    /// this app's clock: as a second `mandaat serve` on the same PostgreSQL. It stops
    /// when the returned sender is dropped.
    pub async fn another_server(&self) -> (String, tokio::sync::oneshot::Sender<()>) {
        let mut config = test_config(self.data_dir.path(), &self.db);
        config.clock = mandaat::clock::SharedClock(self.clock.clone());
        let app = Application::build(config)
            .await
            .expect("another server builds");
        let base = format!("http://{}", app.local_addr());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        (base, tx)
    }

    /// Path to one of the server's key files.
    pub fn key_file(&self, purpose: &str) -> PathBuf {
        self.data_dir.path().join(format!("{purpose}.key.pem"))
    }
}

/// The configuration every test server starts from: port 0, this data directory
/// and database, the system clock and the defaults otherwise.
pub fn test_config(data_dir: &Path, db: &TestDatabase) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        metrics_listen: None,
        storage: storage(data_dir, db),
        token: TokenConfig {
            token_issuer: ISSUER.into(),
            token_audience: AUDIENCE.into(),
        },
        log: Default::default(),
        max_body_bytes: 256 * 1024,
        max_proxies_per_holder: 2,
        public_url: None,
        session_idle: std::time::Duration::from_secs(8 * 3600),
        sign_in_providers: None,
        log_format: Default::default(),
        rate_limits: Default::default(),
        connections: Default::default(),
        webhooks: Default::default(),
        clock: Default::default(),
    }
}

pub fn storage(data_dir: &Path, db: &TestDatabase) -> StorageConfig {
    StorageConfig {
        data_dir: data_dir.to_owned(),
        database_url: db.url().map(str::to_owned),
        chamber_rules: None,
        database_timeout: std::time::Duration::from_secs(5),
    }
}

/// A board's key as a test (or a web client) holds it.
pub struct BoardKey {
    pub signing: SigningKey,
}

impl BoardKey {
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("random");
        BoardKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    pub fn public_b64(&self) -> String {
        BASE64URL.encode(self.signing.verifying_key().as_bytes())
    }

    pub fn key_id(&self) -> String {
        KeyId::of(self.signing.verifying_key().as_bytes()).to_string()
    }

    /// Signs the canonical form of `statement` into the wire shape.
    pub fn sign(&self, statement: &Value) -> Value {
        let bytes = serde_json_canonicalizer::to_vec(statement).expect("canonical");
        self.sign_bytes(&bytes)
    }

    /// Signs exactly these bytes (canonical or not) into the wire shape.
    pub fn sign_bytes(&self, bytes: &[u8]) -> Value {
        json!({
            "statement": BASE64URL.encode(bytes),
            "key_id": self.key_id(),
            "signature": BASE64URL.encode(self.signing.sign(bytes).to_bytes()),
        })
    }

    /// A proof of possession registering this key for `member`.
    pub fn proof(&self, member: Uuid) -> Value {
        self.sign(&json!({"type": "mandaat.key.v1", "member": member.to_string(), "public_key": self.public_b64()}))
    }

    pub async fn register(&self, app: &TestApp, member: Uuid) -> (StatusCode, Value) {
        app.post(
            &format!("/api/v1/members/{member}/keys"),
            &app.board(member),
            &self.proof(member),
        )
        .await
    }
}

/// Every problem the server sends is in the catalogue (docs/problems.md) with the
/// status it was sent with.
pub fn check_problem(status: StatusCode, content_type: &str, body: &str) {
    if !content_type.starts_with("application/problem+json") {
        assert!(
            status.is_success() || status.is_redirection() || status == StatusCode::NOT_MODIFIED,
            "a {status} answer that is not a problem: {content_type} {body}"
        );
        return;
    }
    let problem: Value = serde_json::from_str(body).expect("problem is JSON");
    let type_ = problem["type"].as_str().unwrap_or_default();
    let slug = type_
        .strip_prefix("urn:mandaat:problem:")
        .unwrap_or_else(|| panic!("problem type {type_:?} is not a urn:mandaat:problem"));
    let entry = mandaat::api::catalogue::lookup(slug)
        .unwrap_or_else(|| panic!("problem type {slug:?} is not in docs/problems.md"));
    assert_eq!(
        entry.status,
        status.as_u16(),
        "{slug} is catalogued as {} but was sent as {status}",
        entry.status
    );
    assert_eq!(problem["status"], status.as_u16(), "{body}");
}

/// Every answer carries a request id, and a problem names it as its `instance`.
pub fn check_request_id(headers: &reqwest::header::HeaderMap, body: &[u8]) {
    let id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("an answer without x-request-id: {headers:?}"));
    assert!(!id.is_empty());
    let problem = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/problem+json"));
    if problem {
        let body: Value = serde_json::from_slice(body).expect("problem is JSON");
        assert_eq!(
            body["instance"],
            format!("urn:mandaat:request:{id}"),
            "a problem's instance names its request"
        );
    }
}

/// Asserts an RFC 9457 problem with the given status and `type` slug.
pub fn assert_problem(status: StatusCode, body: &Value, expected: StatusCode, slug: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(
        body["type"],
        format!("urn:mandaat:problem:{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], expected.as_u16(), "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
}

/// Sending a request with the contract check: the response is checked against the
/// committed OpenAPI document (tests/api/contract.rs) before the test sees it.
pub trait Checked {
    fn checked(self) -> impl std::future::Future<Output = reqwest::Response> + Send;
}

impl Checked for reqwest::RequestBuilder {
    async fn checked(self) -> reqwest::Response {
        let (client, request) = self.build_split();
        let request = request.expect("request builds");
        let method = request.method().clone();
        let url = request.url().clone();
        let resp = client.execute(request).await.expect("request sent");
        let status = resp.status();
        let version = resp.version();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body");
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        crate::contract::check(&method, &target, status, &headers, &body);
        check_request_id(&headers, &body);
        let mut rebuilt = poem::http::Response::new(body);
        *rebuilt.status_mut() = status;
        *rebuilt.version_mut() = version;
        *rebuilt.headers_mut() = headers;
        reqwest::Response::from(rebuilt)
    }
}
