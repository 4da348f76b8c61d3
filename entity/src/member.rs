use sea_orm::entity::prelude::*;

/// A member board (bevoegd gezag).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub bg_number: i64,
    pub name: String,
    /// Present exactly when the board is in primary education.
    pub pupils_po: Option<i64>,
    /// Present exactly when the board is in secondary education.
    pub pupils_vo: Option<i64>,
    /// Derived from the deployment's chamber rules; stored so lists can filter on it.
    pub chamber: String,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::member_key::Entity")]
    MemberKey,
}

impl Related<super::member_key::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MemberKey.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
