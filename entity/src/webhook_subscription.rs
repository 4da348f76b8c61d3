use sea_orm::entity::prelude::*;

/// Where an admin asked events to be sent, which ones, and the secret they are signed with.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    /// Event types, comma-separated.
    pub events: String,
    /// `PO` or `VO`: only events concerning this sector; none for every event.
    pub sector: Option<String>,
    pub description: String,
    /// `whsec_` and the base64 of the key: HMAC signing needs the key itself.
    pub secret: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTimeUtc>,
    /// The last event's `seq` when it was created; it hears only later events.
    pub after_event: i64,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
