//! `GET /metrics`: this server's Prometheus metrics in the text format, for admins
//! here and for anyone on the `--metrics-listen` address (a private network).

use poem::web::Data;
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};

use super::problem::{ApiError, OpResult, ReadRestricted};
use super::{ApiTags, AppState, Credentials, State};
use crate::access::{Operation, check};

pub struct MetricsApi;

/// The content type Prometheus asks for (text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(ApiResponse)]
enum Exposition {
    /// The metrics in the Prometheus text format (0.0.4).
    #[oai(
        status = 200,
        content_type = "text/plain; version=0.0.4; charset=utf-8"
    )]
    Ok(PlainText<String>),
}

#[OpenApi(tag = "ApiTags::Operations")]
impl MetricsApi {
    /// This server's metrics, in the Prometheus text format
    ///
    /// Requests by method, route template and status; their latency; problems by
    /// route and type; ballots, proxies and key registrations by outcome; the log's
    /// size, the latest checkpoint's age, the database pool and open connections;
    /// webhook deliveries, failures by reason, disabled subscriptions and the backlog.
    /// Admins only here; without credentials on the `--metrics-listen` address.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(
        &self,
        state: Data<&State>,
        auth: Credentials,
    ) -> OpResult<Exposition, ReadRestricted> {
        let who = state.authenticate(&auth).await?;
        check(&who, Operation::ReadMetrics).map_err(|denied| ApiError::forbidden(denied.0))?;
        Ok(Exposition::Ok(PlainText(exposition(&state).await)))
    }
}

/// Sets the gauges that are read at scrape time, then renders every metric.
pub async fn exposition(state: &AppState) -> String {
    // Read before entering the recorder's scope: `with` takes a synchronous closure.
    let log_entries = state.store.tree_size().ok();
    let checkpoint_age = match state.store.latest_checkpoint().await {
        Ok(latest) => latest.map(|c| {
            (state.clock.now() - c.created_at)
                .to_std()
                .unwrap_or_default()
                .as_secs_f64()
        }),
        Err(e) => {
            tracing::warn!(error = %e, "the latest checkpoint cannot be read for the metrics");
            None
        }
    };
    let backlog = match state.store.webhook_backlog().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "the webhook backlog cannot be read for the metrics");
            None
        }
    };
    let pool = state.store.pool_connections();
    let open = state.connections.count();
    state.metrics.with(|| {
        if let Some(size) = log_entries {
            metrics::gauge!("mandaat_log_entries").set(size as f64);
        }
        if let Some(age) = checkpoint_age {
            metrics::gauge!("mandaat_checkpoint_age_seconds").set(age);
        }
        if let Some((in_use, idle)) = pool {
            metrics::gauge!("mandaat_database_connections", "state" => "in_use").set(in_use as f64);
            metrics::gauge!("mandaat_database_connections", "state" => "idle").set(idle as f64);
        }
        metrics::gauge!("mandaat_open_connections").set(open as f64);
        // The worker counts in atomics (it has no request's recorder); set here.
        let counters = &state.webhooks.counters;
        let read = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        metrics::counter!("mandaat_webhook_deliveries_total").absolute(read(&counters.delivered));
        for (reason, counter) in [
            ("status", &counters.failed_status),
            ("timeout", &counters.failed_timeout),
            ("connection", &counters.failed_connection),
            ("address", &counters.failed_address),
        ] {
            metrics::counter!("mandaat_webhook_failures_total", "reason" => reason)
                .absolute(read(counter));
        }
        metrics::counter!("mandaat_webhook_subscriptions_disabled_total")
            .absolute(read(&counters.disabled));
        if let Some(backlog) = backlog {
            metrics::gauge!("mandaat_webhook_pending_deliveries").set(backlog as f64);
        }
    });
    state.metrics.render()
}
