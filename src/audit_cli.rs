//! `mandaat audit export` and `mandaat audit verify`: the auditor's side, run apart
//! from the server. Verification trusts only the bundle, the log's key and the
//! checkpoints the auditor saw before.

use std::path::PathBuf;

use crate::audit::bundle::Bundle;
use crate::audit::{VerifyOptions, read_bundle, verify};
use crate::cli::{ExportArgs, VerifyArgs};
use crate::clock::SharedClock;
use crate::service::log::bundle;
use crate::startup::Deployment;
use crate::transparency::checkpoint::Checkpoint;
use crate::transparency::merkle::verify_consistency;
use crate::transparency::note::NoteVerifier;

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let deployment =
        Deployment::open(&args.storage, &args.token, SharedClock::default().now()).await?;
    if let Some(problem) = deployment.store.log_problem() {
        eprintln!("warning: {problem}; exporting it as it is for `audit verify` to examine");
    }
    // A log that never signed a checkpoint has nothing to export; no URL is needed.
    let log = deployment.log(&args.log, None).await?;
    let bundle = bundle(&deployment.store, log.verifier_key(), &log.origin).await?;
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join("bundle.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&bundle)?)?;
    println!(
        "wrote {} ({} entries, {} keys, {} proposals)",
        path.display(),
        bundle.entries.len(),
        bundle.keys.len(),
        bundle.proposals.len()
    );
    Ok(())
}

/// Exit status of `audit verify`: 0 verified, 1 a check failed, 2 could not run.
pub async fn verify_command(args: VerifyArgs) -> anyhow::Result<bool> {
    let (bundle, source) = match (&args.bundle, &args.url) {
        (Some(path), _) => (read_bundle(path)?, path.display().to_string()),
        (None, Some(url)) => (
            fetch_bundle(url, args.token.as_deref().unwrap_or_default()).await?,
            url.clone(),
        ),
        (None, None) => anyhow::bail!("give a bundle path or --url"),
    };
    let state = State::new(args.state_dir.clone(), &bundle.origin)?;
    let remembered_key = state.read("key")?.map(|k| k.trim().to_owned());
    if let Some(remembered) = &remembered_key
        && *remembered != bundle.log_key
    {
        let fingerprint = crate::receipt_cli::fingerprint;
        println!(
            "FAILED: this bundle's log is called {origin:?}, like a log verified before from {dir}, \
             but its key is another: fingerprint {new} here, {old} before. Either these are two \
             different logs that share a name (verify this one with its own --state-dir and the \
             --log-key its operator publishes), or the log's key was replaced, which an honest \
             log never does.",
            origin = bundle.origin,
            dir = state.dir.display(),
            new = fingerprint(&bundle.log_key),
            old = fingerprint(remembered),
        );
        return Ok(false);
    }
    let trusted_log_key = args.log_key.clone().or(remembered_key);
    let mut earlier_checkpoints = Vec::new();
    for path in &args.since {
        earlier_checkpoints.push(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        );
    }
    let remembered = state.read("checkpoint")?;
    earlier_checkpoints.extend(remembered.clone());

    println!("verifying {source} (log {})", bundle.origin);
    let options = VerifyOptions {
        trusted_log_key,
        earlier_checkpoints,
    };
    let report = match verify(&bundle, &options) {
        Ok(report) => report,
        Err(failure) => {
            println!("FAILED: {failure}");
            return Ok(false);
        }
    };
    // Live: also check the server's own consistency proof from what we saw before.
    if let (Some(url), Some(old)) = (&args.url, &remembered) {
        check_live_consistency(
            url,
            args.token.as_deref().unwrap_or_default(),
            &bundle,
            old,
            &report,
        )
        .await?;
    }
    for line in &report.checked {
        println!("  ok  {line}");
    }
    println!(
        "verified: {} entries ({} withheld), {} signatures, {} keys, {} ballots, {} proxies, {} proposals, {} tallies, {} certified results; checkpoint size {}",
        report.entries,
        report.withheld,
        report.signatures,
        report.keys,
        report.ballots,
        report.proxies,
        report.proposals,
        report.tallies,
        report.certified_results,
        report.checkpoint_size
    );
    state.write("key", &bundle.log_key)?;
    state.write("checkpoint", &bundle.checkpoint)?;
    Ok(true)
}

async fn get(url: &str, token: &str) -> anyhow::Result<reqwest::Response> {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("{url}: {status}: {body}");
    }
    Ok(response)
}

async fn fetch_bundle(base: &str, token: &str) -> anyhow::Result<Bundle> {
    let url = format!("{}/api/v1/audit/bundle", base.trim_end_matches('/'));
    Ok(get(&url, token).await?.json().await?)
}

/// Asks the server for an RFC 9162 consistency proof from the checkpoint we verified
/// last time to the new one, and checks it: a server that rewrote history cannot.
async fn check_live_consistency(
    base: &str,
    token: &str,
    bundle: &Bundle,
    old_note: &str,
    report: &crate::audit::Report,
) -> anyhow::Result<()> {
    let verifier = NoteVerifier::from_key_string(&bundle.log_key)?;
    let old = Checkpoint::parse(&verifier.verify(old_note)?)?;
    if old.size == 0 || old.size >= report.checkpoint_size {
        return Ok(());
    }
    let url = format!(
        "{}/api/v1/log/proof/consistency?from={}&to={}",
        base.trim_end_matches('/'),
        old.size,
        report.checkpoint_size
    );
    let proof: serde_json::Value = get(&url, token).await?.json().await?;
    let hashes = proof["proof"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            h.as_str()
                .and_then(crate::transparency::merkle::hash_from_b64)
                .ok_or_else(|| anyhow::anyhow!("bad hash in proof"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    verify_consistency(
        old.size,
        report.checkpoint_size,
        &old.root,
        &report.root,
        &hashes,
    )
    .map_err(|e| anyhow::anyhow!("the server's consistency proof does not verify: {e}"))?;
    println!(
        "  ok  server's consistency proof from size {} to {}",
        old.size, report.checkpoint_size
    );
    Ok(())
}

/// What the auditor remembers per log: its key and the last verified checkpoint.
struct State {
    dir: PathBuf,
    stem: String,
}

impl State {
    fn new(dir: Option<PathBuf>, origin: &str) -> anyhow::Result<Self> {
        let dir = match dir {
            Some(d) => d,
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".local/state/mandaat-audit"))
                .ok_or_else(|| anyhow::anyhow!("set --state-dir or HOME"))?,
        };
        let stem = origin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(State { dir, stem })
    }

    fn read(&self, what: &str) -> anyhow::Result<Option<String>> {
        match std::fs::read_to_string(self.dir.join(format!("{}.{what}", self.stem))) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn write(&self, what: &str, text: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(self.dir.join(format!("{}.{what}", self.stem)), text)?;
        Ok(())
    }
}
