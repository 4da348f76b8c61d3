use sea_orm::entity::prelude::*;

/// A school (by BRIN) and the board (bevoegd gezag) it belongs to, from DUO's files.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schools")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub brin: String,
    pub bg_number: i64,
    pub name: String,
    /// PO or VO.
    pub sector: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
