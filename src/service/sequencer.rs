//! Group commit of ballots and proxies.
//!
//! A request parses its statement, checks everything that needs no lock and verifies
//! the signature in its own task, in parallel with the others; then it hands the
//! prepared statement to the sequencer, one task per server. The sequencer takes what
//! is waiting (at most [`MAX_BATCH`], never waiting for more: a lone ballot goes at
//! once), opens one write transaction (the same locks as every other append), reads
//! the state the batch depends on once, judges each statement in order against it and
//! against the statements before it in the batch, appends the accepted ones with
//! multi-row inserts, signs one checkpoint and commits once. Each request gets its own
//! answer: its receipt against that checkpoint, or its own refusal. A database error
//! fails the whole batch: nothing is committed and every request gets the error.
//!
//! Lifecycle steps (open, close, withdraw, finalise) take the same write lock, so a
//! statement is judged either wholly before a close or wholly after it: "accepted"
//! means "accepted before the close", in the log's order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use super::voting::AcceptedBallot;
use crate::domain::lifecycle::Status;
use crate::domain::statement::SignedStatement;
use crate::error::{ConflictKind, Error, Result, Rule};
use crate::store::{BallotRow, BatchWants, NewEntry, ProxyRow, SignedCheckpoint, Store, WriteTxn};
use crate::transparency::LogIndex;
use crate::transparency::merkle::Hash;

/// Most statements judged and committed together. Bounds the transaction's size
/// and the latency a statement at the end of a full batch sees.
pub const MAX_BATCH: usize = 512;

/// A ballot that passed every check that needs no lock.
pub struct PreparedBallot {
    pub proposal: Uuid,
    pub statement: SignedStatement,
    pub voter: Uuid,
    pub for_member: Uuid,
    pub nonce: String,
    /// The choice as canonical JSON.
    pub choice: String,
    pub ballot_hash: String,
    pub cast_at: DateTime<Utc>,
    pub leaf: Hash,
    pub now: DateTime<Utc>,
}

/// A proxy grant or withdrawal that passed every check that needs no lock.
pub struct PreparedProxy {
    pub proposal: Uuid,
    pub statement: SignedStatement,
    pub grantor: Uuid,
    pub holder: Uuid,
    pub revocation: bool,
    pub nonce: String,
    pub now: DateTime<Utc>,
}

pub enum Prepared {
    Ballot(PreparedBallot),
    Proxy(PreparedProxy),
}

impl Prepared {
    fn proposal(&self) -> Uuid {
        match self {
            Prepared::Ballot(b) => b.proposal,
            Prepared::Proxy(p) => p.proposal,
        }
    }

    fn statement(&self) -> &SignedStatement {
        match self {
            Prepared::Ballot(b) => &b.statement,
            Prepared::Proxy(p) => &p.statement,
        }
    }

    fn signer(&self) -> Uuid {
        match self {
            Prepared::Ballot(b) => b.voter,
            Prepared::Proxy(p) => p.grantor,
        }
    }

    fn nonce(&self) -> &str {
        match self {
            Prepared::Ballot(b) => &b.nonce,
            Prepared::Proxy(p) => &p.nonce,
        }
    }
}

/// What became of an accepted statement.
pub enum Outcome {
    Ballot(AcceptedBallot),
    Proxy(ProxyRow),
}

/// An outcome with the checkpoint its commit signed (none when nothing was appended:
/// a ballot sent again).
pub type Answer = Result<(Outcome, Option<SignedCheckpoint>)>;

struct Job {
    statement: Prepared,
    reply: oneshot::Sender<Answer>,
}

/// For tests only: holds the next batch after it is taken and before it is judged,
/// so a test can close or withdraw a proposal while a statement that passed its
/// checks waits for the append. Unarmed (always, outside tests) it costs one atomic
/// load per batch.
#[derive(Default)]
pub struct BatchHold {
    armed: AtomicBool,
    reached: Notify,
    released: Notify,
}

impl BatchHold {
    /// Holds the next batch.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Returns once a batch is held.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held batch go on.
    pub fn release(&self) {
        self.released.notify_one();
    }

    async fn pass(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.released.notified().await;
        }
    }
}

/// Records a batch's size and the time from taking it to its commit.
pub type BatchObserver = Arc<dyn Fn(usize, std::time::Duration) + Send + Sync>;

/// The handle requests send their statements through.
pub struct Sequencer {
    jobs: mpsc::Sender<Job>,
    pub hold: Arc<BatchHold>,
}

impl Sequencer {
    /// Starts the sequencer's task on the current runtime; it ends when the handle
    /// is dropped.
    pub fn start(store: Store, max_proxies_per_holder: usize, observe: BatchObserver) -> Self {
        let (jobs, receiver) = mpsc::channel(MAX_BATCH * 4);
        let hold = Arc::new(BatchHold::default());
        tokio::spawn(run(
            store,
            receiver,
            max_proxies_per_holder as u64,
            hold.clone(),
            observe,
        ));
        Sequencer { jobs, hold }
    }

    /// Judges and appends one statement with whatever else is waiting.
    pub async fn submit(&self, statement: Prepared) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { statement, reply })
            .await
            .map_err(|_| Error::Unavailable("the server is shutting down".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("the sequencer stopped before answering".into()))?
    }
}

async fn run(
    store: Store,
    mut receiver: mpsc::Receiver<Job>,
    max_proxies: u64,
    hold: Arc<BatchHold>,
    observe: BatchObserver,
) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        hold.pass().await;
        let started = Instant::now();
        let (statements, replies): (Vec<Prepared>, Vec<_>) =
            jobs.into_iter().map(|j| (j.statement, j.reply)).unzip();
        match commit_batch(&store, &statements, max_proxies).await {
            Ok((answers, checkpoint)) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A request that gave up no longer listens; its statement stands.
                    let _ = reply.send(answer.map(|o| (o, checkpoint.clone())));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, statements = statements.len(), "a batch of statements failed");
                for reply in replies {
                    let _ = reply.send(Err(shared(&e)));
                }
            }
        }
        observe(statements.len(), started.elapsed());
    }
}

/// The batch's error for each of its requests.
fn shared(e: &Error) -> Error {
    match e {
        Error::Unavailable(s) => Error::Unavailable(s.clone()),
        Error::Db(s) => Error::Db(s.clone()),
        Error::Corrupt(s) => Error::Corrupt(s.clone()),
        Error::Conflict { kind, detail } => Error::conflict(*kind, detail.clone()),
        other => Error::Internal(other.to_string()),
    }
}

/// Judges the statements in order, appends the accepted ones and commits once.
async fn commit_batch(
    store: &Store,
    statements: &[Prepared],
    max_proxies: u64,
) -> Result<(Vec<Result<Outcome>>, Option<SignedCheckpoint>)> {
    let mut write = store.write().await?;
    let mut judge = Judge::read(&write, statements, max_proxies).await?;
    let answers: Vec<Result<Outcome>> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Prepared::Ballot(b) => judge.ballot(i, b),
            Prepared::Proxy(p) => judge.proxy(i, p),
        })
        .collect();
    let out = judge.out;
    if !out.entries.is_empty() {
        let entries: Vec<NewEntry<'_>> = out
            .entries
            .iter()
            .map(|&(job, member)| {
                let s = &statements[job];
                NewEntry::by_member(s.statement(), member, Some(s.proposal()), now_of(s))
            })
            .collect();
        write.append_many(&entries).await?;
        write.supersede(&out.supersede).await?;
        for (row, entry, at) in &out.proxy_withdrawals {
            write.withdraw_proxy(row, *entry, *at).await?;
        }
        write.record_nonces(&out.nonces).await?;
        write.insert_ballots(&out.ballots).await?;
        write.insert_proxies(&out.proxies).await?;
    }
    let checkpoint = write.commit().await?;
    Ok((answers, checkpoint))
}

fn now_of(s: &Prepared) -> DateTime<Utc> {
    match s {
        Prepared::Ballot(b) => b.now,
        Prepared::Proxy(p) => p.now,
    }
}

/// Where a ballot or proxy the batch depends on is: stored, or new in this batch
/// (an index into the batch's new rows).
#[derive(Clone, Copy)]
enum At {
    Stored,
    New(usize),
}

/// A ballot for a member, as the batch sees it.
struct Counted {
    entry: LogIndex,
    voter: Uuid,
    for_member: Uuid,
    superseded: bool,
    at: At,
}

/// A use of a nonce: by a stored entry, or by a ballot of this batch (its leaf hash
/// and new row), or by a proxy statement of this batch.
enum NonceUse {
    Stored(LogIndex),
    Ballot { leaf: Hash, row: usize },
    Proxy,
}

/// What the batch appends.
#[derive(Default)]
struct Out {
    /// (statement's position in the batch, its signer), in log order.
    entries: Vec<(usize, Uuid)>,
    ballots: Vec<BallotRow>,
    proxies: Vec<ProxyRow>,
    nonces: Vec<(String, LogIndex)>,
    /// Stored ballots that no longer count.
    supersede: Vec<LogIndex>,
    /// Stored proxies withdrawn, with the withdrawing entry and time.
    proxy_withdrawals: Vec<(ProxyRow, LogIndex, DateTime<Utc>)>,
}

/// The state a batch is judged against: read once, then kept up to date in memory
/// as each statement is accepted.
struct Judge {
    base: u64,
    max_proxies: u64,
    statuses: HashMap<Uuid, Status>,
    unrevoked_keys: HashSet<String>,
    suspended: HashSet<Uuid>,
    nonces: HashMap<String, NonceUse>,
    /// Leaf hashes and rows of stored ballots whose nonce a ballot of the batch uses
    /// (to tell a ballot sent again from a reused nonce).
    replay_leaves: HashMap<LogIndex, String>,
    replay_ballots: HashMap<LogIndex, BallotRow>,
    /// (proposal, for member) → its ballots.
    ballots: HashMap<(Uuid, Uuid), Vec<Counted>>,
    /// (proposal, grantor) → its active proxy.
    proxies: HashMap<(Uuid, Uuid), (ProxyRow, At)>,
    /// (proposal, holder) → how many active proxies it holds.
    held: HashMap<(Uuid, Uuid), u64>,
    out: Out,
}

fn unique<T: Eq + std::hash::Hash + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

impl Judge {
    async fn read(write: &WriteTxn<'_>, statements: &[Prepared], max_proxies: u64) -> Result<Self> {
        let proposals = unique(statements.iter().map(Prepared::proposal));
        let keys = unique(
            statements
                .iter()
                .map(|s| s.statement().key_id().to_string()),
        );
        let signers = unique(statements.iter().map(Prepared::signer));
        let nonces = unique(statements.iter().map(|s| s.nonce().to_owned()));
        let for_members = unique(statements.iter().filter_map(|s| match s {
            Prepared::Ballot(b) => Some(b.for_member),
            Prepared::Proxy(_) => None,
        }));
        // Members whose proxies matter: grantors and holders of proxy statements, and
        // those a ballot is cast for by someone else.
        let proxy_members = unique(statements.iter().flat_map(|s| match s {
            Prepared::Ballot(b) if b.voter != b.for_member => vec![b.for_member],
            Prepared::Ballot(_) => vec![],
            Prepared::Proxy(p) => vec![p.grantor, p.holder],
        }));

        let state = write
            .batch_state(&BatchWants {
                proposals: &proposals,
                keys: &keys,
                signers: &signers,
                nonces: &nonces,
                for_members: &for_members,
            })
            .await?;
        let used = state.nonces;
        // Only a ballot can be sent again; look up what its nonce was used for.
        let ballot_nonces: HashSet<&str> = statements
            .iter()
            .filter_map(|s| match s {
                Prepared::Ballot(b) => Some(b.nonce.as_str()),
                Prepared::Proxy(_) => None,
            })
            .collect();
        let replayed: Vec<LogIndex> = used
            .iter()
            .filter(|(n, _)| ballot_nonces.contains(n.as_str()))
            .map(|(_, e)| *e)
            .collect();
        let (replay_leaves, replay_ballots) = if replayed.is_empty() {
            (HashMap::new(), HashMap::new())
        } else {
            let leaves = write.leaf_hashes_of(&replayed).await?;
            let rows = write.ballots_at(&replayed).await?;
            (leaves, rows.into_iter().map(|b| (b.entry, b)).collect())
        };
        let mut ballots: HashMap<(Uuid, Uuid), Vec<Counted>> = HashMap::new();
        for b in state.ballots {
            ballots
                .entry((b.proposal, b.for_member))
                .or_default()
                .push(Counted {
                    entry: b.entry,
                    voter: b.voter,
                    for_member: b.for_member,
                    superseded: b.superseded,
                    at: At::Stored,
                });
        }
        let mut proxies = HashMap::new();
        let mut held: HashMap<(Uuid, Uuid), u64> = HashMap::new();
        if !proxy_members.is_empty() {
            for p in write.active_proxies_of(&proposals, &proxy_members).await? {
                *held.entry((p.proposal_id, p.holder_id)).or_default() += 1;
                proxies.insert((p.proposal_id, p.grantor_id), (p, At::Stored));
            }
        }
        Ok(Judge {
            base: write.base(),
            max_proxies,
            statuses: state.statuses,
            unrevoked_keys: state.unrevoked_keys,
            suspended: state.suspended,
            nonces: used
                .into_iter()
                .map(|(n, e)| (n, NonceUse::Stored(e)))
                .collect(),
            replay_leaves,
            replay_ballots,
            ballots,
            proxies,
            held,
            out: Out::default(),
        })
    }

    /// The index the next accepted statement gets.
    fn next_entry(&self) -> Result<LogIndex> {
        Ok(LogIndex::new(self.base + self.out.entries.len() as u64)?)
    }

    /// The key is registered and not revoked: a revocation may have been appended
    /// since the signature was verified.
    fn key_still_valid(&self, statement: &SignedStatement) -> Result<()> {
        let key_id = statement.key_id().to_string();
        if !self.unrevoked_keys.contains(&key_id) {
            return Err(Error::rule(
                Rule::KeyNotValid,
                format!("key {key_id} was revoked"),
            ));
        }
        Ok(())
    }

    /// The signer is not suspended, as the database has it now.
    fn not_suspended(&self, signer: Uuid) -> Result<()> {
        if self.suspended.contains(&signer) {
            return Err(Error::conflict(
                ConflictKind::MemberSuspended,
                format!("member {signer} is suspended"),
            ));
        }
        Ok(())
    }

    /// The proposal is still open: a close that committed after this statement's
    /// first check must not be followed by it in the log.
    fn still_open(&self, proposal: Uuid) -> Result<()> {
        let status = self
            .statuses
            .get(&proposal)
            .ok_or_else(|| Error::NotFound(format!("proposal {proposal}")))?;
        if *status != Status::Open {
            return Err(Error::rule(
                Rule::WrongState,
                format!("proposal {proposal} was {status} before this statement could be recorded"),
            ));
        }
        Ok(())
    }

    fn nonce_fresh(&self, value: &str) -> Result<()> {
        if self.nonces.contains_key(value) {
            return Err(Error::rule(
                Rule::NonceReused,
                "this nonce was already used; every statement needs a fresh one",
            ));
        }
        Ok(())
    }

    /// The ballot accepted earlier with this nonce, when it is exactly this signed
    /// ballot (the same entry bytes): a board that lost the answer, to a crash or an
    /// outage, and sends its ballot again gets the original back instead of
    /// `nonce-reused`. It says whether that ballot counts now.
    fn accepted_before(&self, b: &PreparedBallot) -> Option<AcceptedBallot> {
        let (row, superseded) = match self.nonces.get(&b.nonce)? {
            NonceUse::Stored(entry) => {
                if self.replay_leaves.get(entry)? != &hex::encode(b.leaf) {
                    return None;
                }
                let row = self.replay_ballots.get(entry)?;
                let superseded = self
                    .ballots
                    .get(&(row.proposal_id, row.for_id))
                    .and_then(|list| list.iter().find(|c| c.entry == row.entry))
                    .map_or(row.superseded, |c| c.superseded);
                (row, superseded)
            }
            NonceUse::Ballot { leaf, row } => {
                if *leaf != b.leaf {
                    return None;
                }
                let row = self.out.ballots.get(*row)?;
                (row, row.superseded)
            }
            NonceUse::Proxy => return None,
        };
        (row.proposal_id == b.proposal).then(|| AcceptedBallot {
            proposal: row.proposal_id,
            entry: row.entry,
            ballot_hash: row.ballot_hash.clone(),
            voter: row.voter_id,
            for_member: row.for_id,
            counted_now: !superseded,
            accepted_at: row.accepted_at,
            replayed: true,
        })
    }

    fn ballot(&mut self, job: usize, b: &PreparedBallot) -> Result<Outcome> {
        self.key_still_valid(&b.statement)?;
        if let Some(earlier) = self.accepted_before(b) {
            return Ok(Outcome::Ballot(earlier));
        }
        self.still_open(b.proposal)?;
        self.not_suspended(b.voter)?;
        self.nonce_fresh(&b.nonce)?;
        let by_proxy = b.voter != b.for_member;
        if by_proxy {
            let holds = self
                .proxies
                .get(&(b.proposal, b.for_member))
                .is_some_and(|(p, _)| p.holder_id == b.voter);
            if !holds {
                return Err(Error::rule(
                    Rule::NoProxy,
                    format!(
                        "member {} holds no proxy from member {}",
                        b.voter, b.for_member
                    ),
                ));
            }
        }
        let entry = self.next_entry()?;
        let earlier = self.ballots.entry((b.proposal, b.for_member)).or_default();
        // A grantor's own ballot always wins over its holder's, whatever the order.
        let grantor_voted = earlier.iter().any(|c| c.voter == c.for_member);
        let counted_now = !by_proxy || !grantor_voted;
        if counted_now {
            for c in earlier.iter_mut().filter(|c| !c.superseded) {
                c.superseded = true;
                match c.at {
                    At::Stored => self.out.supersede.push(c.entry),
                    At::New(i) => {
                        if let Some(row) = self.out.ballots.get_mut(i) {
                            row.superseded = true;
                        }
                    }
                }
            }
        }
        let row_index = self.out.ballots.len();
        earlier.push(Counted {
            entry,
            voter: b.voter,
            for_member: b.for_member,
            superseded: !counted_now,
            at: At::New(row_index),
        });
        self.out.ballots.push(BallotRow {
            entry,
            proposal_id: b.proposal,
            voter_id: b.voter,
            for_id: b.for_member,
            choice: b.choice.clone(),
            ballot_hash: b.ballot_hash.clone(),
            cast_at: b.cast_at,
            accepted_at: b.now,
            superseded: !counted_now,
        });
        self.out.entries.push((job, b.voter));
        self.out.nonces.push((b.nonce.clone(), entry));
        self.nonces.insert(
            b.nonce.clone(),
            NonceUse::Ballot {
                leaf: b.leaf,
                row: row_index,
            },
        );
        Ok(Outcome::Ballot(AcceptedBallot {
            proposal: b.proposal,
            entry,
            ballot_hash: b.ballot_hash.clone(),
            voter: b.voter,
            for_member: b.for_member,
            counted_now,
            accepted_at: b.now,
            replayed: false,
        }))
    }

    fn proxy(&mut self, job: usize, p: &PreparedProxy) -> Result<Outcome> {
        self.key_still_valid(&p.statement)?;
        self.still_open(p.proposal)?;
        self.not_suspended(p.grantor)?;
        self.nonce_fresh(&p.nonce)?;
        let current = self.proxies.get(&(p.proposal, p.grantor));
        let row = if p.revocation {
            let Some((current, at)) = current.filter(|(c, _)| c.holder_id == p.holder).cloned()
            else {
                return Err(Error::rule(
                    Rule::NoProxy,
                    format!(
                        "member {} has no active proxy to member {} to withdraw",
                        p.grantor, p.holder
                    ),
                ));
            };
            let entry = self.next_entry()?;
            let mut updated = current.clone();
            updated.revoked_entry = Some(entry);
            updated.revoked_at = Some(p.now);
            match at {
                At::Stored => self.out.proxy_withdrawals.push((current, entry, p.now)),
                At::New(i) => {
                    if let Some(row) = self.out.proxies.get_mut(i) {
                        *row = updated.clone();
                    }
                }
            }
            self.proxies.remove(&(p.proposal, p.grantor));
            if let Some(n) = self.held.get_mut(&(p.proposal, p.holder)) {
                *n = n.saturating_sub(1);
            }
            self.accept(job, p, entry);
            updated
        } else {
            if current.is_some() {
                return Err(Error::rule(
                    Rule::ProxyExists,
                    format!(
                        "member {} already has an active proxy for this proposal; withdraw it first",
                        p.grantor
                    ),
                ));
            }
            let held = self.held.get(&(p.proposal, p.holder)).copied().unwrap_or(0);
            if held >= self.max_proxies {
                return Err(Error::rule(
                    Rule::ProxyCapReached,
                    format!(
                        "member {} already holds {held} proxies for this proposal, the most allowed",
                        p.holder
                    ),
                ));
            }
            let entry = self.next_entry()?;
            let row = ProxyRow {
                entry,
                proposal_id: p.proposal,
                grantor_id: p.grantor,
                holder_id: p.holder,
                granted_at: p.now,
                revoked_entry: None,
                revoked_at: None,
            };
            self.proxies.insert(
                (p.proposal, p.grantor),
                (row.clone(), At::New(self.out.proxies.len())),
            );
            self.out.proxies.push(row.clone());
            *self.held.entry((p.proposal, p.holder)).or_default() += 1;
            self.accept(job, p, entry);
            row
        };
        Ok(Outcome::Proxy(row))
    }

    /// Appends an accepted proxy statement: its entry and its nonce.
    fn accept(&mut self, job: usize, p: &PreparedProxy, entry: LogIndex) {
        self.out.entries.push((job, p.grantor));
        self.out.nonces.push((p.nonce.clone(), entry));
        self.nonces.insert(p.nonce.clone(), NonceUse::Proxy);
    }
}

#[cfg(test)]
mod tests {
    //! How statements of one batch see each other: judged in order, each against the
    //! state the ones before it left.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::statement::KeyId;
    use crate::transparency::merkle::leaf_hash;
    use ed25519_dalek::{Signer, SigningKey};

    const PROPOSAL: Uuid = Uuid::from_u128(0xbeef);

    struct Board {
        id: Uuid,
        key: SigningKey,
    }

    fn board(n: u8) -> Board {
        Board {
            id: Uuid::from_u128(u128::from(n)),
            key: SigningKey::from_bytes(&[n; 32]),
        }
    }

    fn key_id(b: &Board) -> String {
        KeyId::of(b.key.verifying_key().as_bytes()).to_string()
    }

    fn signed(b: &Board, body: serde_json::Value) -> SignedStatement {
        let bytes = crate::domain::statement::canonical_bytes(&body).unwrap();
        let signature = b.key.sign(&bytes);
        SignedStatement::from_parts(
            bytes,
            KeyId::of(b.key.verifying_key().as_bytes()),
            signature,
        )
        .unwrap()
    }

    fn ballot(voter: &Board, for_member: Uuid, nonce: &str, vote: &str) -> PreparedBallot {
        let statement = signed(
            voter,
            serde_json::json!({"type": "mandaat.ballot.v1", "for": for_member.to_string(),
                "nonce": nonce, "vote": vote}),
        );
        PreparedBallot {
            proposal: PROPOSAL,
            ballot_hash: hex::encode(leaf_hash(statement.bytes())),
            leaf: leaf_hash(&statement.entry_bytes()),
            statement,
            voter: voter.id,
            for_member,
            nonce: nonce.to_owned(),
            choice: format!(r#"{{"vote":"{vote}"}}"#),
            cast_at: Utc::now(),
            now: Utc::now(),
        }
    }

    fn proxy(grantor: &Board, holder: &Board, nonce: &str, revocation: bool) -> PreparedProxy {
        PreparedProxy {
            proposal: PROPOSAL,
            statement: signed(
                grantor,
                serde_json::json!({"type": "mandaat.proxy.v1", "nonce": nonce,
                    "holder": holder.id.to_string(), "revocation": revocation}),
            ),
            grantor: grantor.id,
            holder: holder.id,
            revocation,
            nonce: nonce.to_owned(),
            now: Utc::now(),
        }
    }

    /// A judge for an empty open proposal at log size 10, these boards' keys valid.
    fn judge(boards: &[&Board], max_proxies: u64) -> Judge {
        Judge {
            base: 10,
            max_proxies,
            statuses: HashMap::from([(PROPOSAL, Status::Open)]),
            unrevoked_keys: boards.iter().map(|b| key_id(b)).collect(),
            suspended: HashSet::new(),
            nonces: HashMap::new(),
            replay_leaves: HashMap::new(),
            replay_ballots: HashMap::new(),
            ballots: HashMap::new(),
            proxies: HashMap::new(),
            held: HashMap::new(),
            out: Out::default(),
        }
    }

    fn accepted(outcome: Result<Outcome>) -> AcceptedBallot {
        match outcome {
            Ok(Outcome::Ballot(b)) => b,
            Ok(Outcome::Proxy(_)) => panic!("a proxy"),
            Err(e) => panic!("refused: {e}"),
        }
    }

    fn rule(outcome: Result<Outcome>) -> Rule {
        match outcome {
            Err(Error::Rule { rule, .. }) => rule,
            Err(e) => panic!("another error: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn a_re_vote_and_a_resent_ballot_in_one_batch() {
        let a = board(1);
        let mut j = judge(&[&a], 2);
        let first = ballot(&a, a.id, "n1", "yes");
        let one = accepted(j.ballot(0, &first));
        let two = accepted(j.ballot(1, &ballot(&a, a.id, "n2", "no")));
        assert_eq!((one.entry.get(), two.entry.get()), (10, 11));
        assert!(one.counted_now && two.counted_now);
        // The first, sent again: the original answer, which no longer counts.
        let again = accepted(j.ballot(2, &first));
        assert!(again.replayed && !again.counted_now);
        assert_eq!(again.entry, one.entry);
        // The same nonce in another statement is a reuse.
        assert_eq!(
            rule(j.ballot(3, &ballot(&a, a.id, "n1", "no"))),
            Rule::NonceReused
        );
        // Two rows appended; the first stored as superseded.
        assert_eq!(j.out.entries.len(), 2);
        let superseded: Vec<bool> = j.out.ballots.iter().map(|b| b.superseded).collect();
        assert_eq!(superseded, [true, false]);
    }

    #[test]
    fn proxies_and_the_ballots_they_allow_in_one_batch() {
        let (grantor, holder) = (board(1), board(2));
        let mut j = judge(&[&grantor, &holder], 2);
        // No proxy yet.
        assert_eq!(
            rule(j.ballot(0, &ballot(&holder, grantor.id, "h0", "yes"))),
            Rule::NoProxy
        );
        assert!(matches!(
            j.proxy(1, &proxy(&grantor, &holder, "g1", false)),
            Ok(Outcome::Proxy(_))
        ));
        assert!(accepted(j.ballot(2, &ballot(&holder, grantor.id, "h1", "yes"))).counted_now);
        // The grantor's own ballot overrides the holder's, and later ones of the holder.
        assert!(accepted(j.ballot(3, &ballot(&grantor, grantor.id, "g2", "no"))).counted_now);
        assert!(!accepted(j.ballot(4, &ballot(&holder, grantor.id, "h2", "yes"))).counted_now);
        assert_eq!(
            rule(j.proxy(5, &proxy(&grantor, &holder, "g3", false))),
            Rule::ProxyExists
        );
        // Withdrawn in the same batch: the new row is stored withdrawn.
        let Ok(Outcome::Proxy(withdrawn)) = j.proxy(6, &proxy(&grantor, &holder, "g4", true))
        else {
            panic!("withdrawal refused");
        };
        assert_eq!(withdrawn.revoked_entry.map(LogIndex::get), Some(14));
        assert_eq!(j.out.proxies[0].revoked_entry, withdrawn.revoked_entry);
        assert_eq!(
            rule(j.ballot(7, &ballot(&holder, grantor.id, "h3", "yes"))),
            Rule::NoProxy
        );
        let counts: Vec<bool> = j.out.ballots.iter().map(|b| !b.superseded).collect();
        assert_eq!(counts, [false, true, false]);
    }

    #[test]
    fn a_holder_s_cap_counts_the_batch_s_own_grants() {
        let (a, b, holder) = (board(1), board(2), board(3));
        let mut j = judge(&[&a, &b, &holder], 1);
        assert!(j.proxy(0, &proxy(&a, &holder, "a1", false)).is_ok());
        assert_eq!(
            rule(j.proxy(1, &proxy(&b, &holder, "b1", false))),
            Rule::ProxyCapReached
        );
        assert!(j.proxy(2, &proxy(&a, &holder, "a2", true)).is_ok());
        assert!(j.proxy(3, &proxy(&b, &holder, "b2", false)).is_ok());
    }

    #[test]
    fn each_refusal_is_its_own() {
        let (a, b, c) = (board(1), board(2), board(3));
        let mut j = judge(&[&a, &c], 2);
        j.suspended.insert(c.id);
        // b's key is revoked, c is suspended; a's ballots around them are appended
        // at consecutive entries.
        assert_eq!(
            accepted(j.ballot(0, &ballot(&a, a.id, "a1", "yes")))
                .entry
                .get(),
            10
        );
        assert_eq!(
            rule(j.ballot(1, &ballot(&b, b.id, "b1", "yes"))),
            Rule::KeyNotValid
        );
        assert!(matches!(
            j.ballot(2, &ballot(&c, c.id, "c1", "yes")),
            Err(Error::Conflict {
                kind: ConflictKind::MemberSuspended,
                ..
            })
        ));
        assert_eq!(
            accepted(j.ballot(3, &ballot(&a, a.id, "a2", "no")))
                .entry
                .get(),
            11
        );
        // Once the proposal is not open, nothing more is accepted.
        j.statuses.insert(PROPOSAL, Status::Closed);
        assert_eq!(
            rule(j.ballot(4, &ballot(&a, a.id, "a3", "no"))),
            Rule::WrongState
        );
        assert_eq!(
            j.out.entries.iter().map(|e| e.0).collect::<Vec<_>>(),
            [0, 3]
        );
    }
}
