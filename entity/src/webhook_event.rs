use sea_orm::entity::prelude::*;

/// The outbox: one event, written in the transaction of the change that caused it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    /// Commit order, which is the order deliveries follow.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The `webhook-id` of its deliveries.
    #[sea_orm(unique)]
    pub id: Uuid,
    pub event_type: String,
    /// The sectors it concerns, comma-separated; empty for none.
    pub sectors: String,
    /// The event's `data`, JSON.
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub occurred_at: DateTimeUtc,
    /// Whether a delivery was made for every subscription that wants it.
    pub fanned_out: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
