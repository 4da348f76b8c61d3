//! `cargo bench --bench audit`: the auditor's side at scale. Builds a synthetic log
//! of N ballots (real keys, real signatures, the bundle types the server exports),
//! then measures in one run:
//!
//! - `verify_strict`, one core, and Ed25519 batch verification on all cores: the
//!   floors the audit is compared with;
//! - `audit verify` of the bundle file (read, parse, every check), as the CLI does it;
//! - the tally of N ranked ballots over 20 options, each from its own roll member
//!   (every ballot counts, so the Schulze matrix sees all N).
//!
//! MANDAAT_BENCH_AUDIT_BALLOTS sets N (default 1,000,000). MANDAAT_BENCH_AUDIT_OUT
//! names a directory to keep the bundle in (`<dir>/bundle.json`), e.g. to run
//! `mandaat audit verify` on it under `/usr/bin/time -v`. MANDAAT_BENCH_AUDIT_ONLY=tally
//! skips the log, the signatures and the audit, and measures only the tally.

// A benchmark, like a test, should stop loudly at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufWriter, Write as _};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use mandaat::audit::bundle::{BUNDLE_FORMAT, Bundle, BundleEntry, BundleKey, BundleProposal};
use mandaat::audit::{VerifyOptions, read_bundle, verify};
use mandaat::domain::ballot::{
    BALLOT_STATEMENT, PROPOSAL_CLOSED_STATEMENT, PROPOSAL_STATEMENT, RESULT_STATEMENT,
};
use mandaat::domain::keys::KEY_STATEMENT;
use mandaat::domain::lifecycle::{Frozen, FrozenDocument};
use mandaat::domain::member::Sector;
use mandaat::domain::proposal::{
    Choice, Electorate, Ident, Majority, PriorityOption, ProposalKind, ProposalSpec, RollEntry,
    Weighting,
};
use mandaat::domain::statement::{BASE64URL, KeyId, canonical_bytes, entry_bytes};
use mandaat::domain::tally::{Event, tally};
use mandaat::transparency::checkpoint::Checkpoint;
use mandaat::transparency::merkle::{MerkleTree, leaf_hash};
use mandaat::transparency::note::NoteSigner;

/// The cooperative's member boards, each with one registered key.
const BOARDS: usize = 1_279;
const OPTIONS: usize = 20;
const ORIGIN: &str = "bench.mandaat/log";
/// Signatures kept for the raw rates (the audit itself covers all of them).
const SAMPLE: usize = 100_000;
/// Signatures per `verify_batch` call in the raw rate.
const BATCH: usize = 256;

fn main() {
    let n: usize = std::env::var("MANDAAT_BENCH_AUDIT_BALLOTS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if std::env::var("MANDAAT_BENCH_AUDIT_ONLY").is_ok_and(|v| v == "tally") {
        println!("audit bench, tally only: {n} ballots over {OPTIONS} options; {threads} cores");
        let tally_time = measure_tally(n);
        println!();
        println!("| measure | figure | ratio |");
        println!("| --- | --- | --- |");
        print_tally(n, tally_time);
        return;
    }
    println!("audit bench: {n} ballots by {BOARDS} boards over {OPTIONS} options; {threads} cores");

    let start = Instant::now();
    let log = Log::generate(n, threads);
    let entries = log.bundle.entries.len();
    let (path, _dir) = write_bundle(&log.bundle);
    let file_size = std::fs::metadata(&path).expect("bundle file").len();
    println!(
        "generated {entries} entries ({:.0} MB bundle) in {:.1} s",
        file_size as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    let sample = log.sample;
    drop(log.bundle);

    // 1. The floors: strict verification on one core, batch verification on all.
    let single = sample.len().min(20_000);
    let start = Instant::now();
    for s in &sample[..single] {
        s.key
            .verify_strict(&s.message, &s.signature)
            .expect("verify_strict");
    }
    let strict_rate = rate(single, start.elapsed());
    let start = Instant::now();
    parallel_chunks(&sample, threads, |part| {
        for batch in part.chunks(BATCH) {
            let messages: Vec<&[u8]> = batch.iter().map(|s| s.message.as_slice()).collect();
            let signatures: Vec<Signature> = batch.iter().map(|s| s.signature).collect();
            let keys: Vec<VerifyingKey> = batch.iter().map(|s| s.key).collect();
            ed25519_dalek::verify_batch(&messages, &signatures, &keys).expect("verify_batch");
        }
    });
    let batch_rate = rate(sample.len(), start.elapsed());
    drop(sample);

    // 2. The audit, from the file, as `mandaat audit verify` runs it.
    let start = Instant::now();
    let bundle = read_bundle(&path).expect("bundle reads");
    let report = verify(&bundle, &VerifyOptions::default())
        .unwrap_or_else(|f| panic!("the generated bundle must verify: {f}"));
    let audit_time = start.elapsed();
    drop(bundle);
    assert_eq!(report.entries, entries as u64);
    assert_eq!(report.ballots, n as u64);
    assert_eq!((report.tallies, report.certified_results), (1, 1));
    let audit_rate = rate(entries, audit_time);

    // 3. The count: N ranked ballots, every one counted.
    let tally_time = measure_tally(n);

    println!();
    println!("| measure | figure | ratio |");
    println!("| --- | --- | --- |");
    println!("| verify_strict, 1 core | {strict_rate:>9.0} /s | 1 |");
    println!(
        "| verify_batch ({BATCH}), {threads} cores | {batch_rate:>9.0} /s | {:.2} × verify_strict |",
        batch_rate / strict_rate
    );
    println!(
        "| audit verify ({entries} entries, {threads} cores) | {audit_rate:>9.0} entries/s ({:.1} s) | {:.2} × verify_batch on all cores |",
        audit_time.as_secs_f64(),
        audit_rate / batch_rate
    );
    print_tally(n, tally_time);
}

/// The tally of `n` ranked ballots, every one counted.
fn measure_tally(n: usize) -> Duration {
    let (kind, electorate, roll, events) = ranked_ballots(n);
    let start = Instant::now();
    let counted = tally(&kind, &electorate, &roll, &events);
    let tally_time = start.elapsed();
    assert_eq!(counted.counted.len(), n);
    // Same ballots in, same result out: runs of different versions compare this.
    let digest = Sha256::digest(serde_json::to_vec(&counted).expect("tally json"));
    println!("tally: SHA-256 of its JSON {}", hex::encode(digest));
    tally_time
}

fn print_tally(n: usize, tally_time: Duration) {
    println!(
        "| tally, {n} ranked ballots, {OPTIONS} options | {:>9.3} s | {:.0} ns/ballot |",
        tally_time.as_secs_f64(),
        tally_time.as_secs_f64() * 1e9 / n as f64
    );
}

fn rate(n: usize, time: Duration) -> f64 {
    n as f64 / time.as_secs_f64()
}

/// Runs `work` on `threads` equal parts of `items` at once.
fn parallel_chunks<T: Sync>(items: &[T], threads: usize, work: impl Fn(&[T]) + Sync) {
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for part in items.chunks(chunk) {
            let work = &work;
            scope.spawn(move || work(part));
        }
    });
}

/// A signature kept for the raw rates.
struct Sample {
    message: Vec<u8>,
    signature: Signature,
    key: VerifyingKey,
}

struct Log {
    bundle: Bundle,
    sample: Vec<Sample>,
}

fn member(i: usize) -> Uuid {
    Uuid::from_u128(0x6d61_6e64_0000_0000_0000_0000_0000_0000 | i as u128)
}

fn board_key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("board {i}")).into())
}

fn option_ids() -> Vec<Ident> {
    (1..=OPTIONS)
        .map(|k| Ident::try_from(format!("option-{k:02}")).expect("ident"))
        .collect()
}

/// A ranking of all options, a different permutation for each `seed`.
fn ranking(ids: &[Ident], seed: u64) -> Vec<Ident> {
    let mut order: Vec<Ident> = ids.to_vec();
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for i in (1..order.len()).rev() {
        // xorshift64: cheap and deterministic; quality is irrelevant here.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

fn priority() -> (ProposalKind, Electorate) {
    let kind = ProposalKind::Priority {
        options: option_ids()
            .into_iter()
            .map(|id| PriorityOption {
                label: id.as_str().to_uppercase(),
                id,
            })
            .collect(),
    };
    let electorate = Electorate {
        sectors: [Sector::Po, Sector::Vo].into(),
        weighting: Weighting::OneMemberOneVote,
        quorum: "1/2".parse().expect("fraction"),
        majority: Majority::simple(),
        chamber_rule: false,
    };
    (kind, electorate)
}

fn roll_entry(i: usize) -> RollEntry {
    RollEntry {
        member: member(i),
        bg_number: 10_000 + i as u32,
        weight: 1,
        sectors: vec![if i.is_multiple_of(3) {
            Sector::Vo
        } else {
            Sector::Po
        }],
        chamber: if i.is_multiple_of(3) {
            "vo"
        } else {
            "po-small"
        }
        .to_owned(),
    }
}

/// One signed statement: its entry bytes, and what the raw rates need.
fn sign(key: &SigningKey, body: &Value) -> (Vec<u8>, Sample) {
    let message = canonical_bytes(body).expect("canonical");
    let signature = key.sign(&message);
    let entry = entry_bytes(
        &message,
        KeyId::of(key.verifying_key().as_bytes()),
        &signature.to_bytes(),
    );
    let sample = Sample {
        message,
        signature,
        key: key.verifying_key(),
    };
    (entry, sample)
}

fn bundle_entry(index: usize, entry: &[u8]) -> BundleEntry {
    BundleEntry {
        index: index as u64,
        leaf_hash: hex::encode(leaf_hash(entry)),
        entry: Some(BASE64URL.encode(entry)),
    }
}

impl Log {
    /// Boards register keys, the server opens a priority proposal with all boards on
    /// its roll, `n` ballots follow (each board votes again and again; its last
    /// ballot counts), then the server closes it and certifies the result.
    fn generate(n: usize, threads: usize) -> Log {
        let server = SigningKey::from_bytes(&Sha256::digest(b"bench log key").into());
        let keys: Vec<SigningKey> = (0..BOARDS).map(board_key).collect();
        let mut entries: Vec<BundleEntry> = Vec::with_capacity(n + BOARDS + 3);
        for (i, key) in keys.iter().enumerate() {
            let body = json!({"type": KEY_STATEMENT, "member": member(i).to_string(),
                "public_key": BASE64URL.encode(key.verifying_key().as_bytes())});
            entries.push(bundle_entry(i, &sign(key, &body).0));
        }

        let proposal = Uuid::from_u128(0x7072_6f70);
        let (kind, electorate) = priority();
        let document = FrozenDocument {
            statement_type: PROPOSAL_STATEMENT.to_owned(),
            proposal,
            spec: ProposalSpec {
                title: "Welke markten besteden we eerst aan?".to_owned(),
                description: String::new(),
                kind,
                electorate,
                opens_at: "2026-12-01T09:00:00Z".parse().expect("time"),
                closes_at: "2026-12-15T17:00:00Z".parse().expect("time"),
            },
            voter_roll: (0..BOARDS).map(roll_entry).collect(),
            opened_at: "2026-12-01T09:00:00Z".to_owned(),
            not_on_roll: Vec::new(),
        };
        let document_value = serde_json::to_value(&document).expect("document");
        let document_bytes = canonical_bytes(&document_value).expect("canonical");
        let (opening, _) = sign(&server, &document_value);
        let frozen = Frozen::parse(proposal, &document_bytes).expect("frozen document");
        let digest = frozen.digest.clone();
        let opened = entries.len();
        entries.push(bundle_entry(opened, &opening));

        // The ballots, signed on all cores.
        let ids = option_ids();
        let first = entries.len();
        let chunk = n.div_ceil(threads).max(1);
        let parts: Vec<(Vec<BundleEntry>, Vec<Sample>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|from| {
                    let (keys, ids, digest) = (&keys, &ids, &digest);
                    scope.spawn(move || {
                        let mut out = Vec::with_capacity(chunk);
                        let mut sample = Vec::new();
                        for i in from..(from + chunk).min(n) {
                            let board = i % BOARDS;
                            let body = json!({"type": BALLOT_STATEMENT,
                                "proposal": proposal.to_string(), "proposal_digest": digest,
                                "voter": member(board).to_string(), "for": member(board).to_string(),
                                "choice": {"ranking": ranking(ids, i as u64)},
                                "nonce": BASE64URL.encode((i as u128).to_le_bytes()),
                                "cast_at": "2026-12-02T10:00:00Z"});
                            let (entry, signed) = sign(&keys[board], &body);
                            out.push(bundle_entry(first + i, &entry));
                            if i < SAMPLE {
                                sample.push(signed);
                            }
                        }
                        (out, sample)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("signer"))
                .collect()
        });
        let mut sample = Vec::new();
        for (part, signed) in parts {
            entries.extend(part);
            sample.extend(signed);
        }

        // Each board's last ballot is the one that counts.
        let mut last: Vec<Event> = (n.saturating_sub(BOARDS)..n)
            .map(|i| {
                let board = i % BOARDS;
                Event::Ballot {
                    index: (first + i) as u64,
                    voter: member(board),
                    for_member: member(board),
                    choice: Choice::Ranking {
                        ranking: ranking(&ids, i as u64),
                    },
                }
            })
            .collect();
        last.sort_by_key(Event::index);
        let result = serde_json::to_value(frozen.tally(&last)).expect("tally");

        let closed = entries.len();
        let body = json!({"type": PROPOSAL_CLOSED_STATEMENT, "proposal": proposal.to_string(),
            "proposal_digest": digest, "closed_at": "2026-12-15T17:00:00Z"});
        entries.push(bundle_entry(closed, &sign(&server, &body).0));
        let mut tree = MerkleTree::from_leaf_hashes(entries.iter().map(|e| {
            hex::decode(&e.leaf_hash)
                .expect("hex")
                .try_into()
                .expect("32")
        }));
        let body = json!({"type": RESULT_STATEMENT, "proposal": proposal.to_string(),
            "proposal_digest": digest, "tally": result,
            "log": {"size": closed + 1, "root": STANDARD.encode(tree.root())},
            "finalized_at": "2026-12-16T09:00:00Z"});
        let (certified, _) = sign(&server, &body);
        tree.push(leaf_hash(&certified));
        entries.push(bundle_entry(closed + 1, &certified));

        let signer = NoteSigner::new(ORIGIN, server).expect("note signer");
        let checkpoint = Checkpoint {
            origin: ORIGIN.to_owned(),
            size: tree.size(),
            root: tree.root(),
        };
        let bundle = Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            origin: ORIGIN.to_owned(),
            log_key: signer.verifier_key(),
            checkpoint: signer.sign(&checkpoint.to_text()).expect("checkpoint"),
            entries,
            keys: keys
                .iter()
                .enumerate()
                .map(|(i, key)| BundleKey {
                    member: member(i),
                    key_id: KeyId::of(key.verifying_key().as_bytes()).to_string(),
                    public_key: BASE64URL.encode(key.verifying_key().as_bytes()),
                    registration_entry: i as u64,
                    revocation_entry: None,
                })
                .collect(),
            proposals: vec![BundleProposal {
                id: proposal,
                status: "final".to_owned(),
                digest: Some(digest),
                document: Some(BASE64URL.encode(&document_bytes)),
                opened_entry: Some(opened as u64),
                closed_entry: Some(closed as u64),
                result_entry: Some(closed as u64 + 1),
                result: Some(result),
            }],
        };
        Log { bundle, sample }
    }
}

/// Writes the bundle where `mandaat audit export` would: `<dir>/bundle.json`.
fn write_bundle(bundle: &Bundle) -> (PathBuf, Option<tempfile::TempDir>) {
    let (dir, temp) = match std::env::var_os("MANDAAT_BENCH_AUDIT_OUT") {
        Some(dir) => (PathBuf::from(dir), None),
        None => {
            let temp = tempfile::tempdir().expect("temp dir");
            (temp.path().to_owned(), Some(temp))
        }
    };
    std::fs::create_dir_all(&dir).expect("bundle directory");
    let path = dir.join("bundle.json");
    let mut out = BufWriter::new(std::fs::File::create(&path).expect("bundle file"));
    serde_json::to_writer(&mut out, bundle).expect("bundle written");
    out.flush().expect("bundle flushed");
    (path, temp)
}

/// `n` roll members (weight 1) and one full ranking from each.
fn ranked_ballots(n: usize) -> (ProposalKind, Electorate, Vec<RollEntry>, Vec<Event>) {
    let (kind, electorate) = priority();
    let ids = option_ids();
    let roll = (0..n).map(roll_entry).collect();
    let events = (0..n)
        .map(|i| Event::Ballot {
            index: i as u64,
            voter: member(i),
            for_member: member(i),
            choice: Choice::Ranking {
                ranking: ranking(&ids, i as u64),
            },
        })
        .collect();
    (kind, electorate, roll, events)
}
