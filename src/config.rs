//! Configuration: one set of clap arguments, each also read from a `MANDAAT_*`
//! environment variable. `--help` and the README's table show the same list.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::clock::SharedClock;
use crate::domain::member::ChamberRules;

/// Where the service keeps its data; shared by every command that needs it.
#[derive(Debug, Clone, Args)]
pub struct StorageConfig {
    /// Directory for the embedded SQLite database and the server's key files
    /// (created when missing).
    #[arg(long, env = "MANDAAT_DATA_DIR", default_value = "./mandaat-data")]
    pub data_dir: PathBuf,

    /// Use this database instead of the embedded SQLite one, e.g.
    /// postgres://user@host/mandaat. Key files stay in --data-dir.
    #[arg(long, env = "MANDAAT_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// JSON file with the chamber rules (see README); default: SIVON's four chambers.
    /// Members' chambers are re-derived at every start.
    #[arg(long, env = "MANDAAT_CHAMBER_RULES")]
    pub chamber_rules: Option<PathBuf>,

    /// How long a request waits for a database connection, connecting included; when
    /// the database cannot be reached in that time the request is answered with a 503
    /// problem (`database-unavailable`) instead of waiting for the request timeout.
    #[arg(long, env = "MANDAAT_DATABASE_TIMEOUT", default_value = "5s", value_parser = parse_timeout)]
    pub database_timeout: Duration,
}

/// The identity this server gives its access tokens.
#[derive(Debug, Clone, Args)]
pub struct TokenConfig {
    /// The `iss` of the tokens this server issues and accepts.
    #[arg(long, env = "MANDAAT_TOKEN_ISSUER", default_value = "mandaat")]
    pub token_issuer: String,

    /// The `aud` that every accepted token must carry.
    #[arg(long, env = "MANDAAT_TOKEN_AUDIENCE", default_value = "mandaat-api")]
    pub token_audience: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The transparency log's identity.
#[derive(Debug, Clone, Args)]
pub struct LogConfig {
    /// This deployment's name, e.g. the cooperative's domain; a new log's origin
    /// derives from it (`<name>/log`) unless `--public-url` names the deployment.
    #[arg(long = "name", env = "MANDAAT_NAME", default_value = DEFAULT_NAME)]
    pub deployment_name: String,

    /// The log's origin line in checkpoints; also the name of its signing key. Fixed
    /// at first start (kept in `<data-dir>/log.origin`) and refused if changed later. Default for a new log: `<host>/log` from
    /// `--public-url`, else `<name>/log` when `--name` is given, else
    /// `mandaat/log/<random>`, so that no two deployments share one. No spaces or '+'.
    #[arg(long, env = "MANDAAT_LOG_ORIGIN")]
    pub log_origin: Option<String>,
}

const DEFAULT_NAME: &str = "mandaat";

impl LogConfig {
    /// The log's origin: the one it already has (`known`, kept in the data directory
    /// and in its checkpoints), which a configured one must equal; for a new log, the
    /// configured one or a default that names this deployment alone.
    pub fn resolve_origin(
        &self,
        known: Option<&str>,
        public_url: Option<&str>,
    ) -> anyhow::Result<String> {
        match (known, &self.log_origin) {
            (Some(known), Some(configured)) if known != configured => anyhow::bail!(
                "this log is called {known:?}, but --log-origin is {configured:?}; a log \
                 keeps its origin for life (leave --log-origin out, or set it to {known:?})"
            ),
            (Some(known), _) => Ok(known.to_owned()),
            (None, Some(configured)) => Ok(configured.clone()),
            (None, None) => Ok(match public_url {
                Some(url) => format!("{}/log", schemeless(url)),
                None if self.deployment_name != DEFAULT_NAME => {
                    format!("{}/log", self.deployment_name)
                }
                None => {
                    let mut random = [0u8; 8];
                    getrandom::fill(&mut random)
                        .map_err(|e| anyhow::anyhow!("no randomness for the log origin: {e}"))?;
                    format!("{DEFAULT_NAME}/log/{}", hex::encode(random))
                }
            }),
        }
    }
}

/// `https://stem.example.nl/mandaat/` → `stem.example.nl/mandaat`: C2SP's convention
/// for an origin is a schema-less URL.
fn schemeless(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    rest.trim_end_matches('/')
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            deployment_name: "mandaat".into(),
            log_origin: None,
        }
    }
}

/// Everything `Application::build` needs; `mandaat serve` and the tests fill it.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "MANDAAT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Also serve `GET /metrics` (Prometheus) here, without credentials: for a
    /// Prometheus on a private network. The main address serves it to admins only.
    #[arg(long, env = "MANDAAT_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    #[command(flatten)]
    pub storage: StorageConfig,

    #[command(flatten)]
    pub token: TokenConfig,

    #[command(flatten)]
    pub log: LogConfig,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "MANDAAT_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// The URL people use to reach this service, e.g. https://stemmen.coop.nl; used in
    /// invitation links and to mark the session cookie `Secure` (when https). Without
    /// it, links use the host the admin's request came to.
    #[arg(long, env = "MANDAAT_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// JSON file with the OpenID Connect providers people sign in with (Entree
    /// Federatie, SURFconext; see README, "Sign-in providers"). Without it, invitation
    /// links are the only way in.
    #[arg(long, env = "MANDAAT_SIGN_IN_PROVIDERS")]
    pub sign_in_providers: Option<PathBuf>,

    /// How long a signed-in session may stay idle before it ends, e.g. 30m, 8h.
    #[arg(long, env = "MANDAAT_SESSION_IDLE", default_value = "8h", value_parser = crate::cli::parse_ttl)]
    pub session_idle: std::time::Duration,

    /// How many proxies one member may hold per proposal (SIVON: 2).
    #[arg(long, env = "MANDAAT_MAX_PROXIES_PER_HOLDER", default_value_t = 2)]
    pub max_proxies_per_holder: usize,

    /// How the server writes its log to stderr: `text` for people (coloured only on a
    /// terminal) or `json`, one object per line, for log collectors.
    #[arg(long, env = "MANDAAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(flatten)]
    pub rate_limits: RateLimitConfig,

    #[command(flatten)]
    pub connections: ConnectionLimits,

    #[command(flatten)]
    pub webhooks: WebhookConfig,

    #[arg(skip)]
    pub clock: SharedClock,
}

/// How webhooks are delivered (see docs/webhooks.md).
#[derive(Debug, Clone, Args)]
pub struct WebhookConfig {
    /// Let webhook targets be loopback, private, link-local or other non-public
    /// addresses. Off in production: a subscription could otherwise make the server
    /// call its own network.
    #[arg(
        long = "webhooks-allow-private",
        env = "MANDAAT_WEBHOOKS_ALLOW_PRIVATE"
    )]
    pub allow_private: bool,

    /// How long one webhook request may take, connecting included.
    #[arg(long = "webhook-timeout", env = "MANDAAT_WEBHOOK_TIMEOUT", default_value = "15s", value_parser = parse_webhook_timeout)]
    pub timeout: Duration,

    /// The wait before the first retry of a failed delivery, e.g. 10s or 500ms; it
    /// doubles with every further failure, up to an hour.
    #[arg(long = "webhook-retry-base", env = "MANDAAT_WEBHOOK_RETRY_BASE", default_value = "10s", value_parser = parse_retry_base)]
    pub retry_base: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_private: false,
            timeout: Duration::from_secs(15),
            retry_base: Duration::from_secs(10),
        }
    }
}

/// 1 to 60 seconds: a receiver should answer at once and do its work afterwards.
fn parse_webhook_timeout(text: &str) -> Result<Duration, String> {
    match crate::cli::parse_ttl(text) {
        Ok(d) if d <= Duration::from_secs(60) => Ok(d),
        _ => Err(format!("{text:?} is not a duration between 1s and 60s")),
    }
}

/// Milliseconds (`500ms`) or a duration like `10s`; from 1 ms to 1 hour.
fn parse_retry_base(text: &str) -> Result<Duration, String> {
    let parsed = match text.strip_suffix("ms") {
        Some(ms) => ms.parse::<u64>().map(Duration::from_millis).ok(),
        None => crate::cli::parse_ttl(text).ok(),
    };
    match parsed {
        Some(d) if d >= Duration::from_millis(1) && d <= Duration::from_secs(3600) => Ok(d),
        _ => Err(format!(
            "{text:?} is not a duration between 1ms and 1h, like 500ms or 10s"
        )),
    }
}

/// Request rate limits (see `crate::rate_limit`): per client address for requests
/// without a credential, per credential (bearer token or session cookie) for the
/// rest. A rate of 0 turns that limit off. Health probes and the web client's files
/// are never limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct RateLimitConfig {
    /// Requests per second allowed from one client address without a credential
    /// (0: no limit).
    #[arg(long = "rate-limit-anonymous", env = "MANDAAT_RATE_LIMIT_ANONYMOUS", default_value_t = RateLimitConfig::DEFAULT.anonymous)]
    pub anonymous: u32,

    /// How many requests one client address may make at once, above that rate.
    #[arg(long = "rate-limit-anonymous-burst", env = "MANDAAT_RATE_LIMIT_ANONYMOUS_BURST", default_value_t = RateLimitConfig::DEFAULT.anonymous_burst)]
    pub anonymous_burst: u32,

    /// Requests per second allowed with one credential, a bearer token or a session
    /// (0: no limit).
    #[arg(long = "rate-limit-authenticated", env = "MANDAAT_RATE_LIMIT_AUTHENTICATED", default_value_t = RateLimitConfig::DEFAULT.authenticated)]
    pub authenticated: u32,

    /// How many requests one credential may make at once, above that rate.
    #[arg(long = "rate-limit-authenticated-burst", env = "MANDAAT_RATE_LIMIT_AUTHENTICATED_BURST", default_value_t = RateLimitConfig::DEFAULT.authenticated_burst)]
    pub authenticated_burst: u32,
}

impl RateLimitConfig {
    /// Generous: a board's browser makes a few requests a second, and a whole
    /// cooperative voting at the deadline (each board with its own credential) or an
    /// admin's script creating a thousand members in one go stays below them.
    pub const DEFAULT: RateLimitConfig = RateLimitConfig {
        anonymous: 20,
        anonymous_burst: 200,
        authenticated: 100,
        authenticated_burst: 1000,
    };

    /// No limits at all.
    pub const OFF: RateLimitConfig = RateLimitConfig {
        anonymous: 0,
        anonymous_burst: 0,
        authenticated: 0,
        authenticated_burst: 0,
    };
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Bounds on what one client can hold: time and connections.
#[derive(Debug, Clone, Args)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's headers, from their first byte;
    /// a slower connection is closed.
    #[arg(long, env = "MANDAAT_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_timeout)]
    pub header_read_timeout: Duration,

    /// How long a connection may go without traffic either way (a keep-alive
    /// connection between requests, say) before it is closed.
    #[arg(long, env = "MANDAAT_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_timeout)]
    pub idle_timeout: Duration,

    /// How long one request may take, reading its body included; after that it is
    /// abandoned and answered with a 503 problem.
    #[arg(long, env = "MANDAAT_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_timeout)]
    pub request_timeout: Duration,

    /// Most connections open at once; further clients wait (unanswered, in the
    /// kernel's listen backlog) until one closes. Keep it well below the process's
    /// open-file limit (`ulimit -n`).
    #[arg(long, env = "MANDAAT_MAX_CONNECTIONS", default_value_t = 512, value_parser = parse_max_connections)]
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

/// A duration like 10s, 2m or 1h, between 1 second and 1 day.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match crate::cli::parse_ttl(text) {
        Ok(d) if d <= Duration::from_secs(86_400) => Ok(d),
        _ => Err(format!(
            "{text:?} is not a duration between 1s and 1d, like 10s, 2m or 1h"
        )),
    }
}

/// At least 1; at most what a semaphore can count.
fn parse_max_connections(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number from 1 to 1000000")),
    }
}

/// An absolute http(s) URL without a path, query or fragment; a trailing slash is dropped.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let url = text.trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "{text:?} must be the service's origin only, like https://stemmen.example.nl"
        ));
    }
    Ok(url.to_owned())
}

impl StorageConfig {
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("mandaat.sqlite")
    }

    pub fn load_chamber_rules(&self) -> anyhow::Result<ChamberRules> {
        match &self.chamber_rules {
            None => Ok(ChamberRules::sivon()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("cannot read chamber rules {}: {e}", path.display())
                })?;
                ChamberRules::from_json(&text)
                    .map_err(|e| anyhow::anyhow!("chamber rules {}: {e}", path.display()))
            }
        }
    }
}

/// Reads the sign-in providers file, if one is configured; secrets named by
/// `client_secret_env` come from the environment.
pub fn load_sign_in_providers(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Vec<crate::domain::sign_in::ProviderSettings>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read sign-in providers {}: {e}", path.display()))?;
    crate::domain::sign_in::parse_providers(&text, |var| std::env::var(var).ok())
        .map_err(|e| anyhow::anyhow!("sign-in providers {}: {e}", path.display()))
}
