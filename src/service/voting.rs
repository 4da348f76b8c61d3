//! Voting use cases: the proposal lifecycle, casting ballots, proxies and the tally.
//!
//! Casting is the hot path. Everything that can be checked without the database
//! lock is checked first, in the request's own task (statement, frozen proposal from
//! cache, key, signature); the sequencer then judges the state-dependent rules of
//! many statements under one lock and appends them with one commit.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ServerSigner;
use crate::access::{self, Operation, ProposalFacts};
use crate::auth::Principal;
use crate::domain::ballot::{
    BALLOT_STATEMENT, BallotStatement, PROPOSAL_STATEMENT, ProxyStatement,
};
use crate::domain::keys::ContentError;
use crate::domain::lifecycle::{Frozen, FrozenDocument, Status, Step, within_clock_skew};
use crate::domain::member::Sector;
use crate::domain::proposal::ProposalSpec;
use crate::domain::server_statement::{
    CertifiedResult, LogPoint, ProposalClosed, ProposalWithdrawn,
};
use crate::domain::statement::{KeyId, MemberPublicKey, SignedStatement, canonical_bytes};
use crate::domain::tally::Tally;
use crate::error::{Error, Result, Rule};
use crate::service::sequencer::{Outcome, Prepared, PreparedBallot, PreparedProxy, Sequencer};
use crate::store::{NewEntry, ProposalRow, ProxyRow, SignedCheckpoint, Store, WriteTxn};
use crate::transparency::LogIndex;
use crate::transparency::merkle::leaf_hash;

/// Frozen proposals by id. Entries never change once written, so a stale read is
/// impossible; the cache only saves parsing the roll on every ballot.
#[derive(Default)]
pub struct FrozenCache(RwLock<HashMap<Uuid, Arc<Frozen>>>);

impl FrozenCache {
    fn get(&self, id: Uuid) -> Option<Arc<Frozen>> {
        self.0.read().ok().and_then(|m| m.get(&id).cloned())
    }

    fn insert(&self, frozen: Arc<Frozen>) {
        if let Ok(mut map) = self.0.write() {
            map.insert(frozen.id, frozen);
        }
    }
}

/// What this server has seen of proposals and keys that can only go one way, so a
/// statement's first checks need no query: a proposal seen closed, withdrawn or final
/// never opens again; a key's owner and bytes never change, and a revoked key stays
/// revoked. The sequencer checks status and revocation again under the append lock
/// (another server may have closed a proposal or revoked a key meanwhile); these
/// hints only let the first checks answer early, and never accept anything.
#[derive(Default)]
pub struct Hints {
    ended: RwLock<HashMap<Uuid, Status>>,
    keys: RwLock<HashMap<KeyId, KnownKey>>,
}

#[derive(Clone, Copy)]
struct KnownKey {
    member: Uuid,
    public: MemberPublicKey,
    revoked: bool,
}

impl Hints {
    fn ended(&self, id: Uuid) -> Option<Status> {
        self.ended.read().ok()?.get(&id).copied()
    }

    /// Records a proposal's status once it is no longer draft or open.
    fn saw(&self, id: Uuid, status: Status) {
        if !matches!(status, Status::Draft | Status::Open)
            && let Ok(mut ended) = self.ended.write()
        {
            ended.insert(id, status);
        }
    }

    fn key(&self, id: KeyId) -> Option<KnownKey> {
        self.keys.read().ok()?.get(&id).copied()
    }

    fn learn_key(&self, id: KeyId, key: KnownKey) {
        if let Ok(mut keys) = self.keys.write() {
            keys.insert(id, key);
        }
    }

    fn revoked(&self, id: KeyId) {
        if let Ok(mut keys) = self.keys.write()
            && let Some(key) = keys.get_mut(&id)
        {
            key.revoked = true;
        }
    }
}

/// What voting needs besides the store.
pub struct Voting {
    pub signer: ServerSigner,
    pub frozen: FrozenCache,
    pub hints: Hints,
    /// Judges and appends ballots and proxies in batches (see `sequencer`).
    pub sequencer: Sequencer,
}

/// A proposal row with its spec parsed.
pub struct Proposal {
    pub row: ProposalRow,
    pub status: Status,
    pub spec: ProposalSpec,
}

impl Proposal {
    fn from_row(row: ProposalRow) -> Result<Self> {
        let spec = serde_json::from_str(&row.spec)
            .map_err(|e| Error::Corrupt(format!("spec of proposal {}: {e}", row.id)))?;
        Ok(Proposal {
            status: row.status.parse()?,
            spec,
            row,
        })
    }

    /// What the access rules need to know of it.
    pub fn facts(&self) -> ProposalFacts<'_> {
        ProposalFacts {
            status: self.status,
            sectors: &self.spec.electorate.sectors,
            proposer_member: self.row.proposer_member,
        }
    }

    /// Whether the proposal concerns this sector.
    pub fn concerns_sector(&self, sector: Sector) -> bool {
        self.spec.electorate.sectors.contains(&sector)
    }
}

/// A ballot the service accepted: where it is in the log, its hash and whether it
/// counts now. (The log's proof of it is a [`log::Receipt`](crate::service::log::Receipt).)
#[derive(Debug, Clone)]
pub struct AcceptedBallot {
    pub proposal: Uuid,
    pub entry: LogIndex,
    pub ballot_hash: String,
    pub voter: Uuid,
    pub for_member: Uuid,
    pub counted_now: bool,
    pub accepted_at: DateTime<Utc>,
    /// This exact signed ballot had been accepted before (a client sending it again
    /// after losing the answer): nothing was appended; this is the original.
    pub replayed: bool,
}

fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn sectors_column(spec: &ProposalSpec) -> String {
    spec.electorate
        .sectors
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn proposal(store: &Store, id: Uuid) -> Result<Proposal> {
    Proposal::from_row(store.proposal(id).await?)
}

pub async fn proposals(store: &Store) -> Result<Vec<Proposal>> {
    store
        .proposals(true)
        .await?
        .into_iter()
        .map(Proposal::from_row)
        .collect()
}

/// One proposal, if this caller may see it.
pub async fn proposal_for(store: &Store, who: &Principal, id: Uuid) -> Result<Proposal> {
    let p = proposal(store, id).await?;
    access::check(who, Operation::SeeProposal(p.facts()))?;
    Ok(p)
}

/// Every proposal this caller may see, newest first, each with its turnout: two
/// queries, whatever the length of the list.
pub async fn proposals_for(store: &Store, who: &Principal) -> Result<Vec<(Proposal, u64)>> {
    let turnouts = store.turnouts().await?;
    Ok(proposals(store)
        .await?
        .into_iter()
        .filter(|p| may_see(who, p))
        .map(|p| {
            let voted = turnouts.get(&p.row.id).copied().unwrap_or(0);
            (p, voted)
        })
        .collect())
}

pub async fn create_proposal(
    store: &Store,
    spec: ProposalSpec,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Proposal> {
    access::check(who, Operation::DraftProposal)?;
    spec.validate()?;
    let proposer_member = match who {
        Principal::Board { member_id, .. } => Some(*member_id),
        _ => None,
    };
    let row = ProposalRow {
        id: Uuid::new_v4(),
        kind: spec.kind.name().to_owned(),
        status: Status::Draft.as_str().to_owned(),
        title: spec.title.clone(),
        spec: spec_json(&spec)?,
        sectors: sectors_column(&spec),
        proposer: who.subject().to_owned(),
        proposer_member,
        opens_at: spec.opens_at,
        closes_at: spec.closes_at,
        document: None,
        digest: None,
        opened_entry: None,
        closed_entry: None,
        result_entry: None,
        result: None,
        created_at: now,
        updated_at: now,
        opened_at: None,
        closed_at: None,
        finalized_at: None,
        withdrawn_at: None,
    };
    let write = store.write().await?;
    let row = write.insert_proposal(&row).await?;
    write.commit().await?;
    Proposal::from_row(row)
}

fn spec_json(spec: &ProposalSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(Error::internal)
}

/// Whether this caller may change this draft (asked before its new spec is read).
pub async fn may_edit(store: &Store, who: &Principal, id: Uuid) -> Result<()> {
    let current = proposal(store, id).await?;
    access::check(who, Operation::EditDraft(current.facts()))?;
    Ok(())
}

/// Replaces a draft's spec. Nothing about a proposal changes once it is open.
pub async fn update_proposal(
    store: &Store,
    who: &Principal,
    id: Uuid,
    spec: ProposalSpec,
    now: DateTime<Utc>,
) -> Result<Proposal> {
    let current = proposal(store, id).await?;
    access::check(who, Operation::EditDraft(current.facts()))?;
    spec.validate()?;
    let write = store.write().await?;
    let mut row = write.proposal(id).await?;
    expect_step(&row, Step::Edit)?;
    row.kind = spec.kind.name().to_owned();
    row.title = spec.title.clone();
    row.spec = spec_json(&spec)?;
    row.sectors = sectors_column(&spec);
    row.opens_at = spec.opens_at;
    row.closes_at = spec.closes_at;
    row.updated_at = now;
    save_and_commit(write, row).await
}

/// The status `step` leads to from the row's, or the refusal naming the proposal.
fn expect_step(row: &ProposalRow, step: Step) -> Result<Status> {
    let status: Status = row.status.parse()?;
    status
        .after(step)
        .map_err(|e| Error::rule(Rule::WrongState, format!("proposal {}: {e}", row.id)))
}

/// Opens a draft: freezes its document with the voter roll as it is now, signs it,
/// and appends it to the log.
pub async fn open_proposal(
    store: &Store,
    voting: &Voting,
    who: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Proposal> {
    access::check(who, Operation::RunLifecycle)?;
    let mut write = store.write().await?;
    let mut row = write.proposal(id).await?;
    let opened = expect_step(&row, Step::Open)?;
    let current = Proposal::from_row(row.clone())?;
    let spec = current.spec;
    if now >= spec.closes_at {
        return Err(Error::rule(
            Rule::OutsideWindow,
            format!(
                "the voting window ended at {}; change the draft's window first",
                secs(spec.closes_at)
            ),
        ));
    }
    // The roll: the boards that are members on the opening day, not suspended, in a
    // sector the proposal concerns. The register's changes the log does not hold yet
    // are signed first, so that an auditor can check the roll against the log.
    super::membership::log_pending(&mut write, &voting.signer, now).await?;
    let day = crate::domain::membership::opening_day(now);
    let members = write.members_on(day).await?;
    let roll = spec.electorate.roll(&members);
    if roll.is_empty() {
        return Err(Error::rule(
            Rule::EmptyRoll,
            format!(
                "no board that is a member on {day}, and not suspended, is in this proposal's sectors; admit the cooperative's members first"
            ),
        ));
    }
    let not_on_roll = members
        .iter()
        .filter_map(|m| spec.electorate.left_off(m))
        .collect();
    let document = FrozenDocument {
        statement_type: PROPOSAL_STATEMENT.to_owned(),
        proposal: id,
        spec,
        voter_roll: roll,
        not_on_roll,
        opened_at: secs(now),
    };
    let body = serde_json::to_value(&document).map_err(Error::internal)?;
    let statement = voting.signer.sign(&body)?;
    let entry = append_server_entry(&mut write, &statement, id, now).await?;
    let frozen = Frozen::parse(id, statement.bytes())?;

    row.status = opened.as_str().to_owned();
    row.document = Some(statement.bytes().to_vec());
    row.digest = Some(frozen.digest.clone());
    row.opened_entry = Some(entry);
    row.opened_at = Some(now);
    row.updated_at = now;
    let opened = save_and_commit(write, row).await?;
    voting.frozen.insert(Arc::new(frozen));
    Ok(opened)
}

/// The one tail of every lifecycle step: write the row, announce the step to webhook
/// subscribers in the same transaction (an outbox), commit, answer with it.
async fn save_and_commit(mut write: WriteTxn<'_>, row: ProposalRow) -> Result<Proposal> {
    let row = write.save_proposal(&row).await?;
    if let Some(event) = super::webhooks::proposal_event(&row)? {
        write.enqueue_event(&event).await?;
    }
    write.commit().await?;
    Proposal::from_row(row)
}

async fn append_server_entry(
    write: &mut WriteTxn<'_>,
    statement: &SignedStatement,
    proposal: Uuid,
    now: DateTime<Utc>,
) -> Result<LogIndex> {
    write
        .append(NewEntry::by_server(statement, Some(proposal), now))
        .await
}

/// Closes an open proposal once its window has ended, and computes its result.
pub async fn close_proposal(
    store: &Store,
    voting: &Voting,
    who: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Proposal> {
    access::check(who, Operation::RunLifecycle)?;
    let frozen = frozen(store, voting, id).await?;
    let mut write = store.write().await?;
    let mut row = write.proposal(id).await?;
    let closed = expect_step(&row, Step::Close)?;
    if now < row.closes_at {
        return Err(Error::rule(
            Rule::OutsideWindow,
            format!(
                "voting is open until {}; a proposal closes after its window",
                secs(row.closes_at)
            ),
        ));
    }
    let closing = ProposalClosed {
        proposal: id,
        proposal_digest: frozen.digest.clone(),
        closed_at: now,
    };
    let statement = voting.signer.sign(&closing.body())?;
    let entry = append_server_entry(&mut write, &statement, id, now).await?;
    let events = write.events(id).await?;
    let result = frozen.tally(&events);
    let result = String::from_utf8(canonical_bytes(
        &serde_json::to_value(&result).map_err(Error::internal)?,
    )?)
    .map_err(|e| Error::Corrupt(e.to_string()))?;

    row.status = closed.as_str().to_owned();
    row.closed_entry = Some(entry);
    row.closed_at = Some(now);
    row.result = Some(result);
    row.updated_at = now;
    let closed = save_and_commit(write, row).await?;
    voting.hints.saw(id, closed.status);
    Ok(closed)
}

/// Withdraws a draft, or an open proposal: then the server signs a
/// `mandaat.proposal-withdrawn.v1` statement into the log, so an auditor sees which
/// ballots came before it (none of them counts).
pub async fn withdraw_proposal(
    store: &Store,
    voting: &Voting,
    who: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Proposal> {
    access::check(who, Operation::RunLifecycle)?;
    let mut write = store.write().await?;
    let mut row = write.proposal(id).await?;
    let from: Status = row.status.parse()?;
    let withdrawn = expect_step(&row, Step::Withdraw)?;
    if from == Status::Open {
        // An open proposal's digest was stored when it opened.
        let digest = row
            .digest
            .clone()
            .ok_or_else(|| Error::Corrupt(format!("open proposal {id} has no digest")))?;
        let statement = voting.signer.sign(
            &ProposalWithdrawn {
                proposal: id,
                proposal_digest: digest,
                withdrawn_at: now,
            }
            .body(),
        )?;
        append_server_entry(&mut write, &statement, id, now).await?;
    }
    row.status = withdrawn.as_str().to_owned();
    row.withdrawn_at = Some(now);
    row.updated_at = now;
    let withdrawn = save_and_commit(write, row).await?;
    voting.hints.saw(id, withdrawn.status);
    Ok(withdrawn)
}

/// Finalises a closed proposal: the server signs a `mandaat.result.v1` statement with
/// the digest, the tally and the log checkpoint (size and root) the tally was computed
/// over, and appends it. This certified result is what a council cites.
pub async fn finalize_proposal(
    store: &Store,
    voting: &Voting,
    who: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Proposal> {
    access::check(who, Operation::RunLifecycle)?;
    let frozen = frozen(store, voting, id).await?;
    let mut write = store.write().await?;
    let mut row = write.proposal(id).await?;
    let finalised = expect_step(&row, Step::Finalise)?;
    let closed_entry = row
        .closed_entry
        .ok_or_else(|| Error::Corrupt(format!("closed proposal {id} has no closing entry")))?;
    // Certify exactly the tally stored at closing; a closed proposal always has one.
    let stored = row
        .result
        .as_deref()
        .ok_or_else(|| Error::Corrupt(format!("closed proposal {id} has no stored result")))?;
    let tally: serde_json::Value =
        serde_json::from_str(stored).map_err(|e| Error::Corrupt(format!("result of {id}: {e}")))?;
    // The tally counts the entries up to and including the closing statement.
    let size = closed_entry.size_through();
    let root = store
        .tree()?
        .root_at(size)
        .map_err(|e| Error::Corrupt(format!("log root at {size}: {e}")))?;
    let result = CertifiedResult {
        proposal: id,
        proposal_digest: frozen.digest.clone(),
        tally,
        log: LogPoint {
            size,
            root: crate::transparency::merkle::b64(&root),
        },
        finalized_at: now,
    };
    let statement = voting.signer.sign(&result.body())?;
    let entry = append_server_entry(&mut write, &statement, id, now).await?;
    row.status = finalised.as_str().to_owned();
    row.finalized_at = Some(now);
    row.result_entry = Some(entry);
    row.updated_at = now;
    let finalised = save_and_commit(write, row).await?;
    voting.hints.saw(id, finalised.status);
    Ok(finalised)
}

/// The frozen proposal, from cache or parsed once from its stored document.
pub async fn frozen(store: &Store, voting: &Voting, id: Uuid) -> Result<Arc<Frozen>> {
    if let Some(f) = voting.frozen.get(id) {
        return Ok(f);
    }
    let row = proposal(store, id).await?;
    voting.hints.saw(id, row.status);
    let bytes = row.row.document.ok_or_else(|| {
        Error::rule(
            Rule::WrongState,
            format!(
                "proposal {id} is {} and has no frozen document",
                row.status.as_str()
            ),
        )
    })?;
    let frozen = Arc::new(Frozen::parse(id, &bytes)?);
    voting.frozen.insert(frozen.clone());
    Ok(frozen)
}

/// How many members have voted so far: all that is shown while voting is open.
pub async fn turnout(store: &Store, id: Uuid) -> Result<u64> {
    store.turnout(id).await
}

/// The frozen proposal from the cache or from the row already read: no query.
pub fn frozen_of(voting: &Voting, p: &Proposal) -> Result<Option<Arc<Frozen>>> {
    if let Some(f) = voting.frozen.get(p.row.id) {
        return Ok(Some(f));
    }
    let Some(bytes) = &p.row.document else {
        return Ok(None);
    };
    let frozen = Arc::new(Frozen::parse(p.row.id, bytes)?);
    voting.frozen.insert(frozen.clone());
    Ok(Some(frozen))
}

/// What a ballot or proxy statement claims about itself.
struct Claim<'a> {
    proposal: Uuid,
    digest: &'a str,
    signer: Uuid,
    at: DateTime<Utc>,
    /// The members who must be on the voter roll.
    on_roll: [Uuid; 2],
}

/// Checks shared by ballots and proxies before any lock: open (as far as this server
/// has seen), in the window, the right digest, the token's member, a key of the
/// signer not known to be revoked, the signature, and both members on the roll.
async fn check_signed(
    store: &Store,
    hints: &Hints,
    frozen: &Frozen,
    statement: &SignedStatement,
    claim: Claim<'_>,
    token_member: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    let Claim {
        proposal: proposal_field,
        digest,
        signer,
        at,
        on_roll,
    } = claim;
    if let Some(status) = hints.ended(frozen.id) {
        return Err(Error::rule(
            Rule::WrongState,
            format!("proposal {} is {}, not open", frozen.id, status.as_str()),
        ));
    }
    let spec = &frozen.document.spec;
    if !frozen.window_contains(now) {
        return Err(Error::rule(
            Rule::OutsideWindow,
            format!(
                "voting runs from {} to {}",
                secs(spec.opens_at),
                secs(spec.closes_at)
            ),
        ));
    }
    if proposal_field != frozen.id {
        return Err(ContentError::Field("proposal").into());
    }
    if digest != frozen.digest {
        return Err(Error::rule(
            Rule::DigestMismatch,
            format!(
                "proposal_digest does not match the proposal's digest {}",
                frozen.digest
            ),
        ));
    }
    if signer != token_member {
        return Err(Error::rule(
            Rule::NotTokenMember,
            "the statement must be signed by the token's own member",
        ));
    }
    if !within_clock_skew(at, now) {
        return Err(Error::rule(
            Rule::ClockSkew,
            format!(
                "the statement's time {} is more than 5 minutes from the server's {}",
                secs(at),
                secs(now)
            ),
        ));
    }
    let key_id = statement.key_id();
    let key = match hints.key(key_id) {
        Some(key) => Some(key),
        None => match store.member_key(&key_id.to_string()).await? {
            Some(row) => {
                let public = hex::decode(&row.public_key)
                    .map_err(|_| Error::Corrupt(format!("key {key_id} is not hex")))
                    .and_then(|b| Ok(MemberPublicKey::from_bytes(&b)?))?;
                let key = KnownKey {
                    member: row.member_id,
                    public,
                    revoked: row.revoked_at.is_some(),
                };
                hints.learn_key(key_id, key);
                Some(key)
            }
            None => None,
        },
    };
    let key = key.filter(|k| k.member == signer).ok_or_else(|| {
        Error::rule(
            Rule::KeyNotValid,
            format!("key {key_id} is not a key of member {signer}"),
        )
    })?;
    if key.revoked {
        return Err(Error::rule(
            Rule::KeyNotValid,
            format!("key {key_id} is revoked"),
        ));
    }
    statement.verify(&key.public)?;
    // Suspension (even after opening) is judged under the append lock, with the
    // other state that can change while a statement waits.
    for member in on_roll {
        if frozen.roll_entry(member).is_none() {
            return Err(Error::rule(
                Rule::NotEligible,
                format!("member {member} is not on this proposal's voter roll"),
            ));
        }
    }
    Ok(())
}

/// An accepted ballot and the log's receipt for it.
pub struct Cast {
    pub ballot: AcceptedBallot,
    pub receipt: crate::service::log::Receipt,
}

/// Casts a ballot as the caller's member and answers with its receipt.
pub async fn cast(
    store: &Store,
    voting: &Voting,
    log: &crate::service::log::Log,
    who: &Principal,
    id: Uuid,
    statement: &SignedStatement,
    now: DateTime<Utc>,
) -> Result<Cast> {
    let member = access::signing_member(who)?;
    let (ballot, committed) = cast_ballot(store, voting, id, statement, member, now).await?;
    let receipt = log
        .receipt_after(store, ballot.entry, committed, now)
        .await?;
    Ok(Cast { ballot, receipt })
}

/// Grants or withdraws a proxy as the caller's member and answers with the proxy and
/// the log's receipt for the entry just made.
pub async fn proxy(
    store: &Store,
    voting: &Voting,
    log: &crate::service::log::Log,
    who: &Principal,
    id: Uuid,
    statement: &SignedStatement,
    now: DateTime<Utc>,
) -> Result<(ProxyRow, crate::service::log::Receipt)> {
    let member = access::signing_member(who)?;
    let (proxy, committed) = submit_proxy(store, voting, id, statement, member, now).await?;
    let entry = proxy.revoked_entry.unwrap_or(proxy.entry);
    let receipt = log.receipt_after(store, entry, committed, now).await?;
    Ok((proxy, receipt))
}

/// Casts a ballot. See the module docs for the order of checks.
async fn cast_ballot(
    store: &Store,
    voting: &Voting,
    id: Uuid,
    statement: &SignedStatement,
    token_member: Uuid,
    now: DateTime<Utc>,
) -> Result<(AcceptedBallot, Option<SignedCheckpoint>)> {
    // Microseconds, as PostgreSQL stores them: the `accepted_at` answered now is the
    // one a ballot sent again is answered with later, on either database.
    let now = now.trunc_subsecs(6);
    let frozen = frozen(store, voting, id).await?;
    if statement.statement_type() != BALLOT_STATEMENT {
        return Err(ContentError::WrongType {
            expected: BALLOT_STATEMENT,
            found: statement.statement_type().to_owned(),
        }
        .into());
    }
    let ballot = BallotStatement::from_statement(statement)?;
    let claim = Claim {
        proposal: ballot.proposal,
        digest: &ballot.proposal_digest,
        signer: ballot.voter,
        at: ballot.cast_at,
        on_roll: [ballot.voter, ballot.for_member],
    };
    check_signed(
        store,
        &voting.hints,
        &frozen,
        statement,
        claim,
        token_member,
        now,
    )
    .await?;
    ballot.choice.validate(&frozen.document.spec.kind)?;
    let choice = String::from_utf8(canonical_bytes(
        &serde_json::to_value(&ballot.choice).map_err(Error::internal)?,
    )?)
    .map_err(|e| Error::Corrupt(e.to_string()))?;
    let key_id = statement.key_id();
    let prepared = PreparedBallot {
        proposal: id,
        ballot_hash: hex::encode(Sha256::digest(statement.bytes())),
        leaf: leaf_hash(&statement.entry_bytes()),
        statement: statement.clone(),
        voter: ballot.voter,
        for_member: ballot.for_member,
        nonce: ballot.nonce,
        choice,
        cast_at: ballot.cast_at,
        now,
    };
    match learning(
        store,
        voting,
        id,
        key_id,
        voting.sequencer.submit(Prepared::Ballot(prepared)).await,
    )
    .await?
    {
        (Outcome::Ballot(accepted), committed) => Ok((accepted, committed)),
        (Outcome::Proxy(_), _) => Err(Error::Internal(
            "the sequencer answered a ballot with a proxy".into(),
        )),
    }
}

/// Passes the sequencer's answer on, first remembering what a refusal taught about
/// state that only goes one way (see [`Hints`]).
async fn learning(
    store: &Store,
    voting: &Voting,
    id: Uuid,
    key_id: KeyId,
    answer: crate::service::sequencer::Answer,
) -> crate::service::sequencer::Answer {
    match &answer {
        Err(Error::Rule {
            rule: Rule::WrongState,
            ..
        }) => {
            if let Ok(status) = store.proposal_status(id).await {
                voting.hints.saw(id, status);
            }
        }
        Err(Error::Rule {
            rule: Rule::KeyNotValid,
            ..
        }) => voting.hints.revoked(key_id),
        _ => {}
    }
    answer
}

/// Grants or withdraws a proxy, from a statement signed by the grantor.
async fn submit_proxy(
    store: &Store,
    voting: &Voting,
    id: Uuid,
    statement: &SignedStatement,
    token_member: Uuid,
    now: DateTime<Utc>,
) -> Result<(ProxyRow, Option<SignedCheckpoint>)> {
    let frozen = frozen(store, voting, id).await?;
    let proxy_statement = ProxyStatement::from_statement(statement)?;
    let p = &proxy_statement;
    let claim = Claim {
        proposal: p.proposal,
        digest: &p.proposal_digest,
        signer: p.grantor,
        at: p.signed_at,
        on_roll: [p.grantor, p.holder],
    };
    check_signed(
        store,
        &voting.hints,
        &frozen,
        statement,
        claim,
        token_member,
        now,
    )
    .await?;
    if p.grantor == p.holder {
        return Err(Error::rule(
            Rule::NoProxy,
            "a member cannot give a proxy to itself",
        ));
    }
    let key_id = statement.key_id();
    let prepared = PreparedProxy {
        proposal: id,
        statement: statement.clone(),
        grantor: p.grantor,
        holder: p.holder,
        revocation: p.revocation,
        nonce: p.nonce.clone(),
        now,
    };
    match learning(
        store,
        voting,
        id,
        key_id,
        voting.sequencer.submit(Prepared::Proxy(prepared)).await,
    )
    .await?
    {
        (Outcome::Proxy(row), committed) => Ok((row, committed)),
        (Outcome::Ballot(_), _) => Err(Error::Internal(
            "the sequencer answered a proxy with a ballot".into(),
        )),
    }
}

/// The proxies of a proposal that this caller may see.
pub async fn proxies_for(store: &Store, who: &Principal, id: Uuid) -> Result<Vec<ProxyRow>> {
    proposal_for(store, who, id).await?;
    Ok(store
        .proxies(id)
        .await?
        .into_iter()
        .filter(|p| {
            access::check(
                who,
                Operation::SeeProxy {
                    grantor: p.grantor_id,
                    holder: p.holder_id,
                },
            )
            .is_ok()
        })
        .collect())
}

/// The stored result of a closed or final proposal; refused while voting is open.
pub fn result_of(p: &Proposal) -> Result<Tally> {
    if !p.status.result_visible() {
        return Err(Error::rule(
            Rule::ResultNotAvailable,
            format!(
                "proposal {} is {}; results exist only after it closes",
                p.row.id,
                p.status.as_str()
            ),
        ));
    }
    let text = p
        .row
        .result
        .as_deref()
        .ok_or_else(|| Error::Corrupt(format!("closed proposal {} has no result", p.row.id)))?;
    serde_json::from_str(text)
        .map_err(|e| Error::Corrupt(format!("stored result of {}: {e}", p.row.id)))
}

/// Who may see a proposal at all (see [`access`](crate::access)).
pub fn may_see(who: &Principal, p: &Proposal) -> bool {
    access::check(who, Operation::SeeProposal(p.facts())).is_ok()
}

/// Whether this viewer may see the proposal's result: a board only if it was on the
/// roll. Reads the roll from the cache or the row, never from another query.
fn may_see_result(voting: &Voting, who: &Principal, p: &Proposal) -> Result<()> {
    let on_roll = match who {
        Principal::Board { member_id, .. } => {
            frozen_of(voting, p)?.is_some_and(|f| f.roll_entry(*member_id).is_some())
        }
        _ => false,
    };
    access::check(
        who,
        Operation::SeeResult {
            proposal: p.facts(),
            on_roll,
        },
    )?;
    Ok(())
}

/// The result of one proposal for this viewer; refused while voting is open.
pub async fn result_for(
    store: &Store,
    voting: &Voting,
    who: &Principal,
    id: Uuid,
) -> Result<Tally> {
    let p = proposal_for(store, who, id).await?;
    let result = result_of(&p)?;
    may_see_result(voting, who, &p)?;
    Ok(result)
}

/// Every closed or final result this viewer may see, concerning `sector` when given.
/// A council always gets its own sector (asking for another is refused). Tallies are
/// whole, as certified, for every viewer: what a council receives can be checked
/// against the log.
pub async fn results_for(
    store: &Store,
    voting: &Voting,
    who: &Principal,
    sector: Option<Sector>,
) -> Result<(Option<Sector>, Vec<(Proposal, Tally)>)> {
    let sector = access::results_sector(who, sector)?;
    let mut rows = Vec::new();
    for p in proposals(store).await? {
        if !p.status.result_visible()
            || sector.is_some_and(|s| !p.concerns_sector(s))
            || may_see_result(voting, who, &p).is_err()
        {
            continue;
        }
        let tally = result_of(&p)?;
        rows.push((p, tally));
    }
    Ok((sector, rows))
}
