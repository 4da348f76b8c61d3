use sea_orm::entity::prelude::*;

/// One entry of the append-only sequence: the exact bytes of a statement that was
/// verified and accepted. `idx` is dense from 0 and is the Merkle leaf index.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "log_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i64,
    /// The statement's `type`, e.g. `mandaat.key.v1`.
    pub entry_type: String,
    /// The RFC 8785 canonical bytes that were signed.
    pub statement: Vec<u8>,
    pub key_id: String,
    pub signature: Vec<u8>,
    /// Lowercase hex SHA-256(0x00 ‖ entry bytes), recorded when the entry was accepted.
    #[sea_orm(unique)]
    pub leaf_hash: String,
    /// The member whose statement this is; none for the server's own statements.
    pub member_id: Option<Uuid>,
    /// The proposal a ballot, proxy or proposal statement belongs to.
    pub proposal_id: Option<Uuid>,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
