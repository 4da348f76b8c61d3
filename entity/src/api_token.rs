use sea_orm::entity::prelude::*;

/// A named, revocable API token for a machine; the bearer presents a secret whose
/// hash is stored here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// `council` or `auditor`.
    pub role: String,
    /// `PO` or `VO` for a council token.
    pub sector: Option<String>,
    /// Lowercase hex SHA-256 of the secret.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
