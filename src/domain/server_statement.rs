//! The statements the server signs itself with its log key, besides the frozen
//! proposal ([`FrozenDocument`](super::lifecycle::FrozenDocument)): a proposal closed,
//! a certified result, an admin's key revocation. Each has one way to be written
//! ([`body`](ProposalClosed::body)) and one way to be read (`from_statement`), used by
//! the server and by the audit verifier alike, so the two cannot drift.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::ballot::{
    PROPOSAL_CLOSED_STATEMENT, PROPOSAL_WITHDRAWN_STATEMENT, RESULT_STATEMENT, digest_field,
    time_field,
};
use super::keys::{
    ADMIN_KEY_REVOCATION_STATEMENT, ContentError, expect_shape, optional_text, uuid_field,
};
use super::statement::{KeyId, SignedStatement};

/// `mandaat.proposal-closed.v1`: no ballot after this entry counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalClosed {
    pub proposal: Uuid,
    pub proposal_digest: String,
    pub closed_at: DateTime<Utc>,
}

/// `mandaat.proposal-withdrawn.v1`: an open proposal was withdrawn. None of its
/// ballots counts, and no ballot or proxy of it may follow this entry. (A draft has
/// nothing in the log, so withdrawing one writes nothing either.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalWithdrawn {
    pub proposal: Uuid,
    pub proposal_digest: String,
    pub withdrawn_at: DateTime<Utc>,
}

/// `mandaat.result.v1`: the tally of a closed proposal and the log (size and root)
/// right after its closing entry, which the tally counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedResult {
    pub proposal: Uuid,
    pub proposal_digest: String,
    /// The tally exactly as signed (see `docs/voting.md` for its layout).
    pub tally: Value,
    pub log: LogPoint,
    pub finalized_at: DateTime<Utc>,
}

/// A tree size and its root hash (standard base64, as in checkpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPoint {
    pub size: u64,
    pub root: String,
}

/// `mandaat.admin-key-revocation.v1`: an admin revoked a member's key; the server
/// vouches for it so that key validity follows from the log alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKeyRevocation {
    pub member: Uuid,
    pub key_id: KeyId,
    /// `admin:<token subject>`.
    pub revoked_by: String,
    pub reason: Option<String>,
}

fn secs(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ProposalClosed {
    pub fn body(&self) -> Value {
        json!({
            "type": PROPOSAL_CLOSED_STATEMENT,
            "proposal": self.proposal.to_string(),
            "proposal_digest": self.proposal_digest,
            "closed_at": secs(self.closed_at),
        })
    }

    pub fn from_statement(st: &SignedStatement) -> Result<Self, ContentError> {
        expect_shape(
            st,
            PROPOSAL_CLOSED_STATEMENT,
            &["proposal", "proposal_digest", "closed_at"],
            &[],
        )?;
        Ok(ProposalClosed {
            proposal: uuid_field(st, "proposal")?,
            proposal_digest: digest_field(st)?,
            closed_at: time_field(st, "closed_at")?,
        })
    }
}

impl ProposalWithdrawn {
    pub fn body(&self) -> Value {
        json!({
            "type": PROPOSAL_WITHDRAWN_STATEMENT,
            "proposal": self.proposal.to_string(),
            "proposal_digest": self.proposal_digest,
            "withdrawn_at": secs(self.withdrawn_at),
        })
    }

    pub fn from_statement(st: &SignedStatement) -> Result<Self, ContentError> {
        expect_shape(
            st,
            PROPOSAL_WITHDRAWN_STATEMENT,
            &["proposal", "proposal_digest", "withdrawn_at"],
            &[],
        )?;
        Ok(ProposalWithdrawn {
            proposal: uuid_field(st, "proposal")?,
            proposal_digest: digest_field(st)?,
            withdrawn_at: time_field(st, "withdrawn_at")?,
        })
    }
}

impl CertifiedResult {
    pub fn body(&self) -> Value {
        json!({
            "type": RESULT_STATEMENT,
            "proposal": self.proposal.to_string(),
            "proposal_digest": self.proposal_digest,
            "tally": self.tally,
            "log": {"size": self.log.size, "root": self.log.root},
            "finalized_at": secs(self.finalized_at),
        })
    }

    pub fn from_statement(st: &SignedStatement) -> Result<Self, ContentError> {
        expect_shape(
            st,
            RESULT_STATEMENT,
            &[
                "proposal",
                "proposal_digest",
                "tally",
                "log",
                "finalized_at",
            ],
            &[],
        )?;
        let tally = st
            .body()
            .get("tally")
            .filter(|t| t.is_object())
            .cloned()
            .ok_or(ContentError::Field("tally"))?;
        Ok(CertifiedResult {
            proposal: uuid_field(st, "proposal")?,
            proposal_digest: digest_field(st)?,
            tally,
            log: log_field(st)?,
            finalized_at: time_field(st, "finalized_at")?,
        })
    }
}

/// `"log": {"size": <n>, "root": <base64 of 32 bytes>}`, nothing else.
fn log_field(st: &SignedStatement) -> Result<LogPoint, ContentError> {
    let bad = ContentError::Field("log");
    let log = st
        .body()
        .get("log")
        .and_then(Value::as_object)
        .ok_or(bad.clone())?;
    let size = log.get("size").and_then(Value::as_u64).ok_or(bad.clone())?;
    let root = log.get("root").and_then(Value::as_str).ok_or(bad.clone())?;
    if log.len() != 2 || crate::transparency::merkle::hash_from_b64(root).is_none() {
        return Err(bad);
    }
    Ok(LogPoint {
        size,
        root: root.to_owned(),
    })
}

impl AdminKeyRevocation {
    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": ADMIN_KEY_REVOCATION_STATEMENT,
            "member": self.member.to_string(),
            "key_id": self.key_id.to_string(),
            "revoked_by": self.revoked_by,
        });
        if let Some(reason) = &self.reason {
            body["reason"] = Value::String(reason.clone());
        }
        body
    }

    pub fn from_statement(st: &SignedStatement) -> Result<Self, ContentError> {
        expect_shape(
            st,
            ADMIN_KEY_REVOCATION_STATEMENT,
            &["member", "key_id", "revoked_by"],
            &["reason"],
        )?;
        let revoked_by = st
            .str_field("revoked_by")
            .filter(|r| r.starts_with("admin:") && super::is_plain_text(r, false))
            .ok_or(ContentError::Field("revoked_by"))?;
        Ok(AdminKeyRevocation {
            member: uuid_field(st, "member")?,
            key_id: st
                .str_field("key_id")
                .and_then(|k| k.parse().ok())
                .ok_or(ContentError::Field("key_id"))?,
            revoked_by: revoked_by.to_owned(),
            reason: optional_text(st, "reason")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn signed(body: &Value) -> SignedStatement {
        crate::domain::statement::signed_for_test(&SigningKey::from_bytes(&[9; 32]), body)
    }

    #[test]
    fn each_server_statement_reads_back_what_was_written() {
        let at: DateTime<Utc> = "2026-12-15T17:00:00Z".parse().unwrap();
        let closed = ProposalClosed {
            proposal: Uuid::from_u128(1),
            proposal_digest: "ab".repeat(32),
            closed_at: at,
        };
        assert_eq!(
            ProposalClosed::from_statement(&signed(&closed.body())),
            Ok(closed)
        );
        let withdrawn = ProposalWithdrawn {
            proposal: Uuid::from_u128(1),
            proposal_digest: "cd".repeat(32),
            withdrawn_at: at,
        };
        assert_eq!(
            ProposalWithdrawn::from_statement(&signed(&withdrawn.body())),
            Ok(withdrawn)
        );
        let result = CertifiedResult {
            proposal: Uuid::from_u128(1),
            proposal_digest: "ab".repeat(32),
            tally: json!({"outcome": "adopted"}),
            log: LogPoint {
                size: 9,
                root: crate::transparency::merkle::b64(&[7; 32]),
            },
            finalized_at: at,
        };
        assert_eq!(
            CertifiedResult::from_statement(&signed(&result.body())),
            Ok(result)
        );
        let revocation = AdminKeyRevocation {
            member: Uuid::from_u128(2),
            key_id: KeyId::of(&[1; 32]),
            revoked_by: "admin:secretariaat".into(),
            reason: Some("laptop gestolen".into()),
        };
        assert_eq!(
            AdminKeyRevocation::from_statement(&signed(&revocation.body())),
            Ok(revocation)
        );
    }

    #[test]
    fn a_result_with_a_loose_log_point_is_refused() {
        let mut body = json!({"type": RESULT_STATEMENT, "proposal": Uuid::from_u128(1).to_string(),
            "proposal_digest": "ab".repeat(32), "tally": {}, "finalized_at": "2026-12-15T17:00:00Z",
            "log": {"size": 3, "root": "not base64", }});
        assert_eq!(
            CertifiedResult::from_statement(&signed(&body)),
            Err(ContentError::Field("log"))
        );
        body["log"] =
            json!({"size": 3, "root": crate::transparency::merkle::b64(&[7; 32]), "extra": 1});
        assert_eq!(
            CertifiedResult::from_statement(&signed(&body)),
            Err(ContentError::Field("log"))
        );
    }
}
