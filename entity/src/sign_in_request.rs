use sea_orm::entity::prelude::*;

/// A first sign-in by an account nobody designated yet, with what its provider said,
/// awaiting the secretariat's decision.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub provider: String,
    pub name: String,
    pub email: Option<String>,
    /// Entree's BRIN (`nlEduPersonHomeOrganizationId`) or SURFconext's
    /// `schac_home_organization`, as the provider gave it.
    pub home_organization: Option<String>,
    /// pending, approved or rejected.
    pub status: String,
    pub created_at: DateTimeUtc,
    /// The latest sign-in attempt by this account.
    pub last_seen_at: DateTimeUtc,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    /// The person an approval created.
    pub person_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
