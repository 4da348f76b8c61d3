//! What an operator sees of each request: an id (returned as `x-request-id` and as
//! the `instance` of a problem, so a council reporting an error can quote it), one log
//! line with the route, status, latency and who called, and Prometheus metrics.
//!
//! Routes are labelled by their OpenAPI path template, never by the raw path, so the
//! number of label values is bounded. Nothing secret is logged: no token, no cookie,
//! no ballot's choice.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument as _;

/// What a request leaves behind for its log line, set by code deep inside it.
#[derive(Debug, Default)]
struct Notes {
    subject: Option<String>,
    problem: Option<String>,
}

#[derive(Debug, Clone)]
struct Current {
    id: Arc<str>,
    notes: Arc<Mutex<Notes>>,
}

tokio::task_local! {
    static CURRENT: Current;
}

/// The id of the request being handled, if any (problems carry it).
pub fn request_id() -> Option<Arc<str>> {
    CURRENT.try_with(|c| c.id.clone()).ok()
}

/// Records who is calling (a token's or a person's subject), for the log line.
pub fn note_subject(subject: &str) {
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut notes) = c.notes.lock() {
            notes.subject = Some(subject.to_owned());
        }
    });
}

/// Records the problem type a request is answered with, for the log and metrics.
pub fn note_problem(slug: &str) {
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut notes) = c.notes.lock() {
            notes.problem = Some(slug.to_owned());
        }
    });
}

/// A client's own id is kept when it is short and plain; otherwise one is made.
fn request_id_for(request: &Request) -> Arc<str> {
    let given = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    match given {
        Some(id) => id.into(),
        None => {
            let mut bytes = [0u8; 12];
            // Without randomness the id is still unique enough from the clock.
            if getrandom::fill(&mut bytes).is_err() {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
            }
            hex::encode(bytes).into()
        }
    }
}

/// The Prometheus registry of one server (tests run many servers in one process, so
/// it is not the global recorder).
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Statements per group commit: powers of two up to the sequencer's maximum.
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

const BATCH_SIZE: &str = "mandaat_write_batch_statements";
const BATCH_SECONDS: &str = "mandaat_write_batch_duration_seconds";

impl Metrics {
    pub fn new() -> Self {
        use metrics_exporter_prometheus::Matcher;
        // Buckets make real histograms (summable across servers), not summaries.
        let builder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), &BATCH_BUCKETS)
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics { recorder, handle };
        metrics.with(describe);
        metrics
    }

    /// Runs `f` with this server's registry as the `metrics` macros' recorder.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// The `# HELP` lines of the metrics this crate records.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "mandaat_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "mandaat_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route template"
    );
    describe_counter!(
        "mandaat_problems_total",
        "Problem responses, by route template and problem type"
    );
    describe_counter!(
        "mandaat_statements_total",
        "Ballots, proxies and key registrations sent, by kind and outcome (accepted, or the problem type)"
    );
    describe_histogram!(
        BATCH_SIZE,
        "Ballots and proxies judged and committed together in one group commit"
    );
    describe_histogram!(
        BATCH_SECONDS,
        Unit::Seconds,
        "Time of one group commit, from taking its statements to its commit"
    );
    describe_gauge!("mandaat_log_entries", "Entries in the transparency log");
    describe_gauge!(
        "mandaat_checkpoint_age_seconds",
        Unit::Seconds,
        "Seconds since the latest signed checkpoint"
    );
    describe_gauge!(
        "mandaat_database_connections",
        "Database pool connections, by state (in_use, idle)"
    );
    describe_gauge!(
        "mandaat_open_connections",
        "Client connections open on the API's address"
    );
    describe_counter!(
        "mandaat_webhook_deliveries_total",
        "Webhook deliveries the receiver acknowledged with a 2xx"
    );
    describe_counter!(
        "mandaat_webhook_failures_total",
        "Failed webhook attempts, by reason (status, timeout, connection, address)"
    );
    describe_counter!(
        "mandaat_webhook_subscriptions_disabled_total",
        "Webhook subscriptions disabled because their deliveries kept failing (or the receiver answered 410)"
    );
    describe_gauge!(
        "mandaat_webhook_pending_deliveries",
        "Webhook deliveries queued and not yet delivered"
    );
}

/// Records each group commit of ballots and proxies: how many statements it judged,
/// and how long it took from taking them to the commit.
pub fn batch_observer(metrics: Arc<Metrics>) -> crate::service::sequencer::BatchObserver {
    Arc::new(move |statements, took| {
        metrics.with(|| {
            metrics::histogram!(BATCH_SIZE).record(statements as f64);
            metrics::histogram!(BATCH_SECONDS).record(took.as_secs_f64());
        });
    })
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Wraps every request: id, log line, metrics. `route` maps a path to its template.
pub async fn observe<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
    metrics: &Metrics,
    route: impl Fn(&str) -> String,
) -> poem::Result<Response> {
    let started = Instant::now();
    let id = request_id_for(&request);
    let method = request.method().as_str().to_owned();
    let route = route(request.uri().path());
    let current = Current {
        id: id.clone(),
        notes: Arc::default(),
    };
    let notes = current.notes.clone();
    // What is logged while the request runs (a 500's cause, say) names it too.
    let span = tracing::info_span!("request", request_id = %id);
    let result = CURRENT
        .scope(current, endpoint.call(request).instrument(span))
        .await;
    let mut response = match result {
        Ok(response) => response.into_response(),
        Err(error) => error.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    let (subject, problem) = notes
        .lock()
        .map(|n| (n.subject.clone(), n.problem.clone()))
        .unwrap_or_default();
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status,
        // Milliseconds to the microsecond: most answers take less than one.
        latency_ms = (seconds * 1_000_000.0).round() / 1000.0,
        subject = subject.as_deref().unwrap_or("-"),
        problem = problem.as_deref().unwrap_or("-"),
        "request"
    );
    let status_label = status.to_string();
    metrics.with(|| {
        metrics::counter!("mandaat_http_requests_total",
            "method" => method.clone(), "route" => route.clone(), "status" => status_label)
        .increment(1);
        metrics::histogram!("mandaat_http_request_duration_seconds",
            "method" => method.clone(), "route" => route.clone())
        .record(seconds);
        if let Some(problem) = &problem {
            metrics::counter!("mandaat_problems_total",
                "route" => route.clone(), "type" => problem.clone())
            .increment(1);
        }
        // The statements that matter most, by what became of them.
        let statement = match route.as_str() {
            "/api/v1/proposals/{id}/ballots" => Some("ballot"),
            "/api/v1/proposals/{id}/proxies" => Some("proxy"),
            "/api/v1/members/{id}/keys" => Some("key"),
            _ => None,
        };
        if let (Some(kind), "POST") = (statement, method.as_str()) {
            let outcome = match &problem {
                None if (200..300).contains(&status) => "accepted".to_owned(),
                None => format!("status-{status}"),
                Some(slug) => slug.clone(),
            };
            metrics::counter!("mandaat_statements_total",
                "kind" => kind, "outcome" => outcome)
            .increment(1);
        }
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_plain() {
        let with = |value: &str| {
            let request = Request::builder().header("x-request-id", value).finish();
            request_id_for(&request).to_string()
        };
        assert_eq!(with("council-42.a_b"), "council-42.a_b");
        assert_ne!(with("evil\" injected"), "evil\" injected");
        assert_eq!(with(&"x".repeat(65)).len(), 24);
        assert_eq!(request_id_for(&Request::default()).len(), 24);
    }

    #[test]
    fn metrics_render_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.with(|| {
            metrics::counter!("mandaat_http_requests_total", "route" => "/healthz").increment(2)
        });
        let text = metrics.render();
        assert!(
            text.contains("mandaat_http_requests_total{route=\"/healthz\"} 2"),
            "{text}"
        );
    }
}
