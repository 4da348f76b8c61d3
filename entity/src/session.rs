use sea_orm::entity::prelude::*;

/// A person's signed-in browser session, held server-side so it can be listed and
/// ended; the cookie carries a secret whose hash is stored here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    /// Lowercase hex SHA-256 of the cookie's secret.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// How the person proved who they are: `invitation`.
    pub signed_in_with: String,
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// When the session ends if it stays idle; moved forward as it is used.
    pub expires_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    /// `sign-out` or `ended-by-admin`.
    pub end_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
