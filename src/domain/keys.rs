//! What key statements say: a board's proof of possession when it registers a key,
//! and its signed revocation. Parsing checks content only; the signature is checked
//! by [`SignedStatement::verify`](super::statement::SignedStatement::verify).

use base64::Engine as _;
use serde_json::Value;
use uuid::Uuid;

use super::statement::{
    BASE64URL, KeyError, KeyId, MemberPublicKey, SignedStatement, canonical_uuid,
};

pub const KEY_STATEMENT: &str = "mandaat.key.v1";
pub const KEY_REVOCATION_STATEMENT: &str = "mandaat.key-revocation.v1";
/// Server-signed: an admin revoked a member's key.
pub const ADMIN_KEY_REVOCATION_STATEMENT: &str = "mandaat.admin-key-revocation.v1";
const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("statement type is {found:?}, expected {expected:?}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("statement member {0:?} is missing or wrong")]
    Field(&'static str),
    #[error("statement member {0:?} must be a UUID written in lowercase, hyphenated form")]
    Uuid(&'static str),
    #[error("statement member {0:?} must be a UTC time written as YYYY-MM-DDTHH:MM:SSZ")]
    Time(&'static str),
    #[error("statement member {0:?} holds control characters")]
    ControlCharacters(&'static str),
    #[error("statement has an unexpected member {0:?}")]
    UnexpectedField(String),
    #[error("statement names member {found}, but the request is for member {expected}")]
    OtherMember { expected: Uuid, found: Uuid },
    #[error("statement names key {found}, but the request is for key {expected}")]
    OtherKey { expected: KeyId, found: KeyId },
    #[error("key_id {given} is not the id of the registered public key ({actual})")]
    KeyIdMismatch { given: KeyId, actual: KeyId },
    #[error(
        "statement member \"choice\" must be {{\"vote\": \"yes\"|\"no\"|\"abstain\"}}, with \"parameters\" for a yes vote on a mandate, or {{\"ranking\": [<option>, …]}}"
    )]
    BadChoice,
    #[error("statement is signed with key {0}, which is not an active key of this member")]
    SignerNotActive(KeyId),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A proof of possession: `{"type":"mandaat.key.v1","member":<uuid>,"public_key":<b64url>,
/// "label"?:<text>}`, signed with the key it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRegistration {
    pub member: Uuid,
    pub public_key: MemberPublicKey,
    pub label: Option<String>,
}

impl KeyRegistration {
    pub fn from_statement(statement: &SignedStatement, member: Uuid) -> Result<Self, ContentError> {
        expect_shape(
            statement,
            KEY_STATEMENT,
            &["member", "public_key"],
            &["label"],
        )?;
        expect_member(statement, member)?;
        let raw = statement
            .str_field("public_key")
            .and_then(|k| BASE64URL.decode(k).ok())
            .ok_or(ContentError::Field("public_key"))?;
        let public_key = MemberPublicKey::from_bytes(&raw)?;
        if statement.key_id() != public_key.key_id() {
            return Err(ContentError::KeyIdMismatch {
                given: statement.key_id(),
                actual: public_key.key_id(),
            });
        }
        Ok(KeyRegistration {
            member,
            public_key,
            label: optional_text(statement, "label")?,
        })
    }
}

/// A board's revocation of one of its keys: `{"type":"mandaat.key-revocation.v1",
/// "member":<uuid>,"key_id":<hex>,"reason"?:<text>}`, signed with any of its active keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevocation {
    pub member: Uuid,
    pub key_id: KeyId,
    pub reason: Option<String>,
}

impl KeyRevocation {
    pub fn from_statement(
        statement: &SignedStatement,
        member: Uuid,
        key_id: KeyId,
    ) -> Result<Self, ContentError> {
        expect_shape(
            statement,
            KEY_REVOCATION_STATEMENT,
            &["member", "key_id"],
            &["reason"],
        )?;
        expect_member(statement, member)?;
        let found: KeyId = statement
            .str_field("key_id")
            .and_then(|k| k.parse().ok())
            .ok_or(ContentError::Field("key_id"))?;
        if found != key_id {
            return Err(ContentError::OtherKey {
                expected: key_id,
                found,
            });
        }
        Ok(KeyRevocation {
            member,
            key_id,
            reason: optional_text(statement, "reason")?,
        })
    }
}

pub(crate) fn expect_shape(
    statement: &SignedStatement,
    expected: &'static str,
    required: &[&'static str],
    optional: &[&'static str],
) -> Result<(), ContentError> {
    if statement.statement_type() != expected {
        return Err(ContentError::WrongType {
            expected,
            found: statement.statement_type().to_owned(),
        });
    }
    for name in statement.body().keys() {
        if name != "type"
            && !required.contains(&name.as_str())
            && !optional.contains(&name.as_str())
        {
            return Err(ContentError::UnexpectedField(name.clone()));
        }
    }
    match required
        .iter()
        .find(|r| !statement.body().contains_key(**r))
    {
        Some(missing) => Err(ContentError::Field(missing)),
        None => Ok(()),
    }
}

pub(crate) fn expect_member(
    statement: &SignedStatement,
    expected: Uuid,
) -> Result<(), ContentError> {
    let found = uuid_field(statement, "member")?;
    if found != expected {
        return Err(ContentError::OtherMember { expected, found });
    }
    Ok(())
}

/// A required identifier, in its one accepted spelling.
pub(crate) fn uuid_field(
    statement: &SignedStatement,
    name: &'static str,
) -> Result<Uuid, ContentError> {
    let text = statement.str_field(name).ok_or(ContentError::Field(name))?;
    canonical_uuid(text).ok_or(ContentError::Uuid(name))
}

pub(crate) fn optional_text(
    statement: &SignedStatement,
    name: &'static str,
) -> Result<Option<String>, ContentError> {
    match statement.body().get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !super::is_plain_text(s, false) => {
            Err(ContentError::ControlCharacters(name))
        }
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= MAX_TEXT => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ContentError::Field(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    fn signed(key: &SigningKey, body: serde_json::Value) -> SignedStatement {
        crate::domain::statement::signed_for_test(key, &body)
    }

    #[test]
    fn registration_names_member_and_key() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let member = Uuid::new_v4();
        let public = BASE64URL.encode(key.verifying_key().as_bytes());
        let ok = signed(
            &key,
            json!({"type": KEY_STATEMENT, "member": member.to_string(), "public_key": public, "label": "laptop"}),
        );
        let reg = KeyRegistration::from_statement(&ok, member).unwrap();
        assert_eq!(reg.label.as_deref(), Some("laptop"));
        assert!(ok.verify(&reg.public_key).is_ok());

        let other = Uuid::new_v4();
        assert!(matches!(
            KeyRegistration::from_statement(&ok, other),
            Err(ContentError::OtherMember { .. })
        ));

        let extra = signed(
            &key,
            json!({"type": KEY_STATEMENT, "member": member.to_string(), "public_key": public, "admin": true}),
        );
        assert_eq!(
            KeyRegistration::from_statement(&extra, member),
            Err(ContentError::UnexpectedField("admin".into()))
        );

        let wrong_type = signed(
            &key,
            json!({"type": "mandaat.ballot.v1", "member": member.to_string(), "public_key": public}),
        );
        assert!(matches!(
            KeyRegistration::from_statement(&wrong_type, member),
            Err(ContentError::WrongType { .. })
        ));

        // Signed by one key while registering another: the key id cannot match.
        let other_key = SigningKey::from_bytes(&[6; 32]);
        let foreign = signed(
            &other_key,
            json!({"type": KEY_STATEMENT, "member": member.to_string(), "public_key": public}),
        );
        assert!(matches!(
            KeyRegistration::from_statement(&foreign, member),
            Err(ContentError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn revocation_names_the_key() {
        let key = SigningKey::from_bytes(&[8; 32]);
        let member = Uuid::new_v4();
        let id = KeyId::of(key.verifying_key().as_bytes());
        let ok = signed(
            &key,
            json!({"type": KEY_REVOCATION_STATEMENT, "member": member.to_string(), "key_id": id.to_string()}),
        );
        assert_eq!(
            KeyRevocation::from_statement(&ok, member, id)
                .unwrap()
                .key_id,
            id
        );
        let other = KeyId::of(&[1; 32]);
        assert!(matches!(
            KeyRevocation::from_statement(&ok, member, other),
            Err(ContentError::OtherKey { .. })
        ));
    }
}

#[cfg(test)]
mod doc_vector {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    /// The worked example in docs/signing.md: if this changes, the document is wrong.
    #[test]
    fn signing_md_example_holds() {
        let key = SigningKey::from_bytes(&[1u8; 32]);
        let member = "0b0e6a6e-54c5-4c1c-9a43-2f1e0d5e7a10";
        let public = BASE64URL.encode(key.verifying_key().as_bytes());
        assert_eq!(public, "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w");
        let body = serde_json::json!({"type": KEY_STATEMENT, "member": member, "public_key": public, "label": "secretariaat"});
        let bytes = crate::domain::statement::canonical_bytes(&body).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"label":"secretariaat","member":"0b0e6a6e-54c5-4c1c-9a43-2f1e0d5e7a10","public_key":"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w","type":"mandaat.key.v1"}"#
        );
        assert_eq!(
            KeyId::of(key.verifying_key().as_bytes()).to_string(),
            "34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e"
        );
        assert_eq!(
            BASE64URL.encode(key.sign(&bytes).to_bytes()),
            "BZfNAggc0yp-5afw4NiJ6e05lSI1PFI5s2Yk0zmY1BXhWTZh1OMVYYnXqfP4Q7HLZfWS6Qv7sxyPi1igxMfTDQ"
        );
    }
}
