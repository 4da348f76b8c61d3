use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::problem::{Change, CreateUnique, OpResult, ReadOne, ReadQuery};
use super::{ApiTags, Credentials, State, Text, allow};
use crate::access::Operation;
use crate::domain::member::{
    BgNumber, Member, MemberError, MemberName, MemberStatus, Sector, SectorPupils,
};
use crate::domain::membership::{self, EndReason, Standing};
use crate::service::membership::Board;
use crate::service::{self, MemberChanges, NewMember};
use crate::store::MemberFilter;

pub struct MembersApi;

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;

/// An education sector: PO (primary) or VO (secondary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize, serde::Deserialize)]
#[oai(rename = "Sector")]
pub enum SectorDto {
    #[oai(rename = "PO")]
    #[serde(rename = "PO")]
    Po,
    #[oai(rename = "VO")]
    #[serde(rename = "VO")]
    Vo,
}

impl From<SectorDto> for Sector {
    fn from(s: SectorDto) -> Self {
        match s {
            SectorDto::Po => Sector::Po,
            SectorDto::Vo => Sector::Vo,
        }
    }
}

impl From<Sector> for SectorDto {
    fn from(s: Sector) -> Self {
        match s {
            Sector::Po => SectorDto::Po,
            Sector::Vo => SectorDto::Vo,
        }
    }
}

/// Whether a member may vote. A suspended member keeps its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "MemberStatus", rename_all = "lowercase")]
pub enum MemberStatusDto {
    Active,
    Suspended,
}

impl From<MemberStatusDto> for MemberStatus {
    fn from(s: MemberStatusDto) -> Self {
        match s {
            MemberStatusDto::Active => MemberStatus::Active,
            MemberStatusDto::Suspended => MemberStatus::Suspended,
        }
    }
}

impl From<MemberStatus> for MemberStatusDto {
    fn from(s: MemberStatus) -> Self {
        match s {
            MemberStatus::Active => MemberStatusDto::Active,
            MemberStatus::Suspended => MemberStatusDto::Suspended,
        }
    }
}

/// Pupils per sector; a sector is present exactly when the board is in it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Pupils", deny_unknown_fields)]
pub struct PupilsDto {
    /// Pupils in primary education (PO).
    #[oai(skip_serializing_if_is_none)]
    pub po: Option<u64>,
    /// Pupils in secondary education (VO).
    #[oai(skip_serializing_if_is_none)]
    pub vo: Option<u64>,
}

impl PupilsDto {
    fn parse(&self) -> Result<SectorPupils, MemberError> {
        SectorPupils::new(self.po, self.vo)
    }
}

/// Where a board stands in the cooperative's membership register on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "MembershipStanding", rename_all = "lowercase")]
pub enum StandingDto {
    /// A membership period covers the day.
    Member,
    /// Not a member that day, but a membership ended on or before it.
    Former,
    /// Never a member up to that day (an admission from a later date may be recorded).
    None,
}

impl From<StandingDto> for Standing {
    fn from(s: StandingDto) -> Self {
        match s {
            StandingDto::Member => Standing::Member,
            StandingDto::Former => Standing::Former,
            StandingDto::None => Standing::None,
        }
    }
}

impl From<Standing> for StandingDto {
    fn from(s: Standing) -> Self {
        match s {
            Standing::Member => StandingDto::Member,
            Standing::Former => StandingDto::Former,
            Standing::None => StandingDto::None,
        }
    }
}

/// Why a membership ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "MembershipEndReason", rename_all = "lowercase")]
pub enum EndReasonDto {
    /// The board resigned.
    Resigned,
    /// The cooperative ended the membership.
    Terminated,
    /// The board ceased to exist (a merger, a closure).
    Ceased,
}

impl From<EndReason> for EndReasonDto {
    fn from(r: EndReason) -> Self {
        match r {
            EndReason::Resigned => EndReasonDto::Resigned,
            EndReason::Terminated => EndReasonDto::Terminated,
            EndReason::Ceased => EndReasonDto::Ceased,
        }
    }
}

/// One period of membership: from `from` up to, not including, `until`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MembershipPeriod")]
pub struct PeriodDto {
    /// The first day of membership.
    pub from: NaiveDate,
    /// The first day the board is no longer a member (a resignation's effective
    /// date, as recorded); absent while the membership is open.
    #[oai(skip_serializing_if_is_none)]
    pub until: Option<NaiveDate>,
    /// Present exactly when `until` is.
    #[oai(skip_serializing_if_is_none)]
    pub end_reason: Option<EndReasonDto>,
    /// `admin:<subject>`, `cli:<user>` or `migration`.
    pub admitted_by: String,
    pub admitted_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub ended_by: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub ended_at: Option<DateTime<Utc>>,
    /// The `mandaat.membership.v1` log entry that last stated this period as it is;
    /// absent until the server has signed it (admissions from the command line are
    /// signed at the server's next start or before the next proposal opens).
    #[oai(skip_serializing_if_is_none)]
    pub log_entry: Option<u64>,
}

/// A board's membership of the cooperative.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Membership")]
pub struct MembershipDto {
    /// Where the board stands on the day asked for (`on`; default today, UTC).
    pub standing: StandingDto,
    /// Every period, oldest first.
    pub periods: Vec<PeriodDto>,
}

/// A member board (bevoegd gezag).
#[derive(Debug, Clone, Object)]
#[oai(rename = "Member")]
pub struct MemberDto {
    pub id: Uuid,
    /// DUO's bevoegd-gezag number: unique, the stable external id.
    pub bg_number: u32,
    pub name: String,
    /// Derived from `pupils`.
    pub sectors: Vec<SectorDto>,
    pub pupils: PupilsDto,
    /// Derived from the pupils by the deployment's chamber rules.
    pub chamber: String,
    /// Whether the board may vote while it is a member: a suspended member keeps its
    /// membership but is left off voter rolls.
    pub status: MemberStatusDto,
    /// The cooperative's membership register for this board.
    pub membership: MembershipDto,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MemberDto {
    fn new(board: Board, day: NaiveDate) -> Self {
        let periods: Vec<membership::Period> = board.periods.iter().map(|p| p.period).collect();
        let membership = MembershipDto {
            standing: membership::standing(&periods, day).into(),
            periods: board
                .periods
                .into_iter()
                .map(|p| PeriodDto {
                    from: p.period.from,
                    until: p.period.until,
                    end_reason: p.period.end_reason.map(Into::into),
                    admitted_by: p.admitted_by,
                    admitted_at: p.admitted_at,
                    ended_by: p.ended_by,
                    ended_at: p.ended_at,
                    log_entry: p.log_entry.map(|e| e.get()),
                })
                .collect(),
        };
        MemberDto {
            membership,
            ..board.member.into()
        }
    }
}

impl From<Member> for MemberDto {
    fn from(m: Member) -> Self {
        MemberDto {
            id: m.id,
            bg_number: m.bg_number.get(),
            name: m.name.as_str().to_owned(),
            sectors: m.pupils.sectors().into_iter().map(Into::into).collect(),
            pupils: PupilsDto {
                po: m.pupils.po(),
                vo: m.pupils.vo(),
            },
            chamber: m.chamber,
            status: m.status.into(),
            membership: MembershipDto {
                standing: StandingDto::None,
                periods: Vec::new(),
            },
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A new member board.
#[derive(Debug, Clone, Object)]
#[oai(rename = "NewMember", deny_unknown_fields)]
pub struct NewMemberDto {
    pub bg_number: i64,
    pub name: Text,
    pub pupils: PupilsDto,
    /// Defaults to `active`.
    pub status: Option<MemberStatusDto>,
}

/// Changes to a member; absent fields stay as they are. `pupils` replaces both sectors.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MemberPatch", deny_unknown_fields)]
pub struct MemberPatchDto {
    pub name: Option<Text>,
    pub pupils: Option<PupilsDto>,
    pub status: Option<MemberStatusDto>,
}

/// One page of members, ordered by bevoegd-gezag number.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MemberPage")]
pub struct MemberPage {
    pub items: Vec<MemberDto>,
    /// Members matching the filters, over all pages.
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

/// What the secretariat does to a board's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "MembershipAction", rename_all = "lowercase")]
pub enum ActionDto {
    /// Admit the board from `date` (a board that left rejoins with a new period).
    Admit,
    /// Record the board's resignation, effective on `date` (often the first day of
    /// the next financial year): from that day it is no longer a member.
    Resign,
    /// End the membership on the cooperative's decision, from `date`.
    Terminate,
    /// End the membership because the board ceased to exist (merged, closed), from `date`.
    Cease,
}

/// A change to a board's membership.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MembershipChange", deny_unknown_fields)]
pub struct MembershipChangeDto {
    pub action: ActionDto,
    /// For `admit` the first day of membership; otherwise the first day the board is
    /// no longer a member, `YYYY-MM-DD`. Stored as given.
    pub date: String,
}

impl MembershipChangeDto {
    /// A date that is not a calendar date is the client's mistake (422), not a
    /// malformed body.
    fn change(&self) -> Result<membership::Change, crate::error::Error> {
        let date = NaiveDate::parse_from_str(&self.date, "%Y-%m-%d")
            .ok()
            .filter(|_| self.date.len() == 10)
            .ok_or_else(|| {
                crate::error::Error::Validation(format!(
                    "date {:?} is not a calendar date YYYY-MM-DD",
                    self.date
                ))
            })?;
        Ok(match self.action {
            ActionDto::Admit => membership::Change::Admit(date),
            ActionDto::Resign => membership::Change::End(date, EndReason::Resigned),
            ActionDto::Terminate => membership::Change::End(date, EndReason::Terminated),
            ActionDto::Cease => membership::Change::End(date, EndReason::Ceased),
        })
    }
}

#[derive(ApiResponse)]
enum Created {
    /// The member was created.
    #[oai(status = 201)]
    Created(Json<MemberDto>, #[oai(header = "Location")] String),
}

#[OpenApi(prefix_path = "/api/v1/members", tag = "ApiTags::Members")]
impl MembersApi {
    /// List members, filtered by number, sector, chamber and status. Any role.
    #[oai(path = "/", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&State>,
        auth: Credentials,
        /// Only the member with this bevoegd-gezag number, 1 to 99999999.
        #[oai(validator(minimum(value = "1"), maximum(value = "99999999")))]
        bg_number: Query<Option<i64>>,
        /// Only members whose name contains this text (case-insensitive), 1 to 200 characters.
        #[oai(validator(min_length = 1, max_length = 200))]
        name: Query<Option<String>>,
        /// Only members in this sector.
        sector: Query<Option<SectorDto>>,
        /// Only members in this chamber.
        chamber: Query<Option<String>>,
        /// Only members with this status.
        status: Query<Option<MemberStatusDto>>,
        /// Only boards that stand so in the membership register on `on`: `member`,
        /// `former` (not a member, but was), `none` (never a member yet).
        membership: Query<Option<StandingDto>>,
        /// The day `membership` and each board's `standing` are judged on (default
        /// today, UTC).
        on: Query<Option<NaiveDate>>,
        /// Page size, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// Members to skip, at most 1,000,000.
        #[oai(validator(maximum(value = "1000000")))]
        offset: Query<Option<u64>>,
    ) -> OpResult<Json<MemberPage>, ReadQuery> {
        state.authenticate(&auth).await?;
        for (parameter, text) in [("name", &name.0), ("chamber", &chamber.0)] {
            if text
                .as_deref()
                .is_some_and(|t| !crate::domain::is_plain_text(t, false))
            {
                return Err(crate::error::Error::Validation(format!(
                    "{parameter} must not hold control characters"
                ))
                .into());
            }
        }
        let day = on.0.unwrap_or_else(|| state.clock.now().date_naive());
        let filter = MemberFilter {
            bg_number: bg_number.0.map(BgNumber::new).transpose()?,
            name: name.0,
            sector: sector.0.map(Into::into),
            chamber: chamber.0,
            status: status.0.map(Into::into),
            membership: membership.0.map(|m| (m.into(), day)),
            limit: limit.0.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
            offset: offset.0.unwrap_or(0),
        };
        let (boards, total) = service::membership::list(&state.store, &filter).await?;
        Ok(Json(MemberPage {
            items: boards.into_iter().map(|b| MemberDto::new(b, day)).collect(),
            total,
            limit: filter.limit,
            offset: filter.offset,
        }))
    }

    /// Create a member. Admin only.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&State>,
        auth: Credentials,
        body: Json<NewMemberDto>,
    ) -> OpResult<Created, CreateUnique> {
        allow(&state.authenticate(&auth).await?, Operation::ManageMembers)?;
        let new = NewMember {
            bg_number: BgNumber::new(body.bg_number)?,
            name: MemberName::new(&body.name)?,
            pupils: body.pupils.parse()?,
            status: body.status.map_or(MemberStatus::Active, Into::into),
        };
        let member =
            service::create_member(&state.store, &state.rules, new, state.clock.now()).await?;
        let location = format!("/api/v1/members/{}", member.id);
        Ok(Created::Created(Json(member.into()), location))
    }

    /// One member. Any role.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<MemberDto>, ReadOne> {
        state.authenticate(&auth).await?;
        let member = crate::service::member(&state.store, id.0).await?;
        let board = service::membership::board(&state.store, member).await?;
        Ok(Json(MemberDto::new(board, state.clock.now().date_naive())))
    }

    /// Admit a board as a member, record its resignation, or end its membership.
    /// Admin (the secretariat) only. The server signs the board's periods into the
    /// transparency log (`mandaat.membership.v1`).
    #[oai(path = "/:id/membership", method = "post")]
    async fn change_membership(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<MembershipChangeDto>,
    ) -> OpResult<Json<MemberDto>, Change> {
        let who = state.authenticate(&auth).await?;
        let now = state.clock.now();
        let board = service::membership::change(
            &state.store,
            &state.voting.signer,
            &who,
            id.0,
            body.change()?,
            now,
        )
        .await?;
        Ok(Json(MemberDto::new(board, now.date_naive())))
    }

    /// Change a member's name, pupils or status; the chamber follows. Admin only.
    #[oai(path = "/:id", method = "patch")]
    async fn patch(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<MemberPatchDto>,
    ) -> OpResult<Json<MemberDto>, Change> {
        allow(&state.authenticate(&auth).await?, Operation::ManageMembers)?;
        let parse = || -> Result<MemberChanges, MemberError> {
            Ok(MemberChanges {
                name: body
                    .name
                    .as_deref()
                    .map(|n| MemberName::new(n))
                    .transpose()?,
                pupils: body.pupils.as_ref().map(PupilsDto::parse).transpose()?,
                status: body.status.map(Into::into),
            })
        };
        let changes = parse()?;
        let now = state.clock.now();
        let member = service::update_member(&state.store, &state.rules, id.0, changes, now).await?;
        let board = service::membership::board(&state.store, member).await?;
        Ok(Json(MemberDto::new(board, now.date_naive())))
    }
}
