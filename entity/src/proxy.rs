use sea_orm::entity::prelude::*;

/// A proxy (volmacht) for one proposal; its grant is the log entry `entry_idx`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proxies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_idx: i64,
    pub proposal_id: Uuid,
    pub grantor_id: Uuid,
    pub holder_id: Uuid,
    pub granted_at: DateTimeUtc,
    pub revoked_entry: Option<i64>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
