//! The audit bundle (`docs/audit.md` §3): what the server exports and what `audit
//! verify` reads. One definition for writer and verifier, so the two cannot drift.

use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const BUNDLE_FORMAT: &str = "mandaat.audit-bundle.v1";

/// Everything an auditor needs to check the log and every count without trusting
/// the server (docs/audit.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub origin: String,
    /// The log's verifier key, `name+hexid+base64(0x01‖key)`.
    pub log_key: String,
    /// The latest signed checkpoint; the bundle holds exactly the entries it covers.
    pub checkpoint: String,
    pub entries: Vec<BundleEntry>,
    pub keys: Vec<BundleKey>,
    pub proposals: Vec<BundleProposal>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    pub index: u64,
    /// Hex SHA-256(0x00 ‖ entry), as recorded when the entry was accepted.
    pub leaf_hash: String,
    /// Base64url of the entry bytes; absent while they hold a secret ballot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKey {
    pub member: Uuid,
    pub key_id: String,
    /// Base64url of the 32-byte public key.
    pub public_key: String,
    pub registration_entry: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_entry: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleProposal {
    pub id: Uuid,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Base64url of the frozen document (the statement of `opened_entry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_entry: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_entry: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_entry: Option<u64>,
    /// The tally the server stored at closing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// Reads `<dir>/bundle.json`, or the file itself when `path` is not a directory.
pub fn read_bundle(path: &Path) -> anyhow::Result<Bundle> {
    let file = if path.is_dir() {
        path.join("bundle.json")
    } else {
        path.to_owned()
    };
    let reader = std::fs::File::open(&file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    // Parsed from the file as it is read: a million-entry bundle is over a gigabyte,
    // and holding its text besides the parsed entries would double that.
    serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, reader))
        .map_err(|e| anyhow::anyhow!("{} is not an audit bundle: {e}", file.display()))
}
