//! The transparency log, receipts, certified results and the independent audit:
//! including tampering with the database behind the server's back.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel,
};
use serde_json::{Value, json};

use mandaat::domain::member::Sector;
use mandaat::domain::statement::{BASE64URL, parse_entry};
use mandaat::transparency::checkpoint::Checkpoint;
use mandaat::transparency::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use mandaat::transparency::note::NoteVerifier;

use crate::helpers::{Checked, TestApp, assert_problem};
use crate::voting::{Board, Open, board, cast, draft_and_open, electorate, resolution, spec};

fn hash(text: &str) -> Hash {
    mandaat::transparency::merkle::hash_from_b64(text).unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect()
}

pub async fn log_key(app: &TestApp) -> String {
    let (status, _, key) = app.raw(Method::GET, "/api/v1/log/key", None, None).await;
    assert_eq!(status, StatusCode::OK);
    key.trim().to_owned()
}

/// A finished vote: two boards, a resolution opened, voted on, closed and finalised.
struct Vote {
    boards: Vec<Board>,
    proposal: Open,
    receipts: Vec<Value>,
}

async fn finished_vote(app: &TestApp) -> Vote {
    let boards = vec![
        board(app, 1, Some(100), None).await,
        board(app, 2, Some(300), None).await,
    ];
    let proposal = draft_and_open(
        app,
        &spec(
            app,
            "Resolutie",
            resolution(),
            electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    let mut receipts = Vec::new();
    for (b, vote) in boards.iter().zip(["yes", "no"]) {
        let (status, receipt) = cast(app, &proposal, b, json!({"vote": vote})).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        receipts.push(receipt);
    }
    crate::voting::close(app, &proposal).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/proposals/{}/finalize", proposal.id),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Vote {
        boards,
        proposal,
        receipts,
    }
}

/// Runs `audit export` then `audit verify` with the real binary; returns (success, output).
pub fn export_and_verify(app: &TestApp, key: &str, extra: &[&str]) -> (bool, String) {
    let out = tempfile::tempdir().unwrap();
    let export = app.cli(&["audit", "export", "--out", out.path().to_str().unwrap()]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    verify_dir(out.path(), key, extra)
}

fn verify_dir(dir: &std::path::Path, key: &str, extra: &[&str]) -> (bool, String) {
    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mandaat"))
        .args([
            "audit",
            "verify",
            dir.to_str().unwrap(),
            "--log-key",
            key,
            "--state-dir",
        ])
        .arg(state.path())
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn receipts_prove_inclusion_offline() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let verifier = NoteVerifier::from_key_string(&log_key(&app).await).unwrap();

    // What a board holds: its own signed ballot and the receipt.
    let receipt = &vote.receipts[0]["receipt"];
    let checkpoint = Checkpoint::parse(
        &verifier
            .verify(receipt["checkpoint"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(checkpoint.size, receipt["tree_size"].as_u64().unwrap());
    assert_eq!(checkpoint.root, hash(receipt["root"].as_str().unwrap()));
    let leaf: Hash = hex::decode(receipt["leaf_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    verify_inclusion(
        &leaf,
        receipt["index"].as_u64().unwrap(),
        checkpoint.size,
        &hashes(&receipt["inclusion_proof"]),
        &checkpoint.root,
    )
    .unwrap();
    assert_eq!(receipt["index"], vote.receipts[0]["entry"]);

    // The entry bytes, once the proposal closed, hash to the receipt's leaf.
    let index = receipt["index"].as_u64().unwrap();
    let (_, entries) = app
        .get(
            &format!("/api/v1/log/entries?start={index}&end={}", index + 1),
            &app.council(Sector::Po),
        )
        .await;
    let bytes = BASE64URL
        .decode(entries["entries"][0]["entry"].as_str().unwrap())
        .unwrap();
    assert_eq!(leaf_hash(&bytes), leaf);
    let statement = parse_entry(&bytes).unwrap();
    assert_eq!(statement.statement_type(), "mandaat.ballot.v1");

    // A fresh receipt later, against a larger tree.
    let (status, fresh) = app
        .get(
            &format!(
                "/api/v1/log/receipt/{}",
                receipt["leaf_hash"].as_str().unwrap()
            ),
            &app.board(vote.boards[0].id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert!(fresh["tree_size"].as_u64() > receipt["tree_size"].as_u64());
    let fresh_root = hash(fresh["root"].as_str().unwrap());
    verify_inclusion(
        &leaf,
        index,
        fresh["tree_size"].as_u64().unwrap(),
        &hashes(&fresh["inclusion_proof"]),
        &fresh_root,
    )
    .unwrap();
    let (status, body) = app
        .get(
            &format!("/api/v1/log/receipt/{}", "00".repeat(32)),
            &app.auditor(),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn checkpoints_and_proofs_follow_the_public_standards() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let key = log_key(&app).await;
    let origin = key.split('+').next().unwrap().to_owned();
    let verifier = NoteVerifier::from_key_string(&key).unwrap();

    let (status, content_type, note) = app
        .raw(
            Method::GET,
            "/api/v1/log/checkpoint",
            Some(&app.council(Sector::Vo)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"));
    let checkpoint = Checkpoint::parse(&verifier.verify(&note).unwrap()).unwrap();
    assert_eq!(checkpoint.origin, origin);
    assert!(note.lines().next().unwrap() == origin);
    assert!(note.contains(&format!("\n\n— {origin} ")), "{note}");
    let (status, _) = app
        .request(Method::GET, "/api/v1/log/checkpoint", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let size = checkpoint.size;
    for index in [0, size / 2, size - 1] {
        let (status, proof) = app
            .get(
                &format!("/api/v1/log/proof/inclusion?index={index}&size={size}"),
                &app.auditor(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{proof}");
        let leaf: Hash = hex::decode(proof["leaf_hash"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        verify_inclusion(
            &leaf,
            index,
            size,
            &hashes(&proof["proof"]),
            &checkpoint.root,
        )
        .unwrap();
    }
    for from in 1..size {
        let (status, proof) = app
            .get(
                &format!("/api/v1/log/proof/consistency?from={from}&to={size}"),
                &app.auditor(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{proof}");
        let old = hash(proof["from_root"].as_str().unwrap());
        verify_consistency(from, size, &old, &checkpoint.root, &hashes(&proof["proof"])).unwrap();
    }
    let (status, body) = app
        .get(
            &format!("/api/v1/log/proof/inclusion?index={size}&size={size}"),
            &app.auditor(),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "bad-range");
    let (status, body) = app
        .get(
            &format!("/api/v1/log/proof/consistency?from=0&to={}", size + 5),
            &app.auditor(),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "bad-range");

    // The certified result is an entry, signed by the log key, over the closing checkpoint.
    let (_, proposal) = app
        .get(
            &format!("/api/v1/proposals/{}", vote.proposal.id),
            &app.auditor(),
        )
        .await;
    assert_eq!(proposal["status"], "final");
    let (_, entries) = app
        .get(
            &format!("/api/v1/log/entries?start=0&end={size}"),
            &app.auditor(),
        )
        .await;
    let certified = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entry_type"] == "mandaat.result.v1")
        .unwrap();
    let statement = parse_entry(
        &BASE64URL
            .decode(certified["entry"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let body: Value = serde_json::from_slice(statement.bytes()).unwrap();
    assert_eq!(body["proposal_digest"], vote.proposal.digest);
    assert_eq!(body["tally"]["outcome"], "rejected");
    assert_eq!(
        body["log"]["size"],
        proposal["closed_entry"].as_u64().unwrap() + 1
    );
}

#[tokio::test]
async fn secret_ballots_are_in_the_tree_but_not_readable_until_closing() {
    let app = TestApp::spawn().await;
    let a = board(&app, 1, Some(100), None).await;
    let p = draft_and_open(
        &app,
        &spec(
            &app,
            "Geheim",
            resolution(),
            electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    let (_, receipt) = cast(&app, &p, &a, json!({"vote": "yes"})).await;
    let index = receipt["entry"].as_u64().unwrap();
    let path = format!("/api/v1/log/entries?start={index}&end={}", index + 1);
    for token in [app.auditor(), app.admin(), app.board(a.id)] {
        let (_, entries) = app.get(&path, &token).await;
        let entry = &entries["entries"][0];
        assert_eq!(entry["withheld"], true);
        assert!(entry["entry"].is_null());
        assert_eq!(entry["leaf_hash"], receipt["receipt"]["leaf_hash"]);
    }
    let (_, bundle) = app.get("/api/v1/audit/bundle", &app.auditor()).await;
    let in_bundle = &bundle["entries"][index as usize];
    assert!(in_bundle.get("entry").is_none(), "{in_bundle}");
    crate::voting::close(&app, &p).await;
    let (_, entries) = app.get(&path, &app.auditor()).await;
    assert_eq!(entries["entries"][0]["withheld"], false);
}

// Multi-threaded: the CLI talks to this test's server while the test waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_verifies_a_whole_vote_from_the_bundle() {
    let app = TestApp::spawn().await;
    finished_vote(&app).await;
    let key = log_key(&app).await;
    // The CLI prints the same key as the API publishes.
    let printed = app.cli(&["log", "key"]);
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), key);

    let (status, body) = app.get("/api/v1/audit/bundle", &app.admin()).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, bundle) = app.get("/api/v1/audit/bundle", &app.auditor()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bundle["format"], "mandaat.audit-bundle.v1");
    assert_eq!(bundle["log_key"], key);

    let (ok, output) = export_and_verify(&app, &key, &[]);
    assert!(ok, "{output}");
    assert!(
        output.contains("verified:") && output.contains("1 certified results"),
        "{output}"
    );
    assert!(output.contains("2 ballots"), "{output}");
    // The bundle file itself, as an auditor receives it, verifies the same.
    let out = tempfile::tempdir().unwrap();
    assert!(
        app.cli(&["audit", "export", "--out", out.path().to_str().unwrap()])
            .status
            .success()
    );
    let (ok, output) = verify_dir(&out.path().join("bundle.json"), &key, &[]);
    assert!(ok && output.contains("verified:"), "{output}");
    // A path that holds no bundle cannot be verified at all: exit status 2, not 1.
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_mandaat"))
        .args(["audit", "verify", "/nonexistent/bundle.json", "--state-dir"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));

    // Live, remembering the checkpoint for next time; a second run checks the
    // server's consistency proof from it.
    let state = tempfile::tempdir().unwrap();
    let live = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mandaat"))
            .args([
                "audit",
                "verify",
                "--url",
                &app.base,
                "--token",
                &app.auditor(),
                "--state-dir",
            ])
            .arg(state.path())
            .args(extra)
            .output()
            .unwrap()
    };
    let first = live(&["--log-key", &key]);
    assert!(
        first.status.success(),
        "{}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    board(&app, 3, Some(50), None).await;
    let second = live(&[]);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(text.contains("consistency proof"), "{text}");

    // A key other than the log's is refused.
    let other = NoteVerifier::from_key_string(&key).unwrap();
    let forged = key.replace(&other.name().to_string(), "evil/log");
    let (ok, output) = export_and_verify(&app, &forged, &[]);
    assert!(!ok, "{output}");
}

async fn tampered(
    app: &TestApp,
    key: &str,
    tamper: impl AsyncFnOnce(&DatabaseConnection),
) -> String {
    let db = app.database().await;
    tamper(&db).await;
    let (ok, output) = export_and_verify(app, key, &[]);
    assert!(!ok, "tampering went unnoticed:\n{output}");
    output
}

async fn entry(db: &DatabaseConnection, index: i64) -> entity::log_entry::Model {
    entity::log_entry::Entity::find_by_id(index)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn altering_a_ballot_is_caught() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let key = log_key(&app).await;
    let index = vote.receipts[1]["entry"].as_i64().unwrap();
    let output = tampered(&app, &key, async |db| {
        let row = entry(db, index).await;
        let text = String::from_utf8(row.statement.clone())
            .unwrap()
            .replace("\"no\"", "\"yes\"");
        let mut row = row.into_active_model();
        row.statement = Set(text.into_bytes());
        row.update(db).await.unwrap();
    })
    .await;
    assert!(output.contains(&format!("entry {index}:")), "{output}");
}

#[tokio::test]
async fn deleting_an_entry_is_caught() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let key = log_key(&app).await;
    let index = vote.receipts[0]["entry"].as_i64().unwrap();
    let output = tampered(&app, &key, async |db| {
        entity::log_entry::Entity::delete_by_id(index)
            .exec(db)
            .await
            .unwrap();
    })
    .await;
    assert!(output.contains(&format!("entry {index}:")), "{output}");
}

#[tokio::test]
async fn swapping_two_entries_is_caught() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let key = log_key(&app).await;
    let (a, b) = (
        vote.receipts[0]["entry"].as_i64().unwrap(),
        vote.receipts[1]["entry"].as_i64().unwrap(),
    );
    let output = tampered(&app, &key, async |db| {
        let (ra, rb) = (entry(db, a).await, entry(db, b).await);
        for (target, source) in [(ra.clone(), rb.clone()), (rb, ra)] {
            let mut row = target.into_active_model();
            row.statement = Set(source.statement);
            row.key_id = Set(source.key_id);
            row.signature = Set(source.signature);
            row.member_id = Set(source.member_id);
            // Keep the recorded hashes unique: swap them too.
            row.leaf_hash = Set(format!("{}-", source.leaf_hash));
            row.update(db).await.unwrap();
        }
        for idx in [a, b] {
            let row = entry(db, idx).await;
            let fixed = row.leaf_hash.trim_end_matches('-').to_owned();
            let mut row = row.into_active_model();
            row.leaf_hash = Set(fixed);
            row.update(db).await.unwrap();
        }
    })
    .await;
    assert!(
        output.contains("the entries do not hash to the signed checkpoint's root"),
        "{output}"
    );
}

#[tokio::test]
async fn changing_a_member_key_is_caught() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let key = log_key(&app).await;
    let victim = vote.boards[0].key.key_id();
    let replacement = crate::helpers::BoardKey::generate();
    let (_, keys) = app
        .get(
            &format!("/api/v1/members/{}/keys", vote.boards[0].id),
            &app.auditor(),
        )
        .await;
    let registration = keys[0]["registration_entry"].as_u64().unwrap();
    let output = tampered(&app, &key, async |db| {
        let row = entity::member_key::Entity::find_by_id(victim.clone())
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let mut row = row.into_active_model();
        row.public_key = Set(hex::encode(replacement.signing.verifying_key().as_bytes()));
        row.update(db).await.unwrap();
    })
    .await;
    assert!(
        output.contains(&format!("entry {registration}:")),
        "{output}"
    );
}

#[tokio::test]
async fn changing_a_certified_tally_is_caught() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let key = log_key(&app).await;
    let (_, proposal) = app
        .get(
            &format!("/api/v1/proposals/{}", vote.proposal.id),
            &app.auditor(),
        )
        .await;
    let closed = proposal["closed_entry"].as_i64().unwrap();
    let id = vote.proposal.id;
    let output = tampered(&app, &key, async |db| {
        let row = entity::proposal::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let forged = row
            .result
            .clone()
            .unwrap()
            .replace("\"rejected\"", "\"adopted\"");
        assert_ne!(Some(&forged), row.result.as_ref());
        let mut row = row.into_active_model();
        row.result = Set(Some(forged));
        row.update(db).await.unwrap();
    })
    .await;
    assert!(output.contains(&format!("entry {closed}:")), "{output}");

    // A certified result re-signed with the (stolen) log key over a false tally is
    // caught by recounting the ballots.
    let app = TestApp::spawn().await;
    finished_vote(&app).await;
    let key = log_key(&app).await;
    let pem = std::fs::read_to_string(app.key_file("log-signing")).unwrap();
    let log_signing =
        <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem)
            .unwrap();
    let signer = mandaat::service::ServerSigner::new(log_signing);
    let output = tampered(&app, &key, async |db| {
        let rows = entity::log_entry::Entity::find().all(db).await.unwrap();
        let row = rows
            .into_iter()
            .find(|r| r.entry_type == "mandaat.result.v1")
            .unwrap();
        let mut body: Value = serde_json::from_slice(&row.statement).unwrap();
        body["tally"]["outcome"] = json!("adopted");
        let statement = signer.sign(&body).unwrap();
        let mut row = row.into_active_model();
        row.statement = Set(statement.bytes().to_vec());
        row.signature = Set(statement.signature().to_bytes().to_vec());
        row.leaf_hash = Set(hex::encode(leaf_hash(&statement.entry_bytes())));
        row.update(db).await.unwrap();
    })
    .await;
    assert!(output.contains("certified tally differs"), "{output}");
}

#[tokio::test]
async fn a_rewritten_history_is_inconsistent_with_an_earlier_checkpoint() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let key = log_key(&app).await;
    let (_, _, before) = app
        .raw(
            Method::GET,
            "/api/v1/log/checkpoint",
            Some(&app.auditor()),
            None,
        )
        .await;
    let saved = tempfile::tempdir().unwrap();
    let since = saved.path().join("checkpoint.txt");
    std::fs::write(&since, &before).unwrap();

    // A colluding board re-signs its ballot with another choice; the operator fixes the
    // recorded hash and forgets every checkpoint, so a restarted server signs anew.
    let index = vote.receipts[1]["entry"].as_i64().unwrap();
    let voter = &vote.boards[1];
    let db = app.database().await;
    let row = entry(&db, index).await;
    let mut body: Value = serde_json::from_slice(&row.statement).unwrap();
    body["choice"] = json!({"vote": "yes"});
    let resigned = voter.key.sign(&body);
    let statement = mandaat::domain::statement::SignedStatement::from_wire(
        resigned["statement"].as_str().unwrap(),
        resigned["key_id"].as_str().unwrap(),
        resigned["signature"].as_str().unwrap(),
    )
    .unwrap();
    let mut active = row.into_active_model();
    active.statement = Set(statement.bytes().to_vec());
    active.signature = Set(statement.signature().to_bytes().to_vec());
    active.leaf_hash = Set(hex::encode(leaf_hash(&statement.entry_bytes())));
    active.update(&db).await.unwrap();
    db.execute_unprepared("DELETE FROM checkpoints")
        .await
        .unwrap();

    let restarted = mandaat::Application::build(app.restart_config())
        .await
        .unwrap();
    let base = format!("http://{}", restarted.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(restarted.run_until(async {
        let _ = rx.await;
    }));
    let after = app
        .client
        .get(format!("{base}/api/v1/log/checkpoint"))
        .bearer_auth(app.auditor())
        .checked()
        .await
        .text()
        .await
        .unwrap();
    assert_ne!(after, before);

    let (ok, output) = export_and_verify(&app, &key, &["--since", since.to_str().unwrap()]);
    assert!(!ok, "{output}");
    assert!(
        output.contains("not consistent with the earlier checkpoint"),
        "{output}"
    );
    let _ = tx.send(());
}

#[tokio::test]
async fn a_server_refuses_to_start_on_a_log_that_no_longer_matches_its_checkpoint() {
    let app = TestApp::spawn().await;
    let vote = finished_vote(&app).await;
    let db = app.database().await;
    let index = vote.receipts[0]["entry"].as_i64().unwrap();
    let row = entry(&db, index).await;
    let mut active = row.into_active_model();
    active.leaf_hash = Set("ab".repeat(32));
    active.update(&db).await.unwrap();
    let config = app.restart_config();
    let error = match mandaat::Application::build(config).await {
        Ok(_) => panic!("started on a damaged log"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("does not match the checkpoint"), "{error}");
}

/// C2SP expects an origin that names one log: two deployments never share one by
/// default, and a log keeps its name across restarts and configuration changes.
#[tokio::test]
async fn every_deployment_names_its_own_log_and_keeps_the_name() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn().await;
    let origin = |key: &str| key.split('+').next().unwrap().to_owned();
    let key = log_key(&a).await;
    let name = origin(&key);
    let random = name.strip_prefix("mandaat/log/").expect("default origin");
    assert!(
        random.len() == 16 && random.bytes().all(|c| c.is_ascii_hexdigit()),
        "{name}"
    );
    assert_ne!(name, origin(&log_key(&b).await));

    // The CLI on the same data names the same log; so does a restart, even when the
    // operator adds --public-url later.
    let cli = a.cli(&["log", "key"]);
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&cli.stdout).trim(), key);
    let mut config = a.restart_config();
    config.public_url = Some("https://stem.example.nl".into());
    let restarted = mandaat::Application::build(config).await.unwrap();
    let base = format!("http://{}", restarted.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(restarted.run_until(async {
        let _ = rx.await;
    }));
    let again = a
        .client
        .get(format!("{base}/api/v1/log/key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(again.trim(), key);
    let _ = tx.send(());

    // Renaming a log is refused, plainly.
    let mut config = a.restart_config();
    config.log.log_origin = Some("other.example/log".into());
    let error = match mandaat::Application::build(config).await {
        Ok(_) => panic!("started under another name"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("keeps its origin for life"), "{error}");
}

#[tokio::test]
async fn a_new_log_is_named_after_the_public_url() {
    let app = TestApp::spawn_with_config(|c| {
        c.public_url = Some("https://stem.example.nl/".into());
    })
    .await;
    assert!(
        log_key(&app).await.starts_with("stem.example.nl/log+"),
        "{}",
        log_key(&app).await
    );
}

/// An auditor who checks two cooperatives' logs that were given the same name hears
/// that these are two logs, not a forged signature.
#[tokio::test]
async fn audit_verify_says_plainly_when_a_bundle_is_another_log_of_the_same_name() {
    let same = |c: &mut mandaat::Config| c.log.log_origin = Some("cooperatie.example/log".into());
    let first = TestApp::spawn_with_config(same).await;
    let second = TestApp::spawn_with_config(same).await;
    finished_vote(&first).await;
    finished_vote(&second).await;
    let state = tempfile::tempdir().unwrap();
    let verify = |app: &TestApp| {
        let out = tempfile::tempdir().unwrap();
        let export = app.cli(&["audit", "export", "--out", out.path().to_str().unwrap()]);
        assert!(export.status.success());
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_mandaat"))
            .args([
                "audit",
                "verify",
                out.path().to_str().unwrap(),
                "--state-dir",
            ])
            .arg(state.path())
            .output()
            .unwrap();
        (
            run.status.code(),
            String::from_utf8_lossy(&run.stdout).into_owned(),
        )
    };
    let (code, output) = verify(&first);
    assert_eq!(code, Some(0), "{output}");
    let (code, output) = verify(&second);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("two different logs that share a name"),
        "{output}"
    );
}

/// Withdrawing an open proposal is written into the log, after the ballots it had:
/// an auditor sees when, the verifier refuses anything of it after that entry, and a
/// bundle that hides the withdrawal (or invents one) is caught.
#[tokio::test]
async fn withdrawing_an_open_proposal_is_in_the_log() {
    let app = TestApp::spawn().await;
    let key = log_key(&app).await;
    let boards = [
        board(&app, 1, Some(100), None).await,
        board(&app, 2, Some(300), None).await,
    ];
    let proposal = draft_and_open(
        &app,
        &spec(
            &app,
            "Ingetrokken",
            resolution(),
            electorate(&["PO"], "pupils", "1/2", "more-than", "1/2"),
        ),
    )
    .await;
    let (status, ballot) = cast(&app, &proposal, &boards[0], json!({"vote": "yes"})).await;
    assert_eq!(status, StatusCode::CREATED, "{ballot}");
    let (status, withdrawn) = app
        .post(
            &format!("/api/v1/proposals/{}/withdraw", proposal.id),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    let (status, refused) = cast(&app, &proposal, &boards[1], json!({"vote": "no"})).await;
    assert_problem(status, &refused, StatusCode::CONFLICT, "proposal-state");

    // The log's last entry is the server's withdrawal, after the ballot.
    let (_, page) = app
        .get(
            &format!(
                "/api/v1/log/entries?start=0&end={}",
                ballot["entry"].as_u64().unwrap() + 2
            ),
            &app.auditor(),
        )
        .await;
    let last = page["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["entry_type"], "mandaat.proposal-withdrawn.v1",
        "{page}"
    );

    let (ok, output) = export_and_verify(&app, &key, &[]);
    assert!(ok, "{output}");

    // A bundle that says the proposal is still open hides the withdrawal.
    let out = tempfile::tempdir().unwrap();
    assert!(
        app.cli(&["audit", "export", "--out", out.path().to_str().unwrap()])
            .status
            .success()
    );
    let path = out.path().join("bundle.json");
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for p in bundle["proposals"].as_array_mut().unwrap() {
        if p["id"] == proposal.id.to_string() {
            p["status"] = json!("open");
        }
    }
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let (ok, output) = verify_dir(&path, &key, &[]);
    assert!(!ok, "{output}");
    assert!(output.contains("withdraws proposal"), "{output}");
}
