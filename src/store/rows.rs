//! The rows of the log, its checkpoints and the members' keys, as plain records that
//! leave the store (the entities never do).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use entity::{checkpoint, log_entry, member_key};

use crate::error::{Error, Result};
use crate::transparency::LogIndex;

/// One accepted entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntryRow {
    pub index: LogIndex,
    pub entry_type: String,
    /// The statement's exact bytes.
    pub statement: Vec<u8>,
    pub key_id: String,
    pub signature: Vec<u8>,
    /// Hex SHA-256(0x00 ‖ entry bytes), recorded when it was accepted.
    pub leaf_hash: String,
    pub member_id: Option<Uuid>,
    pub proposal_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}

/// A checkpoint the server signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub size: i64,
    pub root_hash: String,
    /// The signed note (C2SP); its first line is the log's origin.
    pub note: String,
    pub created_at: DateTime<Utc>,
}

impl CheckpointRow {
    /// The origin line of the note: the log's name.
    pub fn origin(&self) -> &str {
        self.note.split('\n').next().unwrap_or_default()
    }
}

/// A member's key and, once revoked, its revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub key_id: String,
    pub member_id: Uuid,
    /// Hex of the 32-byte public key.
    pub public_key: String,
    pub label: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub registration_entry: LogIndex,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub revocation_reason: Option<String>,
    pub revocation_entry: Option<LogIndex>,
}

impl TryFrom<log_entry::Model> for LogEntryRow {
    type Error = Error;
    fn try_from(m: log_entry::Model) -> Result<Self> {
        Ok(LogEntryRow {
            index: LogIndex::from_stored(m.idx)?,
            entry_type: m.entry_type,
            statement: m.statement,
            key_id: m.key_id,
            signature: m.signature,
            leaf_hash: m.leaf_hash,
            member_id: m.member_id,
            proposal_id: m.proposal_id,
            recorded_at: m.recorded_at,
        })
    }
}

impl From<checkpoint::Model> for CheckpointRow {
    fn from(m: checkpoint::Model) -> Self {
        CheckpointRow {
            size: m.size,
            root_hash: m.root_hash,
            note: m.note,
            created_at: m.created_at,
        }
    }
}

impl TryFrom<member_key::Model> for KeyRow {
    type Error = Error;
    fn try_from(m: member_key::Model) -> Result<Self> {
        Ok(KeyRow {
            key_id: m.key_id,
            member_id: m.member_id,
            public_key: m.public_key,
            label: m.label,
            registered_at: m.registered_at,
            registration_entry: LogIndex::from_stored(m.registration_entry)?,
            revoked_at: m.revoked_at,
            revoked_by: m.revoked_by,
            revocation_reason: m.revocation_reason,
            revocation_entry: m.revocation_entry.map(LogIndex::from_stored).transpose()?,
        })
    }
}

pub(super) fn key_model(k: &KeyRow) -> member_key::ActiveModel {
    use sea_orm::ActiveValue::Set;
    member_key::ActiveModel {
        key_id: Set(k.key_id.clone()),
        member_id: Set(k.member_id),
        public_key: Set(k.public_key.clone()),
        label: Set(k.label.clone()),
        registered_at: Set(k.registered_at),
        registration_entry: Set(k.registration_entry.stored()),
        revoked_at: Set(k.revoked_at),
        revoked_by: Set(k.revoked_by.clone()),
        revocation_reason: Set(k.revocation_reason.clone()),
        revocation_entry: Set(k.revocation_entry.map(LogIndex::stored)),
    }
}
