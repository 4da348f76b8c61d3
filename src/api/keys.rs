use base64::Engine as _;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::log::ReceiptDto;
use super::problem::ApiError;
use super::problem::{Change, OpResult, ReadOne};
use super::{ApiTags, Credentials, State, Text, allow};
use crate::access::Operation;
use crate::auth::Principal;
use crate::domain::statement::{BASE64URL, KeyId, SignedStatement};
use crate::error::Error;
use crate::service::{self, Revoker};

pub struct KeysApi;

/// A signed statement on the wire (see docs/signing.md).
#[derive(Debug, Clone, Object)]
#[oai(rename = "SignedStatement", deny_unknown_fields)]
pub struct SignedStatementDto {
    /// Base64url (unpadded) of the statement's RFC 8785 canonical JSON bytes.
    pub statement: Text,
    /// Lowercase hex SHA-256 of the signing key's 32 raw public-key bytes.
    pub key_id: Text,
    /// Base64url (unpadded) of the 64-byte Ed25519 signature over the statement bytes.
    pub signature: Text,
}

impl SignedStatementDto {
    pub fn parse(&self) -> Result<SignedStatement, Error> {
        Ok(SignedStatement::from_wire(
            &self.statement,
            &self.key_id,
            &self.signature,
        )?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "KeyStatus", rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
}

/// A member's Ed25519 public key. Keys are never deleted, so that old ballots stay
/// verifiable against the key that was valid when they were cast.
#[derive(Debug, Clone, Object)]
#[oai(rename = "MemberKey")]
pub struct MemberKeyDto {
    pub key_id: String,
    pub member_id: Uuid,
    /// Base64url (unpadded) of the 32 raw public-key bytes.
    pub public_key: String,
    #[oai(skip_serializing_if_is_none)]
    pub label: Option<String>,
    pub status: KeyStatus,
    pub registered_at: DateTime<Utc>,
    /// Index of the log entry holding the signed proof of possession.
    pub registration_entry: i64,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// `member` (a signed revocation) or `admin:<subject>`.
    #[oai(skip_serializing_if_is_none)]
    pub revoked_by: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub revocation_reason: Option<String>,
    /// Index of the log entry holding the signed revocation.
    #[oai(skip_serializing_if_is_none)]
    pub revocation_entry: Option<i64>,
    /// For the statement just accepted: proof that it is in the log.
    #[oai(skip_serializing_if_is_none)]
    pub receipt: Option<ReceiptDto>,
}

impl TryFrom<crate::store::KeyRow> for MemberKeyDto {
    type Error = Error;
    fn try_from(k: crate::store::KeyRow) -> Result<Self, Error> {
        let raw = hex::decode(&k.public_key)
            .map_err(|_| Error::Corrupt(format!("key {} is not hex", k.key_id)))?;
        Ok(MemberKeyDto {
            public_key: BASE64URL.encode(raw),
            status: if k.revoked_at.is_some() {
                KeyStatus::Revoked
            } else {
                KeyStatus::Active
            },
            key_id: k.key_id,
            member_id: k.member_id,
            label: k.label,
            registered_at: k.registered_at,
            registration_entry: k.registration_entry.stored(),
            revoked_at: k.revoked_at,
            revoked_by: k.revoked_by,
            revocation_reason: k.revocation_reason,
            revocation_entry: k
                .revocation_entry
                .map(crate::transparency::LogIndex::stored),
            receipt: None,
        })
    }
}

/// A revocation. A board sends `revocation`, a `mandaat.key-revocation.v1` statement
/// signed by one of its active keys; an admin may instead give only a `reason`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "KeyRevocation", deny_unknown_fields)]
pub struct RevokeKeyDto {
    pub revocation: Option<SignedStatementDto>,
    /// Why an admin revokes the key (ignored when `revocation` is given), without
    /// control characters.
    pub reason: Option<Text>,
}

#[derive(ApiResponse)]
enum Registered {
    /// The key is registered; its proof of possession is in the log.
    #[oai(status = 201)]
    Created(Json<MemberKeyDto>, #[oai(header = "Location")] String),
}

#[OpenApi(prefix_path = "/api/v1/members", tag = "ApiTags::Keys")]
impl KeysApi {
    /// A member's keys, active and revoked. Any role.
    #[oai(path = "/:id/keys", method = "get")]
    async fn list(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<Vec<MemberKeyDto>>, ReadOne> {
        state.authenticate(&auth).await?;
        let keys = service::member_keys(&state.store, id.0).await?;
        let keys = keys
            .into_iter()
            .map(MemberKeyDto::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Json(keys))
    }

    /// Register a key with its proof of possession: a `mandaat.key.v1` statement naming
    /// the member and the key, signed with that key. Only the board itself.
    #[oai(path = "/:id/keys", method = "post")]
    async fn register(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<SignedStatementDto>,
    ) -> OpResult<Registered, Change> {
        let who = state.authenticate(&auth).await?;
        allow(&who, Operation::RegisterKey { member: id.0 })?;
        let statement = body.parse()?;
        let now = state.clock.now();
        let (key, receipt) =
            service::register_key(&state.store, &state.log, id.0, &statement, now).await?;
        let location = format!("/api/v1/members/{}/keys/{}", id.0, key.key_id);
        let mut dto = MemberKeyDto::try_from(key)?;
        dto.receipt = Some(receipt.into());
        Ok(Registered::Created(Json(dto), location))
    }

    /// Revoke a key. The board itself (with a signed revocation) or an admin.
    #[oai(path = "/:id/keys/:key_id/revoke", method = "post")]
    async fn revoke(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        key_id: Path<String>,
        body: Json<RevokeKeyDto>,
    ) -> OpResult<Json<MemberKeyDto>, Change> {
        let who = state.authenticate(&auth).await?;
        allow(&who, Operation::RevokeKey { member: id.0 })?;
        let key_id: KeyId = key_id.0.parse().map_err(Error::from)?;
        if let Some(reason) = &body.reason
            && !crate::domain::is_plain_text(reason, false)
        {
            return Err(Error::Validation("reason must not hold control characters".into()).into());
        }
        let statement = body
            .revocation
            .as_ref()
            .map(SignedStatementDto::parse)
            .transpose()?;
        let revoker = match (&who, &statement) {
            (Principal::Admin { sub }, _) => Revoker::Admin {
                subject: sub,
                reason: body.reason.clone().map(String::from),
                signer: &state.voting.signer,
            },
            (_, Some(statement)) => Revoker::Member(statement),
            (_, None) => {
                return Err(ApiError::problem(
                    poem::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "revocation-required",
                    "a board revokes a key with a signed mandaat.key-revocation.v1 statement in `revocation`",
                ).into());
            }
        };
        let now = state.clock.now();
        let (key, receipt) =
            service::revoke_key(&state.store, &state.log, id.0, key_id, revoker, now).await?;
        let mut dto = MemberKeyDto::try_from(key)?;
        dto.receipt = Some(receipt.into());
        Ok(Json(dto))
    }
}
