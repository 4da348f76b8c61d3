//! Wiring: `Application::build` is the one startup path, used by `mandaat serve` and
//! by the integration tests alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::error::ReadBodyError;
use poem::http::StatusCode;
use poem::listener::{Acceptor, AcceptorExt, Listener, TcpListener};
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Route, Server};

use crate::api::{self, AppState, problem::render_error};
use crate::auth::{Authenticator, LocalIssuer};
use crate::config::Config;
use crate::server_keys::ServerKeys;
use crate::store::Store;

pub struct Application {
    local_addr: SocketAddr,
    acceptor: poem::listener::BoxAcceptor,
    /// `--metrics-listen`: its address, the listener and what it serves.
    metrics: Option<(
        SocketAddr,
        poem::listener::BoxAcceptor,
        poem::endpoint::BoxEndpoint<'static>,
    )>,
    idle_timeout: Duration,
    route: poem::endpoint::BoxEndpoint<'static>,
    state: Arc<AppState>,
    issuer: Arc<LocalIssuer>,
}

/// The file in the data directory that holds the log's origin, fixed at first start.
pub const LOG_ORIGIN_FILE: &str = "log.origin";

/// What `serve` needs from storage, shared with the CLI commands that work on the
/// same data: the store, the chamber rules and this server's token issuer.
pub struct Deployment {
    pub store: Store,
    /// Where the server keys and the log's origin are kept.
    pub data_dir: std::path::PathBuf,
    pub rules: crate::domain::member::ChamberRules,
    pub keys: ServerKeys,
    pub issuer: Arc<LocalIssuer>,
}

impl Deployment {
    /// Opens the database (running migrations), loads or creates the server keys and
    /// re-derives chambers under the configured rules.
    pub async fn open(
        storage: &crate::config::StorageConfig,
        token: &crate::config::TokenConfig,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Self> {
        let rules = storage.load_chamber_rules()?;
        let store = Store::open(storage).await?;
        let keys = ServerKeys::load_or_create(&storage.data_dir, &store, now).await?;
        let changed = store.recompute_chambers(&rules, now).await?;
        if changed > 0 {
            tracing::info!(
                changed,
                "members moved to another chamber under the configured rules"
            );
        }
        let issuer = Arc::new(LocalIssuer::new(
            &keys.token_signing,
            &token.token_issuer,
            &token.token_audience,
        )?);
        Ok(Deployment {
            store,
            data_dir: storage.data_dir.clone(),
            rules,
            keys,
            issuer,
        })
    }

    /// The transparency log, signing with the log key under its origin (see
    /// [`LogConfig::resolve_origin`](crate::config::LogConfig::resolve_origin)).
    pub async fn log(
        &self,
        config: &crate::config::LogConfig,
        public_url: Option<&str>,
    ) -> anyhow::Result<crate::service::log::Log> {
        let signed = self
            .store
            .latest_checkpoint()
            .await?
            .map(|c| c.note.split('\n').next().unwrap_or_default().to_owned());
        let path = self.data_dir.join(LOG_ORIGIN_FILE);
        let stored = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        };
        if let (Some(stored), Some(signed)) = (&stored, &signed)
            && stored != signed
        {
            anyhow::bail!(
                "{} names the log {stored:?}, but its checkpoints are signed as {signed:?}",
                path.display()
            );
        }
        let origin = config.resolve_origin(stored.as_deref().or(signed.as_deref()), public_url)?;
        if stored.is_none() {
            std::fs::write(&path, format!("{origin}\n"))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        }
        let signer =
            crate::transparency::note::NoteSigner::new(&origin, self.keys.log_signing.clone())
                .map_err(|e| anyhow::anyhow!("log origin {origin:?}: {e}"))?;
        Ok(crate::service::log::Log { origin, signer })
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, None).await
    }

    /// [`build`](Self::build), with `extra_routes` mounted under [`TEST_ROUTES`]
    /// inside every middleware: for tests that need a route the service does not
    /// have (one that panics, say).
    #[doc(hidden)]
    pub async fn build_with(config: Config, extra_routes: Option<Route>) -> anyhow::Result<Self> {
        let deployment =
            Deployment::open(&config.storage, &config.token, config.clock.now()).await?;
        if let Some(problem) = deployment.store.log_problem() {
            anyhow::bail!(
                "{problem}. The database was changed outside Mandaat; Mandaat will not sign \
                 checkpoints over it. Export it with `mandaat audit export` and check it with \
                 `mandaat audit verify`."
            );
        }
        let log = deployment
            .log(&config.log, config.public_url.as_deref())
            .await?;
        deployment
            .store
            .sign_checkpoints_with(crate::store::Checkpointer {
                signer: log.signer.clone(),
                origin: log.origin.clone(),
            });
        // Membership the log does not state yet (the upgrade's migration, admissions
        // from the command line) is signed into it before anything is served.
        let signer = crate::service::ServerSigner::new(deployment.keys.log_signing.clone());
        let signed = crate::service::membership::log_pending_now(
            &deployment.store,
            &signer,
            config.clock.now(),
        )
        .await?;
        if signed > 0 {
            tracing::info!(
                boards = signed,
                "membership signed into the transparency log"
            );
        }
        let providers = crate::config::load_sign_in_providers(config.sign_in_providers.as_deref())?;
        if !providers.is_empty() && config.public_url.is_none() {
            // The redirect URL registered at the provider must be the one we send.
            tracing::warn!(
                "sign-in providers are configured without --public-url: the redirect URL sent to them is built from each request's Host header"
            );
        }
        let sign_in = crate::service::sign_in::SignIn::new(providers)?;
        let (acceptor, local_addr) = bind(config.listen).await?;
        // The connection cap and the header-read timeout, which poem's `Server` lacks.
        let acceptor = crate::connection::BoundedAcceptor::new(
            acceptor,
            config.connections.max_connections,
            config.connections.header_read_timeout,
        );
        let metrics = Arc::new(crate::observe::Metrics::new());
        let state = Arc::new(AppState {
            store: deployment.store.clone(),
            rules: deployment.rules,
            auth: Authenticator::new().trust(deployment.issuer.clone()),
            clock: config.clock.clone(),
            log,
            people: crate::service::people::People {
                store: deployment.store.clone(),
                policy: crate::domain::person::SessionPolicy {
                    idle: chrono::Duration::from_std(config.session_idle)
                        .map_err(|e| anyhow::anyhow!("--session-idle: {e}"))?,
                },
            },
            public_url: config.public_url.clone(),
            known_members: Default::default(),
            voting: crate::service::voting::Voting {
                signer,
                frozen: Default::default(),
                hints: Default::default(),
                sequencer: crate::service::sequencer::Sequencer::start(
                    deployment.store.clone(),
                    config.max_proxies_per_holder,
                    crate::observe::batch_observer(metrics.clone()),
                ),
            },
            metrics,
            connections: acceptor.open_connections(),
            sign_in,
            webhooks: Arc::new(crate::service::webhooks::Webhooks::new(
                crate::service::webhooks::WebhookSettings {
                    allow_private: config.webhooks.allow_private,
                    timeout: config.webhooks.timeout,
                    retry_base: config.webhooks.retry_base,
                    public_url: config.public_url.clone(),
                },
            )?),
        });

        let rate_limits = crate::rate_limit::RateLimits::new(&config.rate_limits);
        if let Some(limits) = &rate_limits {
            limits.sweep_periodically();
        }
        let max_body_bytes = config.max_body_bytes;
        let request_timeout = config.connections.request_timeout;
        let public_origin = config.public_url.clone();
        let api = api::service();
        let document = api::document::document();
        let allowed = Arc::new(AllowedMethods::from_spec(&document)?);
        let api_docs = crate::web::DocsPage::new(&document);
        let api_spec = poem::endpoint::make_sync(move |_| {
            poem::Response::builder()
                .content_type("application/json")
                .body(document.clone())
        });
        let mut route = Route::new()
            .nest("/", api)
            .nest("/web", crate::web::WebFiles::files())
            .at("/openapi.json", api_spec)
            .at("/docs", api_docs);
        if let Some(extra) = extra_routes {
            route = route.nest(TEST_ROUTES, extra);
        }
        let route = route
            // One layer for the checks every request passes before routing (the
            // stack's type must stay shallow enough for rustc): the app's entry page,
            // which the API's catch-all nest at "/" would otherwise take; the CSRF
            // check; the body limit.
            .around(move |endpoint, request| {
                let public_origin = public_origin.clone();
                async move {
                    if request.uri().path() == "/" {
                        return crate::web::WebFiles::index()
                            .call(request)
                            .await
                            .map(IntoResponse::into_response);
                    }
                    check_csrf(&request, public_origin.as_deref())?;
                    let request = read_body(request, max_body_bytes).await?;
                    endpoint
                        .call(request)
                        .await
                        .map(IntoResponse::into_response)
                }
            })
            // Before the CSRF check and the body are read; inside the cookie jar,
            // whose session cookie is a credential.
            .around(move |endpoint, request| {
                let limits = rate_limits.clone();
                async move {
                    match limits {
                        Some(limits) => crate::rate_limit::limit(endpoint, request, &limits).await,
                        None => endpoint
                            .call(request)
                            .await
                            .map(IntoResponse::into_response),
                    }
                }
            })
            .with(poem::middleware::CookieJarManager::new())
            .data(state.clone())
            .around(move |endpoint, request| limit_time(endpoint, request, request_timeout))
            .with(CatchPanic::new().with_handler(panic_response))
            .catch_all_error(render_error)
            .around({
                let allowed = allowed.clone();
                move |endpoint, request| {
                    let allowed = allowed.clone();
                    async move { response_headers(endpoint, request, &allowed).await }
                }
            })
            // Outermost: every answer (a 404, a 429, a panic's 500) gets an id, a log
            // line and its count.
            .around({
                let state = state.clone();
                let allowed = allowed.clone();
                move |endpoint, request| {
                    let state = state.clone();
                    let allowed = allowed.clone();
                    async move {
                        crate::observe::observe(endpoint, request, &state.metrics, |path| {
                            allowed.route_label(path)
                        })
                        .await
                    }
                }
            })
            .boxed();

        let metrics = match config.metrics_listen {
            Some(address) => {
                let (acceptor, local) = bind(address).await?;
                // A scraper needs few connections; the header timeout is the API's.
                let acceptor = crate::connection::BoundedAcceptor::new(
                    acceptor,
                    METRICS_MAX_CONNECTIONS,
                    config.connections.header_read_timeout,
                );
                let endpoint = metrics_endpoint(state.clone(), allowed.clone());
                Some((local, acceptor.boxed(), endpoint))
            }
            None => None,
        };

        Ok(Application {
            local_addr,
            acceptor: acceptor.boxed(),
            metrics,
            idle_timeout: config.connections.idle_timeout,
            route,
            state,
            issuer: deployment.issuer,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The `--metrics-listen` address, when there is one (port 0 resolved).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(address, _, _)| *address)
    }

    /// For tests: holds a batch of ballots and proxies after their checks and
    /// before the append (see [`BatchHold`](crate::service::sequencer::BatchHold)).
    #[doc(hidden)]
    pub fn batch_hold(&self) -> Arc<crate::service::sequencer::BatchHold> {
        self.state.voting.sequencer.hold.clone()
    }

    /// This server's token issuer, for tests and for the startup hint.
    pub fn issuer(&self) -> Arc<LocalIssuer> {
        self.issuer.clone()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests (up to 10 s).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        // The webhook worker delivers while the server runs; stopping it mid-attempt
        // leaves that delivery queued, to be made again at the next start.
        let worker = tokio::spawn(crate::service::webhooks::run_worker(
            self.state.store.clone(),
            self.state.webhooks.clone(),
            self.state.clock.clone(),
        ));
        let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(());
        // poem's own idle timeout: a connection with no traffic either way for this
        // long is shut down (gracefully: a request in progress still gets its answer).
        let api = Server::new_with_acceptor(self.acceptor)
            .idle_timeout(self.idle_timeout)
            .run_with_graceful_shutdown(
                self.route,
                async move {
                    shutdown.await;
                    // Dropping the sender tells the metrics listener to stop too.
                    drop(stop_metrics);
                },
                Some(Duration::from_secs(10)),
            );
        let (metrics, idle_timeout) = (self.metrics, self.idle_timeout);
        let metrics = async move {
            let Some((address, acceptor, endpoint)) = metrics else {
                return;
            };
            let mut stopped = metrics_stopped;
            let result = Server::new_with_acceptor(acceptor)
                .idle_timeout(idle_timeout)
                .run_with_graceful_shutdown(
                    endpoint,
                    async move { while stopped.changed().await.is_ok() {} },
                    Some(Duration::from_secs(1)),
                )
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, %address, "the metrics listener failed");
            }
        };
        let (result, ()) = tokio::join!(api, metrics);
        worker.abort();
        let _ = worker.await;
        // Let SQLite checkpoint its WAL and PostgreSQL see a clean disconnect.
        if let Ok(state) = Arc::try_unwrap(self.state)
            && let Err(e) = state.store.close().await
        {
            tracing::warn!(error = %e, "closing the database failed");
        }
        result
    }
}

/// A write authenticated by the session cookie must carry `X-Mandaat-CSRF: 1`, a
/// header that a cross-site form cannot set and a cross-site script cannot send
/// without a CORS preflight that this server never grants; when the browser names the
/// page's origin, it must be this service's. Bearer requests are not affected: a
/// browser never attaches a bearer token by itself. (The cookie is also
/// `SameSite=Strict`; this is the second, independent defence.)
fn check_csrf(request: &Request, public_origin: Option<&str>) -> poem::Result<()> {
    use poem::http::Method;
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // Only a bearer token takes the cookie's place (see `api::Credentials`).
    let bearer = request.header("authorization").is_some_and(|value| {
        value
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer "))
    });
    let uses_cookie = !bearer && request.cookie().get(crate::api::SESSION_COOKIE).is_some();
    if !safe && uses_cookie {
        let refuse = |detail: &str| {
            let problem =
                crate::api::problem::ApiError::problem(StatusCode::FORBIDDEN, "csrf", detail);
            Err(poem::Error::from_response(
                poem::IntoResponse::into_response(problem),
            ))
        };
        if request.header(CSRF_HEADER) != Some("1") {
            return refuse(
                "a change made with a session cookie must carry the header X-Mandaat-CSRF: 1",
            );
        }
        if let Some(origin) = request.header("origin") {
            let own = match public_origin {
                Some(url) => url.to_owned(),
                None => format!(
                    "{}://{}",
                    request.scheme(),
                    request.header("host").unwrap_or_default()
                ),
            };
            if origin != own {
                return refuse("the request comes from a page of another site");
            }
        }
    }
    Ok(())
}

/// The header that proves a cookie-authenticated write came from our own page.
pub const CSRF_HEADER: &str = "x-mandaat-csrf";

/// Refuses request bodies over the limit, whether or not they declare a length
/// (poem's `SizeLimit` needs a Content-Length even on a GET). Bodies are small JSON,
/// so reading them here first costs nothing.
async fn read_body(mut request: Request, max: usize) -> poem::Result<Request> {
    let declared = request
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE);
    if declared.is_some_and(|len| len > max) {
        return Err(too_large());
    }
    let body = request
        .take_body()
        .into_bytes_limit(max)
        .await
        .map_err(|e| match e {
            ReadBodyError::PayloadTooLarge => too_large(),
            other => other.into(),
        })?;
    request.set_body(body);
    Ok(request)
}

/// Answers a request that takes longer than `limit` (its body included) with a 503
/// problem. The handler's future is dropped: a database transaction in it rolls back
/// unless it had already committed.
async fn limit_time<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
    limit: Duration,
) -> poem::Result<poem::Response> {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    match tokio::time::timeout(limit, endpoint.call(request)).await {
        Ok(result) => result.map(IntoResponse::into_response),
        Err(_) => {
            tracing::warn!(%method, %path, limit_seconds = limit.as_secs_f32(), "a request took too long");
            Ok(crate::api::problem::ApiError::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "request-timeout",
                format!(
                    "the server did not finish this request within {} s; try again later",
                    limit.as_secs()
                ),
            )
            .into_response())
        }
    }
}

/// Binds a TCP listener; the address it got (port 0 resolved).
async fn bind(address: SocketAddr) -> anyhow::Result<(impl Acceptor + 'static, SocketAddr)> {
    let acceptor = TcpListener::bind(address)
        .into_acceptor()
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| anyhow::anyhow!("listener has no socket address"))?;
    Ok((acceptor, local))
}

/// Most connections open at once on the `--metrics-listen` address.
const METRICS_MAX_CONNECTIONS: usize = 16;

/// What the `--metrics-listen` address serves: `GET /metrics` without credentials
/// (it is meant for a private network), problems for everything else; observed like
/// the API, so scrapes are logged and counted too.
fn metrics_endpoint(
    state: Arc<AppState>,
    allowed: Arc<AllowedMethods>,
) -> poem::endpoint::BoxEndpoint<'static> {
    let scrape = {
        let state = state.clone();
        poem::endpoint::make(move |_| {
            let state = state.clone();
            async move {
                poem::Response::builder()
                    .content_type(crate::api::metrics::CONTENT_TYPE)
                    .body(crate::api::metrics::exposition(&state).await)
            }
        })
    };
    Route::new()
        .at("/metrics", poem::get(scrape))
        .catch_all_error(render_error)
        .around(move |endpoint, request| {
            let state = state.clone();
            let allowed = allowed.clone();
            async move {
                crate::observe::observe(endpoint, request, &state.metrics, |path| {
                    allowed.route_label(path)
                })
                .await
            }
        })
        .boxed()
}

/// Where [`Application::build_with`] mounts routes that exist only in tests.
pub const TEST_ROUTES: &str = "/__test";

/// A panic in a handler: one log line and a 500 problem, never a dropped connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> poem::Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    tracing::error!(panic = %message, "a request handler panicked");
    crate::api::problem::ApiError::problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed to handle this request; the error is logged",
    )
    .into_response()
}

/// The API's path templates and the methods each answers, from the OpenAPI document:
/// for the `Allow` header of a 405 (poem's router does not say which methods a path
/// has) and for the route label of metrics and request logs.
pub struct AllowedMethods {
    paths: Vec<ApiPath>,
}

struct ApiPath {
    segments: Vec<Segment>,
    /// As the document writes it, e.g. `/api/v1/proposals/{id}/ballots`.
    template: String,
    /// The `Allow` value.
    methods: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

impl AllowedMethods {
    pub fn from_spec(spec: &str) -> anyhow::Result<Self> {
        let spec: serde_json::Value = serde_json::from_str(spec)?;
        let paths = spec["paths"]
            .as_object()
            .ok_or_else(|| anyhow::anyhow!("the OpenAPI document has no paths"))?;
        let order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        let mut table = Vec::new();
        for (path, item) in paths {
            let mut methods: Vec<String> = item
                .as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .map(|m| m.to_ascii_uppercase())
                .filter(|m| order.contains(&m.as_str()))
                .collect();
            // poem answers HEAD wherever there is a GET.
            if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                methods.push("HEAD".to_owned());
            }
            methods.sort_by_key(|m| order.iter().position(|o| o == m));
            let segments = path
                .trim_matches('/')
                .split('/')
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') {
                        Segment::Parameter
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect();
            table.push(ApiPath {
                segments,
                template: path.clone(),
                methods: methods.join(", "),
            });
        }
        Ok(AllowedMethods { paths: table })
    }

    /// The API path a request path falls under; literal segments win over
    /// parameters, as in the router.
    fn matching(&self, path: &str) -> Option<&ApiPath> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.paths
            .iter()
            .filter(|api| {
                api.segments.len() == parts.len()
                    && api.segments.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Literal(l) => l == p,
                        Segment::Parameter => !p.is_empty(),
                    })
            })
            .max_by_key(|api| {
                api.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
    }

    /// The `Allow` value for a request path.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        self.matching(path).map(|api| api.methods.as_str())
    }

    /// The route label of a request path in metrics and logs: its OpenAPI template
    /// (`/api/v1/proposals/{id}`), or a fixed name outside the API, so that the
    /// number of labels stays bounded whatever paths clients make up.
    pub fn route_label(&self, path: &str) -> String {
        if let Some(api) = self.matching(path) {
            return api.template.clone();
        }
        let label = match path {
            "/" => "/",
            "/openapi.json" => "/openapi.json",
            "/docs" => "/docs",
            p if p.starts_with("/docs/") => "/docs",
            "/web" => "/web/*",
            p if p.starts_with("/web/") => "/web/*",
            _ => "other",
        };
        label.to_owned()
    }
}

/// Headers of every API response: never cached (they carry members' data and
/// tokens' views), never content-sniffed, and `Allow` on a 405 (RFC 9110 §15.5.6).
/// The web client's files (`/`, `/web/…`) set their own and are left alone.
async fn response_headers<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
    allowed: &AllowedMethods,
) -> poem::Result<poem::Response> {
    use poem::http::{HeaderValue, header};
    let path = request.uri().path().to_owned();
    let mut response = endpoint.call(request).await?.into_response();
    let headers = response.headers_mut();
    if response_is_api(&path) {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        headers
            .entry(header::X_CONTENT_TYPE_OPTIONS)
            .or_insert(HeaderValue::from_static("nosniff"));
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::ALLOW)
        && let Some(methods) = allowed.for_path(&path)
        && let Ok(value) = HeaderValue::from_str(methods)
    {
        response.headers_mut().insert(header::ALLOW, value);
    }
    Ok(response)
}

fn response_is_api(path: &str) -> bool {
    path != "/" && path != "/web" && !path.starts_with("/web/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_labelled_by_template_or_a_fixed_name() {
        let routes = AllowedMethods::from_spec(&crate::api::document::document()).unwrap();
        let label = |path| routes.route_label(path);
        assert_eq!(
            label("/api/v1/proposals/0b6e4a5c-8d4e-4f3a-9a43-1f0f2a3b4c5d/ballots"),
            "/api/v1/proposals/{id}/ballots"
        );
        // A literal segment wins over a parameter, as in the router.
        assert_eq!(
            label("/api/v1/sessions/current"),
            "/api/v1/sessions/current"
        );
        assert_eq!(label("/api/v1/results.csv"), "/api/v1/results.csv");
        assert_eq!(label("/metrics"), "/metrics");
        assert_eq!(label("/"), "/");
        assert_eq!(label("/web/app.js"), "/web/*");
        assert_eq!(label("/docs"), "/docs");
        assert_eq!(label("/openapi.json"), "/openapi.json");
        for unknown in [
            "/api/v1/nothing",
            "/api/v1/proposals//ballots",
            "/x/y/z",
            "/.env",
        ] {
            assert_eq!(label(unknown), "other", "{unknown}");
        }
        assert_eq!(
            routes.for_path("/api/v1/members/x/keys"),
            Some("GET, HEAD, POST")
        );
    }
}
