use sea_orm::entity::prelude::*;

/// A person who signs in to act in a role: for a member board, as the secretariat
/// (admin), for a sector council or as an auditor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub email: String,
    /// admin, board, council or auditor.
    pub role: String,
    /// The member board a `board` person acts for.
    pub member_id: Option<Uuid>,
    /// The sector a `council` person reads (PO or VO).
    pub sector: Option<String>,
    /// Who invited this person (a token or person subject).
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the designation was removed; a removed person cannot sign in.
    pub removed_at: Option<DateTimeUtc>,
    pub removed_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
