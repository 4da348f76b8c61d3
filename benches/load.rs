//! `cargo bench --bench load`: many boards casting at once, as at a voting deadline.
//! For each level of concurrency, every board casts one pre-signed ballot (a re-vote
//! after the first round) and the run reports ballots per second, the median and
//! 99th-percentile latency, and the time per ballot as a multiple of strict Ed25519
//! verification measured in the same run.
//!
//! MANDAAT_BENCH_BALLOTS sets the number of boards (default 1000);
//! MANDAAT_BENCH_DATABASE_URL an empty PostgreSQL database to use instead of SQLite;
//! MANDAAT_BENCH_CONCURRENCY the levels (default 1,16,64,256).

// A benchmark, like a test, should stop loudly at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mandaat::domain::statement::{MemberPublicKey, SignedStatement};
use serde_json::Value;
use tokio::sync::Semaphore;

fn main() {
    let n = support::boards_wanted(1000);
    let levels: Vec<usize> = std::env::var("MANDAAT_BENCH_CONCURRENCY")
        .ok()
        .map(|v| v.split(',').filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64, 256]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(n, &levels));
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn run(n: usize, levels: &[usize]) {
    eprintln!("setting up {n} member boards with keys…");
    let bench = Arc::new(support::start(n).await);

    // The floor: strict verification of one round of ballots on one core.
    let sample: Vec<Value> = (0..n).map(|i| bench.ballot(i, 0)).collect();
    let keys: Vec<MemberPublicKey> = bench
        .boards
        .iter()
        .map(|b| MemberPublicKey::from_bytes(b.key.verifying_key().as_bytes()).unwrap())
        .collect();
    let start = Instant::now();
    for (wire, key) in sample.iter().zip(&keys) {
        let s = SignedStatement::from_wire(
            wire["statement"].as_str().unwrap(),
            wire["key_id"].as_str().unwrap(),
            wire["signature"].as_str().unwrap(),
        )
        .unwrap();
        s.verify(key).unwrap();
    }
    let verify_us = support::per_op(start.elapsed(), n);

    println!(
        "{n} boards on {}; verify_strict (1 core): {verify_us:.1} µs/ballot",
        support::database_name()
    );
    println!("concurrency  ballots/s   p50 ms   p99 ms   µs/ballot  × verify_strict");
    let path = format!("/api/v1/proposals/{}/ballots", bench.proposal);
    for (round, &level) in (1u32..).zip(levels) {
        // Signed before the clock starts: the boards' browsers sign, not the server.
        let ballots: Vec<Value> = (0..n).map(|i| bench.ballot(i, round)).collect();
        let gate = Arc::new(Semaphore::new(level.max(1)));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, ballot) in ballots.into_iter().enumerate() {
            let (bench, gate, path) = (bench.clone(), gate.clone(), path.clone());
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                let sent = Instant::now();
                bench.post(&path, &bench.boards[i].token, &ballot).await;
                sent.elapsed()
            });
        }
        let mut latencies: Vec<Duration> = tasks.join_all().await;
        let wall = started.elapsed();
        latencies.sort();
        let per_ballot = support::per_op(wall, n);
        println!(
            "{level:>11}  {:>9.0}  {:>7.1}  {:>7.1}  {per_ballot:>10.1}  {:>14.1}",
            n as f64 / wall.as_secs_f64(),
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            per_ballot / verify_us,
        );
    }
}
