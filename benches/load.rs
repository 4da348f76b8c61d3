//! `cargo bench --bench load`: many boards casting at once, as at a voting deadline.
//! For each level of concurrency, every board casts one pre-signed ballot (a re-vote
//! after the first round) over HTTP and the run reports accepted ballots per second,
//! the median, 99th-percentile and worst latency, and the rate as a fraction of strict
//! Ed25519 verification on all cores, measured in the same run (so the figures carry
//! across machines). Afterwards it checks that every acknowledged ballot is in the log
//! with the leaf hash its receipt named.
//!
//! MANDAAT_BENCH_BALLOTS sets the number of boards (default 1000);
//! MANDAAT_BENCH_DATABASE_URL an empty PostgreSQL database to use instead of SQLite;
//! MANDAAT_BENCH_CONCURRENCY the levels (default 1,16,64,256,1000).

// A benchmark, like a test, should stop loudly at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mandaat::auth::Role;
use mandaat::domain::statement::{MemberPublicKey, SignedStatement};
use serde_json::Value;
use tokio::sync::Semaphore;

fn main() {
    let n = support::boards_wanted(1000);
    let levels: Vec<usize> = std::env::var("MANDAAT_BENCH_CONCURRENCY")
        .ok()
        .map(|v| v.split(',').filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64, 256, 1000]);
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

/// Strict verifications per second on all cores: the ballots parsed and verified
/// over and over by one thread per core for about a second.
fn verify_rate_all_cores(sample: &[(Value, MemberPublicKey)]) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0;
                    while started.elapsed() < Duration::from_secs(1) {
                        for (wire, key) in sample {
                            let s = SignedStatement::from_wire(
                                wire["statement"].as_str().unwrap(),
                                wire["key_id"].as_str().unwrap(),
                                wire["signature"].as_str().unwrap(),
                            )
                            .unwrap();
                            s.verify(key).unwrap();
                        }
                        done += sample.len();
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    done as f64 / started.elapsed().as_secs_f64()
}

/// The sequencer's totals, from the server's own metrics.
#[derive(Default)]
struct BatchTotals {
    batches: f64,
    statements: f64,
    seconds: f64,
}

impl BatchTotals {
    fn since(&self, before: &BatchTotals) -> BatchTotals {
        BatchTotals {
            batches: self.batches - before.batches,
            statements: self.statements - before.statements,
            seconds: self.seconds - before.seconds,
        }
    }
}

async fn batch_totals(bench: &support::Bench, admin: &str) -> BatchTotals {
    let text = bench
        .client
        .get(format!("{}/metrics", bench.base))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    BatchTotals {
        batches: value("mandaat_write_batch_statements_count"),
        statements: value("mandaat_write_batch_statements_sum"),
        seconds: value("mandaat_write_batch_duration_seconds_sum"),
    }
}

/// What the server acknowledged: an entry and the leaf hash its receipt named.
struct Acknowledged {
    entry: u64,
    leaf_hash: String,
}

async fn run(n: usize, levels: &[usize]) {
    eprintln!("setting up {n} member boards with keys…");
    let bench = Arc::new(support::start(n).await);

    let sample: Vec<(Value, MemberPublicKey)> = bench
        .boards
        .iter()
        .enumerate()
        .take(256)
        .map(|(i, b)| {
            let key = MemberPublicKey::from_bytes(b.key.verifying_key().as_bytes()).unwrap();
            (bench.ballot(i, 0), key)
        })
        .collect();
    let verify_rate = verify_rate_all_cores(&sample);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!(
        "{n} boards on {}; verify_strict on all {cores} cores: {verify_rate:.0}/s",
        support::database_name()
    );
    println!(
        "concurrency  ballots/s   p50 ms   p99 ms   max ms  errors  ÷ verify_strict (all cores)"
    );
    let path = format!("/api/v1/proposals/{}/ballots", bench.proposal);
    let admin = bench.token(Role::Admin, None);
    let mut batches = Vec::new();
    let mut acknowledged = Vec::new();
    for (round, &level) in (1u32..).zip(levels) {
        // Signed before the clock starts: the boards' browsers sign, not the server.
        let ballots: Vec<Value> = (0..n).map(|i| bench.ballot(i, round)).collect();
        let gate = Arc::new(Semaphore::new(level.max(1)));
        let before = batch_totals(&bench, &admin).await;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, ballot) in ballots.into_iter().enumerate() {
            let (bench, gate, path) = (bench.clone(), gate.clone(), path.clone());
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                let sent = Instant::now();
                let response = bench
                    .client
                    .post(format!("{}{path}", bench.base))
                    .bearer_auth(&bench.boards[i].token)
                    .json(&ballot)
                    .send()
                    .await;
                let answer = match response {
                    Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
                    Ok(r) => {
                        let status = r.status();
                        eprintln!("{status}: {}", r.text().await.unwrap_or_default());
                        None
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        None
                    }
                };
                let acknowledged = answer.map(|a| Acknowledged {
                    entry: a["entry"].as_u64().unwrap(),
                    leaf_hash: a["receipt"]["leaf_hash"].as_str().unwrap().to_owned(),
                });
                (sent.elapsed(), acknowledged)
            });
        }
        let results = tasks.join_all().await;
        let wall = started.elapsed();
        let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
        latencies.sort();
        let accepted: Vec<Acknowledged> = results.into_iter().filter_map(|(_, a)| a).collect();
        let errors = n - accepted.len();
        let rate = accepted.len() as f64 / wall.as_secs_f64();
        println!(
            "{level:>11}  {rate:>9.0}  {:>7.1}  {:>7.1}  {:>7.1}  {errors:>6}  {:>26.3}",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3,
            rate / verify_rate,
        );
        acknowledged.extend(accepted);
        let after = batch_totals(&bench, &admin).await;
        batches.push((level, after.since(&before), wall));
    }

    // How the sequencer spent the run: a sequencer busy for most of the wall time is
    // the limit; one mostly idle waits for requests.
    println!("concurrency  batches  statements/batch  ms/batch  sequencer busy");
    for (level, b, wall) in batches {
        println!(
            "{level:>11}  {:>7.0}  {:>16.1}  {:>8.2}  {:>13.0}%",
            b.batches,
            b.statements / b.batches.max(1.0),
            b.seconds * 1e3 / b.batches.max(1.0),
            b.seconds / wall.as_secs_f64() * 100.0,
        );
    }

    // Every acknowledged ballot is in the log, at its entry, with its leaf hash.
    let auditor = bench.token(Role::Auditor, None);
    let mut log = std::collections::HashMap::new();
    let size = acknowledged.iter().map(|a| a.entry + 1).max().unwrap_or(0);
    let mut start = 0;
    while start < size {
        let end = (start + 1000).min(size);
        let page: Value = bench
            .client
            .get(format!(
                "{}/api/v1/log/entries?start={start}&end={end}",
                bench.base
            ))
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for e in page["entries"].as_array().unwrap() {
            log.insert(
                e["index"].as_u64().unwrap(),
                e["leaf_hash"].as_str().unwrap().to_owned(),
            );
        }
        start = end;
    }
    let missing = acknowledged
        .iter()
        .filter(|a| log.get(&a.entry) != Some(&a.leaf_hash))
        .count();
    assert_eq!(
        missing, 0,
        "{missing} acknowledged ballots are not in the log as acknowledged"
    );
    println!(
        "all {} acknowledged ballots are in the log",
        acknowledged.len()
    );
}
