//! `mandaat backup` and `mandaat restore` for the embedded SQLite database.
//!
//! A backup is one SQLite file written with `VACUUM INTO`: a consistent snapshot taken
//! inside one read transaction, so the server keeps running (and appending) meanwhile.
//! The server's key files are not in it: they are backed up apart (README, "In
//! production"). A restore checks the backup before it replaces anything: the key
//! files in the data directory must be the ones the backup's log was signed with, and
//! the whole log must verify as `audit verify` would. PostgreSQL deployments use
//! `pg_dump` and `pg_restore` instead (README).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::audit::{VerifyOptions, verify};
use crate::cli::{BackupArgs, RestoreArgs};
use crate::server_keys::KeyPurpose;
use crate::startup::{Deployment, LOG_ORIGIN_FILE};

/// The SQLite URL of a file, for a connection that must not create it.
fn sqlite_url(path: &Path, mode: &str) -> String {
    format!("sqlite://{}?mode={mode}", path.display())
}

fn refuse_postgres(database_url: Option<&String>) -> anyhow::Result<()> {
    if database_url.is_some() {
        bail!(
            "this deployment uses PostgreSQL: back it up with `pg_dump --format=custom` and \
             restore with `pg_restore`, then check the restored log with `mandaat audit \
             export` and `mandaat audit verify` (README, \"Backups\")"
        );
    }
    Ok(())
}

/// Writes a consistent copy of the running deployment's database to `args.out`.
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    refuse_postgres(args.storage.database_url.as_ref())?;
    let source = args.storage.sqlite_path();
    if !source.exists() {
        bail!("no database at {}", source.display());
    }
    if args.out.exists() {
        bail!(
            "{} exists already; a backup never overwrites a file",
            args.out.display()
        );
    }
    crate::store::sqlite_snapshot(&sqlite_url(&source, "ro"), &args.out).await?;
    let size = std::fs::metadata(&args.out)?.len();
    println!(
        "wrote {} ({size} bytes). The server's key files are not in it: keep a copy of {} \
         and {} as well.",
        args.out.display(),
        KeyPurpose::LogSigning
            .file_in(&args.storage.data_dir)
            .display(),
        KeyPurpose::TokenSigning
            .file_in(&args.storage.data_dir)
            .display(),
    );
    Ok(())
}

/// Checks a backup against the data directory's keys and replaces the database with it.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    refuse_postgres(args.storage.database_url.as_ref())?;
    let target = args.storage.sqlite_path();
    if target.exists() && !args.replace {
        bail!(
            "{} holds a database already; stop the server and pass --replace to replace it",
            target.display()
        );
    }
    std::fs::create_dir_all(&args.storage.data_dir)?;
    // Work on a copy next to the target, so the backup file itself is never changed
    // (opening runs any newer migrations on it) and the final step is one rename.
    let staged = args.storage.data_dir.join("mandaat.sqlite.restoring");
    remove_database(&staged)?;
    std::fs::copy(&args.from, &staged)
        .with_context(|| format!("cannot copy {}", args.from.display()))?;
    let checked = check(&args, &staged).await;
    if let Err(e) = checked {
        remove_database(&staged)?;
        return Err(e.context("the backup was not restored; nothing was changed"));
    }
    remove_database(&target)?;
    std::fs::rename(&staged, &target)?;
    remove_database(&staged)?;
    println!("restored {} into {}", args.from.display(), target.display());
    Ok(())
}

/// Opens the staged copy as the deployment would (which refuses key files that did
/// not sign it), and verifies its whole log under the data directory's log key.
async fn check(args: &RestoreArgs, staged: &Path) -> anyhow::Result<()> {
    let mut storage = args.storage.clone();
    storage.database_url = Some(sqlite_url(staged, "rw"));
    let now = crate::clock::SharedClock::default().now();
    let deployment = Deployment::open(&storage, &args.token, now).await?;
    if let Some(problem) = deployment.store.log_problem() {
        bail!("the backup's log is damaged: {problem}");
    }
    let Some(latest) = deployment.store.latest_checkpoint().await? else {
        bail!("the backup's log has no signed checkpoint");
    };
    let origin = latest
        .note
        .split('\n')
        .next()
        .unwrap_or_default()
        .to_owned();
    let origin_file: PathBuf = args.storage.data_dir.join(LOG_ORIGIN_FILE);
    let origin_known = match std::fs::read_to_string(&origin_file) {
        Ok(known) if known.trim() != origin => bail!(
            "{} names the log {:?}, but the backup is of the log {origin:?}",
            origin_file.display(),
            known.trim()
        ),
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e.into()),
    };
    let signer =
        crate::transparency::note::NoteSigner::new(&origin, deployment.keys.log_signing.clone())
            .map_err(|e| anyhow::anyhow!("log origin {origin:?}: {e}"))?;
    let log_key = signer.verifier_key();
    let bundle = crate::service::log::bundle(&deployment.store, log_key.clone(), &origin).await?;
    let report = verify(
        &bundle,
        &VerifyOptions {
            trusted_log_key: Some(log_key),
            earlier_checkpoints: Vec::new(),
        },
    )
    .map_err(|failure| anyhow::anyhow!("the backup's log does not verify: {failure}"))?;
    println!(
        "verified the backup: {} entries, {} signatures, {} ballots, {} certified results; checkpoint size {}",
        report.entries,
        report.signatures,
        report.ballots,
        report.certified_results,
        report.checkpoint_size
    );
    // Fold the write-ahead log into the file and close it before it is moved.
    deployment.store.close_sqlite().await?;
    if !origin_known {
        std::fs::write(&origin_file, format!("{origin}\n"))?;
    }
    Ok(())
}

/// Removes a SQLite database and its write-ahead files, if there.
fn remove_database(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow::anyhow!("cannot remove {}: {e}", file.display())),
        }
    }
    Ok(())
}
