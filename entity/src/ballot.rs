use sea_orm::entity::prelude::*;

/// An accepted ballot; its signed bytes are the log entry `entry_idx`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ballots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_idx: i64,
    pub proposal_id: Uuid,
    pub voter_id: Uuid,
    pub for_id: Uuid,
    /// Canonical JSON of the choice.
    pub choice: String,
    /// Lowercase hex SHA-256 of the signed statement bytes.
    pub ballot_hash: String,
    pub cast_at: DateTimeUtc,
    pub accepted_at: DateTimeUtc,
    /// A later ballot for the same member (or its own, over its holder's) replaced it.
    pub superseded: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
