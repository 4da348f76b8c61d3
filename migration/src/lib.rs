//! Database migrations. They run at every start of the service, before it listens.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_foundation;
mod m20261129_000002_voting;
mod m20261201_000003_people;
mod m20261201_000004_membership;
mod m20261201_000005_webhooks;
mod m20261201_000007_api_tokens;
mod m20261202_000008_sign_in;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_foundation::Migration),
            Box::new(m20261129_000002_voting::Migration),
            Box::new(m20261201_000003_people::Migration),
            Box::new(m20261201_000004_membership::Migration),
            Box::new(m20261201_000005_webhooks::Migration),
            Box::new(m20261201_000007_api_tokens::Migration),
            Box::new(m20261202_000008_sign_in::Migration),
        ]
    }
}
