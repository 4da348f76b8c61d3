//! Request rate limits: GCRA (governor) keyed per client address for requests
//! without a credential and per credential for the rest, answered with a 429
//! `rate-limited` problem and `Retry-After`.
//!
//! - The client address is the peer address of the connection; proxy headers
//!   (`X-Forwarded-For`, `Forwarded`) are not read. IPv6 addresses count per /64,
//!   the block one host usually has to itself.
//! - A credential is the bearer token, else the `mandaat_session` cookie (the one
//!   `api::Credentials` would use). It is keyed by its SHA-256; the credential itself is
//!   never kept.
//! - A request whose credential is refused (401) is also charged to its address, so
//!   that inventing a new token for every request buys no fresh allowance; once the
//!   address is out of allowance, such a request is answered 429.
//! - Memory stays bounded: keys whose state is indistinguishable from a fresh one
//!   (idle for longer than their burst takes to refill) are dropped every
//!   [`SWEEP_EVERY`], and at once when a limiter holds more than [`SWEEP_ABOVE`] keys.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::Digest;

use crate::config::RateLimitConfig;

/// How often idle keys are dropped.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// A limiter holding more keys than this drops its idle ones at once.
pub const SWEEP_ABOVE: usize = 100_000;

type Limiter<K> = DefaultKeyedRateLimiter<K>;

/// The limiters of one server; `None` where that limit is off.
pub struct RateLimits {
    anonymous: Option<Limiter<IpAddr>>,
    authenticated: Option<Limiter<[u8; 32]>>,
}

fn quota(per_second: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_second)?;
    // A burst of 0 means one second's worth.
    Some(Quota::per_second(rate).allow_burst(NonZeroU32::new(burst).unwrap_or(rate)))
}

impl RateLimits {
    /// The limiters for this configuration; `None` when every limit is off.
    pub fn new(config: &RateLimitConfig) -> Option<Arc<Self>> {
        let limits = RateLimits {
            anonymous: quota(config.anonymous, config.anonymous_burst).map(Limiter::keyed),
            authenticated: quota(config.authenticated, config.authenticated_burst)
                .map(Limiter::keyed),
        };
        if limits.anonymous.is_none() && limits.authenticated.is_none() {
            return None;
        }
        Some(Arc::new(limits))
    }

    /// Drops idle keys every [`SWEEP_EVERY`] until the server (the last `Arc`) is gone.
    pub fn sweep_periodically(self: &Arc<Self>) {
        let limits = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(limits) = limits.upgrade() else {
                    return;
                };
                limits.sweep();
            }
        });
    }

    fn sweep(&self) {
        if let Some(limiter) = &self.anonymous {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.authenticated {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// `Err(wait)` when this address is out of allowance.
    fn check_address(&self, address: IpAddr) -> Result<(), Duration> {
        match &self.anonymous {
            None => Ok(()),
            Some(limiter) => check(limiter, &address),
        }
    }

    fn check_credential(&self, credential: &[u8; 32]) -> Result<(), Duration> {
        match &self.authenticated {
            None => Ok(()),
            Some(limiter) => check(limiter, credential),
        }
    }
}

fn check<K: Clone + std::hash::Hash + Eq>(limiter: &Limiter<K>, key: &K) -> Result<(), Duration> {
    if limiter.len() > SWEEP_ABOVE {
        limiter.retain_recent();
    }
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
}

/// Paths never limited: health probes and the web client's files.
fn exempt(path: &str) -> bool {
    matches!(path, "/" | "/healthz" | "/readyz" | "/web") || path.starts_with("/web/")
}

/// The address a request is counted under: the peer's, IPv6 per /64.
fn client_address(request: &Request) -> IpAddr {
    let ip = request
        .remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_canonical())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    match ip {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// SHA-256 of the credential the API would use: the bearer token, else the session
/// cookie.
fn credential_hash(request: &Request) -> Option<[u8; 32]> {
    let bearer = request
        .header(header::AUTHORIZATION)
        .and_then(|value| {
            value
                .get(..7)
                .filter(|s| s.eq_ignore_ascii_case("bearer "))
                .map(|_| &value[7..])
        })
        .map(|token| token.trim().as_bytes().to_vec());
    let credential = bearer.or_else(|| {
        request
            .cookie()
            .get(crate::api::SESSION_COOKIE)
            .map(|cookie| cookie.value_str().as_bytes().to_vec())
    })?;
    Some(sha2::Sha256::digest(&credential).into())
}

/// The 429 problem, with `Retry-After` in whole seconds (at least 1).
fn too_many_requests(wait: Duration) -> poem::Error {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let response = crate::api::problem::ApiError::TooManyRequests(
        poem_openapi::payload::Json(Box::new(crate::api::problem::Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!("too many requests; try again in {seconds} s"),
        ))),
        seconds,
    )
    .into_response();
    poem::Error::from_response(response)
}

/// The middleware: counts the request against its credential, or its address when
/// it carries none, before anything else reads it.
pub async fn limit<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
    limits: &RateLimits,
) -> poem::Result<Response> {
    if exempt(request.uri().path()) {
        return endpoint
            .call(request)
            .await
            .map(IntoResponse::into_response);
    }
    let address = client_address(&request);
    let Some(credential) = credential_hash(&request) else {
        limits.check_address(address).map_err(too_many_requests)?;
        return endpoint
            .call(request)
            .await
            .map(IntoResponse::into_response);
    };
    limits
        .check_credential(&credential)
        .map_err(too_many_requests)?;
    let result = endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response);
    let refused = match &result {
        Ok(response) => response.status() == StatusCode::UNAUTHORIZED,
        Err(err) => err.status() == StatusCode::UNAUTHORIZED,
    };
    if refused {
        // Invented credentials buy no allowance: the address pays for them.
        limits.check_address(address).map_err(too_many_requests)?;
    }
    result
}
