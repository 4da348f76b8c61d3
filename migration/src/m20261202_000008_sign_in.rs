//! Signing in with a school's own account (OpenID Connect), and designations that
//! can be removed.
//!
//! - `accounts`: an account at a provider, keyed by (issuer, subject), bound to the
//!   person it signs in as. Never keyed by e-mail.
//! - `sign_in_requests`: a first sign-in by an unknown account, with what the provider
//!   said, until the secretariat approves or rejects it.
//! - `sign_in_flows`: a sign-in in progress (state, nonce, PKCE verifier), kept in the
//!   database so that any server of several can finish it; used once.
//! - `schools`: BRIN → board, from DUO's files, to suggest a board on a request.
//! - `people.removed_at`: a removed designation; the person can no longer sign in.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(uuid(Accounts::Id).primary_key())
                    .col(string(Accounts::Issuer))
                    .col(string(Accounts::Subject))
                    .col(string(Accounts::Provider))
                    .col(uuid(Accounts::PersonId))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .col(timestamp_with_time_zone_null(Accounts::LastSignInAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("accounts_issuer_subject")
                    .table(Accounts::Table)
                    .col(Accounts::Issuer)
                    .col(Accounts::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("accounts_person")
                    .table(Accounts::Table)
                    .col(Accounts::PersonId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SignInRequests::Table)
                    .col(uuid(SignInRequests::Id).primary_key())
                    .col(string(SignInRequests::Issuer))
                    .col(string(SignInRequests::Subject))
                    .col(string(SignInRequests::Provider))
                    .col(string(SignInRequests::Name))
                    .col(string_null(SignInRequests::Email))
                    .col(string_null(SignInRequests::HomeOrganization))
                    // pending, approved or rejected.
                    .col(string(SignInRequests::Status))
                    .col(timestamp_with_time_zone(SignInRequests::CreatedAt))
                    .col(timestamp_with_time_zone(SignInRequests::LastSeenAt))
                    .col(string_null(SignInRequests::DecidedBy))
                    .col(timestamp_with_time_zone_null(SignInRequests::DecidedAt))
                    .col(uuid_null(SignInRequests::PersonId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sign_in_requests_issuer_subject")
                    .table(SignInRequests::Table)
                    .col(SignInRequests::Issuer)
                    .col(SignInRequests::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SignInFlows::Table)
                    .col(string(SignInFlows::StateHash).primary_key())
                    .col(string(SignInFlows::Provider))
                    .col(string(SignInFlows::Nonce))
                    .col(string(SignInFlows::PkceVerifier))
                    // The redirect URI the authorisation request named; the token
                    // request must name the same.
                    .col(string(SignInFlows::RedirectUri))
                    .col(uuid_null(SignInFlows::InvitationId))
                    .col(timestamp_with_time_zone(SignInFlows::CreatedAt))
                    .col(timestamp_with_time_zone(SignInFlows::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Schools::Table)
                    .col(string(Schools::Brin).primary_key())
                    .col(big_integer(Schools::BgNumber))
                    .col(string(Schools::Name))
                    // PO or VO.
                    .col(string(Schools::Sector))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .add_column(timestamp_with_time_zone_null(People::RemovedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(People::Table)
                    .add_column(string_null(People::RemovedBy))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [People::RemovedBy, People::RemovedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(People::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Schools::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SignInFlows::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SignInRequests::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Accounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Issuer,
    Subject,
    Provider,
    PersonId,
    CreatedAt,
    LastSignInAt,
}

#[derive(DeriveIden)]
enum SignInRequests {
    Table,
    Id,
    Issuer,
    Subject,
    Provider,
    Name,
    Email,
    HomeOrganization,
    Status,
    CreatedAt,
    LastSeenAt,
    DecidedBy,
    DecidedAt,
    PersonId,
}

#[derive(DeriveIden)]
enum SignInFlows {
    Table,
    StateHash,
    Provider,
    Nonce,
    PkceVerifier,
    RedirectUri,
    InvitationId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Schools {
    Table,
    Brin,
    BgNumber,
    Name,
    Sector,
}

#[derive(DeriveIden)]
enum People {
    Table,
    RemovedAt,
    RemovedBy,
}
