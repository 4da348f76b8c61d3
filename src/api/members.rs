use chrono::{DateTime, Utc};
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
    pub status: MemberStatusDto,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
        let filter = MemberFilter {
            bg_number: bg_number.0.map(BgNumber::new).transpose()?,
            name: name.0,
            sector: sector.0.map(Into::into),
            chamber: chamber.0,
            status: status.0.map(Into::into),
            limit: limit.0.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
            offset: offset.0.unwrap_or(0),
        };
        let (members, total) = crate::service::members(&state.store, &filter).await?;
        Ok(Json(MemberPage {
            items: members.into_iter().map(Into::into).collect(),
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
        Ok(Json(
            crate::service::member(&state.store, id.0).await?.into(),
        ))
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
        let member =
            service::update_member(&state.store, &state.rules, id.0, changes, state.clock.now())
                .await?;
        Ok(Json(member.into()))
    }
}
