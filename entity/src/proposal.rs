use sea_orm::entity::prelude::*;

/// A proposal. `spec` is the proposer's JSON; `document` the canonical frozen
/// document (spec and voter roll) from the moment it opened, `digest` its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub title: String,
    pub spec: String,
    /// "PO", "VO" or "PO,VO", for filtering.
    pub sectors: String,
    /// The token subject that drafted it.
    pub proposer: String,
    pub proposer_member: Option<Uuid>,
    pub opens_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    pub document: Option<Vec<u8>>,
    pub digest: Option<String>,
    pub opened_entry: Option<i64>,
    pub closed_entry: Option<i64>,
    /// The certified result (`mandaat.result.v1`), once final.
    pub result_entry: Option<i64>,
    /// Canonical JSON of the tally, computed once at close.
    pub result: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub opened_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub finalized_at: Option<DateTimeUtc>,
    pub withdrawn_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
