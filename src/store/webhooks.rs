//! Webhook subscriptions, the outbox of events, deliveries and their attempts: rows
//! in, plain records out. The worker's queue is here too: the first pending delivery
//! of each enabled subscription, in event order.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use entity::{webhook_attempt, webhook_delivery, webhook_event, webhook_subscription};

use super::{Store, WriteTxn};
use crate::domain::member::Sector;
use crate::domain::webhook::{Event, EventType, parse_event_types, wants};
use crate::error::{Error, Result};

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";

/// A subscription as stored, secret included (the API shows it once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    pub events: BTreeSet<EventType>,
    pub sector: Option<Sector>,
    pub description: String,
    pub secret: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// A delivery with its event and its attempts, newest attempt last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub delivered: bool,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub attempt_log: Vec<AttemptRow>,
}

/// The next delivery of one subscription, with what sending it needs.
#[derive(Debug, Clone)]
pub struct QueuedDelivery {
    pub delivery_id: Uuid,
    pub subscription_id: Uuid,
    pub url: String,
    pub secret: String,
    pub attempts: u32,
    pub failures: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub first_failed_at: Option<DateTime<Utc>>,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The event's `data`, JSON.
    pub data: String,
}

/// What one attempt found, and what follows from it.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub delivery_id: Uuid,
    pub subscription_id: Uuid,
    pub attempt: AttemptRow,
    pub then: AfterAttempt,
}

#[derive(Debug, Clone)]
pub enum AfterAttempt {
    Delivered,
    /// Failed; try again then. `first_failed_at` starts the retry window.
    Retry {
        at: DateTime<Utc>,
        first_failed_at: DateTime<Utc>,
    },
    /// Failed for good: the subscription is disabled for this reason. The delivery
    /// stays queued, first in line when the subscription is enabled again.
    Disable {
        reason: String,
    },
}

impl WriteTxn<'_> {
    /// Puts an event in the outbox, in this transaction: it is delivered if and only
    /// if the change that caused it commits.
    pub async fn enqueue_event(&mut self, event: &Event) -> Result<()> {
        webhook_event::ActiveModel {
            id: Set(event.id),
            event_type: Set(event.event_type.as_str().to_owned()),
            sectors: Set(sectors_column(&event.sectors)),
            data: Set(event.data.to_string()),
            occurred_at: Set(event.occurred_at),
            fanned_out: Set(false),
            ..Default::default()
        }
        .insert(&self.txn)
        .await?;
        self.announced = true;
        Ok(())
    }
}

fn sectors_column(sectors: &BTreeSet<Sector>) -> String {
    sectors
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_sectors(text: &str) -> Result<BTreeSet<Sector>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|e| Error::Corrupt(format!("event sectors: {e}")))
        })
        .collect()
}

fn to_subscription(row: webhook_subscription::Model) -> Result<Subscription> {
    let corrupt = |what: String| Error::Corrupt(format!("webhook {}: {what}", row.id));
    let names: Vec<&str> = row.events.split(',').collect();
    Ok(Subscription {
        events: parse_event_types(&names).map_err(|e| corrupt(e.to_string()))?,
        sector: row
            .sector
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: crate::domain::member::MemberError| corrupt(e.to_string()))?,
        id: row.id,
        url: row.url,
        description: row.description,
        secret: row.secret,
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        disabled_at: row.disabled_at,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn to_attempt(row: webhook_attempt::Model) -> AttemptRow {
    AttemptRow {
        number: count(row.number),
        started_at: row.started_at,
        duration_ms: u64::try_from(row.duration_ms).unwrap_or(0),
        status: row.status.and_then(|s| u16::try_from(s).ok()),
        error: row.error,
    }
}

impl Store {
    /// Stores a new subscription; it hears the events committed after this.
    pub async fn insert_webhook(&self, new: &Subscription) -> Result<Subscription> {
        let after_event = webhook_event::Entity::find()
            .order_by_desc(webhook_event::Column::Seq)
            .one(&self.db)
            .await?
            .map_or(0, |e| e.seq);
        let row = webhook_subscription::ActiveModel {
            id: Set(new.id),
            url: Set(new.url.clone()),
            events: Set(events_column(&new.events)),
            sector: Set(new.sector.map(|s| s.as_str().to_owned())),
            description: Set(new.description.clone()),
            secret: Set(new.secret.clone()),
            enabled: Set(new.enabled),
            disabled_reason: Set(new.disabled_reason.clone()),
            disabled_at: Set(new.disabled_at),
            after_event: Set(after_event),
            created_by: Set(new.created_by.clone()),
            created_at: Set(new.created_at),
            updated_at: Set(new.updated_at),
        }
        .insert(&self.db)
        .await?;
        self.wake_outbox();
        to_subscription(row)
    }

    pub async fn webhooks(&self) -> Result<Vec<Subscription>> {
        webhook_subscription::Entity::find()
            .order_by_asc(webhook_subscription::Column::CreatedAt)
            .order_by_asc(webhook_subscription::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_subscription)
            .collect()
    }

    pub async fn webhook(&self, id: Uuid) -> Result<Subscription> {
        webhook_subscription::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("webhook {id}")))
            .and_then(to_subscription)
    }

    /// Writes a changed subscription. When it is enabled again, its queued deliveries
    /// get a fresh retry window and the first is sent at once.
    pub async fn save_webhook(&self, changed: &Subscription, now: DateTime<Utc>) -> Result<()> {
        // Reads before the transaction, which only writes: on SQLite a transaction
        // that reads first can fail to write when another commits in between.
        let was_enabled = webhook_subscription::Entity::find_by_id(changed.id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("webhook {}", changed.id)))?
            .enabled;
        let txn = self.begin_writing().await?;
        webhook_subscription::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(changed.id),
            url: Set(changed.url.clone()),
            events: Set(events_column(&changed.events)),
            description: Set(changed.description.clone()),
            enabled: Set(changed.enabled),
            disabled_reason: Set(changed.disabled_reason.clone()),
            disabled_at: Set(changed.disabled_at),
            updated_at: Set(changed.updated_at),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        if changed.enabled && !was_enabled {
            webhook_delivery::Entity::update_many()
                .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
                .col_expr(
                    webhook_delivery::Column::FirstFailedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(webhook_delivery::Column::Failures, Expr::value(0))
                .filter(webhook_delivery::Column::SubscriptionId.eq(changed.id))
                .filter(webhook_delivery::Column::State.eq(PENDING))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        self.wake_outbox();
        Ok(())
    }

    /// Removes a subscription with its deliveries and their attempts.
    pub async fn delete_webhook(&self, id: Uuid) -> Result<()> {
        let txn = self.begin_writing().await?;
        // The write first (see `save_webhook`); the worker may still be adding.
        let deleted = webhook_subscription::Entity::delete_by_id(id)
            .exec(&txn)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(Error::NotFound(format!("webhook {id}")));
        }
        let deliveries: Vec<Uuid> = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::Id)
            .filter(webhook_delivery::Column::SubscriptionId.eq(id))
            .into_tuple()
            .all(&txn)
            .await?;
        for chunk in deliveries.chunks(500) {
            webhook_attempt::Entity::delete_many()
                .filter(webhook_attempt::Column::DeliveryId.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::SubscriptionId.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A subscription's deliveries, newest event first, one page, and how many it has.
    pub async fn webhook_deliveries(
        &self,
        subscription: Uuid,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<DeliveryRecord>, u64)> {
        let query = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::SubscriptionId.eq(subscription));
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_desc(webhook_delivery::Column::EventSeq)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        let records = self.delivery_records(rows).await?;
        Ok((records, total))
    }

    async fn delivery_records(
        &self,
        rows: Vec<webhook_delivery::Model>,
    ) -> Result<Vec<DeliveryRecord>> {
        let seqs: Vec<i64> = rows.iter().map(|d| d.event_seq).collect();
        let events: HashMap<i64, webhook_event::Model> = webhook_event::Entity::find()
            .filter(webhook_event::Column::Seq.is_in(seqs))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|e| (e.seq, e))
            .collect();
        let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
        let mut attempts: HashMap<Uuid, Vec<AttemptRow>> = HashMap::new();
        for a in webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.is_in(ids))
            .order_by_asc(webhook_attempt::Column::Number)
            .all(&self.db)
            .await?
        {
            attempts
                .entry(a.delivery_id)
                .or_default()
                .push(to_attempt(a));
        }
        rows.into_iter()
            .map(|d| {
                let event = events.get(&d.event_seq).ok_or_else(|| {
                    Error::Corrupt(format!("delivery {} has no event {}", d.id, d.event_seq))
                })?;
                let delivered = d.state == DELIVERED;
                Ok(DeliveryRecord {
                    id: d.id,
                    subscription_id: d.subscription_id,
                    event_id: event.id,
                    event_type: event.event_type.clone(),
                    occurred_at: event.occurred_at,
                    delivered,
                    attempts: count(d.attempts),
                    next_attempt_at: (!delivered).then_some(d.next_attempt_at),
                    last_attempt_at: d.last_attempt_at,
                    last_status: d.last_status.and_then(|s| u16::try_from(s).ok()),
                    last_error: d.last_error,
                    delivered_at: d.delivered_at,
                    created_at: d.created_at,
                    attempt_log: attempts.remove(&d.id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Queues a delivery again (or, when it is still queued, makes it due now), with a
    /// fresh retry window. Deliveries go out in event order, so an earlier event sent
    /// again goes before later ones still queued.
    pub async fn redeliver_webhook(
        &self,
        subscription: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<DeliveryRecord> {
        let row = webhook_delivery::Entity::find_by_id(delivery)
            .one(&self.db)
            .await?
            .filter(|d| d.subscription_id == subscription)
            .ok_or_else(|| {
                Error::NotFound(format!("delivery {delivery} of webhook {subscription}"))
            })?;
        let mut active: webhook_delivery::ActiveModel = row.into();
        active.state = Set(PENDING.to_owned());
        active.next_attempt_at = Set(now);
        active.first_failed_at = Set(None);
        active.failures = Set(0);
        active.delivered_at = Set(None);
        let row = active.update(&self.db).await?;
        self.wake_outbox();
        self.delivery_records(vec![row])
            .await?
            .pop()
            .ok_or_else(|| Error::Corrupt(format!("delivery {delivery} vanished")))
    }

    // ---- the worker's side ----

    /// Makes the deliveries of events not yet handed out: one per subscription that
    /// wants the event and existed before it. Returns how many events this call handed out.
    pub async fn fan_out_webhook_events(&self, now: DateTime<Utc>) -> Result<usize> {
        let events = webhook_event::Entity::find()
            .filter(webhook_event::Column::FannedOut.eq(false))
            .order_by_asc(webhook_event::Column::Seq)
            .limit(200)
            .all(&self.db)
            .await?;
        if events.is_empty() {
            return Ok(0);
        }
        // Each subscription with the last event that came before it.
        let subscriptions: Vec<(i64, Subscription)> = webhook_subscription::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| Ok((row.after_event, to_subscription(row)?)))
            .collect::<Result<_>>()?;
        let txn = self.begin_writing().await?;
        let mut handed_out = 0;
        for event in &events {
            let Ok(event_type) = event.event_type.parse::<EventType>() else {
                return Err(Error::Corrupt(format!(
                    "webhook event {} has type {:?}",
                    event.seq, event.event_type
                )));
            };
            // Claimed by the update that marks it: of several servers on one database,
            // the one whose update changes the row hands the event out; the others
            // (their update waits for its commit, then matches nothing) skip it.
            let claimed = webhook_event::Entity::update_many()
                .col_expr(webhook_event::Column::FannedOut, Expr::value(true))
                .filter(webhook_event::Column::Seq.eq(event.seq))
                .filter(webhook_event::Column::FannedOut.eq(false))
                .exec(&txn)
                .await?;
            if claimed.rows_affected == 0 {
                continue;
            }
            handed_out += 1;
            let sectors = parse_sectors(&event.sectors)?;
            for (after_event, subscription) in &subscriptions {
                if *after_event >= event.seq
                    || !wants(
                        &subscription.events,
                        subscription.sector,
                        event_type,
                        &sectors,
                    )
                {
                    continue;
                }
                webhook_delivery::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    subscription_id: Set(subscription.id),
                    event_seq: Set(event.seq),
                    state: Set(PENDING.to_owned()),
                    attempts: Set(0),
                    failures: Set(0),
                    next_attempt_at: Set(now),
                    first_failed_at: Set(None),
                    last_attempt_at: Set(None),
                    last_status: Set(None),
                    last_error: Set(None),
                    delivered_at: Set(None),
                    created_at: Set(now),
                }
                .insert(&txn)
                .await?;
            }
        }
        txn.commit().await?;
        Ok(handed_out)
    }

    /// The first queued delivery of every enabled subscription: deliveries of one
    /// subscription go out one at a time, in event order.
    pub async fn webhook_queue(&self) -> Result<Vec<QueuedDelivery>> {
        let subscriptions = webhook_subscription::Entity::find()
            .filter(webhook_subscription::Column::Enabled.eq(true))
            .all(&self.db)
            .await?;
        let mut queue = Vec::new();
        for s in subscriptions {
            let Some(d) = webhook_delivery::Entity::find()
                .filter(webhook_delivery::Column::SubscriptionId.eq(s.id))
                .filter(webhook_delivery::Column::State.eq(PENDING))
                .order_by_asc(webhook_delivery::Column::EventSeq)
                .one(&self.db)
                .await?
            else {
                continue;
            };
            let event = webhook_event::Entity::find_by_id(d.event_seq)
                .one(&self.db)
                .await?
                .ok_or_else(|| {
                    Error::Corrupt(format!("delivery {} has no event {}", d.id, d.event_seq))
                })?;
            queue.push(QueuedDelivery {
                delivery_id: d.id,
                subscription_id: s.id,
                url: s.url,
                secret: s.secret,
                attempts: count(d.attempts),
                failures: count(d.failures),
                next_attempt_at: d.next_attempt_at,
                first_failed_at: d.first_failed_at,
                event_id: event.id,
                event_type: event.event_type,
                occurred_at: event.occurred_at,
                data: event.data,
            });
        }
        Ok(queue)
    }

    /// Records an attempt and what follows from it, in one transaction.
    pub async fn record_webhook_attempt(
        &self,
        result: &AttemptResult,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let row = webhook_delivery::Entity::find_by_id(result.delivery_id)
            .one(&self.db)
            .await?
            // Deleted with its subscription while the attempt ran.
            .ok_or_else(|| Error::NotFound(format!("delivery {}", result.delivery_id)))?;
        let attempt = &result.attempt;
        let txn = self.begin_writing().await?;
        webhook_attempt::ActiveModel {
            id: Set(Uuid::new_v4()),
            delivery_id: Set(row.id),
            number: Set(i32::try_from(attempt.number).unwrap_or(i32::MAX)),
            started_at: Set(attempt.started_at),
            duration_ms: Set(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX)),
            status: Set(attempt.status.map(i32::from)),
            error: Set(attempt.error.clone()),
        }
        .insert(&txn)
        .await?;
        let (attempts, failures) = (row.attempts, row.failures);
        let mut active: webhook_delivery::ActiveModel = row.into();
        active.attempts = Set(attempts.saturating_add(1));
        active.last_attempt_at = Set(Some(attempt.started_at));
        active.last_status = Set(attempt.status.map(i32::from));
        active.last_error = Set(attempt.error.clone());
        match &result.then {
            AfterAttempt::Delivered => {
                active.state = Set(DELIVERED.to_owned());
                active.delivered_at = Set(Some(now));
                active.failures = Set(0);
                active.first_failed_at = Set(None);
            }
            AfterAttempt::Retry {
                at,
                first_failed_at,
            } => {
                active.failures = Set(failures.saturating_add(1));
                active.next_attempt_at = Set(*at);
                active.first_failed_at = Set(Some(*first_failed_at));
            }
            AfterAttempt::Disable { reason } => {
                active.failures = Set(failures.saturating_add(1));
                webhook_subscription::Entity::update_many()
                    .col_expr(webhook_subscription::Column::Enabled, Expr::value(false))
                    .col_expr(
                        webhook_subscription::Column::DisabledReason,
                        Expr::value(reason.clone()),
                    )
                    .col_expr(webhook_subscription::Column::DisabledAt, Expr::value(now))
                    .col_expr(webhook_subscription::Column::UpdatedAt, Expr::value(now))
                    .filter(webhook_subscription::Column::Id.eq(result.subscription_id))
                    .exec(&txn)
                    .await?;
            }
        }
        active.update(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Deliveries queued and not yet delivered, on every subscription.
    pub async fn webhook_backlog(&self) -> Result<u64> {
        Ok(webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::State.eq(PENDING))
            .count(&self.db)
            .await?)
    }

    /// Woken when an event commits or a subscription changes: the worker looks at
    /// the queue at once instead of at its next poll.
    pub fn outbox_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    fn wake_outbox(&self) {
        self.outbox.notify_one();
    }
}

fn events_column(events: &BTreeSet<EventType>) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
