//! The HTTP API: one `#[OpenApi]` impl per resource, thin handlers that authenticate,
//! authorise, parse into domain types, call a use case and map the result.

mod audit;
mod health;
mod keys;
pub mod log;
mod members;
pub mod problem;
mod proposals;
mod results;

use std::sync::Arc;

use poem_openapi::auth::Bearer;
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
}

pub type State = Arc<AppState>;

/// A JWT access token issued by this server (`mandaat token issue`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerToken(Bearer);

impl AppState {
    fn authenticate(&self, token: &BearerToken) -> ApiResult<Principal> {
        Ok(self.auth.authenticate(&token.0.token)?)
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

fn require_admin(who: &Principal) -> ApiResult<()> {
    match who {
        Principal::Admin { .. } => Ok(()),
        other => Err(ApiError::forbidden(format!(
            "only an admin may do this; this token's role is {}",
            other.role()
        ))),
    }
}
