//! `mandaat receipt verify <file> --log-key <vkey>`: checks a board's receipt file
//! offline, with the same checks the web page runs (`verifyReceipt` in
//! web/app/crypto.js; docs/audit.md §4), built from the log's own verification code:
//! the statement parser, the RFC 9162 inclusion verifier and the C2SP note verifier.

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cli::ReceiptVerifyArgs;
use crate::domain::keys::KEY_STATEMENT;
use crate::domain::statement::{BASE64URL, MemberPublicKey, SignedStatement};
use crate::transparency::checkpoint::Checkpoint;
use crate::transparency::merkle::{Hash, leaf_hash, verify_inclusion};
use crate::transparency::merkle::{b64, hash_from_b64};
use crate::transparency::note::NoteVerifier;

pub const RECEIPT_FORMAT: &str = "mandaat.receipt.v1";

/// The file a board downloads after a statement was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptFile {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The log's verifier key the page had pinned, `name+hexid+base64(0x01‖key)`.
    pub log_key: String,
    /// The board's own signed statement, in its wire form.
    pub entry: WireStatement,
    /// The receipt as the server answered it.
    pub receipt: ReceiptBody,
    /// Base64url of the signer's 32-byte public key, when the page included it, so the
    /// statement's own signature can be checked too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireStatement {
    pub statement: String,
    pub key_id: String,
    pub signature: String,
}

/// The fields of the API's `LogReceipt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    pub index: u64,
    pub leaf_hash: String,
    pub tree_size: u64,
    pub root: String,
    pub checkpoint: String,
    pub inclusion_proof: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    /// Not something this file can show; the detail says who can.
    NotChecked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `log-key`, `checkpoint-signature`, `leaf-hash`, `inclusion` or
    /// `statement-signature`: the names the web page uses.
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, result: Result<String, String>) -> Self {
        match result {
            Ok(detail) => Check {
                name,
                outcome: Outcome::Passed,
                detail,
            },
            Err(detail) => Check {
                name,
                outcome: Outcome::Failed,
                detail,
            },
        }
    }

    fn not_checked(name: &'static str, detail: String) -> Self {
        Check {
            name,
            outcome: Outcome::NotChecked,
            detail,
        }
    }
}

/// A short fingerprint of a log key for people to compare: the first 8 bytes of
/// SHA-256 of the key string (without surrounding whitespace), as 4 groups of 4
/// lowercase hex digits. The web page shows the same (`fingerprint` in crypto.js).
pub fn fingerprint(log_key: &str) -> String {
    let digest = Sha256::digest(log_key.trim().as_bytes());
    digest[..8]
        .chunks(2)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verifies a signed checkpoint under a log key and reads it. Mandaat signs its
/// checkpoints under a key named after the log's origin, so any other origin is
/// refused too.
pub fn verify_checkpoint(note: &str, log_key: &str) -> Result<Checkpoint, String> {
    let verifier = NoteVerifier::from_key_string(log_key.trim()).map_err(|e| e.to_string())?;
    let text = verifier.verify(note).map_err(|e| e.to_string())?;
    let checkpoint = Checkpoint::parse(&text)
        .map_err(|e| format!("the signed checkpoint does not parse: {e}"))?;
    if checkpoint.origin != verifier.name() {
        return Err(format!(
            "the checkpoint is for log {:?}, not {:?}",
            checkpoint.origin,
            verifier.name()
        ));
    }
    Ok(checkpoint)
}

/// Runs every check on a receipt file. The checkpoint is verified under
/// `trusted_log_key` when given (and the file's own key must equal it), else under the
/// file's key. Each check stands on its own, so a failure names exactly what broke.
pub fn check(file: &ReceiptFile, trusted_log_key: Option<&str>) -> Vec<Check> {
    let mut checks = Vec::new();
    let log_key = match trusted_log_key.map(str::trim) {
        Some(trusted) => {
            checks.push(Check::new(
                "log-key",
                if trusted == file.log_key.trim() {
                    Ok(format!(
                        "the file's log key is the one given (fingerprint {})",
                        fingerprint(trusted)
                    ))
                } else {
                    Err(format!(
                        "the file's log key {} is not the one given, {trusted}",
                        file.log_key.trim()
                    ))
                },
            ));
            trusted
        }
        None => {
            checks.push(Check::not_checked(
                "log-key",
                format!(
                    "no --log-key given: the checkpoint is checked under the file's own key, fingerprint {}; \
                     compare it with the one the cooperative publishes",
                    fingerprint(&file.log_key)
                ),
            ));
            file.log_key.trim()
        }
    };

    let checkpoint = verify_checkpoint(&file.receipt.checkpoint, log_key);
    checks.push(Check::new(
        "checkpoint-signature",
        checkpoint
            .as_ref()
            .map(|c| {
                format!(
                    "signed by the log key: log {}, tree size {}, root {}",
                    c.origin,
                    c.size,
                    b64(&c.root)
                )
            })
            .map_err(|e| format!("the checkpoint does not verify under the log key: {e}")),
    ));

    let statement = SignedStatement::from_wire(
        &file.entry.statement,
        &file.entry.key_id,
        &file.entry.signature,
    );
    checks.push(Check::new(
        "leaf-hash",
        match &statement {
            Err(e) => Err(format!("the entry is not a valid signed statement: {e}")),
            Ok(st) => {
                let computed = hex::encode(leaf_hash(&st.entry_bytes()));
                if computed == file.receipt.leaf_hash {
                    Ok(format!("the entry hashes to {computed}"))
                } else {
                    Err(format!(
                        "the entry hashes to {computed}, not to the receipt's leaf hash {}",
                        file.receipt.leaf_hash
                    ))
                }
            }
        },
    ));

    checks.push(Check::new(
        "inclusion",
        match &checkpoint {
            Err(_) => Err("not checked: there is no verified checkpoint to check against".into()),
            Ok(c) => inclusion(&file.receipt, c),
        },
    ));

    checks.push(statement_signature(file, statement.as_ref().ok()));
    checks
}

/// The receipt's leaf hash is at its index in the tree the checkpoint signed. The
/// receipt repeats that tree's size and root unsigned; they must be the signed ones.
fn inclusion(receipt: &ReceiptBody, checkpoint: &Checkpoint) -> Result<String, String> {
    if receipt.tree_size != checkpoint.size {
        return Err(format!(
            "the receipt's tree size {} is not the signed size {}",
            receipt.tree_size, checkpoint.size
        ));
    }
    if receipt.root != b64(&checkpoint.root) {
        return Err("the receipt's root is not the signed root".into());
    }
    let leaf = lowercase_hash(&receipt.leaf_hash)
        .ok_or("the receipt's leaf hash is not 64 lowercase hex characters")?;
    let proof = receipt
        .inclusion_proof
        .iter()
        .map(|h| hash_from_b64(h))
        .collect::<Option<Vec<Hash>>>()
        .ok_or("a proof hash is not base64 of 32 bytes")?;
    verify_inclusion(
        &leaf,
        receipt.index,
        checkpoint.size,
        &proof,
        &checkpoint.root,
    )
    .map_err(|e| e.to_string())?;
    Ok(format!(
        "entry {} is in the tree of size {}",
        receipt.index, checkpoint.size
    ))
}

/// Only lowercase hex, as the server writes it and the page reads it.
fn lowercase_hash(text: &str) -> Option<Hash> {
    if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).ok()?;
    Some(hash)
}

/// The statement's signature, when the file holds the key: its `public_key`, or the key
/// a `mandaat.key.v1` registration carries itself. Whether the key was an active key
/// of the signer when the entry was accepted is a question for the whole log.
fn statement_signature(file: &ReceiptFile, statement: Option<&SignedStatement>) -> Check {
    const NAME: &str = "statement-signature";
    let key = match (&file.public_key, statement) {
        (Some(key), _) => key.as_str(),
        (None, Some(st)) if st.statement_type() == KEY_STATEMENT => {
            st.str_field("public_key").unwrap_or_default()
        }
        _ => {
            return Check::not_checked(
                NAME,
                format!(
                    "the file does not hold key {}; whether it was an active key of the signer is \
                     checked by the audit (mandaat audit verify)",
                    file.entry.key_id
                ),
            );
        }
    };
    let result = match statement {
        None => Err("the entry is not a valid signed statement".to_owned()),
        Some(st) => BASE64URL
            .decode(key)
            .map_err(|_| "the public key is not unpadded base64url".to_owned())
            .and_then(|raw| MemberPublicKey::from_bytes(&raw).map_err(|e| e.to_string()))
            .and_then(|key| st.verify(&key).map_err(|e| e.to_string()))
            .map(|()| format!("signed by key {}", st.key_id())),
    };
    Check::new(NAME, result)
}

/// Reads a receipt file; an error means it could not be read as one at all.
pub fn read(path: &Path) -> anyhow::Result<ReceiptFile> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let file: ReceiptFile = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a receipt file: {e}", path.display()))?;
    if file.format != RECEIPT_FORMAT {
        anyhow::bail!(
            "{} has format {:?}, expected {RECEIPT_FORMAT:?}",
            path.display(),
            file.format
        );
    }
    Ok(file)
}

/// `mandaat receipt verify`: Ok(true) when every check passed (exit 0), Ok(false) when
/// one failed (exit 1), Err when the file could not be read (exit 2).
pub fn verify_command(args: &ReceiptVerifyArgs) -> anyhow::Result<bool> {
    let file = read(&args.file)?;
    println!(
        "receipt {}: entry {} in log {}",
        args.file.display(),
        file.receipt.index,
        file.log_key.split('+').next().unwrap_or_default()
    );
    let checks = check(&file, args.log_key.as_deref());
    for c in &checks {
        let mark = match c.outcome {
            Outcome::Passed => "ok  ",
            Outcome::Failed => "FAIL",
            Outcome::NotChecked => "--  ",
        };
        println!("  {mark}  {}: {}", c.name, c.detail);
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Failed)
        .map(|c| c.name)
        .collect();
    if failed.is_empty() {
        println!(
            "verified: entry {} is in the log under a checkpoint signed by the log key",
            file.receipt.index
        );
        Ok(true)
    } else {
        println!("FAILED: {}", failed.join(", "));
        Ok(false)
    }
}
