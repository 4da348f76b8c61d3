use sea_orm::entity::prelude::*;

/// An account at an OpenID Connect provider, bound to the person it signs in as.
/// Keyed by (issuer, subject): the provider's own stable identifier, never the e-mail.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    /// The configured provider's id it was bound through.
    pub provider: String,
    pub person_id: Uuid,
    pub created_at: DateTimeUtc,
    pub last_sign_in_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
