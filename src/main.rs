use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use mandaat::auth::TokenRequest;
use mandaat::cli::{
    ApiTokenCommand, AuditCommand, Cli, Command, IssueArgs, LogCommand, MembersCommand,
    ReceiptCommand, TokenCommand,
};
use mandaat::clock::SharedClock;
use mandaat::startup::Deployment;
use mandaat::{Application, Config, import};

/// Logs go to stderr: text for people (colour only on a terminal), or JSON lines for
/// collectors. Each request is one line (`crate::observe`: request id, method, route
/// template, status, latency, subject, problem type); lines logged while a request
/// runs carry its id in their `span`.
fn init_logging(format: mandaat::config::LogFormat) {
    use std::io::IsTerminal as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        mandaat::config::LogFormat::Text => {
            builder.with_ansi(std::io::stderr().is_terminal()).init()
        }
        mandaat::config::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match &cli.command {
        None => cli.serve.log_format,
        Some(Command::Serve(config)) => config.log_format,
        Some(_) => mandaat::config::LogFormat::Text,
    };
    init_logging(format);
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(config)) => serve(*config).await,
        Some(Command::Token(TokenCommand::Issue(args))) => issue_token(args).await,
        Some(Command::Members(MembersCommand::Import(args))) => import_members(args).await,
        Some(Command::Members(MembersCommand::Admit(args))) => admit_members(args).await,
        Some(Command::Openapi) => {
            println!("{}", mandaat::api::document::document());
            Ok(())
        }
        Some(Command::Log(LogCommand::Key(args))) => log_key(args).await,
        Some(Command::Invite(args)) => invite(args).await,
        Some(Command::ApiToken(command)) => api_token(command).await,
        Some(Command::Backup(args)) => mandaat::backup::backup(args).await,
        Some(Command::Restore(args)) => mandaat::backup::restore(args).await,
        Some(Command::Audit(AuditCommand::Export(args))) => mandaat::audit_cli::export(args).await,
        Some(Command::Audit(AuditCommand::Verify(args))) => {
            return match mandaat::audit_cli::verify_command(args).await {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        Some(Command::Receipt(ReceiptCommand::Verify(args))) => {
            return match mandaat::receipt_cli::verify_command(&args) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let data_dir = config.storage.data_dir.clone();
    let on_postgres = config.storage.database_url.is_some();
    let database = match &config.storage.database_url {
        Some(_) => "PostgreSQL (--database-url)".to_owned(),
        None => format!("SQLite {}", config.storage.sqlite_path().display()),
    };
    let shutdown = shutdown_signal()?;
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    let same_data = format!(
        "--data-dir {}{}",
        data_dir.display(),
        if on_postgres {
            " --database-url <the same URL>"
        } else {
            ""
        }
    );
    eprintln!(
        "Mandaat is listening on {base}\n  web app:  {base}/\n  API:      {base}/api/v1\n  \
         docs:     {base}/docs\n  OpenAPI:  {base}/openapi.json\n  data:     {} ({database})\n\
         Sign-in link for the first person of the secretariat:\n  \
         cargo run --release -- invite --role admin --name \"Your Name\" --email you@example.nl {same_data}\n\
         Access token for a machine:\n  \
         cargo run --release -- token issue --role admin {same_data}",
        data_dir.display(),
    );
    app.run_until(shutdown).await?;
    eprintln!("Mandaat stopped.");
    Ok(())
}

/// Registers for SIGINT and SIGTERM now, before the banner says we are up, so a signal
/// sent right after start is never missed; the future completes on the first of them.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}

async fn issue_token(args: IssueArgs) -> anyhow::Result<()> {
    let clock = SharedClock::default();
    let deployment = Deployment::open(&args.storage, &args.token, clock.now()).await?;
    if let Some(member_id) = args.member {
        // A token for a member that does not exist would only fail later, confusingly.
        deployment
            .store
            .member(member_id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}; list members with GET /api/v1/members"))?;
    }
    let request = TokenRequest {
        subject: args.subject.unwrap_or_else(|| format!("{}-cli", args.role)),
        role: args.role,
        member_id: args.member,
        sector: args.sector,
        ttl: args.ttl,
    };
    let token = deployment.issuer.issue(&request, clock.now())?;
    println!("{token}");
    Ok(())
}

async fn import_members(args: mandaat::cli::ImportArgs) -> anyhow::Result<()> {
    let clock = SharedClock::default();
    let deployment = Deployment::open(&args.storage, &args.token, clock.now()).await?;
    let summary =
        import::import_duo(&deployment.store, &deployment.rules, &args.duo, clock.now()).await?;
    println!("{summary}");
    Ok(())
}

async fn admit_members(args: mandaat::cli::AdmitArgs) -> anyhow::Result<()> {
    use mandaat::domain::member::BgNumber;
    let now = SharedClock::default().now();
    let deployment = Deployment::open(&args.storage, &args.token, now).await?;
    let numbers: Vec<BgNumber> = match &args.from {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let mut numbers = Vec::new();
            for (line, raw) in (1u64..).zip(text.lines()) {
                let raw = raw.trim();
                if raw.is_empty() || raw.starts_with('#') {
                    continue;
                }
                let number = raw
                    .parse::<i64>()
                    .map_err(|_| anyhow::anyhow!("not a bevoegd-gezag number"))
                    .and_then(|n| BgNumber::new(n).map_err(anyhow::Error::from))
                    .map_err(|e| anyhow::anyhow!("{}:{line}: {raw:?}: {e}", path.display()))?;
                numbers.push(number);
            }
            numbers
        }
        None => deployment
            .store
            .all_members()
            .await?
            .into_iter()
            .map(|m| m.bg_number)
            .collect(),
    };
    let date = args.date.unwrap_or_else(|| now.date_naive());
    let by = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
    );
    let done =
        mandaat::service::membership::admit_many(&deployment.store, &numbers, date, &by, now)
            .await?;
    let list = |numbers: &[BgNumber]| {
        numbers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !done.written() {
        for (number, why) in &done.refused {
            eprintln!("board {number}: {why}");
        }
        if !done.unknown.is_empty() {
            eprintln!(
                "not in the board register (import DUO's files first, or create the board): {}",
                list(&done.unknown)
            );
        }
        anyhow::bail!("nothing was admitted; correct the list and run again");
    }
    if args.all {
        eprintln!(
            "--all: every board in the register is now a member. This is for trying Mandaat \
             out; a real cooperative admits its actual members with --from FILE."
        );
    }
    println!(
        "admitted {} boards as members from {date}; {} were members on that day already",
        done.admitted.len(),
        done.already.len()
    );
    if !done.admitted.is_empty() {
        eprintln!(
            "The server signs these admissions into the transparency log when it next \
             starts, and in any case before it opens the next proposal."
        );
    }
    Ok(())
}

async fn invite(args: mandaat::cli::InviteArgs) -> anyhow::Result<()> {
    use mandaat::domain::person::{Designation, Email, PersonName, invitation_validity};
    let clock = SharedClock::default();
    let now = clock.now();
    let deployment = Deployment::open(&args.storage, &args.token, now).await?;
    let member_id = match &args.member {
        None => None,
        Some(text) => Some(
            mandaat::service::member_by_number_or_id(&deployment.store, text)
                .await
                .map_err(|e| anyhow::anyhow!("--member {text}: {e}"))?
                .id,
        ),
    };
    let new = mandaat::service::people::NewPerson {
        name: PersonName::new(&args.name)?,
        email: Email::new(&args.email)?,
        designation: Designation::new(args.role.as_str(), member_id, args.sector)?,
    };
    let people = mandaat::service::people::People {
        store: deployment.store.clone(),
        policy: mandaat::domain::person::SessionPolicy {
            idle: chrono::Duration::hours(8),
        },
    };
    let by = mandaat::auth::Principal::Admin {
        sub: "admin-cli".to_owned(),
    };
    let (person, invitation) = people
        .invite(&by, new, invitation_validity(Some(args.valid_days))?, now)
        .await?;
    let base = args
        .public_url
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    eprintln!(
        "Invited {} ({}) as {}; the link works once, until {}:",
        person.name.as_str(),
        person.email.as_str(),
        person.designation.role(),
        invitation.expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    println!(
        "{}",
        mandaat::api::invitation_link(&base, invitation.secret.as_str())
    );
    Ok(())
}

/// The operator's own authority over API tokens, through the database.
async fn api_token(command: ApiTokenCommand) -> anyhow::Result<()> {
    use mandaat::domain::api_token::{ApiTokenGrant, ApiTokenName, validity};
    use mandaat::service::api_tokens;
    let now = SharedClock::default().now();
    let by = mandaat::auth::Principal::Admin {
        sub: "admin-cli".to_owned(),
    };
    match command {
        ApiTokenCommand::Create(args) => {
            let store = mandaat::store::Store::open(&args.storage).await?;
            let new = api_tokens::NewToken {
                name: ApiTokenName::new(&args.name)?,
                grant: ApiTokenGrant::new(args.role.as_str(), args.sector)?,
                validity: validity(args.valid_days)?,
            };
            let (token, secret) = api_tokens::create(&store, &by, new, now).await?;
            eprintln!("{}", describe_api_token(&token, now));
            eprintln!("The secret below is shown this once; only its hash is stored:");
            println!("{}", secret.as_str());
        }
        ApiTokenCommand::List(args) => {
            let store = mandaat::store::Store::open(&args.storage).await?;
            for token in api_tokens::list(&store, &by).await? {
                println!("{}", describe_api_token(&token, now));
            }
        }
        ApiTokenCommand::Revoke(args) => {
            let store = mandaat::store::Store::open(&args.storage).await?;
            let token = api_tokens::revoke(&store, &by, args.id, now).await?;
            println!("{}", describe_api_token(&token, now));
        }
    }
    Ok(())
}

/// One line of `api-token list`: id, role, name, state and last use, tab-separated.
fn describe_api_token(
    t: &mandaat::store::StoredApiToken,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    use mandaat::domain::api_token::check_usable;
    let when = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC");
    let state = match (t.revoked_at, t.expires_at) {
        (Some(at), _) => format!("revoked {}", when(at)),
        // The server's own rule for when a token stops working.
        (None, Some(at)) if check_usable(None, Some(at), now).is_err() => {
            format!("expired {}", when(at))
        }
        (None, Some(at)) => format!("expires {}", when(at)),
        (None, None) => "valid until revoked".to_owned(),
    };
    let used = t.last_used_at.map_or_else(
        || "never used".to_owned(),
        |at| format!("last used {}", when(at)),
    );
    let role = match t.grant.sector() {
        Some(sector) => format!("{} {sector}", t.grant.role()),
        None => t.grant.role().to_owned(),
    };
    format!("{}\t{role}\t{}\t{state}\t{used}", t.id, t.name.as_str())
}

async fn log_key(args: mandaat::cli::LogKeyArgs) -> anyhow::Result<()> {
    let now = SharedClock::default().now();
    let deployment = Deployment::open(&args.storage, &args.token, now).await?;
    let log = deployment
        .log(&args.log, args.public_url.as_deref())
        .await?;
    let key = log.verifier_key();
    // The key on stdout for scripts; the fingerprint people compare with the web page.
    eprintln!("fingerprint: {}", mandaat::receipt_cli::fingerprint(&key));
    println!("{key}");
    Ok(())
}
