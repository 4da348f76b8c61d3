//! Signing in with a school's own account (OpenID Connect), and the secretariat's
//! decisions on accounts nobody designated yet. See docs/sign-in.md.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::members::SectorDto;
use super::people::{PersonDto, RoleDto};
use super::problem::{Change, OpResult, Public, ReadQueryRestricted, SignInCallback, StartSignIn};
use super::{ApiTags, Credentials, State, Text, public_base};
use crate::domain::person::{Email, PersonName};
use crate::domain::sign_in::RequestStatus;
use crate::service::sign_in::{self, Approval, Callback};
use crate::store::StoredSignInRequest;

pub struct SignInApi;

/// The cookie that binds a sign-in in progress to the browser that started it.
pub const FLOW_COOKIE: &str = "mandaat_sign_in";
/// The path the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/api/v1/sign-in/callback";

/// A provider people can sign in with.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SignInProvider")]
pub struct ProviderDto {
    /// Used in the sign-in path.
    pub id: String,
    /// For the button: "Sign in with …".
    pub display_name: String,
}

/// Starting a sign-in; with `invitation`, the account is bound to the invited person.
#[derive(Debug, Clone, Object)]
#[oai(rename = "StartSignIn", deny_unknown_fields)]
pub struct StartDto {
    /// The secret of an invitation link (`…/#/invitation/<secret>`) to accept.
    #[oai(skip_serializing_if_is_none)]
    pub invitation: Option<Text>,
}

/// Where to send the browser next.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SignInStarted")]
pub struct StartedDto {
    /// The provider's authorisation URL, with `state`, `nonce` and a PKCE challenge.
    pub authorization_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SignInRequestStatus", rename_all = "lowercase")]
pub enum StatusDto {
    Pending,
    Approved,
    Rejected,
}

impl From<StatusDto> for RequestStatus {
    fn from(s: StatusDto) -> Self {
        match s {
            StatusDto::Pending => RequestStatus::Pending,
            StatusDto::Approved => RequestStatus::Approved,
            StatusDto::Rejected => RequestStatus::Rejected,
        }
    }
}

impl From<RequestStatus> for StatusDto {
    fn from(s: RequestStatus) -> Self {
        match s {
            RequestStatus::Pending => StatusDto::Pending,
            RequestStatus::Approved => StatusDto::Approved,
            RequestStatus::Rejected => StatusDto::Rejected,
        }
    }
}

/// The school a request's BRIN names and its board, from DUO's files (read by
/// `mandaat members import`); `member_id` when that board is in the register.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SuggestedBoard")]
pub struct SuggestedBoardDto {
    pub school_name: String,
    pub bg_number: u32,
    #[oai(skip_serializing_if_is_none)]
    pub member_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub member_name: Option<String>,
}

/// A first sign-in by an account nobody designated yet, with what its provider said.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SignInRequest")]
pub struct SignInRequestDto {
    pub id: Uuid,
    pub provider: String,
    pub provider_name: String,
    pub issuer: String,
    /// The provider's stable identifier of the account (with `issuer`, the key).
    pub subject: String,
    pub name: String,
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Entree Federatie's BRIN, or SURFconext's home organisation domain.
    #[oai(skip_serializing_if_is_none)]
    pub home_organization: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub suggested_board: Option<SuggestedBoardDto>,
    pub status: StatusDto,
    pub created_at: DateTime<Utc>,
    /// The account's latest sign-in attempt.
    pub last_seen_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub decided_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub decided_by: Option<String>,
    /// The person an approval added.
    #[oai(skip_serializing_if_is_none)]
    pub person_id: Option<Uuid>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "SignInRequestList")]
pub struct SignInRequestListDto {
    /// The latest sign-in attempt first.
    pub items: Vec<SignInRequestDto>,
}

/// The secretariat's approval: the role (with its board or sector) and, to correct
/// what the provider said, the name and e-mail.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SignInApproval", deny_unknown_fields)]
pub struct ApprovalDto {
    pub role: RoleDto,
    /// The member board a `board` person acts for.
    #[oai(skip_serializing_if_is_none)]
    pub member_id: Option<Uuid>,
    /// The sector a `council` person reads.
    #[oai(skip_serializing_if_is_none)]
    pub sector: Option<SectorDto>,
    /// Default: the name the provider gave.
    #[oai(skip_serializing_if_is_none)]
    pub name: Option<Text>,
    /// Default: the e-mail address the provider gave (required when it gave none).
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<Text>,
}

/// Nothing to say when rejecting.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SignInRejection", deny_unknown_fields)]
pub struct RejectionDto {}

#[derive(ApiResponse)]
enum StartResponse {
    /// Send the browser to `authorization_url`; the cookie binds the sign-in to it.
    #[oai(status = 200)]
    Ok(Json<StartedDto>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
enum CallbackResponse {
    /// The browser goes to the web client: `#/signin/done` (a session cookie is
    /// set), `#/signin/pending` (a request awaits the secretariat) or
    /// `#/signin/failed/<reason>`.
    #[oai(status = 303)]
    SeeOther(
        #[oai(header = "Location")] String,
        #[oai(header = "Set-Cookie")] String,
    ),
}

#[derive(ApiResponse)]
enum Approved {
    /// The person is in the register and their account signs them in.
    #[oai(status = 201)]
    Created(Json<PersonDto>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Sessions")]
impl SignInApi {
    /// The providers people can sign in with; empty when only invitation links are
    /// the way in. Anyone.
    #[oai(path = "/sign-in/providers", method = "get")]
    async fn providers(&self, state: Data<&State>) -> OpResult<Json<Vec<ProviderDto>>, Public> {
        Ok(Json(
            state
                .sign_in
                .providers()
                .map(|p| ProviderDto {
                    id: p.id.clone(),
                    display_name: p.display_name.clone(),
                })
                .collect(),
        ))
    }

    /// Start signing in with a provider (optionally accepting an invitation with the
    /// account): answers the provider's URL to send the browser to. Anyone.
    #[oai(path = "/sign-in/providers/:id", method = "post")]
    async fn start(
        &self,
        state: Data<&State>,
        request: &Request,
        id: Path<String>,
        body: Json<StartDto>,
    ) -> OpResult<StartResponse, StartSignIn> {
        let redirect_uri = format!("{}{CALLBACK_PATH}", public_base(&state, request));
        let started = state
            .sign_in
            .start(
                &state.people,
                &id.0,
                body.invitation.as_ref().map(|t| t.as_str()),
                redirect_uri,
                state.clock.now(),
            )
            .await?;
        let cookie = flow_cookie(&state, request, Some(&started.state));
        Ok(StartResponse::Ok(
            Json(StartedDto {
                authorization_url: started.authorization_url,
            }),
            cookie,
        ))
    }

    /// Where the provider sends the browser back. Finishes the sign-in and sends the
    /// browser on to the web client. Anyone (the `state` and the cookie must match).
    #[oai(path = "/sign-in/callback", method = "get")]
    async fn callback(
        &self,
        state: Data<&State>,
        request: &Request,
        /// The authorisation code.
        code: Query<Option<String>>,
        /// The `state` the sign-in started with.
        #[oai(name = "state")]
        flow_state: Query<Option<String>>,
        /// The provider's error code, when it refused.
        error: Query<Option<String>>,
        error_description: Query<Option<String>>,
    ) -> OpResult<CallbackResponse, SignInCallback> {
        let cookie_state = request
            .cookie()
            .get(FLOW_COOKIE)
            .map(|c| c.value_str().to_owned());
        let finished = state
            .sign_in
            .finish(
                &state.people,
                Callback {
                    state: flow_state.0.as_deref(),
                    cookie_state: cookie_state.as_deref(),
                    code: code.0.as_deref(),
                    error: error.0.as_deref(),
                    error_description: error_description.0.as_deref(),
                    user_agent: request.header("user-agent"),
                },
                state.clock.now(),
            )
            .await?;
        let location = format!(
            "{}/{}",
            public_base(&state, request),
            finished.outcome.web_route()
        );
        let cookie = match &finished.session {
            Some(opened) => {
                super::sessions::session_cookie(&state, request, Some(opened.secret.as_str()))
            }
            None => flow_cookie(&state, request, None),
        };
        Ok(CallbackResponse::SeeOther(location, cookie))
    }

    /// Sign-in requests with this status (default `pending`), the latest attempt
    /// first. Admin only.
    #[oai(path = "/sign-in-requests", method = "get")]
    async fn requests(
        &self,
        state: Data<&State>,
        auth: Credentials,
        status: Query<Option<StatusDto>>,
    ) -> OpResult<Json<SignInRequestListDto>, ReadQueryRestricted> {
        let by = state.authenticate(&auth).await?;
        let status = status.0.unwrap_or(StatusDto::Pending).into();
        let requests = sign_in::requests(&state.store, &by, status).await?;
        let mut items = Vec::with_capacity(requests.len());
        for request in &requests {
            items.push(request_dto(&state, request).await?);
        }
        Ok(Json(SignInRequestListDto { items }))
    }

    /// Approve a pending request: the person is added with this role, and their
    /// account signs them in from now on. Admin only.
    #[oai(path = "/sign-in-requests/:id/approve", method = "post")]
    async fn approve(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<ApprovalDto>,
    ) -> OpResult<Approved, Change> {
        let by = state.authenticate(&auth).await?;
        let approval = Approval {
            designation: body.role.designation(body.member_id, body.sector)?,
            name: body.name.as_ref().map(|n| PersonName::new(n)).transpose()?,
            email: body.email.as_ref().map(|e| Email::new(e)).transpose()?,
        };
        let (request, person) =
            sign_in::approve(&state.store, &by, id.0, approval, state.clock.now()).await?;
        let accounts = vec![super::people::AccountDto {
            provider: request.provider.clone(),
            provider_name: provider_name(&state, &request.provider),
        }];
        Ok(Approved::Created(Json(PersonDto::new(
            &person, 0, accounts,
        ))))
    }

    /// Reject a pending request: the account's sign-ins are refused from now on.
    /// Admin only.
    #[oai(path = "/sign-in-requests/:id/reject", method = "post")]
    async fn reject(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        _body: Json<RejectionDto>,
    ) -> OpResult<Json<SignInRequestDto>, Change> {
        let by = state.authenticate(&auth).await?;
        let request = sign_in::reject(&state.store, &by, id.0, state.clock.now()).await?;
        Ok(Json(request_dto(&state, &request).await?))
    }
}

pub fn provider_name(state: &State, id: &str) -> String {
    state
        .sign_in
        .display_name(id)
        .map_or_else(|| id.to_owned(), str::to_owned)
}

async fn request_dto(
    state: &State,
    r: &StoredSignInRequest,
) -> crate::error::Result<SignInRequestDto> {
    // Looked up now, so that a school map or register imported after the request
    // still helps the secretariat decide.
    let suggested_board = sign_in::school_of(&state.store, &r.claims)
        .await?
        .map(|school| SuggestedBoardDto {
            school_name: school.school_name,
            bg_number: school.bg_number.get(),
            member_id: school.member.as_ref().map(|m| m.id),
            member_name: school.member.map(|m| m.name.as_str().to_owned()),
        });
    Ok(SignInRequestDto {
        id: r.id,
        provider: r.provider.clone(),
        provider_name: provider_name(state, &r.provider),
        issuer: r.claims.issuer.clone(),
        subject: r.claims.subject.clone(),
        name: r.claims.display_name(),
        email: r.claims.email.clone(),
        home_organization: r.claims.home_organization.clone(),
        suggested_board,
        status: r.status.into(),
        created_at: r.created_at,
        last_seen_at: r.last_seen_at,
        decided_at: r.decided_at,
        decided_by: r.decided_by.clone(),
        person_id: r.person_id,
    })
}

/// Sets (or clears) the cookie holding a sign-in's `state`. `SameSite=Lax`: the
/// provider's redirect back is a cross-site navigation, which `Strict` would strip.
fn flow_cookie(state: &State, request: &Request, value: Option<&str>) -> String {
    let secure = if super::sessions::is_https(state, request) {
        "; Secure"
    } else {
        ""
    };
    let max_age = match value {
        Some(_) => crate::domain::sign_in::FLOW_LIFETIME.num_seconds(),
        None => 0,
    };
    format!(
        "{FLOW_COOKIE}={}; Path=/api/v1/sign-in/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        value.unwrap_or("")
    )
}
