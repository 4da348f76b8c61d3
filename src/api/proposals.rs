use base64::Engine as _;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Any;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::SignedStatementDto;
use super::log::ReceiptDto;
use super::members::SectorDto;
use super::problem::ApiResult;
use super::problem::{Change, Create, OpResult, Read, ReadResult, Restricted, Step};
use super::{ApiTags, Credentials, State, Text, allow};
use crate::access::Operation;
use crate::domain::lifecycle::Status;
use crate::domain::proposal::ProposalSpec;
use crate::domain::statement::BASE64URL;
use crate::error::Error;
use crate::service::voting::{self, Proposal};
use crate::transparency::LogIndex;

pub struct ProposalsApi;

/// What kind of decision a proposal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename = "ProposalKind", rename_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub enum KindDto {
    /// What the cooperative may agree with a supplier; members vote and set parameters.
    Mandate,
    /// Options that members rank (Schulze method).
    Priority,
    /// A plain yes/no/abstain question.
    Resolution,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename = "DataLocation")]
pub enum DataLocationDto {
    #[oai(rename = "NL")]
    #[serde(rename = "NL")]
    Nl,
    #[oai(rename = "EU")]
    #[serde(rename = "EU")]
    Eu,
    #[oai(rename = "EEA")]
    #[serde(rename = "EEA")]
    Eea,
}

/// The Privacyconvenant's demands.
#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename = "PrivacyDemands", deny_unknown_fields)]
pub struct PrivacyDto {
    /// Version of the model data processing agreement, e.g. "4.0".
    pub model_dpa_version: Text,
    pub data_location: DataLocationDto,
    pub no_secondary_use: bool,
    pub sub_processors_listed: bool,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize, Default)]
#[oai(rename = "Demands", deny_unknown_fields, skip_serializing_if_is_none)]
pub struct DemandsDto {
    /// Modules that must be licensable one by one.
    #[oai(default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modular_licensing: Vec<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyDto>,
    /// Longest contract term accepted, in months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_term_months: Option<u32>,
}

/// A value members set with their yes vote; the agreed value is the weighted median.
#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename = "Parameter", deny_unknown_fields)]
pub struct ParameterDto {
    /// Identifier: a-z, 0-9, '-', '_'.
    pub name: Text,
    pub label: Text,
    /// e.g. `basis-points`.
    pub unit: Text,
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename = "Mandate", deny_unknown_fields)]
pub struct MandateDto {
    pub supplier: Text,
    pub product: Text,
    #[oai(default)]
    #[serde(default)]
    pub demands: DemandsDto,
    #[oai(default)]
    #[serde(default)]
    pub parameters: Vec<ParameterDto>,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename = "PriorityOption", deny_unknown_fields)]
pub struct OptionDto {
    pub id: Text,
    pub label: Text,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename = "Priority", deny_unknown_fields)]
pub struct PriorityDto {
    /// 2 to 20 options.
    pub options: Vec<OptionDto>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename = "Weighting", rename_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub enum WeightingDto {
    /// Every member one vote (the legal default).
    OneMemberOneVote,
    /// A member weighs its pupils in the sectors concerned.
    Pupils,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename = "MajorityKind", rename_all = "kebab-case")]
#[serde(rename_all = "kebab-case")]
pub enum MajorityKindDto {
    /// yes / (yes + no) must exceed the fraction (simple majority: "1/2").
    MoreThan,
    /// yes / (yes + no) must reach the fraction (qualified majority: "2/3").
    AtLeast,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename = "Majority", deny_unknown_fields)]
pub struct MajorityDto {
    pub kind: MajorityKindDto,
    /// An exact fraction "n/d".
    pub fraction: Text,
}

/// Who votes and what decides.
#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename = "Electorate", deny_unknown_fields)]
pub struct ElectorateDto {
    pub sectors: Vec<SectorDto>,
    pub weighting: WeightingDto,
    /// Share of the eligible weight that must vote, abstentions included: "n/d".
    pub quorum: Text,
    pub majority: MajorityDto,
    /// A majority of the chambers that voted must also be in favour.
    #[oai(default)]
    #[serde(default)]
    pub chamber_rule: bool,
}

/// A proposal as its proposer writes it. Exactly one of `mandate` and `priority`
/// accompanies those kinds; a resolution has neither.
#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(
    rename = "ProposalSpec",
    deny_unknown_fields,
    skip_serializing_if_is_none
)]
pub struct SpecDto {
    pub title: Text,
    #[oai(default)]
    #[serde(default)]
    pub description: Text,
    pub kind: KindDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandate: Option<MandateDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<PriorityDto>,
    pub electorate: ElectorateDto,
    /// Start of the voting window.
    pub opens_at: DateTime<Utc>,
    /// End of the voting window: at most 30 days after `opens_at`.
    pub closes_at: DateTime<Utc>,
}

impl SpecDto {
    /// The API and the domain share one JSON shape, so serde converts between them
    /// and the domain's constructors validate.
    fn parse(&self) -> Result<ProposalSpec, Error> {
        let value = serde_json::to_value(self).map_err(Error::internal)?;
        let spec: ProposalSpec =
            serde_json::from_value(value).map_err(|e| Error::Validation(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    fn from_spec(spec: &ProposalSpec) -> Result<Self, Error> {
        let value = serde_json::to_value(spec).map_err(|e| Error::Corrupt(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| Error::Corrupt(e.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ProposalStatus", rename_all = "lowercase")]
pub enum StatusDto {
    Draft,
    Open,
    Closed,
    Final,
    Withdrawn,
}

impl From<Status> for StatusDto {
    fn from(s: Status) -> Self {
        match s {
            Status::Draft => StatusDto::Draft,
            Status::Open => StatusDto::Open,
            Status::Closed => StatusDto::Closed,
            Status::Final => StatusDto::Final,
            Status::Withdrawn => StatusDto::Withdrawn,
        }
    }
}

/// A proposal with its lifecycle. While open, only how many have voted is shown.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Proposal", skip_serializing_if_is_none)]
pub struct ProposalDto {
    pub id: Uuid,
    pub status: StatusDto,
    pub spec: SpecDto,
    /// Token subject of the proposer.
    pub proposer: String,
    pub proposer_member: Option<Uuid>,
    /// SHA-256 (hex) of the frozen document; from opening on.
    pub digest: Option<String>,
    /// Base64url of the frozen document's canonical bytes, signed by the server's
    /// log key: the spec and the voter roll. From opening on; not in lists.
    pub document: Option<String>,
    pub opened_entry: Option<i64>,
    pub closed_entry: Option<i64>,
    /// Members on the voter roll; from opening on.
    pub eligible_members: Option<u64>,
    /// Members who have voted (themselves or by proxy); from opening on.
    pub voted_members: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// The answer to an accepted ballot.
#[derive(Debug, Clone, Object)]
#[oai(rename = "BallotReceipt")]
pub struct BallotReceiptDto {
    pub proposal: Uuid,
    /// Position of the ballot in the append-only sequence of entries.
    pub entry: i64,
    /// Lowercase hex SHA-256 of the signed ballot statement bytes.
    pub ballot_hash: String,
    pub voter: Uuid,
    #[oai(rename = "for")]
    pub for_member: Uuid,
    /// False when the grantor's own ballot already overrides this proxy ballot.
    pub counts: bool,
    pub accepted_at: DateTime<Utc>,
    /// Proof that the ballot is in the log, checkable offline.
    pub receipt: ReceiptDto,
}

/// A proxy (volmacht) for one proposal.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Proxy", skip_serializing_if_is_none)]
pub struct ProxyDto {
    /// The log entry of the grant.
    pub entry: i64,
    pub proposal: Uuid,
    pub grantor: Uuid,
    pub holder: Uuid,
    pub granted_at: DateTime<Utc>,
    pub revoked_entry: Option<i64>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// For the statement just accepted: proof that it is in the log.
    #[oai(skip_serializing_if_is_none)]
    pub receipt: Option<ReceiptDto>,
}

impl From<crate::store::ProxyRow> for ProxyDto {
    fn from(p: crate::store::ProxyRow) -> Self {
        ProxyDto {
            entry: p.entry.stored(),
            proposal: p.proposal_id,
            grantor: p.grantor_id,
            holder: p.holder_id,
            granted_at: p.granted_at,
            revoked_entry: p.revoked_entry.map(LogIndex::stored),
            revoked_at: p.revoked_at,
            receipt: None,
        }
    }
}

#[derive(ApiResponse)]
enum Created {
    /// The draft was created.
    #[oai(status = 201)]
    Created(Json<ProposalDto>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Accepted {
    /// Accepted and appended to the log.
    #[oai(status = 201)]
    Created(Json<BallotReceiptDto>),
    /// This exact signed ballot was accepted before (sent again after a lost answer):
    /// nothing was appended; its original entry, with a fresh receipt.
    #[oai(status = 200)]
    AcceptedBefore(Json<BallotReceiptDto>),
}

#[derive(ApiResponse)]
enum ProxyAccepted {
    /// The proxy was granted or withdrawn.
    #[oai(status = 201)]
    Created(Json<ProxyDto>),
}

/// One proposal as shown, with its turnout.
async fn to_dto(state: &State, p: Proposal, with_document: bool) -> ApiResult<ProposalDto> {
    let voted = match p.status {
        Status::Draft => 0,
        _ => voting::turnout(&state.store, p.row.id).await?,
    };
    dto(state, p, with_document, voted)
}

/// `voted`: how many members voted (ignored for a draft, which has no roll yet).
fn dto(state: &State, p: Proposal, with_document: bool, voted: u64) -> ApiResult<ProposalDto> {
    let (eligible_members, voted_members) = match voting::frozen_of(&state.voting, &p)? {
        Some(frozen) if p.status != Status::Draft => {
            (Some(frozen.document.voter_roll.len() as u64), Some(voted))
        }
        _ => (None, None),
    };
    Ok(ProposalDto {
        id: p.row.id,
        status: p.status.into(),
        spec: SpecDto::from_spec(&p.spec)?,
        proposer: p.row.proposer,
        proposer_member: p.row.proposer_member,
        digest: p.row.digest,
        document: p
            .row
            .document
            .filter(|_| with_document)
            .map(|d| BASE64URL.encode(d)),
        opened_entry: p.row.opened_entry.map(LogIndex::stored),
        closed_entry: p.row.closed_entry.map(LogIndex::stored),
        eligible_members,
        voted_members,
        created_at: p.row.created_at,
        updated_at: p.row.updated_at,
        opened_at: p.row.opened_at,
        closed_at: p.row.closed_at,
        finalized_at: p.row.finalized_at,
        withdrawn_at: p.row.withdrawn_at,
    })
}

#[OpenApi(prefix_path = "/api/v1/proposals", tag = "ApiTags::Proposals")]
impl ProposalsApi {
    /// Proposals this token may see, newest first.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&State>,
        auth: Credentials,
    ) -> OpResult<Json<Vec<ProposalDto>>, Read> {
        let who = state.authenticate(&auth).await?;
        let listed = voting::proposals_for(&state.store, &who).await?;
        let out = listed
            .into_iter()
            .map(|(p, voted)| dto(&state, p, false, voted))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(Json(out))
    }

    /// Draft a proposal. Boards and admins.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&State>,
        auth: Credentials,
        body: Json<SpecDto>,
    ) -> OpResult<Created, Create> {
        let who = state.authenticate(&auth).await?;
        // The role before the body's content, as everywhere (docs/problems.md).
        allow(&who, Operation::DraftProposal)?;
        let spec = body.parse()?;
        let p = voting::create_proposal(&state.store, spec, &who, state.clock.now()).await?;
        let location = format!("/api/v1/proposals/{}", p.row.id);
        Ok(Created::Created(
            Json(to_dto(&state, p, true).await?),
            location,
        ))
    }

    /// One proposal.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<ProposalDto>, Restricted> {
        let who = state.authenticate(&auth).await?;
        let p = voting::proposal_for(&state.store, &who, id.0).await?;
        Ok(Json(to_dto(&state, p, true).await?))
    }

    /// Replace a draft's spec. Its proposer board or an admin; never after opening.
    #[oai(path = "/:id", method = "patch")]
    async fn patch(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<SpecDto>,
    ) -> OpResult<Json<ProposalDto>, Change> {
        let who = state.authenticate(&auth).await?;
        voting::may_edit(&state.store, &who, id.0).await?;
        let spec = body.parse()?;
        let p = voting::update_proposal(&state.store, &who, id.0, spec, state.clock.now()).await?;
        Ok(Json(to_dto(&state, p, true).await?))
    }

    /// Open a draft: freeze its document and voter roll, and start accepting ballots. Admin.
    #[oai(path = "/:id/open", method = "post")]
    async fn open(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<ProposalDto>, Step> {
        let who = state.authenticate(&auth).await?;
        let now = state.clock.now();
        let p = voting::open_proposal(&state.store, &state.voting, &who, id.0, now).await?;
        Ok(Json(to_dto(&state, p, true).await?))
    }

    /// Close an open proposal after its window and compute the result. Admin.
    #[oai(path = "/:id/close", method = "post")]
    async fn close(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<ProposalDto>, Step> {
        let who = state.authenticate(&auth).await?;
        let now = state.clock.now();
        let p = voting::close_proposal(&state.store, &state.voting, &who, id.0, now).await?;
        Ok(Json(to_dto(&state, p, true).await?))
    }

    /// Withdraw a draft or an open proposal; its ballots are never counted. Admin.
    #[oai(path = "/:id/withdraw", method = "post")]
    async fn withdraw(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<ProposalDto>, Step> {
        let who = state.authenticate(&auth).await?;
        let now = state.clock.now();
        let p = voting::withdraw_proposal(&state.store, &state.voting, &who, id.0, now).await?;
        Ok(Json(to_dto(&state, p, true).await?))
    }

    /// Finalise a closed proposal: the server signs its certified result
    /// (`mandaat.result.v1`) and appends it to the log. Admin.
    #[oai(path = "/:id/finalize", method = "post")]
    async fn finalize(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<ProposalDto>, Step> {
        let who = state.authenticate(&auth).await?;
        let now = state.clock.now();
        let p = voting::finalize_proposal(&state.store, &state.voting, &who, id.0, now).await?;
        Ok(Json(to_dto(&state, p, true).await?))
    }

    /// Cast a ballot: a `mandaat.ballot.v1` statement signed by the voting board
    /// (docs/voting.md). The last accepted ballot of a member counts.
    #[oai(path = "/:id/ballots", method = "post")]
    async fn cast(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<SignedStatementDto>,
    ) -> OpResult<Accepted, Change> {
        let who = state.authenticate(&auth).await?;
        let statement = body.parse()?;
        let now = state.clock.now();
        let voting::Cast { ballot: r, receipt } = voting::cast(
            &state.store,
            &state.voting,
            &state.log,
            &who,
            id.0,
            &statement,
            now,
        )
        .await?;
        let answer = if r.replayed {
            Accepted::AcceptedBefore
        } else {
            Accepted::Created
        };
        Ok(answer(Json(BallotReceiptDto {
            proposal: r.proposal,
            entry: r.entry.stored(),
            ballot_hash: r.ballot_hash,
            voter: r.voter,
            for_member: r.for_member,
            counts: r.counted_now,
            accepted_at: r.accepted_at,
            receipt: receipt.into(),
        })))
    }

    /// Grant (`mandaat.proxy.v1`) or withdraw (`mandaat.proxy-revocation.v1`) a proxy,
    /// signed by the grantor. A holder holds at most the configured number (default 2).
    #[oai(path = "/:id/proxies", method = "post")]
    async fn proxy(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<SignedStatementDto>,
    ) -> OpResult<ProxyAccepted, Change> {
        let who = state.authenticate(&auth).await?;
        let statement = body.parse()?;
        let now = state.clock.now();
        let (p, receipt) = voting::proxy(
            &state.store,
            &state.voting,
            &state.log,
            &who,
            id.0,
            &statement,
            now,
        )
        .await?;
        let mut dto = ProxyDto::from(p);
        dto.receipt = Some(receipt.into());
        Ok(ProxyAccepted::Created(Json(dto)))
    }

    /// Proxies of a proposal: admins and auditors see all, a board those it gave or holds.
    #[oai(path = "/:id/proxies", method = "get")]
    async fn proxies(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<Vec<ProxyDto>>, Restricted> {
        let who = state.authenticate(&auth).await?;
        let proxies = voting::proxies_for(&state.store, &who, id.0).await?;
        Ok(Json(proxies.into_iter().map(Into::into).collect()))
    }

    /// The full tally of a closed or final proposal (docs/voting.md). Refused while
    /// voting is open. Councils of its sectors, boards on its voter roll, admins, auditors.
    #[oai(path = "/:id/result", method = "get")]
    async fn result(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<Any<serde_json::Value>>, ReadResult> {
        let who = state.authenticate(&auth).await?;
        let result = voting::result_for(&state.store, &state.voting, &who, id.0).await?;
        Ok(Json(Any(
            serde_json::to_value(result).map_err(crate::error::Error::internal)?
        )))
    }
}
