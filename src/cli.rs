//! The `mandaat` command line. `serve` is the default command, so a bare
//! `cargo run --release` starts the service.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::auth::Role;
use crate::config::{Config, LogConfig, StorageConfig, TokenConfig};
use crate::domain::member::Sector;

#[derive(Debug, Parser)]
#[command(
    name = "mandaat",
    version,
    about = "Governance and voting for a purchasing cooperative of school boards"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `serve`, when no command is given.
    #[command(flatten)]
    pub serve: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve(Box<Config>),
    /// Bootstrap access tokens (JWTs signed with the deployment's key).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Named, revocable API tokens for a council's or an auditor's system.
    #[command(subcommand, name = "api-token")]
    ApiToken(ApiTokenCommand),
    /// Member boards.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Print the OpenAPI document (the one committed in openapi/openapi.json).
    Openapi,
    /// The transparency log.
    #[command(subcommand)]
    Log(LogCommand),
    /// Export and verify audit bundles.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Invite a person and print their single-use sign-in link.
    Invite(InviteArgs),
    /// Check receipts of accepted statements.
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// Write a consistent copy of the SQLite database while the server runs.
    Backup(BackupArgs),
    /// Replace the SQLite database with a backup, after checking that the data
    /// directory's keys signed it and that its whole log verifies.
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write (never overwritten).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub storage: StorageConfig,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file written by `mandaat backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// Replace the database the data directory holds (stop the server first).
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub token: TokenConfig,
}

#[derive(Debug, Args)]
pub struct InviteArgs {
    /// board, admin, council or auditor.
    #[arg(long)]
    pub role: Role,
    /// For a board person: the member board, by bevoegd-gezag number or id.
    #[arg(long, required_if_eq("role", "board"))]
    pub member: Option<String>,
    /// For a council person: the sector it reads (PO or VO).
    #[arg(long, required_if_eq("role", "council"))]
    pub sector: Option<Sector>,
    /// The person's name.
    #[arg(long)]
    pub name: String,
    /// The person's e-mail address (a contact detail; the link is printed, not mailed).
    #[arg(long)]
    pub email: String,
    /// How many days the link can be used (1 to 30).
    #[arg(long, default_value_t = 7)]
    pub valid_days: i64,
    /// Where people reach the service, for the link (default: http://127.0.0.1:8080).
    #[arg(long, env = "MANDAAT_PUBLIC_URL", value_parser = crate::config::parse_public_url)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub token: TokenConfig,
}

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Check a receipt file (mandaat.receipt.v1, downloaded from the web page) offline:
    /// its entry's leaf hash, the checkpoint's signature and the inclusion proof.
    /// Exit status 0 when every check passes, 1 when one fails, 2 when the file cannot be read.
    Verify(ReceiptVerifyArgs),
}

#[derive(Debug, Args)]
pub struct ReceiptVerifyArgs {
    /// The receipt file.
    pub file: PathBuf,
    /// The log's verifier key, obtained independently (the cooperative publishes it;
    /// `mandaat log key` prints it). Without it, the file's own key is used, unproven.
    #[arg(long)]
    pub log_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Print the log's verifier key (`name+hexid+base64(0x01‖key)`), for auditors to pin.
    Key(LogKeyArgs),
}

#[derive(Debug, Args)]
pub struct LogKeyArgs {
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub token: TokenConfig,
    #[command(flatten)]
    pub log: LogConfig,
    /// As for `serve`: a new log's origin derives from it.
    #[arg(long, env = "MANDAAT_PUBLIC_URL", value_parser = crate::config::parse_public_url)]
    pub public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write the audit bundle (docs/audit.md) to <out>/bundle.json, from the database
    /// as it is, without signing anything.
    Export(ExportArgs),
    /// Check a bundle: every signature, the Merkle root against the signed checkpoint,
    /// consistency with checkpoints seen before, and every tally.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write bundle.json into (created when missing).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub token: TokenConfig,
    #[command(flatten)]
    pub log: LogConfig,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A bundle file, or a directory holding bundle.json.
    #[arg(required_unless_present = "url", conflicts_with = "url")]
    pub bundle: Option<PathBuf>,
    /// Fetch the bundle live from this Mandaat server (with --token, an auditor token).
    #[arg(long, requires = "token")]
    pub url: Option<String>,
    /// An auditor's access token, for --url.
    #[arg(long, env = "MANDAAT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The log's verifier key, obtained independently (`mandaat log key` on the server).
    /// Without it, the key remembered from an earlier verification must match.
    #[arg(long)]
    pub log_key: Option<String>,
    /// A signed checkpoint seen earlier (a file); the log must be consistent with it.
    #[arg(long)]
    pub since: Vec<PathBuf>,
    /// Where the last verified checkpoint and key of each log are remembered.
    #[arg(long, env = "MANDAAT_AUDIT_STATE")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Create a token and print its secret (shown this once).
    Create(ApiTokenCreateArgs),
    /// List every token with its last use, newest first.
    List(ApiTokenListArgs),
    /// Revoke a token: it is refused from the next request on.
    Revoke(ApiTokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct ApiTokenCreateArgs {
    /// What the token is for, e.g. "PO-Raad results dashboard".
    #[arg(long)]
    pub name: String,
    /// council or auditor.
    #[arg(long)]
    pub role: Role,
    /// For a council token: the sector it reads (PO or VO).
    #[arg(long, required_if_eq("role", "council"))]
    pub sector: Option<Sector>,
    /// Days until it expires (1 to 730); without it, valid until revoked.
    #[arg(long)]
    pub valid_days: Option<i64>,
    #[command(flatten)]
    pub storage: StorageConfig,
}

#[derive(Debug, Args)]
pub struct ApiTokenListArgs {
    #[command(flatten)]
    pub storage: StorageConfig,
}

#[derive(Debug, Args)]
pub struct ApiTokenRevokeArgs {
    /// The token's id.
    pub id: Uuid,
    #[command(flatten)]
    pub storage: StorageConfig,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print an access token signed with this deployment's token key: for
    /// bootstrapping (the first admin) and tests. Give machines named API tokens
    /// (`mandaat api-token create`) instead: those can be listed and revoked.
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// admin, board, council or auditor.
    #[arg(long)]
    pub role: Role,
    /// The member board a `board` token acts for (its id, a UUID).
    #[arg(long, required_if_eq("role", "board"))]
    pub member: Option<Uuid>,
    /// The sector a `council` token reads (PO or VO).
    #[arg(long, required_if_eq("role", "council"))]
    pub sector: Option<Sector>,
    /// How long the token is valid, e.g. 30m, 8h, 7d.
    #[arg(long, default_value = "8h", value_parser = parse_ttl)]
    pub ttl: Duration,
    /// The token's subject (`sub`): who holds it, for the record.
    #[arg(long)]
    pub subject: Option<String>,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub token: TokenConfig,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Import or update boards from DUO open-data files, by bevoegd-gezag number. The
    /// import never changes membership: new boards are not members until admitted.
    Import(ImportArgs),
    /// Admit boards as members of the cooperative, from a list of bevoegd-gezag
    /// numbers. All or nothing: an unknown number changes nothing. The server signs
    /// the admissions into the log at its next start, or before the next proposal opens.
    Admit(AdmitArgs),
}

#[derive(Debug, Args)]
pub struct AdmitArgs {
    /// A file with one bevoegd-gezag number per line (blank lines and lines starting
    /// with # are skipped).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub from: Option<PathBuf>,
    /// FOR TRYING THINGS OUT ONLY: admit every board in the register (all 1,279 of
    /// DUO's files), as if the whole country were a member. A real cooperative admits
    /// its actual members with --from.
    #[arg(long)]
    pub all: bool,
    /// The first day of membership, YYYY-MM-DD (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<chrono::NaiveDate>,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub token: TokenConfig,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// DUO files, or directories of them (every .csv inside).
    #[arg(long, required = true, num_args = 1..)]
    pub duo: Vec<PathBuf>,
    #[command(flatten)]
    pub storage: StorageConfig,
    #[command(flatten)]
    pub token: TokenConfig,
}

/// Parses `90s`, `30m`, `8h` or `7d`.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30m, 8h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unit must be s, m, h or d")),
    };
    if n == 0 || n > 366 * 86_400 / seconds {
        return Err(format!(
            "{text:?}: a token lives between 1 second and 366 days"
        ));
    }
    Ok(Duration::from_secs(n * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_ttl("0h").is_err());
        assert!(parse_ttl("8w").is_err());
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("400d").is_err());
    }
}
