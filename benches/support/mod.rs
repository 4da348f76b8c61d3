//! What both benchmarks need: a running server on a fresh database, member boards
//! with registered keys, an open proposal and one pre-signed ballot per board.

// Each benchmark compiles this module and uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use mandaat::auth::{Role, TokenRequest};
use mandaat::config::{Config, StorageConfig, TokenConfig};
use mandaat::domain::statement::{BASE64URL, KeyId};

pub struct Board {
    pub id: String,
    pub key: SigningKey,
    pub token: String,
}

pub fn wire(key: &SigningKey, body: &Value) -> Value {
    let bytes = serde_json_canonicalizer::to_vec(body).expect("canonical");
    json!({
        "statement": BASE64URL.encode(&bytes),
        "key_id": KeyId::of(key.verifying_key().as_bytes()).to_string(),
        "signature": BASE64URL.encode(key.sign(&bytes).to_bytes()),
    })
}

pub fn per_op(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e6 / n as f64
}

/// `MANDAAT_BENCH_BALLOTS` (default `default`).
pub fn boards_wanted(default: usize) -> usize {
    std::env::var("MANDAAT_BENCH_BALLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn database_name() -> &'static str {
    match std::env::var("MANDAAT_BENCH_DATABASE_URL") {
        Ok(_) => "PostgreSQL",
        Err(_) => "SQLite",
    }
}

pub struct Bench {
    pub base: String,
    pub client: reqwest::Client,
    pub boards: Vec<Board>,
    pub proposal: String,
    pub digest: String,
    pub issuer: std::sync::Arc<mandaat::auth::LocalIssuer>,
    _dir: tempfile::TempDir,
}

impl Bench {
    pub fn token(&self, role: Role, member_id: Option<uuid::Uuid>) -> String {
        let request = TokenRequest {
            subject: "bench".into(),
            role,
            member_id,
            sector: None,
            ttl: Duration::from_secs(3600),
        };
        self.issuer
            .issue(&request, chrono::Utc::now())
            .expect("token")
    }

    /// A ballot of board `i`, signed now, with a nonce unique to (`round`, `i`).
    pub fn ballot(&self, i: usize, round: u32) -> Value {
        let b = &self.boards[i];
        let nonce = BASE64URL.encode(((u128::from(round) << 64) | i as u128).to_le_bytes());
        wire(
            &b.key,
            &json!({"type": "mandaat.ballot.v1", "proposal": self.proposal,
            "proposal_digest": self.digest, "voter": b.id, "for": b.id,
            "choice": {"vote": if (i + round as usize).is_multiple_of(3) { "no" } else { "yes" }},
            "nonce": nonce, "cast_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}),
        )
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

/// Starts the server and sets up `n` boards with keys and an open proposal.
pub async fn start(n: usize) -> Bench {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        metrics_listen: None,
        storage: StorageConfig {
            data_dir: dir.path().to_owned(),
            database_url: std::env::var("MANDAAT_BENCH_DATABASE_URL").ok(),
            chamber_rules: None,
            database_timeout: std::time::Duration::from_secs(5),
        },
        token: TokenConfig {
            token_issuer: "mandaat".into(),
            token_audience: "mandaat-api".into(),
        },
        log: Default::default(),
        max_body_bytes: 1 << 20,
        max_proxies_per_holder: 2,
        public_url: None,
        session_idle: std::time::Duration::from_secs(8 * 3600),
        sign_in_providers: None,
        log_format: Default::default(),
        // The defaults: the benchmark must never be throttled.
        rate_limits: Default::default(),
        // Room for 1,000 boards with a connection each (the default is 512).
        connections: mandaat::config::ConnectionLimits {
            max_connections: 4096,
            ..Default::default()
        },
        webhooks: Default::default(),
        clock: Default::default(),
    };
    let app = mandaat::Application::build(config).await.expect("app");
    let base = format!("http://{}", app.local_addr());
    let issuer = app.issuer();
    tokio::spawn(app.run_until(std::future::pending()));
    let token = |role, member_id| {
        let request = TokenRequest {
            subject: "bench".into(),
            role,
            member_id,
            sector: None,
            ttl: Duration::from_secs(3600),
        };
        issuer.issue(&request, chrono::Utc::now()).expect("token")
    };
    let admin = token(Role::Admin, None);
    let client = reqwest::Client::new();
    // The setup makes two admin requests per board: like any client it waits out the
    // default rate limit (429 with Retry-After) instead of failing.
    let post = |path: String, token: String, body: Value| {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        async move {
            loop {
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                let status = response.status();
                if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .unwrap_or(1);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                    continue;
                }
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                assert!(status.is_success(), "{path}: {status} {answer}");
                return answer;
            }
        }
    };

    eprintln!("setting up {n} member boards with keys…");
    let mut boards = Vec::with_capacity(n);
    for i in 0..n {
        let member = post("/api/v1/members".into(), admin.clone(), json!({"bg_number": 10_000 + i, "name": format!("Bestuur {i}"), "pupils": {"po": 100 + i}})).await;
        let id = member["id"].as_str().expect("id").to_owned();
        post(
            format!("/api/v1/members/{id}/membership"),
            admin.clone(),
            json!({"action": "admit", "date": "2020-01-01"}),
        )
        .await;
        let key = SigningKey::from_bytes(&{
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            seed[31] = 7;
            seed
        });
        let board_token = token(Role::Board, Some(id.parse().expect("uuid")));
        let proof = wire(
            &key,
            &json!({"type": "mandaat.key.v1", "member": id, "public_key": BASE64URL.encode(key.verifying_key().as_bytes())}),
        );
        post(
            format!("/api/v1/members/{id}/keys"),
            board_token.clone(),
            proof,
        )
        .await;
        boards.push(Board {
            id,
            key,
            token: board_token,
        });
    }
    let now = chrono::Utc::now();
    let spec = json!({"title": "Bench", "kind": "resolution",
        "electorate": {"sectors": ["PO"], "weighting": "pupils", "quorum": "1/2", "majority": {"kind": "more-than", "fraction": "1/2"}},
        "opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(), "closes_at": (now + chrono::Duration::days(1)).to_rfc3339()});
    let draft = post("/api/v1/proposals".into(), admin.clone(), spec).await;
    let id = draft["id"].as_str().expect("id").to_owned();
    let opened = post(
        format!("/api/v1/proposals/{id}/open"),
        admin.clone(),
        json!({}),
    )
    .await;
    let digest = opened["digest"].as_str().expect("digest").to_owned();

    Bench {
        base,
        client,
        boards,
        proposal: id,
        digest,
        issuer,
        _dir: dir,
    }
}
