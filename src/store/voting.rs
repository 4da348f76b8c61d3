//! Proposals, ballots, nonces and proxies in the database. The rows leave this module
//! as plain records (`ProposalRow`, `BallotRow`, `ProxyRow`); every query and write of
//! the voting use cases is here, so the service holds rules only.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement, UnionType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use entity::{ballot, log_entry, member, member_key, nonce, proposal, proxy};

use super::{Store, WriteTxn, insert_chunked, members_ordered};
use crate::domain::lifecycle::Status;
use crate::domain::member::{Member, MemberStatus};
use crate::domain::tally::Event;
use crate::error::{Error, Result};
use crate::transparency::LogIndex;

/// A proposal as stored. `spec` is its JSON, `status` its lifecycle state's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalRow {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub title: String,
    pub spec: String,
    /// The sectors it concerns, comma-separated (for filtering in SQL).
    pub sectors: String,
    pub proposer: String,
    pub proposer_member: Option<Uuid>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// The signed frozen document, once opened.
    pub document: Option<Vec<u8>>,
    pub digest: Option<String>,
    pub opened_entry: Option<LogIndex>,
    pub closed_entry: Option<LogIndex>,
    pub result_entry: Option<LogIndex>,
    /// The tally computed at closing, canonical JSON.
    pub result: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// An accepted ballot; `entry` is its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotRow {
    pub entry: LogIndex,
    pub proposal_id: Uuid,
    pub voter_id: Uuid,
    pub for_id: Uuid,
    /// The choice as canonical JSON.
    pub choice: String,
    pub ballot_hash: String,
    pub cast_at: DateTime<Utc>,
    pub accepted_at: DateTime<Utc>,
    pub superseded: bool,
}

/// What a batch of statements names, to read the state it is judged against.
pub struct BatchWants<'a> {
    pub proposals: &'a [Uuid],
    pub keys: &'a [String],
    pub signers: &'a [Uuid],
    pub nonces: &'a [String],
    /// Members ballots are cast for.
    pub for_members: &'a [Uuid],
}

/// The state a batch of statements is judged against (see `WriteTxn::batch_state`).
#[derive(Default)]
pub struct BatchState {
    pub statuses: HashMap<Uuid, Status>,
    pub unrevoked_keys: HashSet<String>,
    pub suspended: HashSet<Uuid>,
    pub nonces: HashMap<String, LogIndex>,
    pub ballots: Vec<StoredBallot>,
}

// The kinds of row of the batch-state query, in its first column.
const STATUS: i32 = 1;
const UNREVOKED_KEY: i32 = 2;
const SUSPENDED: i32 = 3;
const USED_NONCE: i32 = 4;
const BALLOT: i32 = 5;

/// The columns of one select of the batch-state query; absent ones are typed NULLs.
#[derive(Default)]
struct Shape {
    ids: [Option<Expr>; 3],
    text: Option<Expr>,
    entry: Option<Expr>,
    flag: Option<Expr>,
}

impl Shape {
    /// `SELECT kind, id, id, id, text, entry, flag`, typed NULLs for what is absent:
    /// PostgreSQL types a union's columns from its first select.
    fn select(self, kind: i32) -> SelectStatement {
        let Shape {
            ids,
            text,
            entry,
            flag,
        } = self;
        let columns = ids.into_iter().chain([text, entry, flag]);
        let types = ["UUID", "UUID", "UUID", "TEXT", "BIGINT", "BOOLEAN"];
        let mut select = Query::select();
        select.expr(Expr::val(kind));
        for (column, sql_type) in columns.zip(types) {
            select.expr(column.unwrap_or_else(|| Expr::cust(format!("CAST(NULL AS {sql_type})"))));
        }
        select
    }
}

/// One `UNION ALL` of five selects, one per kind of row (see `batch_state`).
fn batch_state_query(wanted: &BatchWants<'_>) -> SelectStatement {
    let mut query = Shape {
        ids: [Some(Expr::col(proposal::Column::Id)), None, None],
        text: Some(Expr::col(proposal::Column::Status)),
        ..Shape::default()
    }
    .select(STATUS);
    query
        .from(proposal::Entity)
        .and_where(proposal::Column::Id.is_in(wanted.proposals.iter().copied()));
    let mut keys = Shape {
        text: Some(Expr::col(member_key::Column::KeyId)),
        ..Shape::default()
    }
    .select(UNREVOKED_KEY);
    keys.from(member_key::Entity)
        .and_where(member_key::Column::KeyId.is_in(wanted.keys.iter().cloned()))
        .and_where(member_key::Column::RevokedAt.is_null());
    let mut suspended = Shape {
        ids: [Some(Expr::col(member::Column::Id)), None, None],
        ..Shape::default()
    }
    .select(SUSPENDED);
    suspended
        .from(member::Entity)
        .and_where(member::Column::Id.is_in(wanted.signers.iter().copied()))
        .and_where(member::Column::Status.eq(MemberStatus::Suspended.as_str()));
    let mut nonces = Shape {
        text: Some(Expr::col(nonce::Column::Nonce)),
        entry: Some(Expr::col(nonce::Column::EntryIdx)),
        ..Shape::default()
    }
    .select(USED_NONCE);
    nonces
        .from(nonce::Entity)
        .and_where(nonce::Column::Nonce.is_in(wanted.nonces.iter().cloned()));
    query
        .union(UnionType::All, keys)
        .union(UnionType::All, suspended)
        .union(UnionType::All, nonces);
    if !wanted.for_members.is_empty() {
        let mut ballots = Shape {
            ids: [
                Some(Expr::col(ballot::Column::ProposalId)),
                Some(Expr::col(ballot::Column::VoterId)),
                Some(Expr::col(ballot::Column::ForId)),
            ],
            entry: Some(Expr::col(ballot::Column::EntryIdx)),
            flag: Some(Expr::col(ballot::Column::Superseded)),
            ..Shape::default()
        }
        .select(BALLOT);
        ballots
            .from(ballot::Entity)
            .and_where(ballot::Column::ProposalId.is_in(wanted.proposals.iter().copied()))
            .and_where(ballot::Column::ForId.is_in(wanted.for_members.iter().copied()));
        query.union(UnionType::All, ballots);
    }
    query
}

/// A stored ballot as a group commit sees it: who cast it for whom, and whether it
/// still counts.
pub struct StoredBallot {
    pub entry: LogIndex,
    pub proposal: Uuid,
    pub voter: Uuid,
    pub for_member: Uuid,
    pub superseded: bool,
}

/// A proxy, granted at `entry` and withdrawn at `revoked_entry` if it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRow {
    pub entry: LogIndex,
    pub proposal_id: Uuid,
    pub grantor_id: Uuid,
    pub holder_id: Uuid,
    pub granted_at: DateTime<Utc>,
    pub revoked_entry: Option<LogIndex>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn index(stored: i64) -> Result<LogIndex> {
    Ok(LogIndex::from_stored(stored)?)
}

fn optional_index(stored: Option<i64>) -> Result<Option<LogIndex>> {
    stored.map(index).transpose()
}

impl TryFrom<proposal::Model> for ProposalRow {
    type Error = Error;
    fn try_from(m: proposal::Model) -> Result<Self> {
        Ok(ProposalRow {
            id: m.id,
            kind: m.kind,
            status: m.status,
            title: m.title,
            spec: m.spec,
            sectors: m.sectors,
            proposer: m.proposer,
            proposer_member: m.proposer_member,
            opens_at: m.opens_at,
            closes_at: m.closes_at,
            document: m.document,
            digest: m.digest,
            opened_entry: optional_index(m.opened_entry)?,
            closed_entry: optional_index(m.closed_entry)?,
            result_entry: optional_index(m.result_entry)?,
            result: m.result,
            created_at: m.created_at,
            updated_at: m.updated_at,
            opened_at: m.opened_at,
            closed_at: m.closed_at,
            finalized_at: m.finalized_at,
            withdrawn_at: m.withdrawn_at,
        })
    }
}

fn proposal_model(r: &ProposalRow) -> proposal::ActiveModel {
    proposal::ActiveModel {
        id: Set(r.id),
        kind: Set(r.kind.clone()),
        status: Set(r.status.clone()),
        title: Set(r.title.clone()),
        spec: Set(r.spec.clone()),
        sectors: Set(r.sectors.clone()),
        proposer: Set(r.proposer.clone()),
        proposer_member: Set(r.proposer_member),
        opens_at: Set(r.opens_at),
        closes_at: Set(r.closes_at),
        document: Set(r.document.clone()),
        digest: Set(r.digest.clone()),
        opened_entry: Set(r.opened_entry.map(LogIndex::stored)),
        closed_entry: Set(r.closed_entry.map(LogIndex::stored)),
        result_entry: Set(r.result_entry.map(LogIndex::stored)),
        result: Set(r.result.clone()),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
        opened_at: Set(r.opened_at),
        closed_at: Set(r.closed_at),
        finalized_at: Set(r.finalized_at),
        withdrawn_at: Set(r.withdrawn_at),
    }
}

fn ballot_model(row: &BallotRow) -> ballot::ActiveModel {
    ballot::ActiveModel {
        entry_idx: Set(row.entry.stored()),
        proposal_id: Set(row.proposal_id),
        voter_id: Set(row.voter_id),
        for_id: Set(row.for_id),
        choice: Set(row.choice.clone()),
        ballot_hash: Set(row.ballot_hash.clone()),
        cast_at: Set(row.cast_at),
        accepted_at: Set(row.accepted_at),
        superseded: Set(row.superseded),
    }
}

fn proxy_model(row: &ProxyRow) -> proxy::ActiveModel {
    proxy::ActiveModel {
        entry_idx: Set(row.entry.stored()),
        proposal_id: Set(row.proposal_id),
        grantor_id: Set(row.grantor_id),
        holder_id: Set(row.holder_id),
        granted_at: Set(row.granted_at),
        revoked_entry: Set(row.revoked_entry.map(LogIndex::stored)),
        revoked_at: Set(row.revoked_at),
    }
}

impl TryFrom<ballot::Model> for BallotRow {
    type Error = Error;
    fn try_from(m: ballot::Model) -> Result<Self> {
        Ok(BallotRow {
            entry: index(m.entry_idx)?,
            proposal_id: m.proposal_id,
            voter_id: m.voter_id,
            for_id: m.for_id,
            choice: m.choice,
            ballot_hash: m.ballot_hash,
            cast_at: m.cast_at,
            accepted_at: m.accepted_at,
            superseded: m.superseded,
        })
    }
}

impl TryFrom<proxy::Model> for ProxyRow {
    type Error = Error;
    fn try_from(m: proxy::Model) -> Result<Self> {
        Ok(ProxyRow {
            entry: index(m.entry_idx)?,
            proposal_id: m.proposal_id,
            grantor_id: m.grantor_id,
            holder_id: m.holder_id,
            granted_at: m.granted_at,
            revoked_entry: optional_index(m.revoked_entry)?,
            revoked_at: m.revoked_at,
        })
    }
}

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("proposal {id}"))
}

impl Store {
    pub async fn proposal(&self, id: Uuid) -> Result<ProposalRow> {
        proposal::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(ProposalRow::try_from)
            .transpose()?
            .ok_or_else(|| not_found(id))
    }

    /// Every proposal, newest first (lists) or oldest first (the audit bundle).
    pub async fn proposals(&self, newest_first: bool) -> Result<Vec<ProposalRow>> {
        let by_creation = if newest_first {
            sea_orm::Order::Desc
        } else {
            sea_orm::Order::Asc
        };
        proposal::Entity::find()
            .order_by(proposal::Column::CreatedAt, by_creation)
            .order_by_asc(proposal::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(ProposalRow::try_from)
            .collect()
    }

    /// Statuses of every proposal, by id.
    pub async fn proposal_statuses(&self) -> Result<HashMap<Uuid, Status>> {
        let rows: Vec<(Uuid, String)> = proposal::Entity::find()
            .select_only()
            .column(proposal::Column::Id)
            .column(proposal::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(id, status)| Ok((id, status.parse::<Status>()?)))
            .collect()
    }

    /// Only the status: the hot path must not read the frozen document and result.
    pub async fn proposal_status(&self, id: Uuid) -> Result<Status> {
        let status: Option<String> = proposal::Entity::find_by_id(id)
            .select_only()
            .column(proposal::Column::Status)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(status.ok_or_else(|| not_found(id))?.parse()?)
    }

    /// How many members have voted on a proposal so far.
    pub async fn turnout(&self, id: Uuid) -> Result<u64> {
        Ok(ballot::Entity::find()
            .select_only()
            .column(ballot::Column::ForId)
            .distinct()
            .filter(ballot::Column::ProposalId.eq(id))
            .count(&self.db)
            .await?)
    }

    /// Turnout of every proposal that has ballots, in one query.
    pub async fn turnouts(&self) -> Result<HashMap<Uuid, u64>> {
        let rows: Vec<(Uuid, i64)> = ballot::Entity::find()
            .select_only()
            .column(ballot::Column::ProposalId)
            .column_as(Expr::col(ballot::Column::ForId).count_distinct(), "voted")
            .group_by(ballot::Column::ProposalId)
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(id, voted)| {
                u64::try_from(voted)
                    .map(|v| (id, v))
                    .map_err(|_| Error::Corrupt(format!("turnout {voted} of proposal {id}")))
            })
            .collect()
    }

    /// Proxies of a proposal, in log order.
    pub async fn proxies(&self, id: Uuid) -> Result<Vec<ProxyRow>> {
        proxy::Entity::find()
            .filter(proxy::Column::ProposalId.eq(id))
            .order_by_asc(proxy::Column::EntryIdx)
            .all(&self.db)
            .await?
            .into_iter()
            .map(ProxyRow::try_from)
            .collect()
    }
}

impl WriteTxn<'_> {
    pub async fn insert_proposal(&self, row: &ProposalRow) -> Result<ProposalRow> {
        proposal_model(row).insert(&self.txn).await?.try_into()
    }

    /// The proposal as it is inside this transaction.
    pub async fn proposal(&self, id: Uuid) -> Result<ProposalRow> {
        proposal::Entity::find_by_id(id)
            .one(&self.txn)
            .await?
            .map(ProposalRow::try_from)
            .transpose()?
            .ok_or_else(|| not_found(id))
    }

    /// Writes every column of the row.
    pub async fn save_proposal(&self, row: &ProposalRow) -> Result<ProposalRow> {
        proposal_model(row).update(&self.txn).await?.try_into()
    }

    /// Every member, ordered by bevoegd-gezag number, as this transaction sees them.
    pub async fn members_ordered(&self) -> Result<Vec<Member>> {
        members_ordered(&self.txn).await
    }

    /// Ballots and proxy events of one proposal, in log order: the tally's input.
    pub async fn events(&self, id: Uuid) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        for b in ballot::Entity::find()
            .filter(ballot::Column::ProposalId.eq(id))
            .all(&self.txn)
            .await?
        {
            let choice = serde_json::from_str(&b.choice)
                .map_err(|e| Error::Corrupt(format!("ballot {}: {e}", b.entry_idx)))?;
            events.push(Event::Ballot {
                index: index(b.entry_idx)?.get(),
                voter: b.voter_id,
                for_member: b.for_id,
                choice,
            });
        }
        for p in proxy::Entity::find()
            .filter(proxy::Column::ProposalId.eq(id))
            .all(&self.txn)
            .await?
        {
            events.push(Event::ProxyGranted {
                index: index(p.entry_idx)?.get(),
                grantor: p.grantor_id,
                holder: p.holder_id,
            });
            if let Some(revoked) = p.revoked_entry {
                events.push(Event::ProxyRevoked {
                    index: index(revoked)?.get(),
                    grantor: p.grantor_id,
                });
            }
        }
        events.sort_by_key(Event::index);
        Ok(events)
    }

    /// Marks these ballots as no longer counting.
    pub async fn supersede(&self, entries: &[LogIndex]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        ballot::Entity::update_many()
            .col_expr(ballot::Column::Superseded, Expr::value(true))
            .filter(ballot::Column::EntryIdx.is_in(entries.iter().map(|e| e.stored())))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Records the withdrawal of a proxy at log entry `entry`.
    pub async fn withdraw_proxy(
        &self,
        row: &ProxyRow,
        entry: LogIndex,
        at: DateTime<Utc>,
    ) -> Result<ProxyRow> {
        proxy::ActiveModel {
            entry_idx: Set(row.entry.stored()),
            revoked_entry: Set(Some(entry.stored())),
            revoked_at: Set(Some(at)),
            ..Default::default()
        }
        .update(&self.txn)
        .await?
        .try_into()
    }
}

/// Reads and writes of a group commit: each reads what a whole batch of statements
/// needs in one query, and each write is one multi-row statement.
impl WriteTxn<'_> {
    /// The recorded leaf hashes of these entries.
    pub async fn leaf_hashes_of(&self, entries: &[LogIndex]) -> Result<HashMap<LogIndex, String>> {
        let rows: Vec<(i64, String)> = log_entry::Entity::find()
            .select_only()
            .column(log_entry::Column::Idx)
            .column(log_entry::Column::LeafHash)
            .filter(log_entry::Column::Idx.is_in(entries.iter().map(|e| e.stored())))
            .into_tuple()
            .all(&self.txn)
            .await?;
        rows.into_iter()
            .map(|(entry, leaf)| Ok((index(entry)?, leaf)))
            .collect()
    }

    /// The ballots at these entries (entries that are ballots).
    pub async fn ballots_at(&self, entries: &[LogIndex]) -> Result<Vec<BallotRow>> {
        ballot::Entity::find()
            .filter(ballot::Column::EntryIdx.is_in(entries.iter().map(|e| e.stored())))
            .all(&self.txn)
            .await?
            .into_iter()
            .map(BallotRow::try_from)
            .collect()
    }

    /// The state a batch of statements is judged against, in one query (one round
    /// trip instead of five): the statuses of its proposals, which of its keys are
    /// registered and not revoked, which of its signers are suspended, which of its
    /// nonces were used and by which entry, and the ballots already cast on its
    /// proposals for its members, in log order.
    pub async fn batch_state(&self, wanted: &BatchWants<'_>) -> Result<BatchState> {
        let rows = self.txn.query_all(&batch_state_query(wanted)).await?;
        let mut state = BatchState::default();
        for row in rows {
            let kind: i32 = row.try_get_by_index(0)?;
            let missing = |what: &str| {
                Error::Corrupt(format!("a batch state row of kind {kind} lacks its {what}"))
            };
            let id = |i: usize| -> Result<Uuid> {
                row.try_get_by_index::<Option<Uuid>>(i)?
                    .ok_or_else(|| missing("id"))
            };
            let text = || -> Result<String> {
                row.try_get_by_index::<Option<String>>(4)?
                    .ok_or_else(|| missing("text"))
            };
            let entry = || -> Result<LogIndex> {
                index(
                    row.try_get_by_index::<Option<i64>>(5)?
                        .ok_or_else(|| missing("entry"))?,
                )
            };
            match kind {
                STATUS => {
                    state.statuses.insert(id(1)?, text()?.parse::<Status>()?);
                }
                UNREVOKED_KEY => {
                    state.unrevoked_keys.insert(text()?);
                }
                SUSPENDED => {
                    state.suspended.insert(id(1)?);
                }
                USED_NONCE => {
                    state.nonces.insert(text()?, entry()?);
                }
                BALLOT => state.ballots.push(StoredBallot {
                    entry: entry()?,
                    proposal: id(1)?,
                    voter: id(2)?,
                    for_member: id(3)?,
                    superseded: row
                        .try_get_by_index::<Option<bool>>(6)?
                        .ok_or_else(|| missing("superseded flag"))?,
                }),
                other => return Err(Error::Corrupt(format!("batch state row of kind {other}"))),
            }
        }
        state.ballots.sort_by_key(|b| b.entry);
        Ok(state)
    }

    /// The proxies on these proposals not withdrawn, granted by or held by any of
    /// these members.
    pub async fn active_proxies_of(
        &self,
        proposals: &[Uuid],
        members: &[Uuid],
    ) -> Result<Vec<ProxyRow>> {
        use sea_orm::Condition;
        proxy::Entity::find()
            .filter(proxy::Column::ProposalId.is_in(proposals.iter().copied()))
            .filter(proxy::Column::RevokedEntry.is_null())
            .filter(
                Condition::any()
                    .add(proxy::Column::GrantorId.is_in(members.iter().copied()))
                    .add(proxy::Column::HolderId.is_in(members.iter().copied())),
            )
            .order_by_asc(proxy::Column::EntryIdx)
            .all(&self.txn)
            .await?
            .into_iter()
            .map(ProxyRow::try_from)
            .collect()
    }

    pub async fn insert_ballots(&self, rows: &[BallotRow]) -> Result<()> {
        let models = rows.iter().map(ballot_model).collect();
        insert_chunked(&self.txn, models).await
    }

    /// Records each nonce as used by its entry.
    pub async fn record_nonces(&self, used: &[(String, LogIndex)]) -> Result<()> {
        let models = used
            .iter()
            .map(|(value, entry)| nonce::ActiveModel {
                nonce: Set(value.clone()),
                entry_idx: Set(entry.stored()),
            })
            .collect();
        insert_chunked(&self.txn, models).await
    }

    pub async fn insert_proxies(&self, rows: &[ProxyRow]) -> Result<()> {
        let models = rows.iter().map(proxy_model).collect();
        insert_chunked(&self.txn, models).await
    }
}
