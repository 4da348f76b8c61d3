use sea_orm::entity::prelude::*;

/// One event on its way to one subscription.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_seq: i64,
    /// `pending` or `delivered`.
    pub state: String,
    pub attempts: i32,
    /// Failures in a row; the retry delay doubles with each.
    pub failures: i32,
    pub next_attempt_at: DateTimeUtc,
    /// The first failure since it was queued, re-enabled or sent again: the retry
    /// window runs from here.
    pub first_failed_at: Option<DateTimeUtc>,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
