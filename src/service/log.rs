//! The transparency log over the entry sequence: checkpoints, proofs, receipts, the
//! visible entries, and the audit bundle. See docs/audit.md.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use crate::audit::bundle::{BUNDLE_FORMAT, Bundle, BundleEntry, BundleKey, BundleProposal};
use crate::domain::ballot::BALLOT_STATEMENT;
use crate::domain::lifecycle::Status;
use crate::domain::statement::{BASE64URL, KeyId, entry_bytes};
use crate::error::{Error, Result};
use crate::store::{LogEntryRow, SignedCheckpoint, Store};
use crate::transparency::LogIndex;
use crate::transparency::merkle::{Hash, MerkleError};
use crate::transparency::note::NoteSigner;

/// Most entries one request returns.
pub const MAX_ENTRIES_PER_PAGE: u64 = 1000;

/// The log's identity: its origin line and the key that signs its checkpoints.
pub struct Log {
    pub origin: String,
    pub signer: NoteSigner,
}

impl Log {
    pub async fn checkpoint(&self, store: &Store, now: DateTime<Utc>) -> Result<SignedCheckpoint> {
        store.sign_checkpoint(now).await
    }

    /// A receipt for entry `index`: its leaf hash, a signed checkpoint that contains
    /// it, and the inclusion proof against that checkpoint.
    /// `entry` is the index as stored with the resource the entry created.
    pub async fn receipt(
        &self,
        store: &Store,
        index: LogIndex,
        now: DateTime<Utc>,
    ) -> Result<Receipt> {
        let checkpoint = self.checkpoint(store, now).await?;
        receipt_in(store, index, checkpoint)
    }

    /// The receipt for an entry that a commit just made, against the checkpoint that
    /// commit signed (no lock taken again); or, when it signed none (nothing new was
    /// appended), against a fresh one.
    pub async fn receipt_after(
        &self,
        store: &Store,
        index: LogIndex,
        committed: Option<SignedCheckpoint>,
        now: DateTime<Utc>,
    ) -> Result<Receipt> {
        match committed {
            Some(checkpoint) => receipt_in(store, index, checkpoint),
            None => self.receipt(store, index, now).await,
        }
    }

    pub fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }
}

/// Entry `index` proven against `checkpoint`, which must cover it.
fn receipt_in(store: &Store, index: LogIndex, checkpoint: SignedCheckpoint) -> Result<Receipt> {
    let tree = store.tree()?;
    let leaf = tree
        .leaf(index.get())
        .ok_or_else(|| Error::NotFound(format!("log entry {index}")))?;
    let proof = tree
        .inclusion_proof(index.get(), checkpoint.size)
        .map_err(Error::internal)?;
    Ok(Receipt {
        index,
        leaf_hash: leaf,
        tree_size: checkpoint.size,
        root: checkpoint.root,
        checkpoint: checkpoint.note,
        inclusion_proof: proof,
    })
}

#[derive(Debug, Clone)]
pub struct Receipt {
    pub index: LogIndex,
    pub leaf_hash: Hash,
    pub tree_size: u64,
    pub root: Hash,
    pub checkpoint: String,
    pub inclusion_proof: Vec<Hash>,
}

/// An RFC 9162 inclusion proof with what it proves: the leaf and the root.
pub struct Inclusion {
    pub leaf: Hash,
    pub root: Hash,
    pub proof: Vec<Hash>,
}

/// An RFC 9162 consistency proof with the two roots it joins.
pub struct Consistency {
    pub from_root: Hash,
    pub to_root: Hash,
    pub proof: Vec<Hash>,
}

/// Reads what other servers appended when a question reaches beyond this server's
/// tree (a checkpoint another server signed, say); no query otherwise.
async fn covering(store: &Store, size: u64) -> Result<()> {
    if size > store.tree_size()? {
        store.refresh().await?;
    }
    Ok(())
}

/// Entry `index` in the tree of `size` entries; a range the log cannot answer is a
/// `LogRange` error (422).
pub async fn inclusion(store: &Store, index: u64, size: u64) -> Result<Inclusion> {
    covering(store, size).await?;
    let tree = store.tree()?;
    let proof = tree.inclusion_proof(index, size)?;
    let leaf = tree.leaf(index).ok_or(MerkleError::IndexOutOfRange {
        index,
        size: tree.size(),
    })?;
    Ok(Inclusion {
        leaf,
        root: tree.root_at(size)?,
        proof,
    })
}

/// The tree of `from` entries against the tree of `to` entries.
pub async fn consistency(store: &Store, from: u64, to: u64) -> Result<Consistency> {
    covering(store, to).await?;
    let tree = store.tree()?;
    Ok(Consistency {
        proof: tree.consistency_proof(from, to)?,
        from_root: tree.root_at(from)?,
        to_root: tree.root_at(to)?,
    })
}

/// Entries `[start, end)` as shown outside, at most [`MAX_ENTRIES_PER_PAGE`].
pub async fn page(store: &Store, start: u64, end: u64) -> Result<Vec<EntryView>> {
    covering(store, end).await?;
    let size = store.tree_size()?;
    if start > end || end > size || end - start > MAX_ENTRIES_PER_PAGE {
        return Err(MerkleError::PageOutOfRange {
            start,
            end,
            size,
            most: MAX_ENTRIES_PER_PAGE,
        }
        .into());
    }
    entries(store, start, end).await
}

/// One entry as shown outside: its bytes, unless they hold a ballot of a proposal
/// whose choices may not be seen yet. Its hash is always shown.
#[derive(Debug, Clone)]
pub struct EntryView {
    pub index: LogIndex,
    pub leaf_hash: String,
    pub entry_type: String,
    pub entry: Option<Vec<u8>>,
}

/// Statuses of all proposals, for deciding which ballots may be shown.
async fn proposal_statuses(store: &Store) -> Result<HashMap<Uuid, Status>> {
    store.proposal_statuses().await
}

fn view(row: LogEntryRow, statuses: &HashMap<Uuid, Status>) -> Result<EntryView> {
    let withheld = row.entry_type == BALLOT_STATEMENT
        && !row
            .proposal_id
            .and_then(|p| statuses.get(&p))
            .is_some_and(|s| s.result_visible());
    let key_id: KeyId = row
        .key_id
        .parse()
        .map_err(|_| Error::Corrupt(format!("entry {} has a bad key id", row.index)))?;
    Ok(EntryView {
        index: row.index,
        leaf_hash: row.leaf_hash,
        entry_type: row.entry_type,
        entry: (!withheld).then(|| entry_bytes(&row.statement, key_id, &row.signature)),
    })
}

pub async fn entries(store: &Store, start: u64, end: u64) -> Result<Vec<EntryView>> {
    let statuses = proposal_statuses(store).await?;
    store
        .entries(start, end)
        .await?
        .into_iter()
        .map(|row| view(row, &statuses))
        .collect()
}

/// Builds the bundle from the database as it is: entries up to the latest signed
/// checkpoint. It never signs anything, so a damaged database is exported as it is,
/// for `audit verify` to find the damage.
pub async fn bundle(store: &Store, log_key: String, origin: &str) -> Result<Bundle> {
    let checkpoint = store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| Error::Corrupt("the log has no signed checkpoint yet".into()))?;
    let statuses = proposal_statuses(store).await?;
    let entries = store
        .entries(
            0,
            u64::try_from(checkpoint.size)
                .map_err(|_| Error::Corrupt(format!("checkpoint size {}", checkpoint.size)))?,
        )
        .await?
        .into_iter()
        .map(|row| {
            let v = view(row, &statuses)?;
            Ok(BundleEntry {
                index: v.index.get(),
                leaf_hash: v.leaf_hash,
                entry: v.entry.map(|e| BASE64URL.encode(e)),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let keys = store
        .keys_by_registration()
        .await?
        .into_iter()
        .map(|k| {
            let raw = hex::decode(&k.public_key)
                .map_err(|_| Error::Corrupt(format!("key {} is not hex", k.key_id)))?;
            Ok(BundleKey {
                member: k.member_id,
                key_id: k.key_id,
                public_key: BASE64URL.encode(raw),
                registration_entry: k.registration_entry.get(),
                revocation_entry: k.revocation_entry.map(LogIndex::get),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let proposals = store
        .proposals(false)
        .await?
        .into_iter()
        .map(|p| {
            let status = p.status.parse::<Status>()?;
            Ok(BundleProposal {
                id: p.id,
                status: p.status,
                digest: p.digest,
                document: p.document.map(|d| BASE64URL.encode(d)),
                opened_entry: p.opened_entry.map(LogIndex::get),
                closed_entry: p.closed_entry.map(LogIndex::get),
                result_entry: p.result_entry.map(LogIndex::get),
                result: match (status.result_visible(), p.result) {
                    (true, Some(r)) => {
                        Some(serde_json::from_str(&r).map_err(|e| Error::Corrupt(e.to_string()))?)
                    }
                    _ => None,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        origin: origin.to_owned(),
        log_key,
        checkpoint: checkpoint.note,
        entries,
        keys,
        proposals,
    })
}
