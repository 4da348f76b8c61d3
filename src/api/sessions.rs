//! Signing in and out, and who is calling. A person signs in by redeeming an
//! invitation; the session lives server-side and its secret travels in an HttpOnly,
//! `SameSite=Strict` cookie (see docs/web.md for the CSRF design).

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::members::SectorDto;
use super::problem::{ApiError, ApiResult};
use super::problem::{EndOwnSession, OpResult, OwnSessions, Read, SignIn};
use super::{ApiTags, Credentials, SESSION_COOKIE, State, Text};
use crate::auth::Principal;
use crate::domain::person::Person;
use crate::store::StoredSession;

pub struct SessionsApi;

/// The invitation secret from a sign-in link (`…/#/invitation/<secret>`).
#[derive(Debug, Clone, Object)]
#[oai(rename = "SignIn", deny_unknown_fields)]
pub struct SignInDto {
    pub invitation: Text,
}

/// The person behind a session.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MePerson")]
pub struct MePersonDto {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// The board a caller acts for.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MeMember")]
pub struct MeMemberDto {
    pub id: Uuid,
    pub name: String,
    pub bg_number: u32,
    pub chamber: String,
    pub sectors: Vec<SectorDto>,
}

/// The session a request came with.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MeSession")]
pub struct MeSessionDto {
    pub id: Uuid,
    /// When the session ends if it stays idle.
    pub expires_at: DateTime<Utc>,
}

/// Who is calling: the role and, for a person, who they are.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Me")]
pub struct MeDto {
    /// The token's `sub`, or the person's id for a session.
    pub subject: String,
    /// admin, board, council or auditor.
    pub role: String,
    /// `session` (a person in a browser) or `token` (a bearer token).
    pub via: String,
    #[oai(skip_serializing_if_is_none)]
    pub person: Option<MePersonDto>,
    #[oai(skip_serializing_if_is_none)]
    pub member: Option<MeMemberDto>,
    #[oai(skip_serializing_if_is_none)]
    pub sector: Option<SectorDto>,
    #[oai(skip_serializing_if_is_none)]
    pub session: Option<MeSessionDto>,
}

/// A signed-in session.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Session")]
pub struct SessionDto {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// When it ends if it stays idle.
    pub expires_at: DateTime<Utc>,
    /// How the person proved who they are: `invitation`.
    pub signed_in_with: String,
    #[oai(skip_serializing_if_is_none)]
    pub user_agent: Option<String>,
    /// Whether this is the session of the request.
    pub current: bool,
}

impl SessionDto {
    pub fn new(s: &StoredSession, current: Option<Uuid>) -> Self {
        SessionDto {
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            signed_in_with: s.signed_in_with.clone(),
            user_agent: s.user_agent.clone(),
            current: current == Some(s.id),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "SessionList")]
pub struct SessionListDto {
    pub items: Vec<SessionDto>,
}

#[derive(ApiResponse)]
enum SignedIn {
    /// Signed in: the session cookie is set.
    #[oai(status = 201)]
    Created(Json<MeDto>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
enum SignedOut {
    /// Signed out: the session has ended and the cookie is cleared.
    #[oai(status = 204)]
    NoContent(#[oai(header = "Set-Cookie")] String),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// Who is calling: role, person, board or sector. Any signed-in caller.
    #[oai(path = "/me", method = "get")]
    async fn me(&self, state: Data<&State>, auth: Credentials) -> OpResult<Json<MeDto>, Read> {
        let caller = state.caller(&auth).await?;
        let me = match &caller.session {
            Some(session) => {
                me(
                    &state,
                    &session.principal,
                    Some(&session.person),
                    Some(&session.session),
                )
                .await?
            }
            None => me(&state, &caller.principal, None, None).await?,
        };
        Ok(Json(me))
    }

    /// Sign in with an invitation: the invitation is used up and a session opens,
    /// carried by an HttpOnly cookie. Anyone holding a valid invitation.
    #[oai(path = "/sessions", method = "post")]
    async fn sign_in(
        &self,
        state: Data<&State>,
        request: &Request,
        body: Json<SignInDto>,
    ) -> OpResult<SignedIn, SignIn> {
        let user_agent = request.header("user-agent");
        let opened = state
            .people
            .sign_in(&body.invitation, user_agent, state.clock.now())
            .await?;
        let principal = crate::service::people::principal_of(&opened.person);
        let me = me(
            &state,
            &principal,
            Some(&opened.person),
            Some(&opened.session),
        )
        .await?;
        let cookie = session_cookie(&state, request, Some(opened.secret.as_str()));
        Ok(SignedIn::Created(Json(me), cookie))
    }

    /// The caller's own live sessions. A signed-in person.
    #[oai(path = "/sessions", method = "get")]
    async fn list(
        &self,
        state: Data<&State>,
        auth: Credentials,
    ) -> OpResult<Json<SessionListDto>, OwnSessions> {
        let session = person_session(&state, &auth).await?;
        let sessions = state
            .people
            .sessions_of(session.person.id, state.clock.now())
            .await?;
        Ok(Json(SessionListDto {
            items: sessions
                .iter()
                .map(|s| SessionDto::new(s, Some(session.session.id)))
                .collect(),
        }))
    }

    /// Sign out: ends this session and clears its cookie. A signed-in person.
    #[oai(path = "/sessions/current", method = "delete")]
    async fn sign_out(
        &self,
        state: Data<&State>,
        request: &Request,
        auth: Credentials,
    ) -> OpResult<SignedOut, EndOwnSession> {
        let session = person_session(&state, &auth).await?;
        state
            .people
            .sign_out(session.session.id, state.clock.now())
            .await?;
        Ok(SignedOut::NoContent(session_cookie(&state, request, None)))
    }
}

/// The session behind a request; a bearer token has none.
async fn person_session(
    state: &State,
    auth: &Credentials,
) -> ApiResult<crate::service::people::SessionCaller> {
    state.caller(auth).await?.session.ok_or_else(|| {
        ApiError::problem(
            poem::http::StatusCode::BAD_REQUEST,
            "not-a-session",
            "this operation is for a person signed in with a session cookie, not a bearer token",
        )
    })
}

async fn me(
    state: &State,
    principal: &Principal,
    person: Option<&Person>,
    session: Option<&StoredSession>,
) -> ApiResult<MeDto> {
    let (member, sector) = match principal {
        Principal::Board { member_id, .. } => {
            let m = state.store.member(*member_id).await?;
            let member = MeMemberDto {
                id: m.id,
                name: m.name.as_str().to_owned(),
                bg_number: m.bg_number.get(),
                chamber: m.chamber.clone(),
                sectors: m.pupils.sectors().into_iter().map(Into::into).collect(),
            };
            (Some(member), None)
        }
        Principal::Council { sector, .. } => (None, Some((*sector).into())),
        Principal::Admin { .. } | Principal::Auditor { .. } => (None, None),
    };
    Ok(MeDto {
        subject: principal.subject().to_owned(),
        role: principal.role().to_string(),
        via: if session.is_some() {
            "session"
        } else {
            "token"
        }
        .to_owned(),
        person: person.map(|p| MePersonDto {
            id: p.id,
            name: p.name.as_str().to_owned(),
            email: p.email.as_str().to_owned(),
        }),
        member,
        sector,
        session: session.map(|s| MeSessionDto {
            id: s.id,
            expires_at: s.expires_at,
        }),
    })
}

/// Whether people reach the service over https (then cookies are `Secure`).
pub(super) fn is_https(state: &State, request: &Request) -> bool {
    state
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"))
        || request.scheme() == &poem::http::uri::Scheme::HTTPS
}

/// The `Set-Cookie` value that sets (or, without a secret, clears) the session
/// cookie. `Secure` when the service is public over https or this request came over TLS.
pub(super) fn session_cookie(state: &State, request: &Request, secret: Option<&str>) -> String {
    let secure = if is_https(state, request) {
        "; Secure"
    } else {
        ""
    };
    match secret {
        // No Max-Age: the server decides when a session ends (idle timeout).
        Some(secret) => {
            format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict{secure}")
        }
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}
