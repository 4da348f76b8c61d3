use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use mandaat::auth::TokenRequest;
use mandaat::cli::{
    AuditCommand, Cli, Command, IssueArgs, LogCommand, MembersCommand, ReceiptCommand, TokenCommand,
};
use mandaat::clock::SharedClock;
use mandaat::startup::Deployment;
use mandaat::{Application, Config, import};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(config)) => serve(config).await,
        Some(Command::Token(TokenCommand::Issue(args))) => issue_token(args).await,
        Some(Command::Members(MembersCommand::Import(args))) => import_members(args).await,
        Some(Command::Openapi) => {
            println!("{}", mandaat::api::service().spec());
            Ok(())
        }
        Some(Command::Log(LogCommand::Key(args))) => log_key(args).await,
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
    eprintln!(
        "Mandaat is listening on {base}\n  API:      {base}/api/v1\n  docs:     {base}/docs\n  OpenAPI:  {base}/openapi.json\n  data:     {} ({database})\n\
         First admin token:\n  cargo run --release -- token issue --role admin --data-dir {}{}",
        data_dir.display(),
        data_dir.display(),
        if on_postgres {
            " --database-url <the same URL>"
        } else {
            ""
        }
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

async fn log_key(args: mandaat::cli::LogKeyArgs) -> anyhow::Result<()> {
    let deployment =
        Deployment::open(&args.storage, &args.token, SharedClock::default().now()).await?;
    println!("{}", deployment.log(&args.log)?.verifier_key());
    Ok(())
}
