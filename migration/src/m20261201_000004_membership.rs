//! Membership apart from the board register: `members` stays the register of boards
//! (reference data that the DUO import maintains), and `memberships` holds the
//! cooperative's own register of who is a member, from when, until when and why it
//! ended. A board that leaves and rejoins has two rows.
//!
//! Upgrade: every board whose status is `active` or `suspended` when this migration
//! runs becomes a member from the date it was created (its `created_at`, as a UTC
//! date), recorded by `migration`, so a running cooperative's voter rolls stay as they
//! were until its secretariat edits the register. These rows have no log entry yet;
//! the server signs them into the transparency log (`mandaat.membership.v1`) when it
//! starts, before it serves anything.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(uuid(Memberships::MemberId))
                    // Periods of one board never overlap, so their first days differ.
                    .col(date(Memberships::StartsOn))
                    // The first day the board is no longer a member; absent while open.
                    .col(date_null(Memberships::EndsOn))
                    .col(string_null(Memberships::EndReason))
                    .col(string(Memberships::AdmittedBy))
                    .col(timestamp_with_time_zone(Memberships::AdmittedAt))
                    .col(string_null(Memberships::EndedBy))
                    .col(timestamp_with_time_zone_null(Memberships::EndedAt))
                    // The log entry that last stated this period as it is; absent until
                    // the server has signed it.
                    .col(big_integer_null(Memberships::LogEntry))
                    .primary_key(
                        Index::create()
                            .col(Memberships::MemberId)
                            .col(Memberships::StartsOn),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memberships_member")
                            .from(Memberships::Table, Memberships::MemberId)
                            .to(Members::Table, Members::Id),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let first_day = match db.get_database_backend() {
            DbBackend::Postgres => "(created_at AT TIME ZONE 'UTC')::date",
            // SQLite keeps times as text that starts with the UTC date.
            _ => "substr(created_at, 1, 10)",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO memberships (member_id, starts_on, admitted_by, admitted_at) \
             SELECT id, {first_day}, 'migration', created_at FROM members \
             WHERE status IN ('active', 'suspended')"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Memberships::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    MemberId,
    StartsOn,
    EndsOn,
    EndReason,
    AdmittedBy,
    AdmittedAt,
    EndedBy,
    EndedAt,
    LogEntry,
}
