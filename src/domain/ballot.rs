//! What ballot and proxy statements say. Like key statements, parsing checks
//! content only; signatures, keys, eligibility and timing are checked by the caller
//! against the frozen proposal.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::keys::{ContentError, expect_shape, uuid_field};
use super::proposal::Choice;
use super::statement::{BASE64URL, SignedStatement, canonical_time};

pub const BALLOT_STATEMENT: &str = "mandaat.ballot.v1";
pub const PROXY_STATEMENT: &str = "mandaat.proxy.v1";
pub const PROXY_REVOCATION_STATEMENT: &str = "mandaat.proxy-revocation.v1";
/// Server-signed: a proposal's frozen document, when it opens.
pub const PROPOSAL_STATEMENT: &str = "mandaat.proposal.v1";
/// Server-signed: a proposal was closed; no ballot after this entry counts.
pub const PROPOSAL_CLOSED_STATEMENT: &str = "mandaat.proposal-closed.v1";
/// Server-signed: an open proposal was withdrawn; no ballot counts, none may follow.
pub const PROPOSAL_WITHDRAWN_STATEMENT: &str = "mandaat.proposal-withdrawn.v1";
/// Server-signed: the certified result of a finalised proposal.
pub const RESULT_STATEMENT: &str = "mandaat.result.v1";

/// At least 128 random bits, at most 512.
const NONCE_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

/// A member's vote, cast by itself or by its proxy holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotStatement {
    pub proposal: Uuid,
    pub proposal_digest: String,
    pub voter: Uuid,
    /// The member whose vote this is: the voter itself, or a grantor of a proxy to it.
    pub for_member: Uuid,
    pub choice: Choice,
    pub nonce: String,
    pub cast_at: DateTime<Utc>,
}

impl BallotStatement {
    pub fn from_statement(statement: &SignedStatement) -> Result<Self, ContentError> {
        expect_shape(
            statement,
            BALLOT_STATEMENT,
            &[
                "proposal",
                "proposal_digest",
                "voter",
                "for",
                "choice",
                "nonce",
                "cast_at",
            ],
            &[],
        )?;
        let choice = statement
            .body()
            .get("choice")
            .cloned()
            .ok_or(ContentError::Field("choice"))?;
        Ok(BallotStatement {
            proposal: uuid_field(statement, "proposal")?,
            proposal_digest: digest_field(statement)?,
            voter: uuid_field(statement, "voter")?,
            for_member: uuid_field(statement, "for")?,
            choice: serde_json::from_value(choice).map_err(|_| ContentError::BadChoice)?,
            nonce: nonce_field(statement)?,
            cast_at: time_field(statement, "cast_at")?,
        })
    }
}

/// A grant (`mandaat.proxy.v1`) or withdrawal (`mandaat.proxy-revocation.v1`) of a
/// proxy for one proposal, signed by the grantor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyStatement {
    pub revocation: bool,
    pub proposal: Uuid,
    pub proposal_digest: String,
    pub grantor: Uuid,
    pub holder: Uuid,
    pub nonce: String,
    pub signed_at: DateTime<Utc>,
}

impl ProxyStatement {
    pub fn from_statement(statement: &SignedStatement) -> Result<Self, ContentError> {
        let revocation = statement.statement_type() == PROXY_REVOCATION_STATEMENT;
        let expected = if revocation {
            PROXY_REVOCATION_STATEMENT
        } else {
            PROXY_STATEMENT
        };
        expect_shape(
            statement,
            expected,
            &[
                "proposal",
                "proposal_digest",
                "grantor",
                "holder",
                "nonce",
                "signed_at",
            ],
            &[],
        )?;
        Ok(ProxyStatement {
            revocation,
            proposal: uuid_field(statement, "proposal")?,
            proposal_digest: digest_field(statement)?,
            grantor: uuid_field(statement, "grantor")?,
            holder: uuid_field(statement, "holder")?,
            nonce: nonce_field(statement)?,
            signed_at: time_field(statement, "signed_at")?,
        })
    }
}

pub(crate) fn digest_field(statement: &SignedStatement) -> Result<String, ContentError> {
    statement
        .str_field("proposal_digest")
        .filter(|d| d.len() == 64 && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .map(str::to_owned)
        .ok_or(ContentError::Field("proposal_digest"))
}

fn nonce_field(statement: &SignedStatement) -> Result<String, ContentError> {
    statement
        .str_field("nonce")
        .filter(|n| {
            BASE64URL
                .decode(n)
                .is_ok_and(|b| NONCE_BYTES.contains(&b.len()))
        })
        .map(str::to_owned)
        .ok_or(ContentError::Field("nonce"))
}

pub(crate) fn time_field(
    statement: &SignedStatement,
    name: &'static str,
) -> Result<DateTime<Utc>, ContentError> {
    let text = statement.str_field(name).ok_or(ContentError::Field(name))?;
    canonical_time(text).ok_or(ContentError::Time(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    fn signed(body: serde_json::Value) -> SignedStatement {
        crate::domain::statement::signed_for_test(&SigningKey::from_bytes(&[3; 32]), &body)
    }

    fn ballot() -> serde_json::Value {
        json!({
            "type": BALLOT_STATEMENT, "proposal": Uuid::nil().to_string(), "proposal_digest": "ab".repeat(32),
            "voter": Uuid::nil().to_string(), "for": Uuid::nil().to_string(), "choice": {"vote": "yes"},
            "nonce": BASE64URL.encode([7u8; 16]), "cast_at": "2026-11-28T12:00:00Z"
        })
    }

    #[test]
    fn a_ballot_parses() {
        let b = BallotStatement::from_statement(&signed(ballot())).unwrap();
        assert_eq!(b.cast_at.to_rfc3339(), "2026-11-28T12:00:00+00:00");
    }

    #[test]
    fn short_nonces_and_bad_fields_are_refused() {
        let mut short = ballot();
        short["nonce"] = json!(BASE64URL.encode([7u8; 15]));
        assert_eq!(
            BallotStatement::from_statement(&signed(short)),
            Err(ContentError::Field("nonce"))
        );
        let mut upper = ballot();
        upper["proposal_digest"] = json!("AB".repeat(32));
        assert_eq!(
            BallotStatement::from_statement(&signed(upper)),
            Err(ContentError::Field("proposal_digest"))
        );
        let mut missing = ballot();
        missing.as_object_mut().unwrap().remove("for");
        assert_eq!(
            BallotStatement::from_statement(&signed(missing)),
            Err(ContentError::Field("for"))
        );
        let mut bad_choice = ballot();
        bad_choice["choice"] = json!({"vote": "perhaps"});
        assert!(matches!(
            BallotStatement::from_statement(&signed(bad_choice)),
            Err(ContentError::BadChoice)
        ));
    }
}
