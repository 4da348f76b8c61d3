//! The transparency log (RFC 9162 proofs, C2SP checkpoints): readable by every
//! authenticated role; ballot bytes stay hidden until their proposal closes.

use base64::Engine as _;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::problem::{OpResult, Public, Read, ReadOne, ReadQuery};
use super::{ApiTags, Credentials, State};
use crate::domain::statement::BASE64URL;
use crate::service::log::{self as log_service, Receipt};
use crate::transparency::merkle::b64;

pub struct LogApi;

/// Proof that an entry is in the log: check it offline against the checkpoint
/// (docs/audit.md).
#[derive(Debug, Clone, Object)]
#[oai(rename = "LogReceipt")]
pub struct ReceiptDto {
    /// The entry's index in the log.
    pub index: u64,
    /// Hex SHA-256(0x00 ‖ entry bytes).
    pub leaf_hash: String,
    /// Size of the tree the checkpoint and proof are for.
    pub tree_size: u64,
    /// Base64 root hash at `tree_size`.
    pub root: String,
    /// The signed checkpoint (C2SP tlog-checkpoint in a signed note).
    pub checkpoint: String,
    /// RFC 9162 inclusion proof: base64 hashes, leaf to root.
    pub inclusion_proof: Vec<String>,
}

impl From<Receipt> for ReceiptDto {
    fn from(r: Receipt) -> Self {
        ReceiptDto {
            index: r.index.get(),
            leaf_hash: hex::encode(r.leaf_hash),
            tree_size: r.tree_size,
            root: b64(&r.root),
            checkpoint: r.checkpoint,
            inclusion_proof: r.inclusion_proof.iter().map(b64).collect(),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "LogEntry", skip_serializing_if_is_none)]
pub struct EntryDto {
    pub index: u64,
    pub leaf_hash: String,
    /// The statement's `type`.
    pub entry_type: String,
    /// Base64url of the entry bytes; absent while they hold a ballot of a proposal
    /// that has not closed.
    pub entry: Option<String>,
    pub withheld: bool,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "LogEntries")]
pub struct EntriesDto {
    pub start: u64,
    pub end: u64,
    pub entries: Vec<EntryDto>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "InclusionProof")]
pub struct InclusionDto {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: String,
    /// Base64 root hash at `size`.
    pub root: String,
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename = "ConsistencyProof")]
pub struct ConsistencyDto {
    pub from: u64,
    pub to: u64,
    /// Base64 root hashes at `from` and `to`.
    pub from_root: String,
    pub to_root: String,
    pub proof: Vec<String>,
}

#[derive(ApiResponse)]
enum Text {
    #[oai(status = 200)]
    Ok(PlainText<String>),
}

#[OpenApi(prefix_path = "/api/v1/log", tag = "ApiTags::Log")]
impl LogApi {
    /// The latest signed checkpoint (C2SP tlog-checkpoint as a signed note, text/plain).
    #[oai(path = "/checkpoint", method = "get")]
    async fn checkpoint(&self, state: Data<&State>, auth: Credentials) -> OpResult<Text, Read> {
        state.authenticate(&auth).await?;
        let checkpoint = state
            .log
            .checkpoint(&state.store, state.clock.now())
            .await?;
        Ok(Text::Ok(PlainText(checkpoint.note)))
    }

    /// The log's verifier key, `name+hexid+base64(0x01‖key)` (no token needed).
    #[oai(path = "/key", method = "get")]
    async fn key(&self, state: Data<&State>) -> OpResult<Text, Public> {
        Ok(Text::Ok(PlainText(format!(
            "{}\n",
            state.log.verifier_key()
        ))))
    }

    /// Entries `[start, end)`, at most 1000 at a time.
    #[oai(path = "/entries", method = "get")]
    async fn entries(
        &self,
        state: Data<&State>,
        auth: Credentials,
        #[oai(validator(maximum(value = "9007199254740991")))] start: Query<u64>,
        #[oai(validator(maximum(value = "9007199254740991")))] end: Query<u64>,
    ) -> OpResult<Json<EntriesDto>, ReadQuery> {
        state.authenticate(&auth).await?;
        let entries = log_service::page(&state.store, start.0, end.0).await?;
        Ok(Json(EntriesDto {
            start: start.0,
            end: end.0,
            entries: entries
                .into_iter()
                .map(|e| EntryDto {
                    index: e.index.get(),
                    leaf_hash: e.leaf_hash,
                    entry_type: e.entry_type,
                    withheld: e.entry.is_none(),
                    entry: e.entry.map(|b| BASE64URL.encode(b)),
                })
                .collect(),
        }))
    }

    /// RFC 9162 §2.1.3 inclusion proof of entry `index` in the tree of `size` entries.
    #[oai(path = "/proof/inclusion", method = "get")]
    async fn inclusion(
        &self,
        state: Data<&State>,
        auth: Credentials,
        #[oai(validator(maximum(value = "9007199254740991")))] index: Query<u64>,
        #[oai(validator(maximum(value = "9007199254740991")))] size: Query<u64>,
    ) -> OpResult<Json<InclusionDto>, ReadQuery> {
        state.authenticate(&auth).await?;
        let inclusion = log_service::inclusion(&state.store, index.0, size.0).await?;
        Ok(Json(InclusionDto {
            index: index.0,
            size: size.0,
            leaf_hash: hex::encode(inclusion.leaf),
            root: b64(&inclusion.root),
            proof: inclusion.proof.iter().map(b64).collect(),
        }))
    }

    /// RFC 9162 §2.1.4 consistency proof between the trees of `from` and `to` entries.
    #[oai(path = "/proof/consistency", method = "get")]
    async fn consistency(
        &self,
        state: Data<&State>,
        auth: Credentials,
        #[oai(validator(maximum(value = "9007199254740991")))] from: Query<u64>,
        #[oai(validator(maximum(value = "9007199254740991")))] to: Query<u64>,
    ) -> OpResult<Json<ConsistencyDto>, ReadQuery> {
        state.authenticate(&auth).await?;
        let consistency = log_service::consistency(&state.store, from.0, to.0).await?;
        Ok(Json(ConsistencyDto {
            from: from.0,
            to: to.0,
            from_root: b64(&consistency.from_root),
            to_root: b64(&consistency.to_root),
            proof: consistency.proof.iter().map(b64).collect(),
        }))
    }

    /// A fresh receipt for the entry with this leaf hash (hex).
    #[oai(path = "/receipt/:leaf_hash", method = "get")]
    async fn receipt(
        &self,
        state: Data<&State>,
        auth: Credentials,
        /// The entry's leaf hash: 64 hex digits.
        #[oai(validator(pattern = "^[0-9a-fA-F]{64}$"))]
        leaf_hash: Path<String>,
    ) -> OpResult<Json<ReceiptDto>, ReadOne> {
        state.authenticate(&auth).await?;
        let entry = state
            .store
            .entry_by_leaf_hash(&leaf_hash.0.to_ascii_lowercase())
            .await?
            .ok_or_else(|| {
                crate::error::Error::NotFound(format!("log entry with leaf hash {}", leaf_hash.0))
            })?;
        let receipt = state
            .log
            .receipt(&state.store, entry.index, state.clock.now())
            .await?;
        Ok(Json(receipt.into()))
    }
}
