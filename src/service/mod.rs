//! Use cases: each checks what the domain requires, verifies signatures outside any
//! transaction, and then writes in one short transaction.

pub mod api_tokens;
pub mod log;
pub mod membership;
pub mod people;
pub mod sequencer;
pub mod sign_in;
pub mod voting;
pub mod webhooks;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::keys::{ContentError, KeyRegistration, KeyRevocation};
use crate::domain::member::{
    BgNumber, ChamberRules, Member, MemberName, MemberStatus, SectorPupils,
};
use crate::domain::server_statement::AdminKeyRevocation;
use crate::domain::statement::{KeyId, MemberPublicKey, SignedStatement, canonical_bytes};
use crate::error::{ConflictKind, Error, Result};
use crate::store::{KeyRow, MemberFilter, NewEntry, Store};

/// Signs the statements the server makes itself (proposals opened and closed,
/// certified results, admins' key revocations) with its log key.
pub struct ServerSigner {
    key: ed25519_dalek::SigningKey,
    key_id: KeyId,
}

impl ServerSigner {
    pub fn new(key: ed25519_dalek::SigningKey) -> Self {
        let key_id = KeyId::of(key.verifying_key().as_bytes());
        ServerSigner { key, key_id }
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn sign(&self, body: &serde_json::Value) -> Result<SignedStatement> {
        use ed25519_dalek::Signer as _;
        let bytes = canonical_bytes(body)?;
        let signature = self.key.sign(&bytes);
        Ok(SignedStatement::from_parts(bytes, self.key_id, signature)?)
    }
}

/// A new member as an admin enters it.
pub struct NewMember {
    pub bg_number: BgNumber,
    pub name: MemberName,
    pub pupils: SectorPupils,
    pub status: MemberStatus,
}

/// Changes to a member; absent fields stay as they are.
#[derive(Default)]
pub struct MemberChanges {
    pub name: Option<MemberName>,
    pub pupils: Option<SectorPupils>,
    pub status: Option<MemberStatus>,
}

/// A member named by its bevoegd-gezag number or its id, as people type it.
pub async fn member_by_number_or_id(store: &Store, text: &str) -> Result<Member> {
    if let Ok(id) = text.parse::<Uuid>() {
        return store.member(id).await;
    }
    let number = text.parse::<i64>().map_err(|_| {
        Error::NotFound(format!(
            "member {text:?} (not a bevoegd-gezag number or id)"
        ))
    })?;
    let filter = crate::store::MemberFilter {
        bg_number: Some(BgNumber::new(number)?),
        name: None,
        sector: None,
        chamber: None,
        status: None,
        membership: None,
        limit: 1,
        offset: 0,
    };
    store
        .members(&filter)
        .await?
        .0
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound(format!("member with bevoegd-gezag number {number}")))
}

pub async fn create_member(
    store: &Store,
    rules: &ChamberRules,
    new: NewMember,
    now: DateTime<Utc>,
) -> Result<Member> {
    let member = Member::new(new.bg_number, new.name, new.pupils, new.status, rules, now);
    store.insert_member(&member).await
}

pub async fn update_member(
    store: &Store,
    rules: &ChamberRules,
    id: Uuid,
    changes: MemberChanges,
    now: DateTime<Utc>,
) -> Result<Member> {
    let mut member = store.member(id).await?;
    if let Some(name) = changes.name {
        member.name = name;
    }
    if let Some(pupils) = changes.pupils {
        member.set_pupils(pupils, rules);
    }
    if let Some(status) = changes.status {
        member.status = status;
    }
    member.updated_at = now;
    store.update_member(&member).await
}

/// A member's keys, active and revoked, oldest first; an unknown member is not found.
pub async fn member_keys(store: &Store, member_id: Uuid) -> Result<Vec<KeyRow>> {
    store.member(member_id).await?;
    store.member_keys(member_id).await
}

/// Members matching the filter, one page, and how many match in all.
pub async fn members(store: &Store, filter: &MemberFilter) -> Result<(Vec<Member>, u64)> {
    store.members(filter).await
}

pub async fn member(store: &Store, id: Uuid) -> Result<Member> {
    store.member(id).await
}

/// Registers a board's public key from its proof of possession.
/// Answers with the key and the log's receipt for its registration.
pub async fn register_key(
    store: &Store,
    log: &log::Log,
    member_id: Uuid,
    statement: &SignedStatement,
    now: DateTime<Utc>,
) -> Result<(KeyRow, log::Receipt)> {
    let member = store.member(member_id).await?;
    let registration = KeyRegistration::from_statement(statement, member_id)?;
    statement.verify(&registration.public_key)?;
    if member.status == MemberStatus::Suspended {
        return Err(Error::conflict(
            ConflictKind::MemberSuspended,
            format!("member {member_id} is suspended and cannot register keys"),
        ));
    }
    let key_id = registration.public_key.key_id().to_string();

    let mut write = store.write().await?;
    if let Some(existing) = write.key(&key_id).await? {
        return Err(if existing.revoked_at.is_some() {
            Error::conflict(
                ConflictKind::KeyRevoked,
                format!("key {key_id} was revoked; a revoked key is never registered again"),
            )
        } else {
            Error::conflict(
                ConflictKind::KeyAlreadyRegistered,
                format!("key {key_id} is already registered"),
            )
        });
    }
    let entry = write
        .append(NewEntry::by_member(statement, member_id, None, now))
        .await?;
    let key = write
        .insert_key(&KeyRow {
            key_id,
            member_id,
            public_key: hex::encode(registration.public_key.to_bytes()),
            label: registration.label,
            registered_at: now,
            registration_entry: entry,
            revoked_at: None,
            revoked_by: None,
            revocation_reason: None,
            revocation_entry: None,
        })
        .await?;
    write
        .enqueue_event(&webhooks::key_event(&member, &key, false))
        .await?;
    let committed = write.commit().await?;
    let receipt = log.receipt_after(store, entry, committed, now).await?;
    Ok((key, receipt))
}

/// Who revokes a key, and on what authority.
pub enum Revoker<'a> {
    /// The board itself, with a revocation signed by one of its active keys.
    Member(&'a SignedStatement),
    /// An admin (a lost or compromised key), recorded with the admin's subject.
    Admin {
        subject: &'a str,
        reason: Option<String>,
        signer: &'a ServerSigner,
    },
}

/// Answers with the revoked key and the log's receipt for its revocation.
pub async fn revoke_key(
    store: &Store,
    log: &log::Log,
    member_id: Uuid,
    key_id: KeyId,
    revoker: Revoker<'_>,
    now: DateTime<Utc>,
) -> Result<(KeyRow, log::Receipt)> {
    let key_hex = key_id.to_string();
    let key = store
        .member_key(&key_hex)
        .await?
        .filter(|k| k.member_id == member_id)
        .ok_or_else(|| Error::NotFound(format!("key {key_hex} of member {member_id}")))?;
    if key.revoked_at.is_some() {
        return Err(already_revoked(&key_hex));
    }
    let member = store.member(member_id).await?;

    let admin_statement;
    let (revoked_by, reason, statement) = match revoker {
        Revoker::Member(statement) => {
            let revocation = KeyRevocation::from_statement(statement, member_id, key_id)?;
            let signer = active_key_of(store, member_id, statement.key_id()).await?;
            statement.verify(&signer)?;
            ("member".to_owned(), revocation.reason, statement)
        }
        Revoker::Admin {
            subject,
            reason,
            signer,
        } => {
            // The server vouches for an admin's revocation with its log key, so that
            // key validity can be derived from the log alone.
            let revoked_by = format!("admin:{subject}");
            let body = AdminKeyRevocation {
                member: member_id,
                key_id,
                revoked_by: revoked_by.clone(),
                reason: reason.clone(),
            }
            .body();
            admin_statement = signer.sign(&body)?;
            (revoked_by, reason, &admin_statement)
        }
    };

    let mut write = store.write().await?;
    // Re-read under the write lock: a concurrent revocation may have won.
    let mut current = write
        .key(&key_hex)
        .await?
        .ok_or_else(|| Error::NotFound(format!("key {key_hex}")))?;
    if current.revoked_at.is_some() {
        return Err(already_revoked(&key_hex));
    }
    let entry = write
        .append(NewEntry::by_member(statement, member_id, None, now))
        .await?;
    current.revoked_at = Some(now);
    current.revoked_by = Some(revoked_by);
    current.revocation_reason = reason;
    current.revocation_entry = Some(entry);
    let updated = write.save_key(&current).await?;
    write
        .enqueue_event(&webhooks::key_event(&member, &updated, true))
        .await?;
    let committed = write.commit().await?;
    let receipt = log.receipt_after(store, entry, committed, now).await?;
    Ok((updated, receipt))
}

fn already_revoked(key: &str) -> Error {
    Error::conflict(
        ConflictKind::KeyRevoked,
        format!("key {key} is already revoked"),
    )
}

async fn active_key_of(store: &Store, member_id: Uuid, key_id: KeyId) -> Result<MemberPublicKey> {
    let key = store
        .member_key(&key_id.to_string())
        .await?
        .filter(|k| k.member_id == member_id && k.revoked_at.is_none())
        .ok_or(ContentError::SignerNotActive(key_id))?;
    let bytes = hex::decode(&key.public_key)
        .map_err(|_| Error::Corrupt(format!("key {key_id} is not hex")))?;
    Ok(MemberPublicKey::from_bytes(&bytes)?)
}
