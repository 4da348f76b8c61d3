use sea_orm::entity::prelude::*;

/// One HTTP request of a delivery, and how it went.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub delivery_id: Uuid,
    /// 1 for the first attempt of the delivery.
    pub number: i32,
    pub started_at: DateTimeUtc,
    pub duration_ms: i64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i32>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
