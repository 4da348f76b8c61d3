//! Webhooks: the secretariat's subscriptions, the events the write path puts in the
//! outbox, and the worker that delivers them (signed as Standard Webhooks, at least
//! once, in order per subscription, with retries for 24 hours).
//!
//! A subscription's deliveries go out one at a time in event order: the next waits
//! until the one before it is delivered. A delivery that keeps failing for
//! [`RETRY_WINDOW`] disables its subscription (with the reason), and stays first in
//! line for when it is enabled again; nothing queued is dropped.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::{self, Operation};
use crate::auth::Principal;
use crate::clock::SharedClock;
use crate::domain::lifecycle::Status;
use crate::domain::member::{Member, Sector};
use crate::domain::webhook::{
    Event, EventType, MAX_RETRY_DELAY, RETRY_WINDOW, SECRET_BYTES, WebhookError, check_description,
    message_id, new_secret, parse_event_types, parse_target, refused_address, retry_delay,
    secret_key, sign,
};
use crate::error::{Error, Result};
use crate::store::{
    AfterAttempt, AttemptResult, AttemptRow, DeliveryRecord, KeyRow, ProposalRow, QueuedDelivery,
    Store, Subscription,
};

/// How the worker calls targets.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Call loopback, private and link-local addresses too (tests, or a receiver on
    /// the same private network, deliberately).
    pub allow_private: bool,
    /// How long one request may take, connecting included.
    pub timeout: Duration,
    /// The wait after a first failure; it doubles with every further one.
    pub retry_base: Duration,
    /// Links in payloads are absolute under this URL; paths without it.
    pub public_url: Option<String>,
}

/// Counts of the worker's work, for the metrics.
#[derive(Debug, Default)]
pub struct Counters {
    pub delivered: AtomicU64,
    pub failed_status: AtomicU64,
    pub failed_timeout: AtomicU64,
    pub failed_connection: AtomicU64,
    pub failed_address: AtomicU64,
    pub disabled: AtomicU64,
}

/// Webhooks' settings, counters and HTTP client.
pub struct Webhooks {
    pub settings: WebhookSettings,
    pub counters: Counters,
    client: reqwest::Client,
}

impl Webhooks {
    pub fn new(settings: WebhookSettings) -> anyhow::Result<Self> {
        let mut client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            // A redirect could lead anywhere, an address refused here included; the
            // receiver's URL is what the subscription says, or a failure.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would be asked for internal addresses.
            .no_proxy()
            .user_agent(concat!("Mandaat-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private {
            // Every name is resolved and checked when the connection is made, so a
            // host that resolved to a public address at registration cannot be
            // pointed at an internal one later (DNS rebinding).
            client = client.dns_resolver(Arc::new(GuardedResolver));
        }
        let client = client
            .build()
            .map_err(|e| anyhow::anyhow!("the webhook client: {e}"))?;
        Ok(Webhooks {
            settings,
            counters: Counters::default(),
            client,
        })
    }

    /// The target as the server may call it: well-formed, and (unless private
    /// addresses are allowed) resolving to public addresses only, every one of them.
    pub async fn check_target(&self, text: &str) -> Result<url::Url> {
        let url = parse_target(text)?;
        if !self.settings.allow_private {
            match host_ip(&url) {
                Some(ip) => check_address(&ip.to_string(), ip)?,
                None => {
                    let host = url.host_str().unwrap_or_default();
                    resolve_checked(host).await?;
                }
            }
        }
        Ok(url)
    }
}

/// The address a URL's host spells out, when it is an IP literal (`parse_target`
/// has made sure there is a host). The client connects to such an address without
/// resolving it, so it is checked before the request rather than by the resolver.
fn host_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// The webhook client's resolver (unless private addresses are allowed): a name that
/// resolves to any address that is not public is refused.
struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = resolve_checked(&host).await?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// How long resolving a target's host may take: a registration is answered, and a
/// delivery fails, rather than waiting on a resolver that does not answer.
const DNS_TIMEOUT: Duration = Duration::from_secs(10);

/// A host's addresses, every one of them public: the one check behind a registration
/// and behind every connection the worker makes.
async fn resolve_checked(host: &str) -> Result<Vec<SocketAddr>, WebhookError> {
    let lookup = tokio::net::lookup_host((host, 0));
    let addresses: Vec<SocketAddr> = match tokio::time::timeout(DNS_TIMEOUT, lookup).await {
        Ok(Ok(found)) => found.collect(),
        _ => Vec::new(),
    };
    if addresses.is_empty() {
        return Err(WebhookError::Target(format!("{host} does not resolve")));
    }
    for address in &addresses {
        check_address(host, address.ip())?;
    }
    Ok(addresses)
}

fn check_address(host: &str, ip: IpAddr) -> Result<(), WebhookError> {
    match refused_address(ip) {
        Some(why) => Err(WebhookError::Target(format!(
            "{host} resolves to {ip}, a {why} address; this server calls public addresses only"
        ))),
        None => Ok(()),
    }
}

// ---- the secretariat's use cases ----

/// A subscription as the secretariat asks for it.
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub sector: Option<Sector>,
    pub description: Option<String>,
}

/// Changes to a subscription; absent fields stay as they are.
#[derive(Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

fn manage(who: &Principal) -> Result<()> {
    access::check(who, Operation::ManageWebhooks)?;
    Ok(())
}

/// Creates a subscription with a new secret; the answer is the only time the secret
/// is shown.
pub async fn create(
    store: &Store,
    webhooks: &Webhooks,
    who: &Principal,
    new: NewWebhook,
    now: DateTime<Utc>,
) -> Result<Subscription> {
    manage(who)?;
    let events = parse_event_types(&new.events)?;
    let description = new.description.unwrap_or_default();
    check_description(&description)?;
    let url = webhooks.check_target(&new.url).await?;
    let mut random = [0u8; SECRET_BYTES];
    getrandom::fill(&mut random).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let subscription = Subscription {
        id: Uuid::new_v4(),
        url: url.to_string(),
        events,
        sector: new.sector,
        description,
        secret: new_secret(&random),
        enabled: true,
        disabled_reason: None,
        disabled_at: None,
        created_by: who.subject().to_owned(),
        created_at: now,
        updated_at: now,
    };
    store.insert_webhook(&subscription).await
}

pub async fn list(store: &Store, who: &Principal) -> Result<Vec<Subscription>> {
    manage(who)?;
    store.webhooks().await
}

pub async fn get(store: &Store, who: &Principal, id: Uuid) -> Result<Subscription> {
    manage(who)?;
    store.webhook(id).await
}

/// Changes a subscription. Disabling keeps queueing its events; enabling sends what
/// was queued, in order, starting at once.
pub async fn update(
    store: &Store,
    webhooks: &Webhooks,
    who: &Principal,
    id: Uuid,
    changes: WebhookChanges,
    now: DateTime<Utc>,
) -> Result<Subscription> {
    manage(who)?;
    let mut subscription = store.webhook(id).await?;
    if let Some(events) = changes.events {
        subscription.events = parse_event_types(&events)?;
    }
    if let Some(description) = changes.description {
        check_description(&description)?;
        subscription.description = description;
    }
    if let Some(url) = changes.url {
        subscription.url = webhooks.check_target(&url).await?.to_string();
    }
    match changes.enabled {
        Some(true) => {
            subscription.enabled = true;
            subscription.disabled_reason = None;
            subscription.disabled_at = None;
        }
        Some(false) if subscription.enabled => {
            subscription.enabled = false;
            subscription.disabled_reason = Some(format!("disabled by {}", who.subject()));
            subscription.disabled_at = Some(now);
        }
        _ => {}
    }
    subscription.updated_at = now;
    store.save_webhook(&subscription, now).await?;
    Ok(subscription)
}

pub async fn delete(store: &Store, who: &Principal, id: Uuid) -> Result<()> {
    manage(who)?;
    store.delete_webhook(id).await
}

/// A subscription's deliveries, newest event first.
pub async fn deliveries(
    store: &Store,
    who: &Principal,
    id: Uuid,
    limit: u64,
    offset: u64,
) -> Result<(Vec<DeliveryRecord>, u64)> {
    manage(who)?;
    store.webhook(id).await?;
    store.webhook_deliveries(id, limit, offset).await
}

/// Sends a delivery again (or at once, when it is still waiting for a retry).
pub async fn redeliver(
    store: &Store,
    who: &Principal,
    id: Uuid,
    delivery: Uuid,
    now: DateTime<Utc>,
) -> Result<DeliveryRecord> {
    manage(who)?;
    store.redeliver_webhook(id, delivery, now).await
}

// ---- the events ----

fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn proposal_sectors(row: &ProposalRow) -> Result<BTreeSet<Sector>> {
    row.sectors
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|e| Error::Corrupt(format!("proposal {}: {e}", row.id)))
        })
        .collect()
}

/// The event a proposal's new state announces, if any: opened, closed, finalised, or
/// withdrawn after it opened. A draft (and a draft withdrawn) was never public, so it
/// announces nothing. Nothing about ballots: no turnout, no choices.
pub fn proposal_event(row: &ProposalRow) -> Result<Option<Event>> {
    let status: Status = row.status.parse()?;
    let sectors = proposal_sectors(row)?;
    let id = row.id;
    let proposal = json!({
        "id": id,
        "title": row.title,
        "kind": row.kind,
        "sectors": sectors.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "opens_at": secs(row.opens_at),
        "closes_at": secs(row.closes_at),
        "digest": row.digest,
    });
    let path = format!("/api/v1/proposals/{id}");
    let result = format!("{path}/result");
    let entry = |e: Option<crate::transparency::LogIndex>| e.map(|e| e.get());
    let at = |t: Option<DateTime<Utc>>| t.unwrap_or(row.updated_at);
    let (event_type, occurred_at, data) = match status {
        Status::Draft => return Ok(None),
        Status::Withdrawn if row.opened_entry.is_none() => return Ok(None),
        Status::Open => (
            EventType::ProposalOpened,
            at(row.opened_at),
            json!({"proposal": proposal, "opened_at": secs(at(row.opened_at)),
                   "log_index": entry(row.opened_entry), "links": {"proposal": path}}),
        ),
        Status::Closed => (
            EventType::ProposalClosed,
            at(row.closed_at),
            json!({"proposal": proposal, "closed_at": secs(at(row.closed_at)),
                   "log_index": entry(row.closed_entry),
                   "links": {"proposal": path, "result": result}}),
        ),
        Status::Final => {
            let outcome = row
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
                .and_then(|r| r.get("outcome").cloned())
                .ok_or_else(|| Error::Corrupt(format!("final proposal {id} has no outcome")))?;
            let certified = entry(row.result_entry).ok_or_else(|| {
                Error::Corrupt(format!("final proposal {id} has no result entry"))
            })?;
            (
                EventType::ProposalFinalized,
                at(row.finalized_at),
                json!({"proposal": proposal, "finalized_at": secs(at(row.finalized_at)),
                       "outcome": outcome, "log_index": certified,
                       "links": {"proposal": path, "result": result,
                                 "certified_result": format!("/api/v1/log/entries?start={certified}&end={}", certified + 1)}}),
            )
        }
        Status::Withdrawn => (
            EventType::ProposalWithdrawn,
            at(row.withdrawn_at),
            json!({"proposal": proposal, "withdrawn_at": secs(at(row.withdrawn_at)),
                   "links": {"proposal": path}}),
        ),
    };
    let mut data = data;
    strip_nulls(&mut data);
    Ok(Some(Event::new(event_type, sectors, occurred_at, data)))
}

/// A key registered (`revoked` false) or revoked, for auditors: which member, which
/// key, and where the log has it.
pub fn key_event(member: &Member, key: &KeyRow, revoked: bool) -> Event {
    let member_json = json!({"id": member.id, "bg_number": member.bg_number.get(),
                             "name": member.name.as_str()});
    let links = json!({"keys": format!("/api/v1/members/{}/keys", member.id)});
    let (event_type, occurred_at, mut data) = if revoked {
        let at = key.revoked_at.unwrap_or(key.registered_at);
        (
            EventType::KeyRevoked,
            at,
            json!({"member": member_json, "key": {"key_id": key.key_id,
                   "revoked_at": secs(at), "revoked_by": key.revoked_by,
                   "reason": key.revocation_reason}, "log_index": key.revocation_entry.map(|e| e.get()),
                   "links": links}),
        )
    } else {
        (
            EventType::KeyRegistered,
            key.registered_at,
            json!({"member": member_json, "key": {"key_id": key.key_id, "label": key.label,
                   "registered_at": secs(key.registered_at)},
                   "log_index": key.registration_entry.get(), "links": links}),
        )
    };
    strip_nulls(&mut data);
    Event::new(event_type, member.pupils.sectors(), occurred_at, data)
}

/// Absent, never null (as in the API's answers).
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

// ---- the worker ----

/// How often the worker looks at the queue when nothing wakes it. A commit with an
/// event, a subscription change and a retry coming due wake it (the last by its own
/// timer); this catches the rest (a clock that jumped, another process's commit)
/// while costing an idle server two small queries per period.
const POLL: Duration = Duration::from_secs(5);

/// Delivers until the task is aborted (at shutdown). An attempt cut off by the
/// shutdown or a crash was not recorded, so it is made again after the restart: at
/// least once.
pub async fn run_worker(store: Store, webhooks: Arc<Webhooks>, clock: SharedClock) {
    let wake = store.outbox_signal();
    let mut tasks: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
    let mut busy: HashMap<tokio::task::Id, Uuid> = HashMap::new();
    loop {
        let next = match round(&store, &webhooks, &clock, &mut tasks, &mut busy).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "the webhook worker could not read its queue");
                Some(clock.now() + chrono::Duration::seconds(5))
            }
        };
        let wait = next
            .map(|at| (at - clock.now()).to_std().unwrap_or_default())
            .unwrap_or(POLL)
            .min(POLL);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let id = match &done {
                    Ok((id, ())) => *id,
                    Err(e) => {
                        tracing::error!(error = %e, "a webhook delivery task failed");
                        e.id()
                    }
                };
                busy.remove(&id);
            }
        }
    }
}

/// Hands out the deliveries of new events, and starts the first queued delivery of
/// every subscription that is due and not already being attempted. Returns when the
/// next one comes due.
async fn round(
    store: &Store,
    webhooks: &Arc<Webhooks>,
    clock: &SharedClock,
    tasks: &mut tokio::task::JoinSet<()>,
    busy: &mut HashMap<tokio::task::Id, Uuid>,
) -> Result<Option<DateTime<Utc>>> {
    let now = clock.now();
    store.fan_out_webhook_events(now).await?;
    let in_flight: HashSet<Uuid> = busy.values().copied().collect();
    let mut next: Option<DateTime<Utc>> = None;
    for queued in store.webhook_queue().await? {
        if in_flight.contains(&queued.subscription_id) {
            continue;
        }
        if queued.next_attempt_at > now {
            next = Some(next.map_or(queued.next_attempt_at, |n| n.min(queued.next_attempt_at)));
            continue;
        }
        let subscription = queued.subscription_id;
        let (store, webhooks, clock) = (store.clone(), webhooks.clone(), clock.clone());
        let handle = tasks.spawn(async move {
            let result = attempt(&webhooks, &clock, &queued).await;
            if let Err(e) = store.record_webhook_attempt(&result, clock.now()).await {
                tracing::warn!(error = %e, delivery = %queued.delivery_id, "a webhook attempt could not be recorded; it will be made again");
                // The delivery is still due: without a pause, a database that
                // refuses writes would have the receiver called in a tight loop.
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        busy.insert(handle.id(), subscription);
    }
    Ok(next)
}

/// How an attempt failed.
enum Failure {
    Status {
        status: u16,
        detail: String,
        retry_after: Option<Duration>,
        gone: bool,
    },
    Timeout(String),
    Connection(String),
    Address(String),
}

impl Failure {
    /// The receiver's status, when it answered.
    fn status(&self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The metric this failure counts in (its `reason`).
    fn counter<'a>(&self, counters: &'a Counters) -> &'a AtomicU64 {
        match self {
            Failure::Status { .. } => &counters.failed_status,
            Failure::Timeout(_) => &counters.failed_timeout,
            Failure::Connection(_) => &counters.failed_connection,
            Failure::Address(_) => &counters.failed_address,
        }
    }

    fn error(&self) -> String {
        match self {
            Failure::Status { status, detail, .. } if detail.is_empty() => {
                format!("the receiver answered {status}")
            }
            Failure::Status { status, detail, .. } => {
                format!("the receiver answered {status}: {detail}")
            }
            Failure::Timeout(e) | Failure::Connection(e) | Failure::Address(e) => e.clone(),
        }
    }
}

/// The body of a delivery: the event's id, type and time, and its data, with links
/// made absolute under the public URL when there is one.
fn body(webhooks: &Webhooks, queued: &QueuedDelivery) -> Result<String> {
    let mut data: Value = serde_json::from_str(&queued.data)
        .map_err(|e| Error::Corrupt(format!("webhook event {}: {e}", queued.event_id)))?;
    if let (Some(base), Some(Value::Object(links))) =
        (&webhooks.settings.public_url, data.get_mut("links"))
    {
        for link in links.values_mut() {
            if let Value::String(path) = link {
                *path = format!("{}{path}", base.trim_end_matches('/'));
            }
        }
    }
    let payload = json!({
        "id": message_id(queued.event_id),
        "type": queued.event_type,
        "timestamp": queued.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    });
    Ok(payload.to_string())
}

async fn attempt(
    webhooks: &Webhooks,
    clock: &SharedClock,
    queued: &QueuedDelivery,
) -> AttemptResult {
    let started_at = clock.now();
    let started = Instant::now();
    let outcome = send(webhooks, queued, started_at.timestamp()).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let counters = &webhooks.counters;
    let (status, error, then) = match outcome {
        Ok(status) => {
            counters.delivered.fetch_add(1, Ordering::Relaxed);
            (Some(status), None, AfterAttempt::Delivered)
        }
        Err(failure) => {
            failure.counter(counters).fetch_add(1, Ordering::Relaxed);
            let error = failure.error();
            let then = after_failure(webhooks, queued, &failure, &error, started_at, clock.now());
            if matches!(then, AfterAttempt::Disable { .. }) {
                counters.disabled.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(webhook = %queued.subscription_id, %error, "a webhook subscription was disabled");
            }
            (failure.status(), Some(error), then)
        }
    };
    AttemptResult {
        delivery_id: queued.delivery_id,
        subscription_id: queued.subscription_id,
        attempt: AttemptRow {
            number: queued.attempts.saturating_add(1),
            started_at,
            duration_ms,
            status,
            error,
        },
        then,
    }
}

/// What follows a failed attempt: the subscription is disabled when the receiver
/// answered 410 Gone or the delivery has been failing for [`RETRY_WINDOW`];
/// otherwise the next attempt waits its backoff (or the receiver's `Retry-After`,
/// up to [`MAX_RETRY_DELAY`], when that is longer).
fn after_failure(
    webhooks: &Webhooks,
    queued: &QueuedDelivery,
    failure: &Failure,
    error: &str,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AfterAttempt {
    let event = message_id(queued.event_id);
    if let Failure::Status { gone: true, .. } = failure {
        return AfterAttempt::Disable {
            reason: format!(
                "the receiver answered 410 Gone at {} (event {event}): it wants no more events",
                secs(started_at)
            ),
        };
    }
    let first_failed_at = queued.first_failed_at.unwrap_or(started_at);
    let window = chrono::Duration::from_std(RETRY_WINDOW).unwrap_or(chrono::Duration::MAX);
    if now - first_failed_at >= window {
        return AfterAttempt::Disable {
            reason: format!(
                "event {event} ({}) could not be delivered from {} to {}; the last attempt: {error}",
                queued.event_type,
                secs(first_failed_at),
                secs(now)
            ),
        };
    }
    let mut random = [0u8; 8];
    let _ = getrandom::fill(&mut random);
    let backoff = retry_delay(
        webhooks.settings.retry_base,
        queued.failures.saturating_add(1),
        u64::from_le_bytes(random),
    );
    let delay = match failure {
        Failure::Status {
            retry_after: Some(asked),
            ..
        } => backoff.max((*asked).min(MAX_RETRY_DELAY)),
        _ => backoff,
    };
    AfterAttempt::Retry {
        at: now + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::hours(1)),
        first_failed_at,
    }
}

/// One signed POST; the receiver's status when it was 2xx.
async fn send(
    webhooks: &Webhooks,
    queued: &QueuedDelivery,
    timestamp: i64,
) -> Result<u16, Failure> {
    let url = parse_target(&queued.url).map_err(|e| Failure::Address(e.to_string()))?;
    if !webhooks.settings.allow_private {
        // An IP literal never reaches the resolver; a name is checked there, on the
        // addresses the connection uses (resolving it here too would be a second
        // lookup per delivery, and not the one the connection uses).
        if let Some(ip) = host_ip(&url) {
            check_address(&ip.to_string(), ip).map_err(|e| Failure::Address(e.to_string()))?;
        }
    }
    let body = body(webhooks, queued).map_err(|e| Failure::Connection(e.to_string()))?;
    let key = secret_key(&queued.secret).map_err(|e| Failure::Connection(e.to_string()))?;
    let id = message_id(queued.event_id);
    let signature = sign(&key, &id, timestamp, body.as_bytes());
    let response = webhooks
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| transport_failure(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // A little of what the receiver said, for the delivery log.
    let text = tokio::time::timeout(Duration::from_secs(2), response.text())
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    let detail: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    Err(Failure::Status {
        status: status.as_u16(),
        detail,
        retry_after,
        gone: status == reqwest::StatusCode::GONE,
    })
}

fn transport_failure(e: &reqwest::Error) -> Failure {
    // The whole chain: the cause is deep inside it.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        // The resolver's refusal says all there is to say, in the words the
        // registration check uses.
        if let Some(refused) = inner.downcast_ref::<WebhookError>() {
            return Failure::Address(refused.to_string());
        }
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    if e.is_timeout() {
        Failure::Timeout(text)
    } else {
        Failure::Connection(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(url: &str) -> QueuedDelivery {
        QueuedDelivery {
            delivery_id: Uuid::new_v4(),
            subscription_id: Uuid::new_v4(),
            url: url.to_owned(),
            secret: new_secret(&[1; SECRET_BYTES]),
            attempts: 0,
            failures: 0,
            next_attempt_at: Utc::now(),
            first_failed_at: None,
            event_id: Uuid::new_v4(),
            event_type: "proposal.closed".into(),
            occurred_at: Utc::now(),
            data: "{}".into(),
        }
    }

    /// A target is checked again when it is called, on the addresses the connection
    /// would use: an address refused there fails the attempt without a request, in
    /// the words a registration would be refused with. An IP literal is checked
    /// before the request; a name by the resolver the HTTP client uses (so also a
    /// name that resolved to a public address at registration and is re-pointed later).
    #[tokio::test]
    async fn deliveries_to_internal_addresses_are_refused_when_they_are_made() {
        let webhooks = Webhooks::new(WebhookSettings {
            allow_private: false,
            timeout: Duration::from_secs(2),
            retry_base: Duration::from_secs(10),
            public_url: None,
        })
        .unwrap();
        let clock = SharedClock::default();
        for (url, host) in [
            ("http://127.0.0.1:9/x", "127.0.0.1"),
            ("http://localhost:9/x", "localhost"),
            ("http://[::1]:9/x", "::1"),
        ] {
            let result = attempt(&webhooks, &clock, &queued(url)).await;
            let error = result.attempt.error.unwrap_or_default();
            assert!(
                error.starts_with(&format!("{host} resolves to ")) && error.contains("loopback"),
                "{url}: {error}"
            );
            assert!(matches!(result.then, AfterAttempt::Retry { .. }), "{url}");
        }
        assert_eq!(webhooks.counters.failed_address.load(Ordering::Relaxed), 3);
    }
}
