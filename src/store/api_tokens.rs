//! API tokens: rows in, records out. The secret is never stored, only its hash.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use entity::api_token;

use super::Store;
use crate::domain::api_token::{ApiTokenGrant, ApiTokenName};
use crate::domain::member::Sector;
use crate::domain::person::SecretHash;
use crate::error::{Error, Result};

/// An API token as stored.
#[derive(Debug, Clone)]
pub struct StoredApiToken {
    pub id: Uuid,
    pub name: ApiTokenName,
    pub grant: ApiTokenGrant,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// A new token to store: its record and the hash of its secret.
pub struct NewApiToken<'a> {
    pub id: Uuid,
    pub name: &'a ApiTokenName,
    pub grant: ApiTokenGrant,
    pub token_hash: &'a SecretHash,
    pub created_by: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn insert_api_token(&self, new: NewApiToken<'_>) -> Result<StoredApiToken> {
        let row = api_token::ActiveModel {
            id: Set(new.id),
            name: Set(new.name.as_str().to_owned()),
            role: Set(new.grant.role().to_owned()),
            sector: Set(new.grant.sector().map(|s| s.as_str().to_owned())),
            token_hash: Set(new.token_hash.as_str().to_owned()),
            created_by: Set(new.created_by.to_owned()),
            created_at: Set(new.created_at),
            expires_at: Set(new.expires_at),
            last_used_at: Set(None),
            revoked_at: Set(None),
            revoked_by: Set(None),
        }
        .insert(&self.db)
        .await?;
        to_record(row)
    }

    /// Every token, revoked ones included, newest first.
    pub async fn api_tokens(&self) -> Result<Vec<StoredApiToken>> {
        api_token::Entity::find()
            .order_by_desc(api_token::Column::CreatedAt)
            .order_by_asc(api_token::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_record)
            .collect()
    }

    pub async fn api_token(&self, id: Uuid) -> Result<StoredApiToken> {
        api_token::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("API token {id}")))
            .and_then(to_record)
    }

    pub async fn api_token_by_hash(&self, hash: &SecretHash) -> Result<Option<StoredApiToken>> {
        api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(hash.as_str()))
            .one(&self.db)
            .await?
            .map(to_record)
            .transpose()
    }

    /// Records a use of a token that is not revoked.
    pub async fn touch_api_token(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Revokes a token; a token already revoked keeps its first revocation.
    pub async fn revoke_api_token(
        &self,
        id: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredApiToken> {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(now))
            .col_expr(api_token::Column::RevokedBy, Expr::value(by))
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        self.api_token(id).await
    }
}

fn to_record(row: api_token::Model) -> Result<StoredApiToken> {
    let corrupt = |what: String| Error::Corrupt(format!("API token {}: {what}", row.id));
    let sector = row
        .sector
        .as_deref()
        .map(str::parse::<Sector>)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(StoredApiToken {
        id: row.id,
        name: ApiTokenName::new(&row.name).map_err(|e| corrupt(e.to_string()))?,
        grant: ApiTokenGrant::new(&row.role, sector).map_err(|e| corrupt(e.to_string()))?,
        created_by: row.created_by,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
        revoked_by: row.revoked_by,
    })
}
