//! `verify`: replays an audit bundle and reports the first thing that does not hold.
//!
//! Order of work: the log key and checkpoint (nothing else can be trusted without
//! them), the entries against the signed root, earlier checkpoints, one sequential
//! pass over the entries that keeps the key registry and each proposal's state,
//! all signatures in parallel, and finally the bundle's summaries and the tallies
//! against what that pass derived. Failures are collected rather than returned at
//! once, so that the one at the lowest entry index is reported: it is the cause, and
//! later failures are usually its consequences. Failures about the bundle as a whole
//! come after those, except the trust anchors, which are returned at once: the log
//! key, the checkpoint's signature, and earlier checkpoints the log must extend.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::num::NonZeroUsize;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use uuid::Uuid;

use super::bundle::{BUNDLE_FORMAT, Bundle, BundleEntry, BundleKey, BundleProposal};
use super::membership::Register;
use crate::domain::ballot::{
    BALLOT_STATEMENT, BallotStatement, PROPOSAL_CLOSED_STATEMENT, PROPOSAL_STATEMENT,
    PROPOSAL_WITHDRAWN_STATEMENT, PROXY_REVOCATION_STATEMENT, PROXY_STATEMENT, ProxyStatement,
    RESULT_STATEMENT,
};
use crate::domain::keys::{
    ADMIN_KEY_REVOCATION_STATEMENT, KEY_REVOCATION_STATEMENT, KEY_STATEMENT, KeyRegistration,
    KeyRevocation,
};
use crate::domain::lifecycle::{Frozen, Status};
use crate::domain::membership::MEMBERSHIP_STATEMENT;
use crate::domain::server_statement::{
    AdminKeyRevocation, CertifiedResult as ServerResult, ProposalClosed, ProposalWithdrawn,
};
use crate::domain::statement::{
    BASE64URL, KeyId, MemberPublicKey, SignedStatement, canonical_uuid, parse_entry,
};
use crate::domain::tally::Event;
use crate::transparency::checkpoint::Checkpoint;
use crate::transparency::merkle::{Hash, MerkleTree, leaf_hash};
use crate::transparency::note::NoteVerifier;

const LEAF_MISMATCH: &str = "entry bytes do not match the leaf hash recorded when it was accepted";
const ROOT_MISMATCH: &str = "the entries do not hash to the signed checkpoint's root";
const KEY_DIFFERS: &str = "member key differs from its registration in the log";
const STORED_TALLY_DIFFERS: &str =
    "the stored tally differs from the tally recomputed from the ballots";
const CERTIFIED_TALLY_DIFFERS: &str =
    "the certified tally differs from the tally recomputed from the ballots";

/// What the auditor brings from outside the bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// A verifier key the auditor trusts (from outside the bundle); when set, the bundle's must equal it.
    pub trusted_log_key: Option<String>,
    /// Signed checkpoints (note text) seen earlier, which the log must extend.
    pub earlier_checkpoints: Vec<String>,
}

/// What was checked, for a bundle that passed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub checkpoint_size: u64,
    pub root: [u8; 32],
    pub entries: u64,
    /// Entries shown by hash only: secret ballots of proposals still open.
    pub withheld: u64,
    pub signatures: u64,
    pub keys: u64,
    pub ballots: u64,
    /// Proxy grants and proxy revocations.
    pub proxies: u64,
    pub proposals: u64,
    pub tallies: u64,
    pub certified_results: u64,
    /// One human line per kind of check done.
    pub checked: Vec<String>,
}

/// The first thing that does not hold: at an entry, or about the bundle as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .entry { Some(i) => format!("entry {i}: {}", .reason), None => .reason.clone() })]
pub struct Failure {
    pub entry: Option<u64>,
    pub reason: String,
}

impl Failure {
    fn general(reason: impl Into<String>) -> Self {
        Failure {
            entry: None,
            reason: reason.into(),
        }
    }
}

/// Verifies `bundle` from its signed entries alone (and what `options` adds).
pub fn verify(bundle: &Bundle, options: &VerifyOptions) -> Result<Report, Failure> {
    // Without a trusted key and a valid checkpoint nothing else means anything, so
    // these failures are returned at once.
    let log = open_log(bundle, options)?;
    let size = log.checkpoint.size;
    let mut findings = Findings::default();
    let mut checked = vec![
        format!("bundle format {BUNDLE_FORMAT}"),
        format!(
            "checkpoint signature under {}{}",
            log.verifier.name(),
            if options.trusted_log_key.is_some() {
                " (the trusted log key)"
            } else {
                " (the bundle's own log key; pass a trusted key to pin it)"
            }
        ),
    ];

    let placed = place_entries(&bundle.entries, size, &mut findings);
    let leaves = placed
        .iter()
        .map(|entry| entry.and_then(|e| parse_hash(&e.leaf_hash)));
    let tree = MerkleTree::from_leaf_hashes(leaves.map_while(|leaf| leaf));
    let complete = tree.size() == size;
    if complete && tree.root() != log.checkpoint.root {
        findings.general(ROOT_MISMATCH);
    }
    // Only a tree with the signed root may answer for the log's past. Otherwise that
    // (or a missing entry) is the cause, and comparisons with other roots its echoes.
    let signed_tree = (complete && tree.root() == log.checkpoint.root).then_some(&tree);
    checked.push(format!("{size} entries hash to the checkpoint root"));

    let earlier = check_earlier(&options.earlier_checkpoints, &log, signed_tree)?;
    if earlier > 0 {
        checked.push(format!(
            "{earlier} earlier checkpoints are prefixes of this log"
        ));
    }

    // Entries are read, walked and their signatures checked a chunk at a time, so
    // that only one chunk of parsed statements is ever held.
    let mut walk = Walk::new(log.server);
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    for (first, chunk) in (0u64..).step_by(CHUNK).zip(placed.chunks(CHUNK)) {
        let slots = read_entries(chunk, threads, &mut findings);
        let jobs = walk.run(first, &slots, &mut findings);
        if let Some((index, reason)) = verify_signatures(&jobs, &walk.verifiers, threads) {
            findings.at(index, reason);
        }
    }
    let closed_next = walk.adopt_closings_at(size, &bundle.proposals);
    walk.check_withheld(&mut findings);
    check_keys(&walk.keys, &bundle.keys, &mut findings);
    let uncovered = check_proposals(&walk.proposals, &bundle.proposals, size, &mut findings);
    let (tallies, certified) = check_tallies(&walk, &bundle.proposals, signed_tree, &mut findings);
    findings.finish()?;

    let report = Report {
        checkpoint_size: size,
        root: log.checkpoint.root,
        entries: count(placed.len()),
        withheld: count(walk.withheld.len()),
        signatures: walk.signatures,
        keys: count(walk.keys.len()),
        ballots: walk.ballots,
        proxies: walk.proxies,
        proposals: count(walk.proposals.len()),
        tallies,
        certified_results: certified,
        checked,
    };
    let mut report = with_summary(report, closed_next, uncovered);
    report.checked.extend(walk.register.summary());
    Ok(report)
}

/// Adds the lines for the checks whose counts are only known at the end.
fn with_summary(mut report: Report, closed_next: u64, uncovered: u64) -> Report {
    let lines = [
        format!(
            "{} entries parse as canonical signed statements",
            report.entries.saturating_sub(report.withheld)
        ),
        format!(
            "{} signatures verified with verify_strict, each by a key active for its signer at that entry",
            report.signatures
        ),
        format!("{} member keys match their registrations", report.keys),
        format!(
            "{} proposals match their frozen documents",
            report.proposals
        ),
        format!(
            "{} ballots and {} proxy statements fit their proposals (after opening, before closing, digest, roll, choice, fresh nonce)",
            report.ballots, report.proxies
        ),
        format!("{} tallies recomputed and equal", report.tallies),
        format!("{} certified results match", report.certified_results),
        format!(
            "{} secret ballots (open proposals) checked by hash only",
            report.withheld
        ),
    ];
    report.checked.extend(lines);
    if closed_next > 0 {
        report.checked.push(format!(
            "{closed_next} proposals closed by the entry right after the checkpoint: tallied from the covered ballots"
        ));
    }
    if uncovered > 0 {
        report.checked.push(format!(
            "{uncovered} closing or result entries lie beyond the checkpoint: left for a later checkpoint"
        ));
    }
    report
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Collects failures and keeps the one to report: the lowest entry index, else the
/// first failure about the bundle as a whole. At an equal index the first recorded
/// stays, because checks run from cause to consequence.
#[derive(Debug, Default)]
struct Findings {
    at_entry: Option<(u64, String)>,
    general: Option<String>,
}

impl Findings {
    fn at(&mut self, index: u64, reason: impl Into<String>) {
        if self.at_entry.as_ref().is_none_or(|(i, _)| index < *i) {
            self.at_entry = Some((index, reason.into()));
        }
    }

    fn general(&mut self, reason: impl Into<String>) {
        if self.general.is_none() {
            self.general = Some(reason.into());
        }
    }

    /// Takes over what another collector found (of disjoint entries, so no ties).
    fn absorb(&mut self, other: Findings) {
        if let Some((index, reason)) = other.at_entry {
            self.at(index, reason);
        }
        if let Some(reason) = other.general {
            self.general(reason);
        }
    }

    fn finish(self) -> Result<(), Failure> {
        match (self.at_entry, self.general) {
            (Some((index, reason)), _) => Err(Failure {
                entry: Some(index),
                reason,
            }),
            (None, Some(reason)) => Err(Failure::general(reason)),
            (None, None) => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------
// Step 1: the log key and the checkpoint.

/// The server signs checkpoints and its own statements with the same Ed25519 key.
#[derive(Debug, Clone, Copy)]
struct ServerKey {
    id: KeyId,
    key: MemberPublicKey,
}

struct OpenLog {
    verifier: NoteVerifier,
    checkpoint: Checkpoint,
    server: ServerKey,
}

fn open_log(bundle: &Bundle, options: &VerifyOptions) -> Result<OpenLog, Failure> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(Failure::general(format!(
            "bundle format is {:?}, expected {BUNDLE_FORMAT:?}",
            bundle.format
        )));
    }
    let verifier = NoteVerifier::from_key_string(&bundle.log_key)
        .map_err(|e| Failure::general(format!("the bundle's log key does not parse: {e}")))?;
    if let Some(trusted) = options.trusted_log_key.as_deref().map(str::trim)
        && trusted != bundle.log_key
    {
        return Err(Failure::general(format!(
            "the bundle's log key {} is not the trusted log key {trusted}",
            bundle.log_key
        )));
    }
    let text = verifier.verify(&bundle.checkpoint).map_err(|e| {
        Failure::general(format!(
            "the checkpoint does not verify under the log key: {e}"
        ))
    })?;
    let checkpoint = Checkpoint::parse(&text)
        .map_err(|e| Failure::general(format!("the signed checkpoint does not parse: {e}")))?;
    if checkpoint.origin != bundle.origin {
        return Err(Failure::general(format!(
            "the checkpoint is for log {:?}, but the bundle is for {:?}",
            checkpoint.origin, bundle.origin
        )));
    }
    let key = MemberPublicKey::from_bytes(verifier.verifying_key().as_bytes())
        .map_err(|e| Failure::general(format!("the log key cannot verify statements: {e}")))?;
    let server = ServerKey {
        id: key.key_id(),
        key,
    };
    Ok(OpenLog {
        verifier,
        checkpoint,
        server,
    })
}

// ---------------------------------------------------------------------------------
// Step 2: the entries and their hashes.

/// Entries read, walked and signature-checked together (see [`verify`]).
const CHUNK: usize = 16_384;

/// One entry index of the checkpoint's tree, read.
enum Slot {
    Shown(SignedStatement),
    /// Shown by hash only (a secret ballot).
    Withheld,
    /// Missing, or bytes that do not parse: already a failure.
    Unreadable,
}

/// Places the bundle's entries at their indexes 0..size; every index that is
/// missing, doubled or beyond the checkpoint is a failure at that index.
fn place_entries<'b>(
    entries: &'b [BundleEntry],
    size: u64,
    findings: &mut Findings,
) -> Vec<Option<&'b BundleEntry>> {
    // Never trust `size` for an allocation: a bundle with fewer entries than its
    // checkpoint claims already fails at its first missing index.
    let slots = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .min(entries.len());
    let mut placed: Vec<Option<&BundleEntry>> = vec![None; slots];
    for entry in entries {
        if entry.index >= size {
            findings.at(
                entry.index,
                format!("entry is beyond the checkpoint's tree size {size}"),
            );
            continue;
        }
        // An index past `slots` means a lower index is missing, found below.
        let Some(place) = usize::try_from(entry.index)
            .ok()
            .and_then(|i| placed.get_mut(i))
        else {
            continue;
        };
        if place.is_some() {
            findings.at(entry.index, "entry appears twice in the bundle");
        } else {
            *place = Some(entry);
        }
    }
    match placed.iter().position(Option::is_none) {
        Some(missing) => findings.at(count(missing), "entry is missing from the bundle"),
        None if count(slots) < size => {
            findings.at(count(slots), "entry is missing from the bundle")
        }
        None => {}
    }
    placed
}

/// Decodes, hashes and parses placed entries on `threads` cores.
fn read_entries(
    placed: &[Option<&BundleEntry>],
    threads: usize,
    findings: &mut Findings,
) -> Vec<Slot> {
    let part = placed.len().div_ceil(threads).max(1);
    let parts: Vec<(Vec<Slot>, Findings)> = std::thread::scope(|scope| {
        let handles: Vec<_> = placed
            .chunks(part)
            .map(|part| {
                scope.spawn(move || {
                    let mut found = Findings::default();
                    let slots = part
                        .iter()
                        .map(|entry| match entry {
                            Some(entry) => read_entry(entry, &mut found),
                            None => Slot::Unreadable,
                        })
                        .collect();
                    (slots, found)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    });
    let mut slots = Vec::with_capacity(placed.len());
    for (part, found) in parts {
        slots.extend(part);
        findings.absorb(found);
    }
    slots
}

fn read_entry(entry: &BundleEntry, findings: &mut Findings) -> Slot {
    let index = entry.index;
    let leaf = parse_hash(&entry.leaf_hash);
    if leaf.is_none() {
        findings.at(index, "the recorded leaf hash is not 64 hex characters");
    }
    let Some(encoded) = &entry.entry else {
        return Slot::Withheld;
    };
    let Ok(bytes) = BASE64URL.decode(encoded) else {
        findings.at(index, "entry is not unpadded base64url");
        return Slot::Unreadable;
    };
    if leaf.is_some_and(|recorded| leaf_hash(&bytes) != recorded) {
        findings.at(index, LEAF_MISMATCH);
    }
    match parse_entry(&bytes) {
        Ok(statement) => Slot::Shown(statement),
        Err(e) => {
            findings.at(
                index,
                format!("entry is not a canonical signed statement: {e}"),
            );
            Slot::Unreadable
        }
    }
}

fn parse_hash(text: &str) -> Option<Hash> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).ok()?;
    Some(hash)
}

// ---------------------------------------------------------------------------------
// Step 3: earlier checkpoints.

/// Each earlier checkpoint must be a prefix of this log: signed by the log key, same
/// origin, and the root of its size recomputed from these entries. Its failures are
/// reported before any entry's: a log that contradicts what the auditor saw before is
/// another history, and every later discrepancy follows from that. Returns how many
/// were checked.
fn check_earlier(
    notes: &[String],
    log: &OpenLog,
    tree: Option<&MerkleTree>,
) -> Result<usize, Failure> {
    for (n, note) in (1u64..).zip(notes) {
        let checkpoint = log
            .verifier
            .verify(note)
            .map_err(|e| e.to_string())
            .and_then(|text| Checkpoint::parse(&text).map_err(|e| e.to_string()))
            .map_err(|e| {
                Failure::general(format!(
                    "earlier checkpoint {n} does not verify under the log key: {e}"
                ))
            })?;
        if checkpoint.origin != log.checkpoint.origin {
            return Err(Failure::general(format!(
                "earlier checkpoint {n} is for log {:?}, not {:?}",
                checkpoint.origin, log.checkpoint.origin
            )));
        }
        // Without the signed tree, a missing entry or the root is already the failure.
        let Some(tree) = tree else { continue };
        let extends = checkpoint.size <= log.checkpoint.size
            && tree.root_at(checkpoint.size) == Ok(checkpoint.root);
        if !extends {
            return Err(Failure::general(format!(
                "the log is not consistent with the earlier checkpoint of size {}: history was rewritten",
                checkpoint.size
            )));
        }
    }
    Ok(notes.len())
}

// ---------------------------------------------------------------------------------
// Step 4: the sequential pass.

/// A member key as the log establishes it.
#[derive(Debug, Clone, Copy)]
struct RegisteredKey {
    member: Uuid,
    key: MemberPublicKey,
    /// Its place in [`Walk::verifiers`].
    verifier: usize,
    registered: u64,
    revoked: Option<u64>,
}

impl RegisteredKey {
    /// Valid for an entry when registered before it and not revoked before it.
    fn active_at(&self, index: u64) -> bool {
        self.registered < index && self.revoked.is_none_or(|r| r > index)
    }

    fn to_bundle_key(self, id: KeyId) -> BundleKey {
        BundleKey {
            member: self.member,
            key_id: id.to_string(),
            public_key: BASE64URL.encode(self.key.to_bytes()),
            registration_entry: self.registered,
            revocation_entry: self.revoked,
        }
    }
}

/// A proposal as the log establishes it.
struct LoggedProposal {
    frozen: Frozen,
    /// The frozen document's bytes (the opening entry's statement).
    document: Vec<u8>,
    opened: u64,
    closed: Option<u64>,
    /// Where the log withdrew it, if it did (`mandaat.proposal-withdrawn.v1`).
    withdrawn: Option<u64>,
    result_entry: Option<u64>,
    /// Ballots and proxy changes in sequence order: the tally's input. A ballot that a
    /// later one supersedes is dropped (`None`) as soon as that one comes: the tally
    /// would ignore it, and a million ballots by a thousand boards need not be held.
    events: Vec<Option<Event>>,
    /// (member voted for, whether by itself) → its latest ballot in `events`.
    latest_ballot: HashMap<(Uuid, bool), usize>,
    /// grantor → holder, as of the entry being walked.
    proxies: BTreeMap<Uuid, Uuid>,
}

/// A `mandaat.result.v1` entry, checked once all tallies are recomputed.
struct CertifiedResult {
    index: u64,
    proposal: Uuid,
    tally: Value,
    log_size: u64,
    log_root: String,
}

/// A signature to verify: the entry, its statement and (in [`Walk::verifiers`]) the
/// key it must verify under.
struct Job<'s> {
    index: u64,
    statement: &'s SignedStatement,
    verifier: usize,
}

/// State of the sequential pass over the entries.
struct Walk {
    server: ServerKey,
    keys: BTreeMap<KeyId, RegisteredKey>,
    /// Every key a statement may verify under: the log key first, then member keys
    /// in registration order.
    verifiers: Vec<Verifier>,
    proposals: BTreeMap<Uuid, LoggedProposal>,
    nonces: HashSet<String>,
    results: Vec<CertifiedResult>,
    withheld: Vec<u64>,
    signatures: u64,
    ballots: u64,
    proxies: u64,
    /// The membership register as the log states it (`super::membership`).
    register: Register,
}

impl Walk {
    fn new(server: ServerKey) -> Self {
        Walk {
            server,
            keys: BTreeMap::new(),
            verifiers: vec![Verifier::new(server.key)],
            proposals: BTreeMap::new(),
            nonces: HashSet::new(),
            results: Vec::new(),
            withheld: Vec::new(),
            signatures: 0,
            ballots: 0,
            proxies: 0,
            register: Register::default(),
        }
    }

    /// Walks the entries `first`, `first + 1`, … in `slots` and returns the signatures
    /// they need checked.
    fn run<'s>(&mut self, first: u64, slots: &'s [Slot], findings: &mut Findings) -> Vec<Job<'s>> {
        let mut jobs = Vec::with_capacity(slots.len());
        for (index, slot) in (first..).zip(slots) {
            match slot {
                Slot::Shown(statement) => match self.entry(index, statement) {
                    Ok(verifier) => jobs.push(Job {
                        index,
                        statement,
                        verifier,
                    }),
                    Err(reason) => findings.at(index, reason),
                },
                Slot::Withheld => self.withheld.push(index),
                Slot::Unreadable => {}
            }
        }
        self.signatures += count(jobs.len());
        jobs
    }

    /// Applies one entry and returns the key (its place in `verifiers`) its signature
    /// must verify under.
    fn entry(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        match st.statement_type() {
            KEY_STATEMENT => self.register_key(index, st),
            KEY_REVOCATION_STATEMENT => self.member_revocation(index, st),
            ADMIN_KEY_REVOCATION_STATEMENT => self.admin_revocation(index, st),
            PROPOSAL_STATEMENT => self.open_proposal(index, st),
            PROPOSAL_CLOSED_STATEMENT => self.close_proposal(index, st),
            PROPOSAL_WITHDRAWN_STATEMENT => self.withdraw_proposal(index, st),
            RESULT_STATEMENT => self.certify(index, st),
            BALLOT_STATEMENT => self.ballot(index, st),
            PROXY_STATEMENT | PROXY_REVOCATION_STATEMENT => self.proxy(index, st),
            MEMBERSHIP_STATEMENT => {
                let server = self.server_signed(st)?;
                self.register.apply(index, st)?;
                Ok(server)
            }
            other => Err(format!("unknown statement type {other:?}")),
        }
    }

    /// A proof of possession: signed with the key it registers, which is new.
    fn register_key(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let member = uuid_field(st, "member")?;
        let registration =
            KeyRegistration::from_statement(st, member).map_err(|e| e.to_string())?;
        let id = registration.public_key.key_id();
        if self.keys.contains_key(&id) {
            return Err(format!("key {id} is registered a second time"));
        }
        let verifier = self.verifiers.len();
        self.verifiers.push(Verifier::new(registration.public_key));
        self.keys.insert(
            id,
            RegisteredKey {
                member,
                key: registration.public_key,
                verifier,
                registered: index,
                revoked: None,
            },
        );
        Ok(verifier)
    }

    /// A board's revocation, signed with any of its keys active at this entry.
    fn member_revocation(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let member = uuid_field(st, "member")?;
        let key_id = key_id_field(st)?;
        KeyRevocation::from_statement(st, member, key_id).map_err(|e| e.to_string())?;
        let signer = self.active_key(member, st.key_id(), index)?;
        self.revoke(member, key_id, index)?;
        Ok(signer)
    }

    /// An admin's revocation, vouched for by the server with the log key.
    fn admin_revocation(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let server = self.server_signed(st)?;
        let revocation = AdminKeyRevocation::from_statement(st).map_err(|e| e.to_string())?;
        self.revoke(revocation.member, revocation.key_id, index)?;
        Ok(server)
    }

    fn revoke(&mut self, member: Uuid, key_id: KeyId, index: u64) -> Result<(), String> {
        let key = self
            .keys
            .get_mut(&key_id)
            .filter(|k| k.member == member)
            .ok_or_else(|| {
                format!("revokes key {key_id}, which is not a key of member {member}")
            })?;
        if !key.active_at(index) {
            return Err(format!("revokes key {key_id}, which is not active here"));
        }
        key.revoked = Some(index);
        Ok(())
    }

    /// The key that signed `signer`'s statement at `index`, if it was active then.
    fn active_key(&self, signer: Uuid, key_id: KeyId, index: u64) -> Result<usize, String> {
        self.keys
            .get(&key_id)
            .filter(|k| k.member == signer && k.active_at(index))
            .map(|k| k.verifier)
            .ok_or_else(|| {
                format!("signed with key {key_id}, which is not an active key of member {signer} at this entry")
            })
    }

    /// The log key is `verifiers[0]`.
    fn server_signed(&self, st: &SignedStatement) -> Result<usize, String> {
        if st.key_id() != self.server.id {
            return Err(format!(
                "a {} statement must be signed with the log key {}, not {}",
                st.statement_type(),
                self.server.id,
                st.key_id()
            ));
        }
        Ok(0)
    }

    /// A frozen document: the proposal's roll and rules, fixed from here on.
    fn open_proposal(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let server = self.server_signed(st)?;
        let id = uuid_field(st, "proposal")?;
        let frozen = Frozen::parse(id, st.bytes()).map_err(|e| e.to_string())?;
        if self.proposals.contains_key(&id) {
            return Err(format!("opens proposal {id} a second time"));
        }
        self.register.check_roll(&frozen)?;
        self.proposals.insert(
            id,
            LoggedProposal {
                frozen,
                document: st.bytes().to_vec(),
                opened: index,
                closed: None,
                withdrawn: None,
                result_entry: None,
                events: Vec::new(),
                latest_ballot: HashMap::new(),
                proxies: BTreeMap::new(),
            },
        );
        Ok(server)
    }

    fn close_proposal(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let server = self.server_signed(st)?;
        let closing = ProposalClosed::from_statement(st).map_err(|e| e.to_string())?;
        let proposal = self.open_at(closing.proposal, &closing.proposal_digest)?;
        proposal.closed = Some(index);
        Ok(server)
    }

    /// An open proposal withdrawn: nothing of it may follow, and nothing of it counts.
    fn withdraw_proposal(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let server = self.server_signed(st)?;
        let withdrawal = ProposalWithdrawn::from_statement(st).map_err(|e| e.to_string())?;
        let proposal = self.open_at(withdrawal.proposal, &withdrawal.proposal_digest)?;
        proposal.withdrawn = Some(index);
        Ok(server)
    }

    /// A certified result; its tally and log root are checked after the pass.
    fn certify(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let server = self.server_signed(st)?;
        let result = ServerResult::from_statement(st).map_err(|e| e.to_string())?;
        let id = result.proposal;
        let proposal = self
            .proposals
            .get_mut(&id)
            .ok_or_else(|| format!("certifies proposal {id}, which the log never opened"))?;
        if proposal.closed.is_none() {
            return Err(format!("certifies proposal {id} before it was closed"));
        }
        if result.proposal_digest != proposal.frozen.digest {
            return Err(format!(
                "proposal_digest is not the digest of proposal {id}"
            ));
        }
        if proposal.result_entry.is_some() {
            return Err(format!("certifies proposal {id} a second time"));
        }
        proposal.result_entry = Some(index);
        self.results.push(CertifiedResult {
            index,
            proposal: id,
            tally: result.tally,
            log_size: result.log.size,
            log_root: result.log.root,
        });
        Ok(server)
    }

    fn ballot(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let ballot = BallotStatement::from_statement(st).map_err(|e| e.to_string())?;
        let key = self.active_key(ballot.voter, st.key_id(), index)?;
        self.fresh_nonce(ballot.nonce)?;
        let proposal = self.open_at(ballot.proposal, &ballot.proposal_digest)?;
        on_roll(proposal, &[ballot.voter, ballot.for_member])?;
        ballot
            .choice
            .validate(&proposal.frozen.document.spec.kind)
            .map_err(|e| e.to_string())?;
        // A proxy ballot was accepted only while the proxy was held.
        if ballot.voter != ballot.for_member
            && proposal.proxies.get(&ballot.for_member) != Some(&ballot.voter)
        {
            return Err(format!(
                "member {} holds no proxy from member {} at this entry",
                ballot.voter, ballot.for_member
            ));
        }
        // Accepted here, this ballot supersedes in the tally the member's earlier one of
        // the same kind (own, or by proxy): its choice fits, and a proxy ballot comes
        // from the holder of the proxy at this entry.
        let own = ballot.voter == ballot.for_member;
        let at = proposal.events.len();
        if let Some(earlier) = proposal.latest_ballot.insert((ballot.for_member, own), at)
            && let Some(slot) = proposal.events.get_mut(earlier)
        {
            *slot = None;
        }
        proposal.events.push(Some(Event::Ballot {
            index,
            voter: ballot.voter,
            for_member: ballot.for_member,
            choice: ballot.choice,
        }));
        self.ballots += 1;
        Ok(key)
    }

    fn proxy(&mut self, index: u64, st: &SignedStatement) -> Result<usize, String> {
        let proxy = ProxyStatement::from_statement(st).map_err(|e| e.to_string())?;
        let key = self.active_key(proxy.grantor, st.key_id(), index)?;
        self.fresh_nonce(proxy.nonce)?;
        let proposal = self.open_at(proxy.proposal, &proxy.proposal_digest)?;
        on_roll(proposal, &[proxy.grantor, proxy.holder])?;
        if proxy.grantor == proxy.holder {
            return Err("a member cannot hold its own proxy".into());
        }
        let current = proposal.proxies.get(&proxy.grantor).copied();
        if proxy.revocation {
            if current != Some(proxy.holder) {
                return Err(format!(
                    "withdraws a proxy from member {} to member {} that is not active",
                    proxy.grantor, proxy.holder
                ));
            }
            proposal.proxies.remove(&proxy.grantor);
            proposal.events.push(Some(Event::ProxyRevoked {
                index,
                grantor: proxy.grantor,
            }));
        } else {
            if current.is_some() {
                return Err(format!(
                    "member {} already has an active proxy for this proposal",
                    proxy.grantor
                ));
            }
            proposal.proxies.insert(proxy.grantor, proxy.holder);
            proposal.events.push(Some(Event::ProxyGranted {
                index,
                grantor: proxy.grantor,
                holder: proxy.holder,
            }));
        }
        self.proxies += 1;
        Ok(key)
    }

    /// The proposal a ballot, proxy or closing names: opened before this entry (the
    /// pass is sequential, so only earlier openings are known), not yet closed, and
    /// named with its own digest.
    fn open_at(&mut self, id: Uuid, digest: &str) -> Result<&mut LoggedProposal, String> {
        let proposal = self
            .proposals
            .get_mut(&id)
            .ok_or_else(|| format!("names proposal {id}, which is not open at this entry"))?;
        if let Some(closed) = proposal.closed {
            return Err(format!(
                "names proposal {id}, which was closed at entry {closed}"
            ));
        }
        if let Some(withdrawn) = proposal.withdrawn {
            return Err(format!(
                "names proposal {id}, which was withdrawn at entry {withdrawn}"
            ));
        }
        if digest != proposal.frozen.digest {
            return Err(format!(
                "proposal_digest is not the digest of proposal {id}"
            ));
        }
        Ok(proposal)
    }

    /// Nonces are unique over all ballots and proxies, so no statement can be replayed.
    fn fresh_nonce(&mut self, nonce: String) -> Result<(), String> {
        if !self.nonces.insert(nonce) {
            return Err("the nonce was used before".into());
        }
        Ok(())
    }

    /// The bundle shows the database, which may be ahead of its checkpoint. A proposal
    /// closed by the very entry after the checkpoint has all its ballots covered, so it
    /// counts as closed there: its ballots must be shown and its tally is recomputed.
    /// (A closing further on may follow uncovered ballots, so it waits.) Returns how
    /// many proposals were so closed.
    fn adopt_closings_at(&mut self, size: u64, listed: &[BundleProposal]) -> u64 {
        let mut adopted = 0;
        for b in listed.iter().filter(|b| b.closed_entry == Some(size)) {
            if let Some(p) = self.proposals.get_mut(&b.id).filter(|p| p.closed.is_none()) {
                p.closed = Some(size);
                adopted += 1;
            }
        }
        adopted
    }

    /// A withheld entry can only be a secret ballot: a ballot of a proposal that was
    /// open at that entry and is still open. A closed proposal's ballots are public.
    fn check_withheld(&self, findings: &mut Findings) {
        for &index in &self.withheld {
            let open_then = self
                .proposals
                .iter()
                .filter(|(_, p)| p.opened < index && p.closed.is_none_or(|c| c > index));
            let mut closed_since = None;
            let mut still_open = false;
            for (id, p) in open_then {
                match p.closed {
                    None => still_open = true,
                    Some(_) => closed_since = closed_since.or(Some(*id)),
                }
            }
            if still_open {
                continue;
            }
            match closed_since {
                Some(id) => findings.at(
                    index,
                    format!("entry is withheld, but the only proposal it can be a ballot of ({id}) is closed, and a closed proposal's ballots must be shown"),
                ),
                None => findings.at(
                    index,
                    "entry is withheld, but no proposal was open to hold a secret ballot",
                ),
            }
        }
    }
}

fn on_roll(proposal: &LoggedProposal, members: &[Uuid]) -> Result<(), String> {
    match members
        .iter()
        .find(|m| proposal.frozen.roll_entry(**m).is_none())
    {
        Some(m) => Err(format!("member {m} is not on the proposal's voter roll")),
        None => Ok(()),
    }
}

fn uuid_field(st: &SignedStatement, name: &str) -> Result<Uuid, String> {
    st.str_field(name).and_then(canonical_uuid).ok_or_else(|| {
        format!("statement member {name:?} is missing or not a lowercase hyphenated UUID")
    })
}

fn key_id_field(st: &SignedStatement) -> Result<KeyId, String> {
    st.str_field("key_id")
        .and_then(|k| k.parse().ok())
        .ok_or_else(|| "statement member \"key_id\" is missing or wrong".to_owned())
}

/// A key statements may verify under.
struct Verifier {
    key: MemberPublicKey,
}

impl Verifier {
    fn new(key: MemberPublicKey) -> Self {
        Verifier { key }
    }
}

/// Verifies every signature, spread over `threads` cores, and returns the failure at
/// the lowest entry index. The verdict is `verify_strict`'s for each signature.
fn verify_signatures(
    jobs: &[Job<'_>],
    verifiers: &[Verifier],
    threads: usize,
) -> Option<(u64, String)> {
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                let first = part.first().map_or(0, |j| j.index);
                (
                    first,
                    scope.spawn(move || first_bad_signature(part, verifiers)),
                )
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(first, handle)| {
                // A thread that died checked nothing: its whole chunk is unverified.
                handle.join().unwrap_or_else(|_| {
                    Some((first, "the signature check did not complete".to_owned()))
                })
            })
            .min_by_key(|(index, _)| *index)
    })
}

/// The first failing signature of `jobs` (in entry order), by `verify_strict`.
/// (Batch verification would agree with it only after a torsion check of every R,
/// which costs about what it saves: docs/audit.md, *Batch verification*.)
fn first_bad_signature(jobs: &[Job<'_>], verifiers: &[Verifier]) -> Option<(u64, String)> {
    jobs.iter().find_map(|job| {
        let Some(verifier) = verifiers.get(job.verifier) else {
            return Some((job.index, "no key to verify the signature with".to_owned()));
        };
        job.statement
            .verify(&verifier.key)
            .err()
            .map(|e| (job.index, e.to_string()))
    })
}

// ---------------------------------------------------------------------------------
// Steps 5–7: the bundle's summaries against the log.

/// The bundle's key list must be exactly the registry the log establishes.
fn check_keys(
    registry: &BTreeMap<KeyId, RegisteredKey>,
    listed: &[BundleKey],
    findings: &mut Findings,
) {
    let logged: BTreeMap<String, BundleKey> = registry
        .iter()
        .map(|(id, key)| (id.to_string(), key.to_bundle_key(*id)))
        .collect();
    let mut seen = HashSet::new();
    for key in listed {
        match logged.get(&key.key_id) {
            Some(log_key) if !seen.insert(key.key_id.as_str()) => findings.at(
                log_key.registration_entry,
                "member key appears twice in the bundle",
            ),
            Some(log_key) if log_key != key => findings.at(log_key.registration_entry, KEY_DIFFERS),
            Some(_) => {}
            None => findings.at(key.registration_entry, KEY_DIFFERS),
        }
    }
    for (id, key) in &logged {
        if !listed.iter().any(|k| &k.key_id == id) {
            findings.at(
                key.registration_entry,
                "member key registered here is missing from the bundle",
            );
        }
    }
}

/// Each proposal in the bundle must say what the log says about it. Entries the bundle
/// names beyond the checkpoint are not covered yet and cannot be held against it.
/// Returns how many such uncovered closing or result entries there are.
fn check_proposals(
    logged: &BTreeMap<Uuid, LoggedProposal>,
    listed: &[BundleProposal],
    size: u64,
    findings: &mut Findings,
) -> u64 {
    let mut seen = HashSet::new();
    let mut uncovered = 0u64;
    for proposal in listed {
        if !seen.insert(proposal.id) {
            findings.general(format!(
                "proposal {} appears twice in the bundle",
                proposal.id
            ));
        }
        // A closing right at `size` is tallied (`Walk::adopt_closings_at`); later ones wait.
        let later_closing = proposal.closed_entry.is_some_and(|c| c > size);
        let later_result = proposal.result_entry.is_some_and(|r| r >= size);
        uncovered += u64::from(later_closing) + u64::from(later_result);
        match logged.get(&proposal.id) {
            Some(p) => check_logged_proposal(p, proposal, size, findings),
            None => check_unlogged_proposal(proposal, size, findings),
        }
    }
    for (id, p) in logged {
        if !listed.iter().any(|b| b.id == *id) {
            findings.at(
                p.opened,
                format!("proposal {id} opened here is missing from the bundle"),
            );
        }
    }
    uncovered
}

fn check_logged_proposal(
    p: &LoggedProposal,
    b: &BundleProposal,
    size: u64,
    findings: &mut Findings,
) {
    let id = b.id;
    if b.opened_entry != Some(p.opened)
        || b.document.as_deref() != Some(BASE64URL.encode(&p.document).as_str())
        || b.digest.as_deref() != Some(p.frozen.digest.as_str())
    {
        findings.at(
            p.opened,
            format!("the bundle's frozen document, digest or opening entry of proposal {id} differs from this entry"),
        );
    }
    let Ok(status) = b.status.parse::<Status>() else {
        findings.at(
            p.opened,
            format!("proposal {id} has an unknown status {:?}", b.status),
        );
        return;
    };
    if status == Status::Draft {
        findings.at(
            p.opened,
            format!("the bundle says proposal {id} is a draft, but this entry opens it"),
        );
    }
    match (p.withdrawn, status == Status::Withdrawn) {
        (Some(at), false) => findings.at(
            at,
            format!(
                "this entry withdraws proposal {id}, but the bundle says it is {}",
                b.status
            ),
        ),
        (None, true) => findings.at(
            p.opened,
            format!("the bundle says proposal {id} was withdrawn, but the log never withdraws it"),
        ),
        _ => {}
    }
    check_closing(p, b, status, size, findings);
    check_result_entry(p, b, status, size, findings);
}

fn check_closing(
    p: &LoggedProposal,
    b: &BundleProposal,
    status: Status,
    size: u64,
    findings: &mut Findings,
) {
    let id = b.id;
    match p.closed {
        Some(closed) if b.closed_entry != Some(closed) || !status.result_visible() => findings.at(
            closed,
            format!("the bundle's status or closing entry of proposal {id} does not match the log, which closes it here"),
        ),
        Some(_) => {}
        None => {
            let claims_closed =
                b.closed_entry.is_some() || status.result_visible() || b.result.is_some();
            let uncovered = b.closed_entry.is_some_and(|c| c >= size);
            if claims_closed && !uncovered {
                findings.at(
                    b.closed_entry.unwrap_or(p.opened),
                    format!("the bundle says proposal {id} is closed, but the log never closes it"),
                );
            }
        }
    }
}

/// Finalising is what certifies the result, so `final` and a result entry go together.
fn check_result_entry(
    p: &LoggedProposal,
    b: &BundleProposal,
    status: Status,
    size: u64,
    findings: &mut Findings,
) {
    let uncovered = p.result_entry.is_none() && b.result_entry.is_some_and(|r| r >= size);
    if uncovered {
        return;
    }
    let finalized = status == Status::Final;
    if b.result_entry != p.result_entry || finalized != p.result_entry.is_some() {
        let at = p
            .result_entry
            .or(b.result_entry)
            .or(p.closed)
            .unwrap_or(p.opened);
        findings.at(
            at,
            format!("the bundle's status or result entry of proposal {} does not match the log's certified result", b.id),
        );
    }
}

/// A proposal the log does not open: a draft, withdrawn before opening, or opened
/// beyond the checkpoint.
fn check_unlogged_proposal(b: &BundleProposal, size: u64, findings: &mut Findings) {
    let id = b.id;
    for at in [b.opened_entry, b.closed_entry, b.result_entry]
        .into_iter()
        .flatten()
        .filter(|e| *e < size)
    {
        findings.at(
            at,
            format!(
                "the bundle places proposal {id} at this entry, but the entry does not belong to it"
            ),
        );
    }
    let opened_later = b.opened_entry.is_some_and(|e| e >= size);
    let drafted = matches!(
        b.status.parse::<Status>(),
        Ok(Status::Draft | Status::Withdrawn)
    );
    let frozen = b.digest.is_some() || b.document.is_some() || b.result.is_some();
    if !opened_later && (!drafted || frozen) {
        findings.general(format!(
            "the bundle says proposal {id} is {}, but the log never opened it",
            b.status
        ));
    }
}

/// Recomputes the tally of every closed proposal and compares it with the stored
/// result and the certified ones. Returns (tallies recomputed, results certified).
fn check_tallies(
    walk: &Walk,
    listed: &[BundleProposal],
    tree: Option<&MerkleTree>,
    findings: &mut Findings,
) -> (u64, u64) {
    let mut recomputed = BTreeMap::new();
    for (id, p) in &walk.proposals {
        let Some(closed) = p.closed else { continue };
        let events: Vec<Event> = p.events.iter().flatten().cloned().collect();
        let tally = match serde_json::to_value(p.frozen.tally(&events)) {
            Ok(value) => value,
            Err(e) => {
                findings.at(closed, format!("the tally does not serialise: {e}"));
                continue;
            }
        };
        let stored = listed
            .iter()
            .find(|b| b.id == *id)
            .and_then(|b| b.result.as_ref());
        if stored.is_some_and(|s| *s != tally) {
            findings.at(closed, STORED_TALLY_DIFFERS);
        }
        recomputed.insert(*id, (closed, tally));
    }
    let mut certified = 0;
    for result in &walk.results {
        // Every result names a proposal closed before it; the pass refused others.
        let Some((closed, tally)) = recomputed.get(&result.proposal) else {
            continue;
        };
        match check_certified(result, *closed, tally, tree) {
            Ok(()) => certified += 1,
            Err(reason) => findings.at(result.index, reason),
        }
    }
    (count(recomputed.len()), certified)
}

/// A certified result carries the recomputed tally and the log as it was right
/// after the closing entry, so anyone can tie the result to the ballots it counts.
fn check_certified(
    result: &CertifiedResult,
    closed: u64,
    tally: &Value,
    tree: Option<&MerkleTree>,
) -> Result<(), String> {
    if result.tally != *tally {
        return Err(CERTIFIED_TALLY_DIFFERS.into());
    }
    let size = closed + 1;
    if result.log_size != size {
        return Err(format!(
            "the certified result names log size {}, but the proposal closed at entry {closed} (size {size})",
            result.log_size
        ));
    }
    let Some(tree) = tree else { return Ok(()) };
    let root = tree
        .root_at(size)
        .map_err(|e| format!("cannot compute the log root at size {size}: {e}"))?;
    if STANDARD.encode(root) != result.log_root {
        return Err(format!(
            "the certified log root is not the log's root at size {size}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lifecycle::FrozenDocument;
    use crate::domain::member::Sector;
    use crate::domain::proposal::RollEntry;
    use crate::domain::statement::canonical_bytes;
    use crate::domain::tally::tally;
    use crate::transparency::note::NoteSigner;
    use ed25519_dalek::{Signer, SigningKey};
    use serde_json::json;
    use sha2::{Digest, Sha256};

    const ORIGIN: &str = "mandaat.test/log";
    const PROPOSAL: u128 = 0x100;

    fn server_key() -> SigningKey {
        SigningKey::from_bytes(&[1; 32])
    }

    fn member_key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n + 10; 32])
    }

    fn member(n: u8) -> Uuid {
        Uuid::from_u128(u128::from(n))
    }

    fn signed(key: &SigningKey, body: Value) -> SignedStatement {
        let bytes = canonical_bytes(&body).unwrap();
        SignedStatement::from_parts(
            bytes.clone(),
            KeyId::of(key.verifying_key().as_bytes()),
            key.sign(&bytes),
        )
        .unwrap()
    }

    fn tree_of(statements: &[SignedStatement]) -> MerkleTree {
        MerkleTree::from_leaf_hashes(statements.iter().map(|s| leaf_hash(&s.entry_bytes())))
    }

    fn checkpoint_note(statements: &[SignedStatement], size: u64) -> String {
        let root = tree_of(statements).root_at(size).unwrap();
        let text = Checkpoint {
            origin: ORIGIN.to_owned(),
            size,
            root,
        }
        .to_text();
        NoteSigner::new(ORIGIN, server_key())
            .unwrap()
            .sign(&text)
            .unwrap()
    }

    fn document() -> FrozenDocument {
        let roll = [1u8, 2]
            .map(|n| RollEntry {
                member: member(n),
                bg_number: 10_000 + u32::from(n),
                weight: 1,
                sectors: vec![Sector::Po],
                chamber: "po-small".to_owned(),
            })
            .to_vec();
        crate::domain::lifecycle::example_document(Uuid::from_u128(PROPOSAL), roll)
    }

    /// What happens between opening and closing, by member number (1 or 2).
    #[derive(Debug, Clone, Copy)]
    enum Step {
        /// voter, for, vote
        Vote(u8, u8, &'static str),
        /// grantor, holder
        Grant(u8, u8),
        /// grantor, holder
        Withdraw(u8, u8),
        /// A member revokes its own key.
        RevokeKey(u8),
    }

    const VOTES: &[Step] = &[Step::Vote(1, 1, "yes"), Step::Vote(2, 2, "no")];

    /// The log of the scenario and what the server stored about it.
    struct Scenario {
        statements: Vec<SignedStatement>,
        digest: String,
        document: Vec<u8>,
        tally: Value,
        closed: u64,
        /// member number → revocation entry
        revoked: BTreeMap<u8, u64>,
    }

    /// Entries: 0, 1 key registrations; 2 the proposal opens; then `steps`; then the
    /// proposal closes and its result is certified. `label` varies the first entry;
    /// `certify` may change the certified tally before the server signs it.
    fn scenario(label: &str, steps: &[Step], certify: impl Fn(&mut Value)) -> Scenario {
        let server = server_key();
        let mut statements = Vec::new();
        for n in [1u8, 2] {
            let key = member_key(n);
            let mut body = json!({
                "type": KEY_STATEMENT,
                "member": member(n).to_string(),
                "public_key": BASE64URL.encode(key.verifying_key().as_bytes()),
            });
            if n == 1 {
                body["label"] = json!(label);
            }
            statements.push(signed(&key, body));
        }
        let document = document();
        let opening = signed(&server, serde_json::to_value(&document).unwrap());
        let digest = hex::encode(Sha256::digest(opening.bytes()));
        let document_bytes = opening.bytes().to_vec();
        statements.push(opening);
        let proposal = Uuid::from_u128(PROPOSAL).to_string();
        let mut events = Vec::new();
        let mut revoked = BTreeMap::new();
        for step in steps {
            let index = count(statements.len());
            let nonce = BASE64URL.encode([u8::try_from(index).unwrap(); 16]);
            let (signer, body) = match *step {
                Step::Vote(voter, for_member, vote) => {
                    events.push(Event::Ballot {
                        index,
                        voter: member(voter),
                        for_member: member(for_member),
                        choice: serde_json::from_value(json!({"vote": vote})).unwrap(),
                    });
                    let body = json!({
                        "type": BALLOT_STATEMENT, "proposal": proposal, "proposal_digest": digest,
                        "voter": member(voter).to_string(), "for": member(for_member).to_string(),
                        "choice": {"vote": vote}, "nonce": nonce, "cast_at": "2026-12-02T10:00:00Z",
                    });
                    (voter, body)
                }
                Step::Grant(grantor, holder) | Step::Withdraw(grantor, holder) => {
                    let withdraw = matches!(step, Step::Withdraw(..));
                    events.push(if withdraw {
                        Event::ProxyRevoked {
                            index,
                            grantor: member(grantor),
                        }
                    } else {
                        Event::ProxyGranted {
                            index,
                            grantor: member(grantor),
                            holder: member(holder),
                        }
                    });
                    let kind = if withdraw {
                        PROXY_REVOCATION_STATEMENT
                    } else {
                        PROXY_STATEMENT
                    };
                    let body = json!({
                        "type": kind, "proposal": proposal, "proposal_digest": digest,
                        "grantor": member(grantor).to_string(), "holder": member(holder).to_string(),
                        "nonce": nonce, "signed_at": "2026-12-02T10:00:00Z",
                    });
                    (grantor, body)
                }
                Step::RevokeKey(n) => {
                    revoked.insert(n, index);
                    let key_id = KeyId::of(member_key(n).verifying_key().as_bytes());
                    let body = json!({
                        "type": KEY_REVOCATION_STATEMENT,
                        "member": member(n).to_string(),
                        "key_id": key_id.to_string(),
                    });
                    (n, body)
                }
            };
            statements.push(signed(&member_key(signer), body));
        }
        let closed = count(statements.len());
        statements.push(signed(
            &server,
            json!({"type": PROPOSAL_CLOSED_STATEMENT, "proposal": proposal,
                   "proposal_digest": digest, "closed_at": "2026-12-15T17:00:00Z"}),
        ));
        let spec = &document.spec;
        let tally = serde_json::to_value(tally(
            &spec.kind,
            &spec.electorate,
            &document.voter_roll,
            &events,
        ))
        .unwrap();
        let mut certified = tally.clone();
        certify(&mut certified);
        let root = tree_of(&statements).root_at(closed + 1).unwrap();
        statements.push(signed(
            &server,
            json!({"type": RESULT_STATEMENT, "proposal": proposal, "proposal_digest": digest,
                   "tally": certified, "log": {"size": closed + 1, "root": STANDARD.encode(root)},
                   "finalized_at": "2026-12-16T09:00:00Z"}),
        ));
        Scenario {
            statements,
            digest,
            document: document_bytes,
            tally,
            closed,
            revoked,
        }
    }

    fn bundle_entries(statements: &[SignedStatement]) -> Vec<BundleEntry> {
        (0u64..)
            .zip(statements)
            .map(|(index, s)| BundleEntry {
                index,
                leaf_hash: hex::encode(leaf_hash(&s.entry_bytes())),
                entry: Some(BASE64URL.encode(s.entry_bytes())),
            })
            .collect()
    }

    fn bundle_keys(revoked: &BTreeMap<u8, u64>) -> Vec<BundleKey> {
        [1u8, 2]
            .map(|n| BundleKey {
                member: member(n),
                key_id: KeyId::of(member_key(n).verifying_key().as_bytes()).to_string(),
                public_key: BASE64URL.encode(member_key(n).verifying_key().as_bytes()),
                registration_entry: u64::from(n) - 1,
                revocation_entry: revoked.get(&n).copied(),
            })
            .to_vec()
    }

    /// The whole scenario, finalised.
    fn final_bundle(s: &Scenario) -> Bundle {
        let size = count(s.statements.len());
        Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            origin: ORIGIN.to_owned(),
            log_key: NoteSigner::new(ORIGIN, server_key())
                .unwrap()
                .verifier_key(),
            checkpoint: checkpoint_note(&s.statements, size),
            entries: bundle_entries(&s.statements),
            keys: bundle_keys(&s.revoked),
            proposals: vec![BundleProposal {
                id: Uuid::from_u128(PROPOSAL),
                status: "final".to_owned(),
                digest: Some(s.digest.clone()),
                document: Some(BASE64URL.encode(&s.document)),
                opened_entry: Some(2),
                closed_entry: Some(s.closed),
                result_entry: Some(s.closed + 1),
                result: Some(s.tally.clone()),
            }],
        }
    }

    /// The plain scenario while voting is open: up to both ballots, which are secret.
    fn open_bundle(s: &Scenario) -> Bundle {
        let statements = &s.statements[..5];
        let mut bundle = final_bundle(s);
        bundle.checkpoint = checkpoint_note(statements, 5);
        bundle.entries = bundle_entries(statements);
        for entry in &mut bundle.entries[3..] {
            entry.entry = None;
        }
        let proposal = &mut bundle.proposals[0];
        proposal.status = "open".to_owned();
        proposal.closed_entry = None;
        proposal.result_entry = None;
        proposal.result = None;
        bundle
    }

    fn plain() -> Scenario {
        scenario("secretariaat", VOTES, |_| {})
    }

    fn failure(bundle: &Bundle) -> Failure {
        verify(bundle, &VerifyOptions::default()).unwrap_err()
    }

    /// Rebuilds the bundle's checkpoint over its (changed) entries' recorded hashes.
    fn resign_checkpoint(bundle: &mut Bundle) {
        let leaves = bundle
            .entries
            .iter()
            .map(|e| parse_hash(&e.leaf_hash).unwrap());
        let tree = MerkleTree::from_leaf_hashes(leaves);
        let text = Checkpoint {
            origin: ORIGIN.to_owned(),
            size: tree.size(),
            root: tree.root(),
        }
        .to_text();
        bundle.checkpoint = NoteSigner::new(ORIGIN, server_key())
            .unwrap()
            .sign(&text)
            .unwrap();
    }

    #[test]
    fn a_finalised_proposal_verifies() {
        let s = plain();
        let bundle = final_bundle(&s);
        let options = VerifyOptions {
            trusted_log_key: Some(bundle.log_key.clone()),
            earlier_checkpoints: vec![checkpoint_note(&s.statements, 3)],
        };
        let report = verify(&bundle, &options).unwrap();
        assert_eq!(report.checkpoint_size, 7);
        assert_eq!(report.root, tree_of(&s.statements).root());
        assert_eq!(report.entries, 7);
        assert_eq!(report.withheld, 0);
        assert_eq!(report.signatures, 7);
        assert_eq!(report.keys, 2);
        assert_eq!(report.ballots, 2);
        assert_eq!(report.proxies, 0);
        assert_eq!(report.proposals, 1);
        assert_eq!(report.tallies, 1);
        assert_eq!(report.certified_results, 1);
        assert!(
            report
                .checked
                .iter()
                .any(|l| l == "7 entries hash to the checkpoint root")
        );
        assert!(
            report
                .checked
                .iter()
                .any(|l| l == "1 tallies recomputed and equal")
        );
        assert!(
            report
                .checked
                .iter()
                .any(|l| l.starts_with("checkpoint signature under mandaat.test/log"))
        );
    }

    #[test]
    fn an_open_proposal_verifies_with_secret_ballots() {
        let report = verify(&open_bundle(&plain()), &VerifyOptions::default()).unwrap();
        assert_eq!(report.entries, 5);
        assert_eq!(report.withheld, 2);
        assert_eq!(report.signatures, 3);
        assert_eq!(
            (report.ballots, report.tallies, report.certified_results),
            (0, 0, 0)
        );
        assert!(
            report
                .checked
                .iter()
                .any(|l| l == "2 secret ballots (open proposals) checked by hash only")
        );
    }

    #[test]
    fn changed_ballot_bytes_fail_at_that_entry() {
        let s = plain();
        let mut bundle = final_bundle(&s);
        let original = parse_entry(
            &BASE64URL
                .decode(bundle.entries[3].entry.as_ref().unwrap())
                .unwrap(),
        )
        .unwrap();
        let changed = String::from_utf8(original.bytes().to_vec())
            .unwrap()
            .replace("\"yes\"", "\"no\"");
        let entry = crate::domain::statement::entry_bytes(
            changed.as_bytes(),
            original.key_id(),
            &original.signature().to_bytes(),
        );
        bundle.entries[3].entry = Some(BASE64URL.encode(entry));
        let failure = failure(&bundle);
        assert_eq!(failure.entry, Some(3));
        assert_eq!(failure.reason, LEAF_MISMATCH);
        assert_eq!(failure.to_string(), format!("entry 3: {LEAF_MISMATCH}"));
    }

    #[test]
    fn a_deleted_entry_is_named() {
        let mut bundle = final_bundle(&plain());
        bundle.entries.remove(4);
        let failure = failure(&bundle);
        assert_eq!(failure.entry, Some(4));
        assert_eq!(failure.reason, "entry is missing from the bundle");
    }

    #[test]
    fn swapped_entries_fail() {
        // The opening and a ballot: the ballot now names a proposal not yet open.
        let mut bundle = final_bundle(&plain());
        swap(&mut bundle, 2, 3);
        assert_eq!(failure(&bundle).entry, Some(2));
        // Two ballots: each is valid where it stands, so only the root tells.
        let mut bundle = final_bundle(&plain());
        swap(&mut bundle, 3, 4);
        assert_eq!(failure(&bundle), Failure::general(ROOT_MISMATCH));
    }

    /// Swaps two entries' bytes and recorded hashes, keeping the indexes in place.
    fn swap(bundle: &mut Bundle, a: usize, b: usize) {
        let (x, y) = (bundle.entries[a].clone(), bundle.entries[b].clone());
        bundle.entries[a] = BundleEntry {
            index: x.index,
            ..y
        };
        bundle.entries[b] = BundleEntry {
            index: y.index,
            ..x
        };
    }

    #[test]
    fn a_changed_member_key_is_named_at_its_registration() {
        let mut bundle = final_bundle(&plain());
        bundle.keys[1].public_key = BASE64URL.encode(member_key(9).verifying_key().as_bytes());
        let failure = failure(&bundle);
        assert_eq!(failure.entry, Some(1));
        assert_eq!(failure.reason, KEY_DIFFERS);

        let mut bundle = final_bundle(&plain());
        bundle.keys[0].revocation_entry = Some(5);
        assert_eq!(self::failure(&bundle).entry, Some(0));
    }

    #[test]
    fn a_changed_certified_tally_is_caught_by_recomputing() {
        let s = scenario("secretariaat", VOTES, |tally| {
            tally["yes"]["members"] = json!(2);
        });
        let failure = failure(&final_bundle(&s));
        assert_eq!(failure.entry, Some(6));
        assert_eq!(failure.reason, CERTIFIED_TALLY_DIFFERS);
    }

    #[test]
    fn a_changed_stored_result_is_named_at_the_closing_entry() {
        let mut bundle = final_bundle(&plain());
        let result = bundle.proposals[0].result.as_mut().unwrap();
        result["outcome"] = json!("adopted");
        let failure = failure(&bundle);
        assert_eq!(failure.entry, Some(5));
        assert_eq!(failure.reason, STORED_TALLY_DIFFERS);
    }

    #[test]
    fn an_untrusted_log_key_fails_first() {
        let mut bundle = final_bundle(&plain());
        bundle.entries.remove(4);
        let other = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[99; 32])).unwrap();
        let options = VerifyOptions {
            trusted_log_key: Some(other.verifier_key()),
            earlier_checkpoints: Vec::new(),
        };
        let failure = verify(&bundle, &options).unwrap_err();
        assert_eq!(failure.entry, None);
        assert!(
            failure.reason.contains("is not the trusted log key"),
            "{failure}"
        );
    }

    #[test]
    fn a_checkpoint_from_before_a_rewrite_is_inconsistent() {
        let rewritten = scenario("rewritten", VOTES, |_| {});
        let before = checkpoint_note(&rewritten.statements, 3);
        let options = VerifyOptions {
            trusted_log_key: None,
            earlier_checkpoints: vec![before],
        };
        let failure = verify(&final_bundle(&plain()), &options).unwrap_err();
        assert_eq!(
            failure,
            Failure::general(
                "the log is not consistent with the earlier checkpoint of size 3: history was rewritten"
            )
        );
    }

    #[test]
    fn a_withheld_ballot_of_a_closed_proposal_fails() {
        let mut bundle = final_bundle(&plain());
        bundle.entries[4].entry = None;
        let failure = failure(&bundle);
        assert_eq!(failure.entry, Some(4));
        assert!(failure.reason.contains("is closed"), "{failure}");
    }

    #[test]
    fn a_forged_signature_is_named() {
        // A changed R leaves the batch (it is no longer a torsion-free point); a changed
        // S stays in it, fails the batch, and is found by verify_strict.
        for byte in [0, 32] {
            forged_signature_is_named(byte);
        }
    }

    fn forged_signature_is_named(byte: usize) {
        let s = plain();
        let mut bundle = final_bundle(&s);
        let original = &s.statements[4];
        let mut signature = original.signature().to_bytes();
        signature[byte] ^= 1;
        let entry =
            crate::domain::statement::entry_bytes(original.bytes(), original.key_id(), &signature);
        bundle.entries[4] = BundleEntry {
            index: 4,
            leaf_hash: hex::encode(leaf_hash(&entry)),
            entry: Some(BASE64URL.encode(entry)),
        };
        resign_checkpoint(&mut bundle);
        let failure = failure(&bundle);
        assert_eq!(failure.entry, Some(4));
        assert!(failure.reason.contains("verify_strict"), "{failure}");
    }

    #[test]
    fn proxies_and_key_revocations_verify() {
        let steps = [
            Step::Grant(2, 1),
            Step::Vote(1, 2, "yes"),
            Step::Withdraw(2, 1),
            Step::Grant(2, 1),
            Step::Vote(2, 2, "no"),
            Step::Vote(1, 1, "yes"),
            Step::RevokeKey(2),
        ];
        let s = scenario("secretariaat", &steps, |_| {});
        let report = verify(&final_bundle(&s), &VerifyOptions::default()).unwrap();
        assert_eq!(report.entries, 12);
        assert_eq!(report.signatures, 12);
        assert_eq!((report.ballots, report.proxies), (3, 3));
        assert_eq!((report.tallies, report.certified_results), (1, 1));
        // Member 2's own ballot (entry 7) overrides the one its holder cast (entry 4).
        assert_eq!(s.tally["counted"], json!([7, 8]));
    }

    #[test]
    fn a_proxy_ballot_without_a_proxy_fails() {
        let s = scenario("secretariaat", &[Step::Vote(1, 2, "yes")], |_| {});
        let failure = failure(&final_bundle(&s));
        assert_eq!(failure.entry, Some(3));
        assert!(failure.reason.contains("holds no proxy"), "{failure}");
    }

    #[test]
    fn a_ballot_signed_with_a_revoked_key_fails() {
        let steps = [Step::RevokeKey(1), Step::Vote(1, 1, "yes")];
        let failure = failure(&final_bundle(&scenario("secretariaat", &steps, |_| {})));
        assert_eq!(failure.entry, Some(4));
        assert!(failure.reason.contains("not an active key"), "{failure}");
    }

    #[test]
    fn a_bundle_may_run_ahead_of_its_checkpoint() {
        // Exported before a checkpoint covers the closing and the result.
        let s = plain();
        let mut bundle = final_bundle(&s);
        bundle.checkpoint = checkpoint_note(&s.statements, 5);
        bundle.entries.truncate(5);
        let report = verify(&bundle, &VerifyOptions::default()).unwrap();
        assert_eq!(
            (report.entries, report.tallies, report.certified_results),
            (5, 1, 0)
        );
        assert!(
            report
                .checked
                .iter()
                .any(|l| l.starts_with("1 closing or result entries lie beyond"))
        );
        // The closing is the next entry, so every ballot is covered and still counted.
        bundle.proposals[0].result.as_mut().unwrap()["outcome"] = json!("adopted");
        let failure = failure(&bundle);
        assert_eq!(failure.entry, Some(5));
        assert_eq!(failure.reason, STORED_TALLY_DIFFERS);
    }

    #[test]
    fn a_rewrite_is_reported_before_the_discrepancies_it_causes() {
        let original = plain();
        let before = checkpoint_note(&original.statements, 7);
        let steps = [Step::Vote(1, 1, "yes"), Step::Vote(2, 2, "yes")];
        let mut bundle = final_bundle(&scenario("secretariaat", &steps, |_| {}));
        // The result stored at closing still counts the original ballots.
        bundle.proposals[0].result = Some(original.tally);
        assert_eq!(failure(&bundle).entry, Some(5));
        let options = VerifyOptions {
            trusted_log_key: None,
            earlier_checkpoints: vec![before],
        };
        let failure = verify(&bundle, &options).unwrap_err();
        assert_eq!(failure.entry, None);
        assert!(
            failure.reason.contains("history was rewritten"),
            "{failure}"
        );
    }

    /// The plain scenario's first ballot, then the server withdraws the proposal, then
    /// (when `late`) the second ballot after the withdrawal.
    fn withdrawn_bundle(late: bool) -> Bundle {
        let s = plain();
        let mut statements = s.statements[..4].to_vec();
        statements.push(signed(
            &server_key(),
            json!({"type": PROPOSAL_WITHDRAWN_STATEMENT,
                   "proposal": Uuid::from_u128(PROPOSAL).to_string(),
                   "proposal_digest": s.digest, "withdrawn_at": "2026-12-03T09:00:00Z"}),
        ));
        if late {
            statements.push(s.statements[4].clone());
        }
        let mut bundle = final_bundle(&s);
        bundle.checkpoint = checkpoint_note(&statements, count(statements.len()));
        bundle.entries = bundle_entries(&statements);
        // A withdrawn proposal's ballots stay secret.
        bundle.entries[3].entry = None;
        if late {
            bundle.entries[5].entry = Some(BASE64URL.encode(statements[5].entry_bytes()));
        }
        let proposal = &mut bundle.proposals[0];
        proposal.status = "withdrawn".to_owned();
        proposal.closed_entry = None;
        proposal.result_entry = None;
        proposal.result = None;
        bundle
    }

    #[test]
    fn nothing_of_a_withdrawn_proposal_follows_its_withdrawal() {
        let report = verify(&withdrawn_bundle(false), &VerifyOptions::default()).unwrap();
        assert_eq!((report.entries, report.withheld), (5, 1));
        let late = failure(&withdrawn_bundle(true));
        assert_eq!(late.entry, Some(5), "{late}");
        assert!(late.reason.contains("withdrawn at entry 4"), "{late}");
        // A bundle that calls it open hides the withdrawal.
        let mut hidden = withdrawn_bundle(false);
        hidden.proposals[0].status = "open".to_owned();
        let hiding = failure(&hidden);
        assert_eq!(hiding.entry, Some(4), "{hiding}");
    }
}
