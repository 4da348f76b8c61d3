//! Proposals, ballots, proxies and the nonces that make every signed ballot and
//! proxy statement single-use.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Proposals::Table)
                    .col(uuid(Proposals::Id).primary_key())
                    .col(string(Proposals::Kind))
                    .col(string(Proposals::Status))
                    .col(string(Proposals::Title))
                    .col(text(Proposals::Spec))
                    .col(string(Proposals::Sectors))
                    .col(string(Proposals::Proposer))
                    .col(uuid_null(Proposals::ProposerMember))
                    .col(timestamp_with_time_zone(Proposals::OpensAt))
                    .col(timestamp_with_time_zone(Proposals::ClosesAt))
                    .col(blob_null(Proposals::Document))
                    .col(string_null(Proposals::Digest))
                    .col(big_integer_null(Proposals::OpenedEntry))
                    .col(big_integer_null(Proposals::ClosedEntry))
                    .col(big_integer_null(Proposals::ResultEntry))
                    .col(text_null(Proposals::Result))
                    .col(timestamp_with_time_zone(Proposals::CreatedAt))
                    .col(timestamp_with_time_zone(Proposals::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Proposals::OpenedAt))
                    .col(timestamp_with_time_zone_null(Proposals::ClosedAt))
                    .col(timestamp_with_time_zone_null(Proposals::FinalizedAt))
                    .col(timestamp_with_time_zone_null(Proposals::WithdrawnAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Ballots::Table)
                    .col(big_integer(Ballots::EntryIdx).primary_key())
                    .col(uuid(Ballots::ProposalId))
                    .col(uuid(Ballots::VoterId))
                    .col(uuid(Ballots::ForId))
                    .col(text(Ballots::Choice))
                    .col(string(Ballots::BallotHash))
                    .col(timestamp_with_time_zone(Ballots::CastAt))
                    .col(timestamp_with_time_zone(Ballots::AcceptedAt))
                    .col(boolean(Ballots::Superseded))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ballots_proposal")
                            .from(Ballots::Table, Ballots::ProposalId)
                            .to(Proposals::Table, Proposals::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ballots_proposal_for")
                    .table(Ballots::Table)
                    .col(Ballots::ProposalId)
                    .col(Ballots::ForId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Proxies::Table)
                    .col(big_integer(Proxies::EntryIdx).primary_key())
                    .col(uuid(Proxies::ProposalId))
                    .col(uuid(Proxies::GrantorId))
                    .col(uuid(Proxies::HolderId))
                    .col(timestamp_with_time_zone(Proxies::GrantedAt))
                    .col(big_integer_null(Proxies::RevokedEntry))
                    .col(timestamp_with_time_zone_null(Proxies::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_proxies_proposal")
                            .from(Proxies::Table, Proxies::ProposalId)
                            .to(Proposals::Table, Proposals::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_proxies_proposal")
                    .table(Proxies::Table)
                    .col(Proxies::ProposalId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Nonces::Table)
                    .col(string(Nonces::Nonce).primary_key())
                    .col(big_integer(Nonces::EntryIdx))
                    .to_owned(),
            )
            .await?;

        // Every checkpoint the server signed: a new one must be consistent with these.
        manager
            .create_table(
                Table::create()
                    .table(Checkpoints::Table)
                    .col(big_integer(Checkpoints::Size).primary_key())
                    .col(string(Checkpoints::RootHash))
                    .col(text(Checkpoints::Note))
                    .col(timestamp_with_time_zone(Checkpoints::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Checkpoints::Table.into_iden(),
            Nonces::Table.into_iden(),
            Proxies::Table.into_iden(),
            Ballots::Table.into_iden(),
            Proposals::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Proposals {
    Table,
    Id,
    Kind,
    Status,
    Title,
    Spec,
    Sectors,
    Proposer,
    ProposerMember,
    OpensAt,
    ClosesAt,
    Document,
    Digest,
    OpenedEntry,
    ClosedEntry,
    ResultEntry,
    Result,
    CreatedAt,
    UpdatedAt,
    OpenedAt,
    ClosedAt,
    FinalizedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum Ballots {
    Table,
    EntryIdx,
    ProposalId,
    VoterId,
    ForId,
    Choice,
    BallotHash,
    CastAt,
    AcceptedAt,
    Superseded,
}

#[derive(DeriveIden)]
enum Proxies {
    Table,
    EntryIdx,
    ProposalId,
    GrantorId,
    HolderId,
    GrantedAt,
    RevokedEntry,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Nonces {
    Table,
    Nonce,
    EntryIdx,
}

#[derive(DeriveIden)]
enum Checkpoints {
    Table,
    Size,
    RootHash,
    Note,
    CreatedAt,
}
