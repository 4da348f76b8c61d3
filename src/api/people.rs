//! People and invitations: the secretariat invites a person to act as a board, an
//! admin, a council or an auditor, and can end every session of a person.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::members::SectorDto;
use super::problem::{Change, OpResult, ReadQueryRestricted, Restricted};
use super::sessions::{SessionDto, SessionListDto};
use super::{ApiTags, Credentials, State, Text, allow, public_base};
use crate::access::Operation;
use crate::domain::person::{Designation, Email, Person, PersonName, invitation_validity};
use crate::service::people::{IssuedInvitation, NewPerson};
use crate::store::PeopleFilter;

pub struct PeopleApi;

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;

/// What a person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PersonRole", rename_all = "lowercase")]
pub enum RoleDto {
    /// Acts for one member board: registers its keys, proposes, votes.
    Board,
    /// The secretariat.
    Admin,
    /// A sector council: reads its sector's results.
    Council,
    /// Reads everything, changes nothing.
    Auditor,
}

impl RoleDto {
    fn as_str(self) -> &'static str {
        match self {
            RoleDto::Board => "board",
            RoleDto::Admin => "admin",
            RoleDto::Council => "council",
            RoleDto::Auditor => "auditor",
        }
    }

    /// The designation this role makes with its claims, which must agree.
    pub fn designation(
        self,
        member_id: Option<Uuid>,
        sector: Option<SectorDto>,
    ) -> Result<Designation, crate::domain::person::PersonError> {
        Designation::new(self.as_str(), member_id, sector.map(Into::into))
    }
}

/// A person to invite. `member_id` for a board person, `sector` for a council person.
#[derive(Debug, Clone, Object)]
#[oai(rename = "NewInvitation", deny_unknown_fields)]
pub struct NewInvitationDto {
    /// 1 to 200 characters.
    pub name: Text,
    pub email: Text,
    pub role: RoleDto,
    #[oai(skip_serializing_if_is_none)]
    pub member_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub sector: Option<SectorDto>,
    /// How long the link can be used: 1 to 30 days (default 7).
    #[oai(skip_serializing_if_is_none)]
    pub valid_days: Option<i64>,
}

/// A new link for a person already in the register.
#[derive(Debug, Clone, Object, Default)]
#[oai(rename = "Reinvitation", deny_unknown_fields)]
pub struct ReinvitationDto {
    /// 1 to 30 days (default 7).
    #[oai(skip_serializing_if_is_none)]
    pub valid_days: Option<i64>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "Person")]
pub struct PersonDto {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: RoleDto,
    #[oai(skip_serializing_if_is_none)]
    pub member_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub sector: Option<SectorDto>,
    pub created_at: DateTime<Utc>,
    /// Sessions that have neither ended nor expired.
    pub active_sessions: u64,
    /// When the designation was removed: the person can no longer sign in.
    #[oai(skip_serializing_if_is_none)]
    pub removed_at: Option<DateTime<Utc>>,
    /// The accounts at sign-in providers that sign this person in.
    pub accounts: Vec<AccountDto>,
}

/// An account at a sign-in provider, bound to a person.
#[derive(Debug, Clone, Object)]
#[oai(rename = "PersonAccount")]
pub struct AccountDto {
    pub provider: String,
    pub provider_name: String,
}

impl PersonDto {
    pub fn new(p: &Person, active_sessions: u64, accounts: Vec<AccountDto>) -> Self {
        let role = match p.designation {
            Designation::Admin => RoleDto::Admin,
            Designation::Board { .. } => RoleDto::Board,
            Designation::Council { .. } => RoleDto::Council,
            Designation::Auditor => RoleDto::Auditor,
        };
        PersonDto {
            id: p.id,
            name: p.name.as_str().to_owned(),
            email: p.email.as_str().to_owned(),
            role,
            member_id: p.designation.member_id(),
            sector: p.designation.sector().map(Into::into),
            created_at: p.created_at,
            active_sessions,
            removed_at: p.removed_at,
            accounts,
        }
    }
}

/// A sign-in link, shown once: only its hash is stored.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Invitation")]
pub struct InvitationDto {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// The link to give the person; it signs them in once.
    pub link: String,
    /// The secret inside the link.
    pub token: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "InvitedPerson")]
pub struct InvitedDto {
    pub person: PersonDto,
    pub invitation: InvitationDto,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "PersonPage")]
pub struct PersonPage {
    pub items: Vec<PersonDto>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

/// Nothing to say when removing a designation.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Removal", deny_unknown_fields)]
pub struct RemovalDto {}

#[derive(Debug, Clone, Object)]
#[oai(rename = "SessionsEnded")]
pub struct EndedDto {
    /// How many live sessions were ended.
    pub ended: u64,
}

#[derive(ApiResponse)]
enum Invited {
    /// The person is in the register; give them the link.
    #[oai(status = 201)]
    Created(Json<InvitedDto>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::People")]
impl PeopleApi {
    /// Invite a person: adds them to the register with their role and returns a
    /// single-use sign-in link. Admin only.
    #[oai(path = "/invitations", method = "post")]
    async fn invite(
        &self,
        state: Data<&State>,
        request: &Request,
        auth: Credentials,
        body: Json<NewInvitationDto>,
    ) -> OpResult<Invited, Change> {
        let by = state.authenticate(&auth).await?;
        allow(&by, Operation::ManagePeople)?;
        let new = NewPerson {
            name: PersonName::new(&body.name)?,
            email: Email::new(&body.email)?,
            designation: body.role.designation(body.member_id, body.sector)?,
        };
        let validity = invitation_validity(body.valid_days)?;
        let (person, invitation) = state
            .people
            .invite(&by, new, validity, state.clock.now())
            .await?;
        Ok(invited(&state, request, &person, 0, invitation))
    }

    /// People in the register, by name. Admin only.
    #[oai(path = "/people", method = "get")]
    async fn list(
        &self,
        state: Data<&State>,
        auth: Credentials,
        /// Only people with this role.
        role: Query<Option<RoleDto>>,
        /// Only people acting for this member board.
        member_id: Query<Option<Uuid>>,
        /// Page size, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// People to skip, at most 1,000,000.
        #[oai(validator(maximum(value = "1000000")))]
        offset: Query<Option<u64>>,
    ) -> OpResult<Json<PersonPage>, ReadQueryRestricted> {
        allow(&state.authenticate(&auth).await?, Operation::ManagePeople)?;
        let filter = PeopleFilter {
            role: role.0.map(|r| r.as_str().to_owned()),
            member_id: member_id.0,
            limit: limit.0.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
            offset: offset.0.unwrap_or(0),
        };
        let (people, total) = state.people.list(&filter, state.clock.now()).await?;
        let ids: Vec<Uuid> = people.iter().map(|(p, _)| p.id).collect();
        let mut accounts = accounts_of(&state, &ids).await?;
        Ok(Json(PersonPage {
            items: people
                .iter()
                .map(|(p, n)| PersonDto::new(p, *n, accounts.remove(&p.id).unwrap_or_default()))
                .collect(),
            total,
            limit: filter.limit,
            offset: filter.offset,
        }))
    }

    /// A new single-use sign-in link for a person in the register (lost link, new
    /// device). Earlier links stay valid until used or expired. Admin only.
    #[oai(path = "/people/:id/invitations", method = "post")]
    async fn reinvite(
        &self,
        state: Data<&State>,
        request: &Request,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<ReinvitationDto>,
    ) -> OpResult<Invited, Change> {
        let by = state.authenticate(&auth).await?;
        allow(&by, Operation::ManagePeople)?;
        let validity = invitation_validity(body.valid_days)?;
        let now = state.clock.now();
        let (person, invitation) = state.people.reinvite(&by, id.0, validity, now).await?;
        let live = state.people.sessions_of(id.0, now).await?.len() as u64;
        Ok(invited(&state, request, &person, live, invitation))
    }

    /// A person's live sessions. Admin only.
    #[oai(path = "/people/:id/sessions", method = "get")]
    async fn sessions(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<SessionListDto>, Restricted> {
        let caller = state.caller(&auth).await?;
        allow(&caller.principal, Operation::ManagePeople)?;
        let current = caller.session.map(|s| s.session.id);
        let sessions = state.people.sessions_of(id.0, state.clock.now()).await?;
        Ok(Json(SessionListDto {
            items: sessions
                .iter()
                .map(|s| SessionDto::new(s, current))
                .collect(),
        }))
    }

    /// Remove a person's designation: they can no longer sign in (by invitation or
    /// with an account), and their sessions end at once. Removing a removed person
    /// answers them as they are. Admin only.
    #[oai(path = "/people/:id/remove", method = "post")]
    async fn remove(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        _body: Json<RemovalDto>,
    ) -> OpResult<Json<PersonDto>, Change> {
        let by = state.authenticate(&auth).await?;
        allow(&by, Operation::ManagePeople)?;
        let person = state.people.remove(&by, id.0, state.clock.now()).await?;
        let accounts = accounts_of(&state, &[person.id]).await?.remove(&person.id);
        Ok(Json(PersonDto::new(
            &person,
            0,
            accounts.unwrap_or_default(),
        )))
    }

    /// End every session of a person at once; their next request is refused. Admin only.
    #[oai(path = "/people/:id/sessions/end", method = "post")]
    async fn end_sessions(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<EndedDto>, Restricted> {
        allow(&state.authenticate(&auth).await?, Operation::ManagePeople)?;
        let ended = state
            .people
            .end_sessions_of(id.0, state.clock.now())
            .await?;
        Ok(Json(EndedDto { ended }))
    }
}

/// The accounts that sign these people in, by person.
async fn accounts_of(
    state: &State,
    people: &[Uuid],
) -> crate::error::Result<std::collections::HashMap<Uuid, Vec<AccountDto>>> {
    let mut by_person: std::collections::HashMap<Uuid, Vec<AccountDto>> = Default::default();
    for account in state.store.accounts_of(people).await? {
        by_person
            .entry(account.person_id)
            .or_default()
            .push(AccountDto {
                provider_name: super::sign_in::provider_name(state, &account.provider),
                provider: account.provider,
            });
    }
    Ok(by_person)
}

/// The answer to an invitation: the person and their link, shown this once.
fn invited(
    state: &State,
    request: &Request,
    person: &Person,
    active_sessions: u64,
    invitation: IssuedInvitation,
) -> Invited {
    let base = public_base(state, request);
    Invited::Created(Json(InvitedDto {
        // An invitation binds no account; the person may have some already.
        person: PersonDto::new(person, active_sessions, Vec::new()),
        invitation: InvitationDto {
            id: invitation.id,
            expires_at: invitation.expires_at,
            link: invitation_link(&base, invitation.secret.as_str()),
            token: invitation.secret.as_str().to_owned(),
        },
    }))
}

/// The link a person opens. The secret sits in the fragment, which browsers never
/// send to a server or in a Referer, so it stays out of access logs.
pub fn invitation_link(base: &str, secret: &str) -> String {
    format!("{}/#/invitation/{secret}", base.trim_end_matches('/'))
}
