use sea_orm::entity::prelude::*;

/// One period of a board's membership of the cooperative: from `starts_on` up to (not
/// including) `ends_on`. A board that leaves and rejoins has two.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub starts_on: Date,
    /// The first day the board is no longer a member.
    pub ends_on: Option<Date>,
    /// `resigned`, `terminated` or `ceased`, exactly when `ends_on` is set.
    pub end_reason: Option<String>,
    pub admitted_by: String,
    pub admitted_at: DateTimeUtc,
    pub ended_by: Option<String>,
    pub ended_at: Option<DateTimeUtc>,
    /// The log entry (`mandaat.membership.v1`) that last stated this period as it is.
    pub log_entry: Option<i64>,
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
