//! Member boards, their Ed25519 keys, the server's own keys, and the append-only
//! sequence of signed entries that the transparency log is built on.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServerKeys::Table)
                    .col(string(ServerKeys::Purpose).primary_key())
                    .col(string(ServerKeys::PublicKey))
                    .col(timestamp_with_time_zone(ServerKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Members::Table)
                    .col(uuid(Members::Id).primary_key())
                    .col(big_integer_uniq(Members::BgNumber))
                    .col(string(Members::Name))
                    .col(big_integer_null(Members::PupilsPo))
                    .col(big_integer_null(Members::PupilsVo))
                    .col(string(Members::Chamber))
                    .col(string(Members::Status))
                    .col(timestamp_with_time_zone(Members::CreatedAt))
                    .col(timestamp_with_time_zone(Members::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_members_chamber")
                    .table(Members::Table)
                    .col(Members::Chamber)
                    .to_owned(),
            )
            .await?;

        // Entries are never updated or deleted; `idx` is dense from 0 so that it is
        // the leaf index of the Merkle log, and `leaf_hash` is recorded at acceptance.
        manager
            .create_table(
                Table::create()
                    .table(LogEntries::Table)
                    .col(big_integer(LogEntries::Idx).primary_key())
                    .col(string(LogEntries::EntryType))
                    .col(blob(LogEntries::Statement))
                    .col(string(LogEntries::KeyId))
                    .col(blob(LogEntries::Signature))
                    .col(string_uniq(LogEntries::LeafHash))
                    .col(uuid_null(LogEntries::MemberId))
                    .col(uuid_null(LogEntries::ProposalId))
                    .col(timestamp_with_time_zone(LogEntries::RecordedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MemberKeys::Table)
                    .col(string(MemberKeys::KeyId).primary_key())
                    .col(uuid(MemberKeys::MemberId))
                    .col(string(MemberKeys::PublicKey))
                    .col(string_null(MemberKeys::Label))
                    .col(timestamp_with_time_zone(MemberKeys::RegisteredAt))
                    .col(big_integer(MemberKeys::RegistrationEntry))
                    .col(timestamp_with_time_zone_null(MemberKeys::RevokedAt))
                    .col(string_null(MemberKeys::RevokedBy))
                    .col(string_null(MemberKeys::RevocationReason))
                    .col(big_integer_null(MemberKeys::RevocationEntry))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_member_keys_member")
                            .from(MemberKeys::Table, MemberKeys::MemberId)
                            .to(Members::Table, Members::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_member_keys_registration")
                            .from(MemberKeys::Table, MemberKeys::RegistrationEntry)
                            .to(LogEntries::Table, LogEntries::Idx)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_member_keys_member")
                    .table(MemberKeys::Table)
                    .col(MemberKeys::MemberId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MemberKeys::Table.into_iden(),
            LogEntries::Table.into_iden(),
            Members::Table.into_iden(),
            ServerKeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ServerKeys {
    Table,
    Purpose,
    PublicKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    BgNumber,
    Name,
    PupilsPo,
    PupilsVo,
    Chamber,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MemberKeys {
    Table,
    KeyId,
    MemberId,
    PublicKey,
    Label,
    RegisteredAt,
    RegistrationEntry,
    RevokedAt,
    RevokedBy,
    RevocationReason,
    RevocationEntry,
}

#[derive(DeriveIden)]
enum LogEntries {
    Table,
    Idx,
    EntryType,
    Statement,
    KeyId,
    Signature,
    LeafHash,
    MemberId,
    ProposalId,
    RecordedAt,
}
