//! `cargo bench --bench casting`: how casting a ballot (the hot path) compares with
//! the raw rate of strict Ed25519 verification, and how fast an auditor verifies the
//! resulting log. Figures are ratios within one run, so they carry across machines.
//!
//! MANDAAT_BENCH_BALLOTS sets the number of member boards (default 300);
//! MANDAAT_BENCH_DATABASE_URL an empty PostgreSQL database to use instead of SQLite.

// A benchmark, like a test, should stop loudly at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

use mandaat::audit::bundle::Bundle;
use mandaat::audit::{VerifyOptions, verify};
use mandaat::auth::{Role, TokenRequest};
use mandaat::config::{Config, StorageConfig, TokenConfig};
use mandaat::domain::statement::{BASE64URL, KeyId, SignedStatement};

struct Board {
    id: String,
    key: SigningKey,
    token: String,
}

fn wire(key: &SigningKey, body: &Value) -> Value {
    let bytes = serde_json_canonicalizer::to_vec(body).expect("canonical");
    json!({
        "statement": BASE64URL.encode(&bytes),
        "key_id": KeyId::of(key.verifying_key().as_bytes()).to_string(),
        "signature": BASE64URL.encode(key.sign(&bytes).to_bytes()),
    })
}

fn per_op(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let n: usize = std::env::var("MANDAAT_BENCH_BALLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(n));
}

async fn run(n: usize) {
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
        log_format: Default::default(),
        // The defaults: the benchmark must never be throttled.
        rate_limits: Default::default(),
        connections: Default::default(),
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
    let post = |path: String, token: String, body: Value| {
        let request = client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let response = request.send().await.expect("request");
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {body}");
            body
        }
    };

    eprintln!("setting up {n} member boards with keys…");
    let mut boards = Vec::with_capacity(n);
    for i in 0..n {
        let member = post("/api/v1/members".into(), admin.clone(), json!({"bg_number": 10_000 + i, "name": format!("Bestuur {i}"), "pupils": {"po": 100 + i}})).await;
        let id = member["id"].as_str().expect("id").to_owned();
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

    let ballots: Vec<Value> = boards
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let nonce = BASE64URL.encode((i as u128).to_le_bytes());
            wire(&b.key, &json!({"type": "mandaat.ballot.v1", "proposal": id, "proposal_digest": digest,
                "voter": b.id, "for": b.id, "choice": {"vote": if i % 3 == 0 { "no" } else { "yes" }},
                "nonce": nonce, "cast_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}))
        })
        .collect();

    // 1. The floor: parsing and strict verification of the same ballots, one core,
    // repeated so the figure is stable.
    const PASSES: u32 = 10;
    let keys: Vec<_> = boards
        .iter()
        .map(|b| {
            mandaat::domain::statement::MemberPublicKey::from_bytes(
                b.key.verifying_key().as_bytes(),
            )
            .expect("key")
        })
        .collect();
    let start = Instant::now();
    for _ in 0..PASSES {
        for (wire, key) in ballots.iter().zip(&keys) {
            let s = SignedStatement::from_wire(
                wire["statement"].as_str().unwrap_or_default(),
                wire["key_id"].as_str().unwrap_or_default(),
                wire["signature"].as_str().unwrap_or_default(),
            )
            .expect("parse");
            s.verify(key).expect("verify");
        }
    }
    let verify_time = start.elapsed() / PASSES;

    // 2. Casting over HTTP, one ballot at a time, each answered with a signed receipt.
    let start = Instant::now();
    for (b, ballot) in boards.iter().zip(&ballots) {
        post(
            format!("/api/v1/proposals/{id}/ballots"),
            b.token.clone(),
            ballot.clone(),
        )
        .await;
    }
    let cast_time = start.elapsed();

    // 3. The auditor: the whole bundle verified (signatures in parallel).
    let auditor = token(Role::Auditor, None);
    let bundle: Bundle = client
        .get(format!("{base}/api/v1/audit/bundle"))
        .bearer_auth(auditor)
        .send()
        .await
        .expect("bundle")
        .json()
        .await
        .expect("json");
    let entries = bundle.entries.len();
    let start = Instant::now();
    let report = verify(&bundle, &VerifyOptions::default()).expect("bundle verifies");
    let audit_time = start.elapsed();

    let v = per_op(verify_time, n);
    let c = per_op(cast_time, n);
    let a = per_op(audit_time, entries);
    println!(
        "ballots: {n}; log entries: {entries} ({} withheld while open)",
        report.withheld
    );
    println!("verify_strict (parse + verify, 1 core): {v:>9.1} µs/ballot");
    let database = match std::env::var("MANDAAT_BENCH_DATABASE_URL") {
        Ok(_) => "PostgreSQL",
        Err(_) => "SQLite",
    };
    println!(
        "cast over HTTP ({database}, sequential): {c:>9.1} µs/ballot  = {:.1} × verify_strict",
        c / v
    );
    println!(
        "audit verify of the bundle:             {a:>9.1} µs/entry   = {:.2} × verify_strict",
        a / v
    );
}
