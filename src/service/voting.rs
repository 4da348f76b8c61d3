//! Voting use cases: the proposal lifecycle, casting ballots, proxies and the tally.
//!
//! Casting is the hot path. Everything that can be checked without the database
//! lock is checked first (statement, frozen proposal from cache, key, signature);
//! the write transaction then only checks the nonce and proxy state and appends.

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
use crate::domain::member::{MemberStatus, Sector};
use crate::domain::proposal::ProposalSpec;
use crate::domain::server_statement::{
    CertifiedResult, LogPoint, ProposalClosed, ProposalWithdrawn,
};
use crate::domain::statement::{KeyId, MemberPublicKey, SignedStatement, canonical_bytes};
use crate::domain::tally::Tally;
use crate::error::{ConflictKind, Error, Result, Rule};
use crate::store::{BallotRow, NewEntry, ProposalRow, ProxyRow, SignedCheckpoint, Store, WriteTxn};
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

/// What voting needs besides the store.
pub struct Voting {
    pub signer: ServerSigner,
    pub frozen: FrozenCache,
    pub max_proxies_per_holder: usize,
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
    save_and_commit(write, row).await
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
    save_and_commit(write, row).await
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
    save_and_commit(write, row).await
}

/// The frozen proposal, from cache or parsed once from its stored document.
pub async fn frozen(store: &Store, voting: &Voting, id: Uuid) -> Result<Arc<Frozen>> {
    if let Some(f) = voting.frozen.get(id) {
        return Ok(f);
    }
    let row = proposal(store, id).await?;
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
}

/// Checks shared by ballots and proxies before any lock: open, in the window, the
/// right digest, the token's member, a key valid at the statement's time, and the
/// signature.
async fn check_signed(
    store: &Store,
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
    } = claim;
    let status = store.proposal_status(frozen.id).await?;
    if status != Status::Open {
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
    let key_hex = statement.key_id().to_string();
    let key = store
        .member_key(&key_hex)
        .await?
        .filter(|k| k.member_id == signer)
        .ok_or_else(|| {
            Error::rule(
                Rule::KeyNotValid,
                format!("key {key_hex} is not a key of member {signer}"),
            )
        })?;
    if key.revoked_at.is_some() {
        return Err(Error::rule(
            Rule::KeyNotValid,
            format!("key {key_hex} is revoked"),
        ));
    }
    let public = hex::decode(&key.public_key)
        .map_err(|_| Error::Corrupt(format!("key {key_hex} is not hex")))
        .and_then(|b| Ok(MemberPublicKey::from_bytes(&b)?))?;
    statement.verify(&public)?;
    // Suspension after opening still stops a member from voting.
    let member = store.member(signer).await?;
    if member.status == MemberStatus::Suspended {
        return Err(Error::conflict(
            ConflictKind::MemberSuspended,
            format!("member {signer} is suspended"),
        ));
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
    };
    check_signed(store, &frozen, statement, claim, token_member, now).await?;
    if frozen.roll_entry(ballot.voter).is_none() {
        return Err(Error::rule(
            Rule::NotEligible,
            format!(
                "member {} is not on this proposal's voter roll",
                ballot.voter
            ),
        ));
    }
    if frozen.roll_entry(ballot.for_member).is_none() {
        return Err(Error::rule(
            Rule::NotEligible,
            format!(
                "member {} is not on this proposal's voter roll",
                ballot.for_member
            ),
        ));
    }
    ballot.choice.validate(&frozen.document.spec.kind)?;
    let choice = String::from_utf8(canonical_bytes(
        &serde_json::to_value(&ballot.choice).map_err(Error::internal)?,
    )?)
    .map_err(|e| Error::Corrupt(e.to_string()))?;
    let ballot_hash = hex::encode(Sha256::digest(statement.bytes()));
    let by_proxy = ballot.voter != ballot.for_member;

    let mut write = store.write().await?;
    check_key_still_valid(&write, statement.key_id()).await?;
    if let Some(earlier) = accepted_before(&write, id, statement, &ballot.nonce).await? {
        return Ok((earlier, None));
    }
    still_open(&write, id).await?;
    check_nonce(&write, &ballot.nonce).await?;
    if by_proxy {
        let active = write.active_proxy(id, ballot.for_member).await?;
        if active.is_none_or(|p| p.holder_id != ballot.voter) {
            return Err(Error::rule(
                Rule::NoProxy,
                format!(
                    "member {} holds no proxy from member {}",
                    ballot.voter, ballot.for_member
                ),
            ));
        }
    }
    let earlier = write.ballots_for(id, ballot.for_member).await?;
    // A grantor's own ballot always wins over its holder's, whatever the order.
    let grantor_voted = earlier.iter().any(|b| b.voter_id == b.for_id);
    let counted_now = !by_proxy || !grantor_voted;
    let entry = write
        .append(NewEntry::by_member(statement, ballot.voter, Some(id), now))
        .await?;
    if counted_now {
        let counting: Vec<LogIndex> = earlier
            .iter()
            .filter(|b| !b.superseded)
            .map(|b| b.entry)
            .collect();
        write.supersede(&counting).await?;
    }
    write.record_nonce(&ballot.nonce, entry).await?;
    write
        .insert_ballot(&BallotRow {
            entry,
            proposal_id: id,
            voter_id: ballot.voter,
            for_id: ballot.for_member,
            choice,
            ballot_hash: ballot_hash.clone(),
            cast_at: ballot.cast_at,
            accepted_at: now,
            superseded: !counted_now,
        })
        .await?;
    let committed = write.commit().await?;
    let accepted = AcceptedBallot {
        proposal: id,
        entry,
        ballot_hash,
        voter: ballot.voter,
        for_member: ballot.for_member,
        counted_now,
        accepted_at: now,
        replayed: false,
    };
    Ok((accepted, committed))
}

/// The ballot accepted earlier with this nonce, when it is exactly this signed ballot
/// (the same entry bytes): a board that lost the answer, to a crash or an outage,
/// and sends its ballot again gets the original back instead of `nonce-reused`.
/// `counted_now` is whether it counts now.
async fn accepted_before(
    write: &WriteTxn<'_>,
    id: Uuid,
    statement: &SignedStatement,
    nonce_value: &str,
) -> Result<Option<AcceptedBallot>> {
    let Some(used) = write.nonce_entry(nonce_value).await? else {
        return Ok(None);
    };
    let leaf = hex::encode(leaf_hash(&statement.entry_bytes()));
    if write.leaf_hash_of(used).await?.as_deref() != Some(leaf.as_str()) {
        return Ok(None);
    }
    Ok(write
        .ballot(used)
        .await?
        .filter(|b| b.proposal_id == id)
        .map(|b| AcceptedBallot {
            proposal: b.proposal_id,
            entry: b.entry,
            ballot_hash: b.ballot_hash,
            voter: b.voter_id,
            for_member: b.for_id,
            counted_now: !b.superseded,
            accepted_at: b.accepted_at,
            replayed: true,
        }))
}

/// A key is valid for an entry when its registration precedes the entry in the log
/// and its revocation does not: re-checked under the write lock, because a revocation
/// may have been appended since the signature was verified.
async fn check_key_still_valid(write: &WriteTxn<'_>, key_id: KeyId) -> Result<()> {
    if write.key_revoked(&key_id.to_string()).await? {
        return Err(Error::rule(
            Rule::KeyNotValid,
            format!("key {key_id} was revoked"),
        ));
    }
    Ok(())
}

/// The proposal is still open, checked again under the write lock: a close that
/// committed after this statement's first check must not be followed by it in the log.
async fn still_open(write: &WriteTxn<'_>, id: Uuid) -> Result<()> {
    let status = write.proposal_status(id).await?;
    if status != Status::Open {
        return Err(Error::rule(
            Rule::WrongState,
            format!("proposal {id} was {status} before this statement could be recorded"),
        ));
    }
    Ok(())
}

async fn check_nonce(write: &WriteTxn<'_>, value: &str) -> Result<()> {
    if write.nonce_entry(value).await?.is_some() {
        return Err(Error::rule(
            Rule::NonceReused,
            "this nonce was already used; every statement needs a fresh one",
        ));
    }
    Ok(())
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
    };
    check_signed(store, &frozen, statement, claim, token_member, now).await?;
    for member in [p.grantor, p.holder] {
        if frozen.roll_entry(member).is_none() {
            return Err(Error::rule(
                Rule::NotEligible,
                format!("member {member} is not on this proposal's voter roll"),
            ));
        }
    }
    if p.grantor == p.holder {
        return Err(Error::rule(
            Rule::NoProxy,
            "a member cannot give a proxy to itself",
        ));
    }

    let mut write = store.write().await?;
    check_key_still_valid(&write, statement.key_id()).await?;
    still_open(&write, id).await?;
    check_nonce(&write, &p.nonce).await?;
    let current = write.active_proxy(id, p.grantor).await?;
    let entry = NewEntry::by_member(statement, p.grantor, Some(id), now);
    let result = if p.revocation {
        let Some(current) = current.filter(|c| c.holder_id == p.holder) else {
            return Err(Error::rule(
                Rule::NoProxy,
                format!(
                    "member {} has no active proxy to member {} to withdraw",
                    p.grantor, p.holder
                ),
            ));
        };
        let entry = write.append(entry).await?;
        let updated = write.withdraw_proxy(&current, entry, now).await?;
        write.record_nonce(&p.nonce, entry).await?;
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
        let held = write.proxies_held(id, p.holder).await?;
        if held >= voting.max_proxies_per_holder as u64 {
            return Err(Error::rule(
                Rule::ProxyCapReached,
                format!(
                    "member {} already holds {held} proxies for this proposal, the most allowed",
                    p.holder
                ),
            ));
        }
        let entry = write.append(entry).await?;
        write.record_nonce(&p.nonce, entry).await?;
        write
            .insert_proxy(&ProxyRow {
                entry,
                proposal_id: id,
                grantor_id: p.grantor,
                holder_id: p.holder,
                granted_at: now,
                revoked_entry: None,
                revoked_at: None,
            })
            .await?
    };
    let committed = write.commit().await?;
    Ok((result, committed))
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
