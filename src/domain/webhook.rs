//! Webhooks as the Standard Webhooks convention (standardwebhooks.com, 1.0.0) has
//! them: the events a subscription can ask for, the `whsec_` secret, the `v1`
//! signature over `id.timestamp.body`, the retry schedule, and which targets a
//! production server refuses to call. Pure: no HTTP, no database, time is a parameter.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::domain::member::Sector;

/// What a subscriber can hear about. Nothing about ballots: a proposal's events say
/// that it changed state, never who voted or how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    ProposalOpened,
    ProposalClosed,
    ProposalFinalized,
    ProposalWithdrawn,
    KeyRegistered,
    KeyRevoked,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::ProposalOpened,
        EventType::ProposalClosed,
        EventType::ProposalFinalized,
        EventType::ProposalWithdrawn,
        EventType::KeyRegistered,
        EventType::KeyRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ProposalOpened => "proposal.opened",
            EventType::ProposalClosed => "proposal.closed",
            EventType::ProposalFinalized => "proposal.finalized",
            EventType::ProposalWithdrawn => "proposal.withdrawn",
            EventType::KeyRegistered => "key.registered",
            EventType::KeyRevoked => "key.revoked",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = WebhookError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                WebhookError::Invalid(format!(
                    "{s:?} is not an event type; the types are {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A target the server will not call (scheme, credentials, address).
    #[error("{0}")]
    Target(String),
    /// Any other value that breaks a rule of its field.
    #[error("{0}")]
    Invalid(String),
}

/// One event in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub event_type: EventType,
    /// The sectors it concerns (a proposal's, a member's); a subscription for one
    /// sector hears only events concerning it.
    pub sectors: BTreeSet<Sector>,
    pub occurred_at: DateTime<Utc>,
    /// The payload's `data` member.
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(
        event_type: EventType,
        sectors: impl IntoIterator<Item = Sector>,
        occurred_at: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        Event {
            id: Uuid::new_v4(),
            event_type,
            sectors: sectors.into_iter().collect(),
            occurred_at,
            data,
        }
    }
}

/// The `webhook-id` of an event: the same for every attempt and every subscriber.
pub fn message_id(event: Uuid) -> String {
    format!("evt_{}", event.simple())
}

/// Whether a subscription (its event types and optional sector) wants this event.
pub fn wants(
    events: &BTreeSet<EventType>,
    sector: Option<Sector>,
    event_type: EventType,
    event_sectors: &BTreeSet<Sector>,
) -> bool {
    events.contains(&event_type) && sector.is_none_or(|s| event_sectors.contains(&s))
}

/// The event types of a subscription: at least one, each known, none twice.
pub fn parse_event_types<S: AsRef<str>>(names: &[S]) -> Result<BTreeSet<EventType>, WebhookError> {
    let mut types = BTreeSet::new();
    for name in names {
        if !types.insert(name.as_ref().parse()?) {
            return Err(WebhookError::Invalid(format!(
                "event type {:?} is listed twice",
                name.as_ref()
            )));
        }
    }
    if types.is_empty() {
        return Err(WebhookError::Invalid(
            "a subscription needs at least one event type".into(),
        ));
    }
    Ok(types)
}

/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 200;

/// A description: one line of plain text, at most [`DESCRIPTION_MAX_CHARS`].
pub fn check_description(text: &str) -> Result<(), WebhookError> {
    if text.chars().count() > DESCRIPTION_MAX_CHARS || !crate::domain::is_plain_text(text, false) {
        return Err(WebhookError::Invalid(format!(
            "a description is one line of at most {DESCRIPTION_MAX_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

// ---- the secret and the signature ----

const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (Standard Webhooks: 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// A new secret from `random` bytes: `whsec_` and their standard base64.
pub fn new_secret(random: &[u8; SECRET_BYTES]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random))
}

/// The HMAC key a `whsec_` secret stands for.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, WebhookError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .map_err(|_| WebhookError::Invalid("a webhook secret is not base64".into()))
}

/// The `webhook-signature` value: `v1,` and the base64 of HMAC-SHA256 under `key`
/// over `{id}.{timestamp}.{body}`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

// ---- retries ----

/// The longest wait between two attempts of one delivery.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// How long a delivery keeps failing before its subscription is disabled.
pub const RETRY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The wait after the `failures`-th failure in a row (1 for the first): `base`
/// doubled for each earlier failure, at most [`MAX_RETRY_DELAY`], of which a random
/// part (from `random`) is taken away, so that receivers coming back from an outage
/// are not hit by every sender at once. Always between half and all of the doubled
/// delay.
pub fn retry_delay(base: Duration, failures: u32, random: u64) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    let full = base
        .saturating_mul(1u32 << doublings.min(31))
        .min(MAX_RETRY_DELAY);
    let full_ms = u64::try_from(full.as_millis()).unwrap_or(u64::MAX);
    let half = full_ms / 2;
    let jitter = if half == 0 { 0 } else { random % (half + 1) };
    Duration::from_millis(full_ms - jitter)
}

// ---- targets ----

/// Longest target URL.
pub const URL_MAX_CHARS: usize = 2000;

/// A target as the server may call it: absolute http(s), a host, no credentials and
/// no fragment. Which addresses it may reach is decided when its host is resolved
/// (see [`refused_address`]).
pub fn parse_target(text: &str) -> Result<url::Url, WebhookError> {
    let refuse = |why: &str| Err(WebhookError::Target(format!("{text:?}: {why}")));
    if text.chars().count() > URL_MAX_CHARS {
        return refuse(&format!("a URL has at most {URL_MAX_CHARS} characters"));
    }
    let Ok(url) = url::Url::parse(text) else {
        return refuse("not an absolute URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse("only http and https targets are called");
    }
    if url.host().is_none() {
        return refuse("a URL without a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse(
            "credentials do not belong in the URL; the receiver checks the signature instead",
        );
    }
    if url.fragment().is_some() {
        return refuse("a fragment is never sent; leave it out");
    }
    Ok(url)
}

/// Why a production server does not call this address, if it does not: anything but
/// a globally routable unicast address (loopback, private, link-local, unspecified,
/// shared, multicast, documentation and reserved ranges), so that a subscription
/// cannot make the server reach its own network.
pub fn refused_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some("multicast or broadcast")
    } else if ip.is_documentation() {
        Some("documentation")
    } else if (a == 192 && b == 0 && c == 0) || (a == 198 && (18..20).contains(&b)) || a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return refused_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if segments[0] & 0xffc0 == 0xfe80 || segments[0] & 0xffc0 == 0xfec0 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast or broadcast")
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        Some("documentation")
    } else if segments[..4] == [0x100, 0, 0, 0] || segments[..5] == [0, 0, 0, 0, 0] {
        // Discard-only, and the deprecated IPv4-compatible addresses.
        Some("reserved")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of the Standard Webhooks reference libraries
    /// (libraries/go/webhook_test.go, TestWebhookSign).
    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_and_base64_of_their_key() {
        let secret = new_secret(&[7u8; SECRET_BYTES]);
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert_eq!(secret_key(&secret).unwrap(), vec![7u8; SECRET_BYTES]);
        assert!(secret_key("whsec_not base64!").is_err());
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_an_hour() {
        let base = Duration::from_secs(10);
        // Without jitter (random 0) the full delay; at most half of it is taken away.
        assert_eq!(retry_delay(base, 1, 0), Duration::from_secs(10));
        assert_eq!(retry_delay(base, 2, 0), Duration::from_secs(20));
        assert_eq!(retry_delay(base, 4, 0), Duration::from_secs(80));
        assert_eq!(retry_delay(base, 1, 5_000), Duration::from_secs(5));
        assert_eq!(retry_delay(base, 30, 0), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(base, u32::MAX, 0), MAX_RETRY_DELAY);
        for random in [1, 999, 123_456_789, u64::MAX] {
            let d = retry_delay(base, 3, random);
            assert!(
                d >= Duration::from_secs(20) && d <= Duration::from_secs(40),
                "{d:?}"
            );
        }
        // Retrying for the whole window takes many attempts, never one long wait.
        let (mut waited, mut attempts) = (Duration::ZERO, 1u32);
        while waited < RETRY_WINDOW {
            waited += retry_delay(base, attempts, u64::MAX);
            attempts += 1;
        }
        assert!(attempts > 24, "{attempts}");
        assert_eq!(
            retry_delay(Duration::from_millis(1), 1, 9),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn only_public_addresses_are_called() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("224.0.0.1", "multicast or broadcast"),
            ("192.0.2.1", "documentation"),
            ("240.0.0.1", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a00:1", "private"),
            ("2001:db8::1", "documentation"),
        ] {
            assert_eq!(refused_address(ip.parse().unwrap()), Some(why), "{ip}");
        }
        for ip in [
            "145.97.39.155",
            "8.8.8.8",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(refused_address(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn targets_are_absolute_http_urls_without_credentials() {
        assert!(parse_target("https://po-raad.example/hooks/mandaat").is_ok());
        assert!(parse_target("http://127.0.0.1:9000/x").is_ok());
        for bad in [
            "ftp://example.nl/x",
            "file:///etc/passwd",
            "/relative",
            "https://user:pw@example.nl/",
            "https://example.nl/#frag",
            "gopher://example.nl",
        ] {
            assert!(
                matches!(parse_target(bad), Err(WebhookError::Target(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_sector_subscription_hears_only_its_sector() {
        let all: BTreeSet<EventType> = EventType::ALL.into_iter().collect();
        let po: BTreeSet<Sector> = [Sector::Po].into();
        let both: BTreeSet<Sector> = [Sector::Po, Sector::Vo].into();
        assert!(wants(
            &all,
            Some(Sector::Po),
            EventType::ProposalClosed,
            &po
        ));
        assert!(wants(
            &all,
            Some(Sector::Vo),
            EventType::ProposalClosed,
            &both
        ));
        assert!(!wants(
            &all,
            Some(Sector::Vo),
            EventType::ProposalClosed,
            &po
        ));
        assert!(wants(&all, None, EventType::ProposalClosed, &po));
        let closed: BTreeSet<EventType> = [EventType::ProposalClosed].into();
        assert!(!wants(&closed, None, EventType::ProposalOpened, &po));
        assert!(parse_event_types::<&str>(&[]).is_err());
        assert!(parse_event_types(&["proposal.closed", "proposal.closed"]).is_err());
        assert!(parse_event_types(&["ballot.cast"]).is_err());
    }
}
