use sea_orm::entity::prelude::*;

/// An Ed25519 public key of a member board. Never deleted: old ballots must stay
/// verifiable against the key that was valid when they were cast.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_keys")]
pub struct Model {
    /// Lowercase hex SHA-256 of the 32 raw public-key bytes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: String,
    pub member_id: Uuid,
    /// Lowercase hex of the 32 raw public-key bytes.
    pub public_key: String,
    pub label: Option<String>,
    pub registered_at: DateTimeUtc,
    /// The log entry holding the signed proof of possession.
    pub registration_entry: i64,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<String>,
    pub revocation_reason: Option<String>,
    /// The log entry holding the signed revocation, when the board revoked it itself.
    pub revocation_entry: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::member::Entity",
        from = "Column::MemberId",
        to = "super::member::Column::Id"
    )]
    Member,
}

impl Related<super::member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Member.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
