//! API tokens for machines: the secretariat creates, lists and revokes them.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::members::SectorDto;
use super::problem::{Create, OpResult, ReadRestricted, Restricted, Step};
use super::{ApiTags, Credentials, State, Text};
use crate::domain::api_token::{ApiTokenGrant, ApiTokenName, validity};
use crate::service::api_tokens::{self, NewToken};
use crate::store::StoredApiToken;

pub struct ApiTokensApi;

/// Whom a token acts as. Tokens only read: boards vote with their own keys and
/// people sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ApiTokenRole", rename_all = "lowercase")]
pub enum ApiTokenRoleDto {
    /// A sector council's system: reads its sector's results.
    Council,
    /// An auditor's system: reads everything, changes nothing.
    Auditor,
}

impl ApiTokenRoleDto {
    fn as_str(self) -> &'static str {
        match self {
            ApiTokenRoleDto::Council => "council",
            ApiTokenRoleDto::Auditor => "auditor",
        }
    }
}

/// A token to create. `sector` for a council token, and only then.
#[derive(Debug, Clone, Object)]
#[oai(rename = "NewApiToken", deny_unknown_fields)]
pub struct NewApiTokenDto {
    /// What the token is for, as the secretariat will recognise it: 1 to 100 characters.
    pub name: Text,
    pub role: ApiTokenRoleDto,
    #[oai(skip_serializing_if_is_none)]
    pub sector: Option<SectorDto>,
    /// Days until it expires, 1 to 730; left out, it is valid until revoked.
    #[oai(skip_serializing_if_is_none)]
    pub valid_days: Option<i64>,
}

/// An API token as the secretariat sees it; never its secret.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ApiToken")]
pub struct ApiTokenDto {
    pub id: Uuid,
    pub name: String,
    pub role: ApiTokenRoleDto,
    #[oai(skip_serializing_if_is_none)]
    pub sector: Option<SectorDto>,
    /// The caller's subject when the token is used: `api-token:<id>`.
    pub subject: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (recorded at most once a minute).
    #[oai(skip_serializing_if_is_none)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_by: Option<String>,
}

impl From<&StoredApiToken> for ApiTokenDto {
    fn from(t: &StoredApiToken) -> Self {
        ApiTokenDto {
            id: t.id,
            name: t.name.as_str().to_owned(),
            role: match t.grant {
                ApiTokenGrant::Council { .. } => ApiTokenRoleDto::Council,
                ApiTokenGrant::Auditor => ApiTokenRoleDto::Auditor,
            },
            sector: t.grant.sector().map(Into::into),
            subject: api_tokens::subject_of(t.id),
            created_by: t.created_by.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            revoked_by: t.revoked_by.clone(),
        }
    }
}

/// A new token and its secret, shown this once: only a hash of it is stored.
#[derive(Debug, Clone, Object)]
#[oai(rename = "IssuedApiToken")]
pub struct IssuedApiTokenDto {
    pub token: ApiTokenDto,
    /// The bearer secret (`mdt_…`), for the `Authorization: Bearer` header.
    pub secret: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "ApiTokenList")]
pub struct ApiTokenListDto {
    /// Newest first, revoked ones included.
    pub items: Vec<ApiTokenDto>,
}

#[derive(ApiResponse)]
enum Issued {
    /// The token; give its secret to the system that will use it.
    #[oai(status = 201)]
    Created(Json<IssuedApiTokenDto>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Tokens")]
impl ApiTokensApi {
    /// Create a named API token for a council's or an auditor's system. Its secret is
    /// in this answer only. Admin only.
    #[oai(path = "/api-tokens", method = "post")]
    async fn create(
        &self,
        state: Data<&State>,
        auth: Credentials,
        body: Json<NewApiTokenDto>,
    ) -> OpResult<Issued, Create> {
        let by = state.authenticate(&auth).await?;
        let new = NewToken {
            name: ApiTokenName::new(&body.name)?,
            grant: ApiTokenGrant::new(body.role.as_str(), body.sector.map(Into::into))?,
            validity: validity(body.valid_days)?,
        };
        let (token, secret) = api_tokens::create(&state.store, &by, new, state.clock.now()).await?;
        Ok(Issued::Created(Json(IssuedApiTokenDto {
            token: (&token).into(),
            secret: secret.as_str().to_owned(),
        })))
    }

    /// Every API token with its last use, newest first, revoked ones included. Admin only.
    #[oai(path = "/api-tokens", method = "get")]
    async fn list(
        &self,
        state: Data<&State>,
        auth: Credentials,
    ) -> OpResult<Json<ApiTokenListDto>, ReadRestricted> {
        let by = state.authenticate(&auth).await?;
        let tokens = api_tokens::list(&state.store, &by).await?;
        Ok(Json(ApiTokenListDto {
            items: tokens.iter().map(Into::into).collect(),
        }))
    }

    /// One API token. Admin only.
    #[oai(path = "/api-tokens/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<ApiTokenDto>, Restricted> {
        let by = state.authenticate(&auth).await?;
        let token = api_tokens::get(&state.store, &by, id.0).await?;
        Ok(Json((&token).into()))
    }

    /// Revoke an API token: it is refused from the next request on. Revoking a
    /// revoked token answers it as first revoked. Admin only.
    #[oai(path = "/api-tokens/:id/revoke", method = "post")]
    async fn revoke(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<ApiTokenDto>, Step> {
        let by = state.authenticate(&auth).await?;
        let token = api_tokens::revoke(&state.store, &by, id.0, state.clock.now()).await?;
        Ok(Json((&token).into()))
    }
}
