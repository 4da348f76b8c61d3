//! API tokens for machines: the secretariat creates a named token for a council's or
//! an auditor's system, sees when each was last used, and revokes it. A token is
//! checked against the database on every request, so a revocation holds from the
//! next request on, on every server sharing the database.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::access::{self, Operation};
use crate::auth::{AuthError, CredentialError, Principal};
use crate::domain::api_token::{
    ApiTokenGrant, ApiTokenName, ApiTokenRefusal, ApiTokenSecret, check_usable, needs_touch,
};
use crate::domain::person::SecretHash;
use crate::error::{Error, Result};
use crate::store::{NewApiToken, Store, StoredApiToken};

/// What the `sub` of an API token's caller is: recorded wherever a subject is.
pub fn subject_of(id: Uuid) -> String {
    format!("api-token:{id}")
}

/// A token to create, as the secretariat enters it.
pub struct NewToken {
    pub name: ApiTokenName,
    pub grant: ApiTokenGrant,
    /// `None`: valid until revoked.
    pub validity: Option<Duration>,
}

/// Creates a token; its secret is returned once and never stored.
pub async fn create(
    store: &Store,
    by: &Principal,
    new: NewToken,
    now: DateTime<Utc>,
) -> Result<(StoredApiToken, ApiTokenSecret)> {
    access::check(by, Operation::ManageApiTokens)?;
    let secret = ApiTokenSecret::generate().map_err(Error::internal)?;
    let stored = store
        .insert_api_token(NewApiToken {
            id: Uuid::new_v4(),
            name: &new.name,
            grant: new.grant,
            token_hash: &secret.hash(),
            created_by: by.subject(),
            created_at: now,
            expires_at: new.validity.map(|v| now + v),
        })
        .await?;
    Ok((stored, secret))
}

pub async fn list(store: &Store, by: &Principal) -> Result<Vec<StoredApiToken>> {
    access::check(by, Operation::ManageApiTokens)?;
    store.api_tokens().await
}

pub async fn get(store: &Store, by: &Principal, id: Uuid) -> Result<StoredApiToken> {
    access::check(by, Operation::ManageApiTokens)?;
    store.api_token(id).await
}

/// Revokes a token. Revoking it again answers the token as first revoked, so a
/// client that lost the answer may simply repeat the request.
pub async fn revoke(
    store: &Store,
    by: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<StoredApiToken> {
    access::check(by, Operation::ManageApiTokens)?;
    store.revoke_api_token(id, by.subject(), now).await
}

/// The caller behind a presented API token, recording its use (at most once a minute).
pub async fn authenticate(
    store: &Store,
    presented: &str,
    now: DateTime<Utc>,
) -> std::result::Result<Principal, CredentialError> {
    let token = store
        .api_token_by_hash(&SecretHash::of(presented))
        .await?
        .ok_or(AuthError::ApiToken(ApiTokenRefusal::Unknown))?;
    check_usable(token.revoked_at, token.expires_at, now).map_err(AuthError::ApiToken)?;
    if needs_touch(token.last_used_at, now) {
        store.touch_api_token(token.id, now).await?;
    }
    let sub = subject_of(token.id);
    Ok(match token.grant {
        ApiTokenGrant::Council { sector } => Principal::Council { sub, sector },
        ApiTokenGrant::Auditor => Principal::Auditor { sub },
    })
}
