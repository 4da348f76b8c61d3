//! Webhooks: subscriptions (a target URL, the events it wants, an optional sector and
//! the signing secret), the outbox of events (written in the same transaction as the
//! change that causes them), one delivery per event and subscription, and every
//! attempt to deliver it.
//!
//! The secret is stored as issued (`whsec_…`): signing with HMAC needs it whole.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookSubscriptions::Table)
                    .col(uuid(WebhookSubscriptions::Id).primary_key())
                    .col(string(WebhookSubscriptions::Url))
                    // Event types, comma-separated.
                    .col(string(WebhookSubscriptions::Events))
                    .col(string_null(WebhookSubscriptions::Sector))
                    .col(string(WebhookSubscriptions::Description))
                    .col(string(WebhookSubscriptions::Secret))
                    .col(boolean(WebhookSubscriptions::Enabled))
                    .col(string_null(WebhookSubscriptions::DisabledReason))
                    .col(timestamp_with_time_zone_null(
                        WebhookSubscriptions::DisabledAt,
                    ))
                    // The last event before it existed: it hears only later ones.
                    .col(big_integer(WebhookSubscriptions::AfterEvent))
                    .col(string(WebhookSubscriptions::CreatedBy))
                    .col(timestamp_with_time_zone(WebhookSubscriptions::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookSubscriptions::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(big_pk_auto(WebhookEvents::Seq))
                    .col(uuid_uniq(WebhookEvents::Id))
                    .col(string(WebhookEvents::EventType))
                    // The sectors it concerns, comma-separated; empty for none.
                    .col(string(WebhookEvents::Sectors))
                    // The event's `data`, JSON.
                    .col(text(WebhookEvents::Data))
                    .col(timestamp_with_time_zone(WebhookEvents::OccurredAt))
                    // Whether its deliveries have been made.
                    .col(boolean(WebhookEvents::FannedOut))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_events_fanned_out")
                    .table(WebhookEvents::Table)
                    .col(WebhookEvents::FannedOut)
                    .col(WebhookEvents::Seq)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(uuid(WebhookDeliveries::SubscriptionId))
                    .col(big_integer(WebhookDeliveries::EventSeq))
                    // `pending` or `delivered`.
                    .col(string(WebhookDeliveries::State))
                    .col(integer(WebhookDeliveries::Attempts))
                    // Failures in a row: the retry delay doubles with each.
                    .col(integer(WebhookDeliveries::Failures))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::FirstFailedAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::LastAttemptAt,
                    ))
                    .col(integer_null(WebhookDeliveries::LastStatus))
                    .col(string_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_subscription")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::SubscriptionId)
                            .to(WebhookSubscriptions::Table, WebhookSubscriptions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_event")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EventSeq)
                            .to(WebhookEvents::Table, WebhookEvents::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_queue")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::SubscriptionId)
                    .col(WebhookDeliveries::EventSeq)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(uuid(WebhookAttempts::Id).primary_key())
                    .col(uuid(WebhookAttempts::DeliveryId))
                    .col(integer(WebhookAttempts::Number))
                    .col(timestamp_with_time_zone(WebhookAttempts::StartedAt))
                    .col(big_integer(WebhookAttempts::DurationMs))
                    .col(integer_null(WebhookAttempts::Status))
                    .col(string_null(WebhookAttempts::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_attempts_delivery")
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_delivery")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::DeliveryId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            WebhookSubscriptions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WebhookSubscriptions {
    Table,
    Id,
    Url,
    Events,
    Sector,
    Description,
    Secret,
    Enabled,
    DisabledReason,
    DisabledAt,
    AfterEvent,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Seq,
    Id,
    EventType,
    Sectors,
    Data,
    OccurredAt,
    FannedOut,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    SubscriptionId,
    EventSeq,
    State,
    Attempts,
    Failures,
    NextAttemptAt,
    FirstFailedAt,
    LastAttemptAt,
    LastStatus,
    LastError,
    DeliveredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    Number,
    StartedAt,
    DurationMs,
    Status,
    Error,
}
