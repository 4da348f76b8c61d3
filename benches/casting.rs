//! `cargo bench --bench casting`: how casting a ballot (the hot path) compares with
//! the raw rate of strict Ed25519 verification, and how fast an auditor verifies the
//! resulting log. Figures are ratios within one run, so they carry across machines.
//! (`cargo bench --bench load` measures many boards casting at once.)
//!
//! MANDAAT_BENCH_BALLOTS sets the number of member boards (default 300);
//! MANDAAT_BENCH_DATABASE_URL an empty PostgreSQL database to use instead of SQLite.

// A benchmark, like a test, should stop loudly at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

use mandaat::audit::bundle::Bundle;
use mandaat::audit::{VerifyOptions, verify};
use mandaat::auth::Role;
use mandaat::domain::statement::SignedStatement;
use serde_json::Value;

use support::per_op;

fn main() {
    let n = support::boards_wanted(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(n));
}

async fn run(n: usize) {
    let bench = support::start(n).await;
    let ballots: Vec<Value> = (0..n).map(|i| bench.ballot(i, 0)).collect();

    // 1. The floor: parsing and strict verification of the same ballots, one core,
    // repeated so the figure is stable.
    const PASSES: u32 = 10;
    let keys: Vec<_> = bench
        .boards
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
    let path = format!("/api/v1/proposals/{}/ballots", bench.proposal);
    for (b, ballot) in bench.boards.iter().zip(&ballots) {
        bench.post(&path, &b.token, ballot).await;
    }
    let cast_time = start.elapsed();

    // 3. The auditor: the whole bundle verified (signatures in parallel).
    let auditor = bench.token(Role::Auditor, None);
    let bundle: Bundle = bench
        .client
        .get(format!("{}/api/v1/audit/bundle", bench.base))
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
    let database = support::database_name();
    println!(
        "cast over HTTP ({database}, sequential): {c:>9.1} µs/ballot  = {:.1} × verify_strict",
        c / v
    );
    println!(
        "audit verify of the bundle:             {a:>9.1} µs/entry   = {:.2} × verify_strict",
        a / v
    );
}
