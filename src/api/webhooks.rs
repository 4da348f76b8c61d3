//! Webhook subscriptions (the secretariat's): where events go, which ones, the secret
//! they are signed with (shown once), and the log of every delivery. See
//! docs/webhooks.md for the events, the headers and how a receiver verifies them.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::members::SectorDto;
use super::problem::{Change, Create, OpResult, ReadRestricted, Restricted};
use super::{ApiTags, Credentials, State, Text};
use crate::domain::webhook::{EventType, message_id};
use crate::service::webhooks::{self, NewWebhook, WebhookChanges};
use crate::store::{AttemptRow, DeliveryRecord, Subscription};

pub struct WebhooksApi;

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;

/// An event a subscription can ask for (docs/webhooks.md has each payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "WebhookEventType")]
pub enum EventTypeDto {
    /// A proposal opened for voting.
    #[oai(rename = "proposal.opened")]
    ProposalOpened,
    /// A proposal closed; its result can be read.
    #[oai(rename = "proposal.closed")]
    ProposalClosed,
    /// A proposal's result was certified in the log.
    #[oai(rename = "proposal.finalized")]
    ProposalFinalized,
    /// An open proposal was withdrawn.
    #[oai(rename = "proposal.withdrawn")]
    ProposalWithdrawn,
    /// A board registered a key.
    #[oai(rename = "key.registered")]
    KeyRegistered,
    /// A key was revoked.
    #[oai(rename = "key.revoked")]
    KeyRevoked,
}

impl From<EventTypeDto> for EventType {
    fn from(e: EventTypeDto) -> Self {
        match e {
            EventTypeDto::ProposalOpened => EventType::ProposalOpened,
            EventTypeDto::ProposalClosed => EventType::ProposalClosed,
            EventTypeDto::ProposalFinalized => EventType::ProposalFinalized,
            EventTypeDto::ProposalWithdrawn => EventType::ProposalWithdrawn,
            EventTypeDto::KeyRegistered => EventType::KeyRegistered,
            EventTypeDto::KeyRevoked => EventType::KeyRevoked,
        }
    }
}

impl From<EventType> for EventTypeDto {
    fn from(e: EventType) -> Self {
        match e {
            EventType::ProposalOpened => EventTypeDto::ProposalOpened,
            EventType::ProposalClosed => EventTypeDto::ProposalClosed,
            EventType::ProposalFinalized => EventTypeDto::ProposalFinalized,
            EventType::ProposalWithdrawn => EventTypeDto::ProposalWithdrawn,
            EventType::KeyRegistered => EventTypeDto::KeyRegistered,
            EventType::KeyRevoked => EventTypeDto::KeyRevoked,
        }
    }
}

fn names(events: &[EventTypeDto]) -> Vec<String> {
    events
        .iter()
        .map(|e| EventType::from(*e).as_str().to_owned())
        .collect()
}

/// A subscription to ask for.
#[derive(Debug, Clone, Object)]
#[oai(rename = "NewWebhook", deny_unknown_fields)]
pub struct NewWebhookDto {
    /// An absolute http(s) URL, without credentials or fragment; https in production.
    pub url: Text,
    /// At least one; each once.
    pub events: Vec<EventTypeDto>,
    /// Only events concerning this sector (a council's own); all events without it.
    /// Fixed for the subscription's life.
    #[oai(skip_serializing_if_is_none)]
    pub sector: Option<SectorDto>,
    /// Who receives it and why: one line, at most 200 characters.
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<Text>,
}

/// Changes to a subscription; members left out stay as they are.
#[derive(Debug, Clone, Object, Default)]
#[oai(rename = "WebhookPatch", deny_unknown_fields)]
pub struct WebhookPatchDto {
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<Text>,
    #[oai(skip_serializing_if_is_none)]
    pub events: Option<Vec<EventTypeDto>>,
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<Text>,
    /// `false` pauses delivery (events are still queued); `true` resumes it, with the
    /// queued deliveries sent at once, in order.
    #[oai(skip_serializing_if_is_none)]
    pub enabled: Option<bool>,
}

/// A subscription, without its secret.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Webhook")]
pub struct WebhookDto {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<EventTypeDto>,
    #[oai(skip_serializing_if_is_none)]
    pub sector: Option<SectorDto>,
    pub description: String,
    /// Whether deliveries are being made.
    pub enabled: bool,
    /// Why it was disabled: by whom, or which delivery kept failing and how.
    #[oai(skip_serializing_if_is_none)]
    pub disabled_reason: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub disabled_at: Option<DateTime<Utc>>,
    /// The token subject or person that created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Subscription> for WebhookDto {
    fn from(s: &Subscription) -> Self {
        WebhookDto {
            id: s.id,
            url: s.url.clone(),
            events: s.events.iter().map(|e| (*e).into()).collect(),
            sector: s.sector.map(Into::into),
            description: s.description.clone(),
            enabled: s.enabled,
            disabled_reason: s.disabled_reason.clone(),
            disabled_at: s.disabled_at,
            created_by: s.created_by.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A new subscription and its signing secret, shown this once.
#[derive(Debug, Clone, Object)]
#[oai(rename = "CreatedWebhook")]
pub struct CreatedWebhookDto {
    pub webhook: WebhookDto,
    /// `whsec_` and the base64 of 32 random bytes: the HMAC-SHA256 key is the decoded
    /// bytes. Give it to the receiver; it is never shown again.
    pub secret: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "WebhookList")]
pub struct WebhookListDto {
    pub items: Vec<WebhookDto>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "WebhookDeliveryState", rename_all = "lowercase")]
pub enum DeliveryStateDto {
    /// Queued: waiting for its turn, or for a retry.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
}

/// One HTTP request of a delivery.
#[derive(Debug, Clone, Object)]
#[oai(rename = "WebhookAttempt")]
pub struct AttemptDto {
    /// 1 for the first attempt.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The receiver's HTTP status, when it answered.
    #[oai(skip_serializing_if_is_none)]
    pub status: Option<u16>,
    /// Why the attempt failed, when it did.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

impl From<&AttemptRow> for AttemptDto {
    fn from(a: &AttemptRow) -> Self {
        AttemptDto {
            number: a.number,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            status: a.status,
            error: a.error.clone(),
        }
    }
}

/// One event on its way to one subscription.
#[derive(Debug, Clone, Object)]
#[oai(rename = "WebhookDelivery")]
pub struct DeliveryDto {
    pub id: Uuid,
    /// The event's `webhook-id` (and the payload's `id`): the same in every attempt.
    pub event_id: String,
    pub event_type: EventTypeDto,
    pub occurred_at: DateTime<Utc>,
    pub state: DeliveryStateDto,
    pub attempts: u32,
    /// When it is tried next, while pending (in its subscription's order).
    #[oai(skip_serializing_if_is_none)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub last_status: Option<u16>,
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Every attempt, oldest first.
    pub history: Vec<AttemptDto>,
}

impl TryFrom<&DeliveryRecord> for DeliveryDto {
    type Error = crate::error::Error;
    fn try_from(d: &DeliveryRecord) -> Result<Self, Self::Error> {
        let event_type: EventType = d.event_type.parse().map_err(|_| {
            crate::error::Error::Corrupt(format!("delivery {}: event type {}", d.id, d.event_type))
        })?;
        Ok(DeliveryDto {
            id: d.id,
            event_id: message_id(d.event_id),
            event_type: event_type.into(),
            occurred_at: d.occurred_at,
            state: if d.delivered {
                DeliveryStateDto::Delivered
            } else {
                DeliveryStateDto::Pending
            },
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            history: d.attempt_log.iter().map(Into::into).collect(),
        })
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "WebhookDeliveryPage")]
pub struct DeliveryPage {
    pub items: Vec<DeliveryDto>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

#[derive(ApiResponse)]
enum Created {
    /// The subscription; keep the secret, it is not shown again.
    #[oai(status = 201)]
    Created(Json<CreatedWebhookDto>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The subscription and its delivery log are gone.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum Redelivered {
    /// Queued: it goes out in its subscription's order (before later events still
    /// queued), at once when the subscription is enabled.
    #[oai(status = 202)]
    Accepted(Json<DeliveryDto>),
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Subscribe a receiver to events. Admin only.
    ///
    /// The target is checked before anything is stored: http or https, and a host
    /// whose every address is public (unless the server runs with
    /// `--webhooks-allow-private`). The answer holds the signing secret, once.
    #[oai(path = "/webhooks", method = "post")]
    async fn create(
        &self,
        state: Data<&State>,
        auth: Credentials,
        body: Json<NewWebhookDto>,
    ) -> OpResult<Created, Create> {
        let who = state.authenticate(&auth).await?;
        let body = body.0;
        let new = NewWebhook {
            url: body.url.0,
            events: names(&body.events),
            sector: body.sector.map(Into::into),
            description: body.description.map(|d| d.0),
        };
        let created =
            webhooks::create(&state.store, &state.webhooks, &who, new, state.clock.now()).await?;
        Ok(Created::Created(Json(CreatedWebhookDto {
            webhook: (&created).into(),
            secret: created.secret,
        })))
    }

    /// Every subscription, oldest first. Admin only.
    #[oai(path = "/webhooks", method = "get")]
    async fn list(
        &self,
        state: Data<&State>,
        auth: Credentials,
    ) -> OpResult<Json<WebhookListDto>, ReadRestricted> {
        let who = state.authenticate(&auth).await?;
        let all = webhooks::list(&state.store, &who).await?;
        Ok(Json(WebhookListDto {
            items: all.iter().map(Into::into).collect(),
        }))
    }

    /// One subscription; `disabled_reason` says why it is off. Admin only.
    #[oai(path = "/webhooks/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Json<WebhookDto>, Restricted> {
        let who = state.authenticate(&auth).await?;
        let subscription = webhooks::get(&state.store, &who, id.0).await?;
        Ok(Json((&subscription).into()))
    }

    /// Change a subscription's target, events or description, or disable or enable
    /// it. Admin only.
    #[oai(path = "/webhooks/:id", method = "patch")]
    async fn update(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        body: Json<WebhookPatchDto>,
    ) -> OpResult<Json<WebhookDto>, Change> {
        let who = state.authenticate(&auth).await?;
        let body = body.0;
        let changes = WebhookChanges {
            url: body.url.map(|u| u.0),
            events: body.events.as_deref().map(names),
            description: body.description.map(|d| d.0),
            enabled: body.enabled,
        };
        let changed = webhooks::update(
            &state.store,
            &state.webhooks,
            &who,
            id.0,
            changes,
            state.clock.now(),
        )
        .await?;
        Ok(Json((&changed).into()))
    }

    /// Delete a subscription and its delivery log; queued deliveries are dropped.
    /// Admin only.
    #[oai(path = "/webhooks/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
    ) -> OpResult<Deleted, Restricted> {
        let who = state.authenticate(&auth).await?;
        webhooks::delete(&state.store, &who, id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// A subscription's deliveries, newest event first, each with every attempt:
    /// status codes, times and errors. Admin only.
    #[oai(path = "/webhooks/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        /// Page size, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// Deliveries to skip, at most 1,000,000.
        #[oai(validator(maximum(value = "1000000")))]
        offset: Query<Option<u64>>,
    ) -> OpResult<Json<DeliveryPage>, Restricted> {
        let who = state.authenticate(&auth).await?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
        let offset = offset.0.unwrap_or(0);
        let (items, total) = webhooks::deliveries(&state.store, &who, id.0, limit, offset).await?;
        Ok(Json(DeliveryPage {
            items: items
                .iter()
                .map(DeliveryDto::try_from)
                .collect::<Result<_, _>>()?,
            total,
            limit,
            offset,
        }))
    }

    /// Send a delivery again, with the same `webhook-id` and body (a receiver that
    /// lost it), or at once when it is waiting for a retry. Admin only.
    #[oai(path = "/webhooks/:id/deliveries/:delivery/redeliver", method = "post")]
    async fn redeliver(
        &self,
        state: Data<&State>,
        auth: Credentials,
        id: Path<Uuid>,
        delivery: Path<Uuid>,
    ) -> OpResult<Redelivered, Restricted> {
        let who = state.authenticate(&auth).await?;
        let record =
            webhooks::redeliver(&state.store, &who, id.0, delivery.0, state.clock.now()).await?;
        Ok(Redelivered::Accepted(Json(DeliveryDto::try_from(&record)?)))
    }
}
