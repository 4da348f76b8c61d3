//! The write path: a statement is judged in the log's order against the proposal's
//! state, so nothing of a proposal follows its closing or withdrawal entry; and
//! several servers on one PostgreSQL database append to one log.

use std::collections::BTreeMap;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use mandaat::transparency::checkpoint::Checkpoint;
use mandaat::transparency::merkle::{Hash, hash_from_b64, verify_consistency, verify_inclusion};
use mandaat::transparency::note::NoteVerifier;

use crate::audit::{export_and_verify, log_key};
use crate::helpers::{Checked, TestApp, TestClock, assert_problem};
use crate::voting::{
    Board, Open, ballot_body, board, cast, draft_and_open, electorate, resolution, spec,
};

async fn open_resolution(app: &TestApp, title: &str) -> Open {
    draft_and_open(
        app,
        &spec(
            app,
            title,
            resolution(),
            electorate(&["PO"], "one-member-one-vote", "1/2", "more-than", "1/2"),
        ),
    )
    .await
}

/// Moves the app's clock to exactly the proposal's `closes_at` (whole seconds, as the
/// spec has it): inside the window for ballots, and late enough to close.
fn to_closing_second(app: &TestApp) {
    let subsec = mandaat::clock::Clock::now(app.clock.as_ref()).timestamp_subsec_nanos();
    app.clock
        .advance(Duration::days(14) - Duration::nanoseconds(i64::from(subsec)));
}

/// Sends `statement` while the server holds its batch after the statement's checks
/// and before its append; meanwhile sends `step` (close or withdraw) for the
/// proposal. Returns the statement's answer.
async fn held_during(
    app: &TestApp,
    path: String,
    token: String,
    statement: Value,
    proposal: &Open,
    step: &str,
) -> (StatusCode, Value) {
    app.hold.arm();
    let request = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .json(&statement);
    let sent = tokio::spawn(async move {
        let response = request.checked().await;
        let status = response.status();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    });
    app.hold.reached().await;
    let (status, body) = app
        .post(
            &format!("/api/v1/proposals/{}/{step}", proposal.id),
            &app.admin(),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{step}: {body}");
    app.hold.release();
    sent.await.unwrap()
}

/// A ballot (and a proxy) that passed its checks just before the proposal closed or
/// was withdrawn, and reaches the append just after, is refused: the close is the last
/// word, and the log stays one that `audit verify` accepts.
#[tokio::test]
async fn a_statement_waiting_for_its_append_is_refused_after_a_close_or_withdrawal() {
    let app = TestApp::spawn().await;
    let key = log_key(&app).await;
    let boards: Vec<Board> = {
        let mut boards = Vec::new();
        for bg in 1..=3 {
            boards.push(board(&app, bg, Some(100), None).await);
        }
        boards
    };
    let closing = open_resolution(&app, "Sluiting").await;
    let withdrawn = open_resolution(&app, "Intrekking").await;
    let proxied = open_resolution(&app, "Volmacht").await;
    // One ballot accepted on each, before anything happens to them.
    for p in [&closing, &withdrawn, &proxied] {
        let (status, body) = cast(&app, p, &boards[0], json!({"vote": "yes"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    to_closing_second(&app);

    let ballot = |p: &Open| {
        boards[1].key.sign(&ballot_body(
            &app,
            p,
            &boards[1],
            boards[1].id,
            json!({"vote": "no"}),
        ))
    };
    let ballots = |p: &Open| format!("/api/v1/proposals/{}/ballots", p.id);
    let token = app.board(boards[1].id);

    let (size, _) = last_entry(&app).await;
    let (status, body) = held_during(
        &app,
        ballots(&closing),
        token.clone(),
        ballot(&closing),
        &closing,
        "close",
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "proposal-state");
    // The refused ballot appended nothing: the close is the log's last entry.
    assert_eq!(
        last_entry(&app).await,
        (size + 1, "mandaat.proposal-closed.v1".to_owned())
    );

    let (status, body) = held_during(
        &app,
        ballots(&withdrawn),
        token.clone(),
        ballot(&withdrawn),
        &withdrawn,
        "withdraw",
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "proposal-state");
    assert_eq!(
        last_entry(&app).await,
        (size + 2, "mandaat.proposal-withdrawn.v1".to_owned())
    );

    let grant = boards[1].key.sign(&json!({"type": "mandaat.proxy.v1",
        "proposal": proxied.id.to_string(), "proposal_digest": proxied.digest,
        "grantor": boards[1].id.to_string(), "holder": boards[2].id.to_string(),
        "nonce": "AAECAwQFBgcICQoLDA0ODw", "signed_at": mandaat::clock::Clock::now(app.clock.as_ref())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}));
    let (status, body) = held_during(
        &app,
        format!("/api/v1/proposals/{}/proxies", proxied.id),
        token,
        grant,
        &proxied,
        "close",
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT, "proposal-state");
    assert_eq!(
        last_entry(&app).await,
        (size + 3, "mandaat.proposal-closed.v1".to_owned())
    );

    let (ok, output) = export_and_verify(&app, &key, &[]);
    assert!(ok, "{output}");
}

/// The log's size and the type of its last entry, as an auditor reads them.
async fn last_entry(app: &TestApp) -> (u64, String) {
    let (status, _, checkpoint) = app
        .raw(
            reqwest::Method::GET,
            "/api/v1/log/checkpoint",
            Some(&app.auditor()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let (status, page) = app
        .get(
            &format!("/api/v1/log/entries?start={}&end={size}", size - 1),
            &app.auditor(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    (
        size,
        page["entries"][0]["entry_type"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// 200 boards flood ballots across `closes_at` while the close is sent at that
/// moment: every ballot is accepted before the closing entry or refused, none
/// follows it, and `audit verify` accepts the log. (A ballot that passed its checks
/// just before the close once landed after the closing entry, and the verifier then
/// refused the whole log.)
// Several threads: the server, 200 clients and the close share the runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ballot_lands_after_the_closing_entry() {
    let clock = std::sync::Arc::new(TestClock::running());
    let app = TestApp::spawn_with_clock(clock).await;
    let key = log_key(&app).await;
    let mut boards = Vec::new();
    for bg in 1..=200 {
        boards.push(board(&app, bg, Some(100), None).await);
    }
    let p = open_resolution(&app, "Sluiting").await;
    // A little before closes_at: ballots sent from here on cross it.
    to_closing_second(&app);
    app.clock.advance(-Duration::milliseconds(150));
    let path = format!("{}/api/v1/proposals/{}/ballots", app.base, p.id);
    let mut requests = tokio::task::JoinSet::new();
    for b in &boards {
        let body = b
            .key
            .sign(&ballot_body(&app, &p, b, b.id, json!({"vote": "yes"})));
        let request = app
            .client
            .post(&path)
            .bearer_auth(app.board(b.id))
            .json(&body);
        requests.spawn(async move {
            let response = request.checked().await;
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        });
    }
    // The close, sent as soon as the window allows it, while the ballots arrive.
    let close_path = format!("/api/v1/proposals/{}/close", p.id);
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, body) = app.post(&close_path, &app.admin(), &json!({})).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "the close was still refused after a minute: {status} {body}"
        );
        // An overloaded machine may answer "try again" (503): the close is retried
        // like a too-early one; what this test holds is the order, not availability.
        if status != StatusCode::SERVICE_UNAVAILABLE {
            assert_problem(status, &body, StatusCode::CONFLICT, "voting-window");
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let answers = requests.join_all().await;
    let (_, proposal) = app
        .get(&format!("/api/v1/proposals/{}", p.id), &app.admin())
        .await;
    assert_eq!(proposal["status"], "closed", "{proposal}");
    let closed_at = proposal["closed_entry"].as_i64().unwrap();
    for (status, body) in answers {
        if status == StatusCode::CREATED {
            let entry = body["entry"].as_i64().unwrap();
            assert!(
                entry < closed_at,
                "ballot at {entry} after the close at {closed_at}"
            );
        } else if status != StatusCode::SERVICE_UNAVAILABLE {
            // A ballot told to try again (503) was not acknowledged; whatever the
            // log holds is checked below: nothing follows the close.
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            let slug = body["type"].as_str().unwrap();
            assert!(
                slug.ends_with(":proposal-state") || slug.ends_with(":voting-window"),
                "{body}"
            );
        }
    }
    // Nothing was appended after the close.
    assert_eq!(
        last_entry(&app).await,
        (
            u64::try_from(closed_at).unwrap() + 1,
            "mandaat.proposal-closed.v1".to_owned()
        )
    );
    let (ok, output) = export_and_verify(&app, &key, &[]);
    assert!(ok, "{output}");
}

/// A signed checkpoint as some server handed it out.
struct Seen {
    size: u64,
    root: Hash,
}

fn checkpoint_of(note: &str, log_key: &NoteVerifier) -> Seen {
    let text = log_key
        .verify(note)
        .unwrap_or_else(|e| panic!("a checkpoint does not verify: {e}: {note}"));
    let c = Checkpoint::parse(&text).unwrap();
    Seen {
        size: c.size,
        root: c.root,
    }
}

/// Three servers on one PostgreSQL database take ballots at the same time: one log,
/// every receipt (whichever server gave it) proven consistent with every later
/// checkpoint of any server, and `audit verify` passes. SQLite is skipped: one SQLite
/// database belongs to one process (README); CI's PostgreSQL pass runs this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_one_postgresql_database_keep_one_log() {
    let app = TestApp::spawn_with_clock(std::sync::Arc::new(TestClock::running())).await;
    if app.db.url().is_none() {
        eprintln!("skipped: several servers share PostgreSQL only; SQLite is one process's");
        return;
    }
    let key = log_key(&app).await;
    let verifier = NoteVerifier::from_key_string(&key).unwrap();
    let mut boards = Vec::new();
    for bg in 1..=18 {
        boards.push(board(&app, bg, Some(100), None).await);
    }
    let p = open_resolution(&app, "Drie servers").await;
    let (second, _stop_second) = app.another_server().await;
    let (third, _stop_third) = app.another_server().await;
    let servers = [app.base.clone(), second, third];

    // Every board votes twice, each time through another server, all at once.
    let mut requests = tokio::task::JoinSet::new();
    for (i, b) in boards.iter().enumerate() {
        for round in 0..2 {
            let body = b.key.sign(&ballot_body(
                &app,
                &p,
                b,
                b.id,
                json!({"vote": if round == 0 { "yes" } else { "no" }}),
            ));
            let signed = mandaat::domain::statement::SignedStatement::from_wire(
                body["statement"].as_str().unwrap(),
                body["key_id"].as_str().unwrap(),
                body["signature"].as_str().unwrap(),
            )
            .unwrap();
            let leaf = mandaat::transparency::merkle::leaf_hash(&signed.entry_bytes());
            let request = app
                .client
                .post(format!(
                    "{}/api/v1/proposals/{}/ballots",
                    servers[(i + round) % 3],
                    p.id
                ))
                .bearer_auth(app.board(b.id))
                .json(&body);
            requests.spawn(async move {
                let response = request.checked().await;
                let status = response.status();
                (status, response.json::<Value>().await.unwrap(), leaf)
            });
        }
    }
    let answers = requests.join_all().await;

    // Every receipt proves its ballot in its checkpoint.
    let mut checkpoints: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut receipts = Vec::new();
    let mut entries = std::collections::HashSet::new();
    for (status, answer, leaf) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{answer}");
        let receipt = &answer["receipt"];
        assert_eq!(receipt["leaf_hash"], hex::encode(leaf), "{answer}");
        let seen = checkpoint_of(receipt["checkpoint"].as_str().unwrap(), &verifier);
        let index = receipt["index"].as_u64().unwrap();
        assert!(entries.insert(index), "two ballots at entry {index}");
        let proof: Vec<Hash> = receipt["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash_from_b64(h.as_str().unwrap()).unwrap())
            .collect();
        verify_inclusion(leaf, index, seen.size, &proof, &seen.root)
            .unwrap_or_else(|e| panic!("inclusion fails: {e}: {answer}"));
        assert_eq!(
            *checkpoints.entry(seen.size).or_insert(seen.root),
            seen.root,
            "two roots for size {}",
            seen.size
        );
        receipts.push(seen);
    }
    // Each server's checkpoint now covers every ballot, whoever took it.
    let last_entry = entries.iter().max().copied().unwrap();
    for server in &servers {
        let response = app
            .client
            .get(format!("{server}/api/v1/log/checkpoint"))
            .bearer_auth(app.auditor())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let seen = checkpoint_of(&response.text().await.unwrap(), &verifier);
        assert!(
            seen.size > last_entry,
            "{server} does not cover {last_entry}"
        );
        assert_eq!(
            *checkpoints.entry(seen.size).or_insert(seen.root),
            seen.root,
            "two roots for size {}",
            seen.size
        );
    }
    // Every receipt's checkpoint is consistent with every later one, proven by any
    // server (in turn).
    let mut turn = 0;
    for r in &receipts {
        for (&size, root) in checkpoints.range(r.size + 1..) {
            let server = &servers[turn % 3];
            turn += 1;
            let response = app
                .client
                .get(format!(
                    "{server}/api/v1/log/proof/consistency?from={}&to={size}",
                    r.size
                ))
                .bearer_auth(app.auditor())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            let proof: Vec<Hash> = body["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| hash_from_b64(h.as_str().unwrap()).unwrap())
                .collect();
            verify_consistency(r.size, size, &r.root, root, &proof)
                .unwrap_or_else(|e| panic!("{server}: {} is not a prefix of {size}: {e}", r.size));
        }
    }
    let (ok, output) = export_and_verify(&app, &key, &[]);
    assert!(ok, "{output}");
}
