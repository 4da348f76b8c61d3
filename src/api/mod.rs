//! The HTTP API: one `#[OpenApi]` impl per resource, thin handlers that authenticate,
//! authorise, parse into domain types, call a use case and map the result.

mod api_tokens;
mod audit;
pub mod catalogue;
pub mod document;
mod text;
pub use text::Text;
mod health;
mod keys;
pub mod log;
mod members;
pub mod metrics;
mod people;

pub use people::invitation_link;
pub mod problem;
mod proposals;
mod results;
mod sessions;
mod sign_in;
mod webhooks;

use std::sync::Arc;

use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::{OpenApiService, SecurityScheme, Tags};

use crate::auth::{Authenticator, Principal};
use crate::clock::SharedClock;
use crate::domain::member::ChamberRules;
use crate::store::Store;
use problem::{ApiError, ApiResult};

/// What every handler may use; attached to the route as poem data.
pub struct AppState {
    pub store: Store,
    pub rules: ChamberRules,
    pub auth: Authenticator,
    pub clock: SharedClock,
    pub voting: crate::service::voting::Voting,
    pub log: crate::service::log::Log,
    pub people: crate::service::people::People,
    /// The URL people use to reach this service (`--public-url`), when configured.
    pub public_url: Option<String>,
    /// Members known to exist (see `require_member`).
    pub known_members: std::sync::RwLock<std::collections::HashSet<uuid::Uuid>>,
    /// This server's Prometheus registry (see `crate::observe`).
    pub metrics: Arc<crate::observe::Metrics>,
    /// The connections open on the API's address, for the metrics.
    pub connections: crate::connection::OpenConnections,
    /// Sign-in with a school's account at the configured providers.
    pub sign_in: crate::service::sign_in::SignIn,
    /// Webhook delivery: settings, counters and the HTTP client.
    pub webhooks: Arc<crate::service::webhooks::Webhooks>,
}

pub type State = Arc<AppState>;

/// A bearer token for machines: a named API token (`mdt_…`, `POST /api/v1/api-tokens`)
/// or a JWT issued by this server (`mandaat token issue`, for bootstrapping).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerToken(Bearer);

/// A person's browser session (set by `POST /api/v1/sessions`). Writes made with it
/// must carry the header `X-Mandaat-CSRF: 1`.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "mandaat_session", key_in = "cookie")]
pub struct SessionCookie(ApiKey);

/// Either way in: a bearer token wins when both are sent.
#[derive(SecurityScheme)]
pub enum Credentials {
    Bearer(BearerToken),
    Session(SessionCookie),
}

/// The cookie that carries a session's secret.
pub const SESSION_COOKIE: &str = "mandaat_session";

/// Who is calling, and through which session if it is a person in a browser.
pub struct Caller {
    pub principal: Principal,
    pub session: Option<crate::service::people::SessionCaller>,
}

impl AppState {
    async fn authenticate(&self, credentials: &Credentials) -> ApiResult<Principal> {
        Ok(self.caller(credentials).await?.principal)
    }

    /// A member named by a token must exist. Members are never deleted, so one seen
    /// once is remembered and later requests (every ballot of a deadline rush) cost
    /// no query.
    async fn require_member(&self, member_id: uuid::Uuid) -> ApiResult<()> {
        let known = |id| {
            self.known_members
                .read()
                .is_ok_and(|known| known.contains(&id))
        };
        if known(member_id) {
            return Ok(());
        }
        match self.store.member(member_id).await {
            Ok(_) => {
                if let Ok(mut known) = self.known_members.write() {
                    known.insert(member_id);
                }
                Ok(())
            }
            Err(crate::error::Error::NotFound(_)) => {
                Err(crate::auth::AuthError::UnknownMember.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn caller(&self, credentials: &Credentials) -> ApiResult<Caller> {
        match credentials {
            Credentials::Bearer(token)
                if crate::domain::api_token::is_api_token(&token.0.token) =>
            {
                let principal = crate::service::api_tokens::authenticate(
                    &self.store,
                    &token.0.token,
                    self.clock.now(),
                )
                .await?;
                crate::observe::note_subject(principal.subject());
                Ok(Caller {
                    principal,
                    session: None,
                })
            }
            Credentials::Bearer(token) => {
                let principal = self.auth.authenticate(&token.0.token)?;
                crate::observe::note_subject(principal.subject());
                // A board token acts for a member: one that must exist (a second
                // trusted issuer need not know our members).
                if let Principal::Board { member_id, .. } = &principal {
                    self.require_member(*member_id).await?;
                }
                Ok(Caller {
                    principal,
                    session: None,
                })
            }
            Credentials::Session(cookie) => {
                let caller = self
                    .people
                    .authenticate(&cookie.0.key, self.clock.now())
                    .await?;
                crate::observe::note_subject(caller.principal.subject());
                Ok(Caller {
                    principal: caller.principal.clone(),
                    session: Some(caller),
                })
            }
        }
    }
}

#[derive(Tags)]
pub enum ApiTags {
    /// Liveness and readiness probes.
    Health,
    /// Member boards of the cooperative.
    Members,
    /// Member boards' Ed25519 public keys.
    Keys,
    /// Proposals, ballots and proxies.
    Proposals,
    /// Results for the sector councils.
    Results,
    /// The transparency log: checkpoints, entries, proofs, receipts.
    Log,
    /// The audit bundle.
    Audit,
    /// Signing in: sessions of people, and who is calling.
    Sessions,
    /// People who sign in, and their invitations (the secretariat).
    People,
    /// Running the service: Prometheus metrics.
    Operations,
    /// API tokens for machines (the secretariat).
    Tokens,
    /// Webhook subscriptions and their deliveries (the secretariat).
    Webhooks,
}

pub const API_TITLE: &str = "Mandaat";

/// The OpenAPI service; needs no state, so `mandaat openapi` can print the document.
pub type Apis = (
    health::HealthApi,
    members::MembersApi,
    keys::KeysApi,
    proposals::ProposalsApi,
    results::ResultsApi,
    log::LogApi,
    audit::AuditApi,
    sessions::SessionsApi,
    people::PeopleApi,
    metrics::MetricsApi,
    api_tokens::ApiTokensApi,
    webhooks::WebhooksApi,
    sign_in::SignInApi,
);

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            health::HealthApi,
            members::MembersApi,
            keys::KeysApi,
            proposals::ProposalsApi,
            results::ResultsApi,
            log::LogApi,
            audit::AuditApi,
            sessions::SessionsApi,
            people::PeopleApi,
            metrics::MetricsApi,
            api_tokens::ApiTokensApi,
            webhooks::WebhooksApi,
            sign_in::SignInApi,
        ),
        API_TITLE,
        env!("CARGO_PKG_VERSION"),
    )
    .summary("Governance and voting for a purchasing cooperative of Dutch school boards")
    .description(
        "Member boards propose and vote on procurement priorities and negotiation mandates \
         with ballots they sign with their own Ed25519 keys. Every error is an RFC 9457 \
         problem (application/problem+json) whose `type` is a stable URN.",
    )
    .license("EUPL-1.2")
}

/// Whether the caller may do `op` (see [`crate::access`]); a 403 if not.
fn allow(who: &Principal, op: crate::access::Operation<'_>) -> ApiResult<()> {
    crate::access::check(who, op).map_err(|denied| ApiError::forbidden(denied.0))
}

/// Where people reach the service: `--public-url`, else the host the request came to.
pub(crate) fn public_base(state: &State, request: &poem::Request) -> String {
    if let Some(url) = &state.public_url {
        return url.clone();
    }
    let host = request
        .header("host")
        .filter(|h| !h.is_empty())
        .unwrap_or("127.0.0.1:8080");
    let scheme = if request.scheme() == &poem::http::uri::Scheme::HTTPS {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}
