//! Signed statements: the one format in which every signed thing in Mandaat travels
//! (see `docs/signing.md`). A statement is a JSON object with a `type`, signed over its
//! RFC 8785 (JCS) canonical bytes with Ed25519 and accepted only under `verify_strict`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Base64url without padding (RFC 4648 §5); padded input is refused so that each
/// value has exactly one encoding.
pub const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// The largest integer a statement may hold: 2^53 − 1, exact in every JSON parser.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// Largest statement accepted from a client, in canonical bytes. (The server's own
/// documents, such as a frozen proposal with its voter roll, may be larger.)
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("{0} is not valid unpadded base64url")]
    BadBase64(&'static str),
    #[error("statement is larger than {MAX_STATEMENT_BYTES} bytes")]
    TooLarge,
    #[error("statement is not UTF-8 JSON: {0}")]
    NotJson(String),
    #[error("statement must be a JSON object")]
    NotObject,
    #[error("statement has no string member \"type\"")]
    MissingType,
    #[error(
        "statement holds a number that is not an integer at {0}; signed statements hold no floats"
    )]
    Float(String),
    #[error("statement holds an integer outside ±(2^53−1) at {0}")]
    IntegerOutOfRange(String),
    #[error("statement holds null at {0}; leave the member out instead")]
    Null(String),
    #[error("statement bytes are not in RFC 8785 canonical form; sign the canonical form")]
    NotCanonical,
    #[error("key_id must be 64 lowercase hex characters (SHA-256 of the public key)")]
    BadKeyId,
    #[error("signature must be 64 bytes")]
    BadSignatureLength,
    #[error("signature does not verify under verify_strict with key {0}")]
    BadSignature(KeyId),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key must be 32 bytes, got {0}")]
    Length(usize),
    #[error("public key is not a valid Ed25519 point")]
    NotAPoint,
    #[error("public key is not in canonical encoding")]
    NonCanonical,
    #[error("public key is weak (small order) and would accept forged signatures")]
    Weak,
}

/// Lowercase hex SHA-256 of the 32 raw public-key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    pub fn of(public_key: &[u8; 32]) -> Self {
        KeyId(Sha256::digest(public_key).into())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for KeyId {
    type Err = StatementError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the lowercase form, so a key has one id string.
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(StatementError::BadKeyId);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| StatementError::BadKeyId)?;
        Ok(KeyId(bytes))
    }
}

/// A member's Ed25519 public key, accepted only when canonical and not weak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberPublicKey(VerifyingKey);

impl MemberPublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::Length(bytes.len()))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::NotAPoint)?;
        // Decompression accepts some non-canonical encodings (y ≥ p); re-encoding tells.
        if key.to_edwards().compress().to_bytes() != raw {
            return Err(KeyError::NonCanonical);
        }
        if key.is_weak() {
            return Err(KeyError::Weak);
        }
        Ok(MemberPublicKey(key))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.0.to_bytes())
    }

    pub fn verify_strict(&self, message: &[u8], signature: &Signature) -> bool {
        self.0.verify_strict(message, signature).is_ok()
    }
}

/// A statement as received: canonical bytes checked, signature not yet verified.
/// Parsing is cheap; verification is the costly step and is done separately, so that
/// callers can do it outside any transaction.
#[derive(Debug, Clone)]
pub struct SignedStatement {
    bytes: Vec<u8>,
    body: Map<String, Value>,
    statement_type: String,
    key_id: KeyId,
    signature: Signature,
}

impl SignedStatement {
    /// Parses the wire form: base64url statement bytes, hex key id, base64url signature.
    pub fn from_wire(
        statement: &str,
        key_id: &str,
        signature: &str,
    ) -> Result<Self, StatementError> {
        let bytes = BASE64URL
            .decode(statement)
            .map_err(|_| StatementError::BadBase64("statement"))?;
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(StatementError::TooLarge);
        }
        let signature = BASE64URL
            .decode(signature)
            .map_err(|_| StatementError::BadBase64("signature"))?;
        let signature =
            Signature::from_slice(&signature).map_err(|_| StatementError::BadSignatureLength)?;
        Self::from_parts(bytes, key_id.parse()?, signature)
    }

    pub fn from_parts(
        bytes: Vec<u8>,
        key_id: KeyId,
        signature: Signature,
    ) -> Result<Self, StatementError> {
        let body = parse_canonical(&bytes)?;
        let statement_type = match body.get("type") {
            Some(Value::String(t)) => t.clone(),
            _ => return Err(StatementError::MissingType),
        };
        Ok(SignedStatement {
            bytes,
            body,
            statement_type,
            key_id,
            signature,
        })
    }

    /// Checks the signature over the exact bytes with `verify_strict`, after checking
    /// that the key is the one the statement claims to be signed with.
    pub fn verify(&self, key: &MemberPublicKey) -> Result<(), StatementError> {
        if key.key_id() != self.key_id || !key.verify_strict(&self.bytes, &self.signature) {
            return Err(StatementError::BadSignature(self.key_id));
        }
        Ok(())
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }

    pub fn statement_type(&self) -> &str {
        &self.statement_type
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The entry bytes the log commits to: the RFC 8785 canonical JSON of the wire
    /// form, `{"key_id":…,"signature":…,"statement":…}`, so a leaf covers the statement,
    /// who signed it and the signature alike.
    pub fn entry_bytes(&self) -> Vec<u8> {
        entry_bytes(&self.bytes, self.key_id, &self.signature.to_bytes())
    }

    /// A string member of the statement, if present and a string.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }
}

/// See [`SignedStatement::entry_bytes`]. Every member is a string, so the canonical
/// form is plain concatenation in sorted key order.
pub fn entry_bytes(statement: &[u8], key_id: KeyId, signature: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"key_id":"{key_id}","signature":"{}","statement":"{}"}}"#,
        BASE64URL.encode(signature),
        BASE64URL.encode(statement)
    )
    .into_bytes()
}

/// Parses entry bytes back into their parts, checking they are canonical.
pub fn parse_entry(bytes: &[u8]) -> Result<SignedStatement, StatementError> {
    let envelope = parse_canonical_envelope(bytes)?;
    let statement = BASE64URL
        .decode(&envelope.statement)
        .map_err(|_| StatementError::BadBase64("statement"))?;
    let signature = BASE64URL
        .decode(&envelope.signature)
        .map_err(|_| StatementError::BadBase64("signature"))?;
    let signature =
        Signature::from_slice(&signature).map_err(|_| StatementError::BadSignatureLength)?;
    let parsed = SignedStatement::from_parts(statement, envelope.key_id.parse()?, signature)?;
    if parsed.entry_bytes() != bytes {
        return Err(StatementError::NotCanonical);
    }
    Ok(parsed)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    key_id: String,
    signature: String,
    statement: String,
}

fn parse_canonical_envelope(bytes: &[u8]) -> Result<Envelope, StatementError> {
    serde_json::from_slice(bytes).map_err(|e| StatementError::NotJson(e.to_string()))
}

/// Parses bytes that must already be the canonical form of a float-free JSON object.
pub fn parse_canonical(bytes: &[u8]) -> Result<Map<String, Value>, StatementError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| StatementError::NotJson(e.to_string()))?;
    check_numbers(&value, &mut String::from("$"))?;
    // Re-encoding and comparing catches every deviation at once: whitespace, key
    // order, escapes, duplicate keys (serde keeps one), number spelling.
    let canonical = serde_json_canonicalizer::to_vec(&value)
        .map_err(|e| StatementError::NotJson(e.to_string()))?;
    if canonical != bytes {
        return Err(StatementError::NotCanonical);
    }
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(StatementError::NotObject),
    }
}

/// The canonical bytes of a JSON value, for statements the caller builds itself.
pub fn canonical_bytes(value: &Value) -> Result<Vec<u8>, StatementError> {
    check_numbers(value, &mut String::from("$"))?;
    serde_json_canonicalizer::to_vec(value).map_err(|e| StatementError::NotJson(e.to_string()))
}

fn check_numbers(value: &Value, path: &mut String) -> Result<(), StatementError> {
    match value {
        Value::Number(n) => {
            let in_range = n
                .as_i64()
                .map(|i| (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i))
                .or_else(|| n.as_u64().map(|_| false));
            match in_range {
                Some(true) => Ok(()),
                Some(false) => Err(StatementError::IntegerOutOfRange(path.clone())),
                None => Err(StatementError::Float(path.clone())),
            }
        }
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let result = check_numbers(item, path);
            path.truncate(len);
            result
        }),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            let len = path.len();
            path.push('.');
            path.push_str(key);
            let result = check_numbers(item, path);
            path.truncate(len);
            result
        }),
        Value::Null => Err(StatementError::Null(path.clone())),
        Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use serde_json::json;

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sign(key: &SigningKey, bytes: &[u8]) -> SignedStatement {
        let public = MemberPublicKey::from_bytes(key.verifying_key().as_bytes()).unwrap();
        SignedStatement::from_parts(bytes.to_vec(), public.key_id(), key.sign(bytes)).unwrap()
    }

    #[test]
    fn canonical_statement_verifies() {
        let key = signing_key(7);
        let bytes =
            canonical_bytes(&json!({"type": "mandaat.key.v1", "b": [1, true], "a": "x"})).unwrap();
        assert_eq!(bytes, br#"{"a":"x","b":[1,true],"type":"mandaat.key.v1"}"#);
        let statement = sign(&key, &bytes);
        let public = MemberPublicKey::from_bytes(key.verifying_key().as_bytes()).unwrap();
        assert_eq!(statement.statement_type(), "mandaat.key.v1");
        assert!(statement.verify(&public).is_ok());
    }

    #[test]
    fn signature_by_another_key_fails() {
        let bytes = canonical_bytes(&json!({"type": "t"})).unwrap();
        let statement = sign(&signing_key(1), &bytes);
        let other = MemberPublicKey::from_bytes(signing_key(2).verifying_key().as_bytes()).unwrap();
        assert!(matches!(
            statement.verify(&other),
            Err(StatementError::BadSignature(_))
        ));
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        for raw in [
            &br#"{"type": "t"}"#[..],
            br#"{"type":"t","a":1}"#,
            br#"{"a":1,"a":2,"type":"t"}"#,
            br#"{"a":"\u0041","type":"t"}"#,
            br#"{"a":1E2,"type":"t"}"#,
        ] {
            let result = parse_canonical(raw);
            assert!(
                matches!(
                    result,
                    Err(StatementError::NotCanonical) | Err(StatementError::Float(_))
                ),
                "{}: {result:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn floats_and_large_integers_are_refused() {
        assert_eq!(
            parse_canonical(br#"{"a":{"b":[1.5]},"type":"t"}"#),
            Err(StatementError::Float("$.a.b[0]".into()))
        );
        assert_eq!(
            parse_canonical(br#"{"n":9007199254740992,"type":"t"}"#),
            Err(StatementError::IntegerOutOfRange("$.n".into()))
        );
        assert_eq!(
            parse_canonical(br#"{"n":18446744073709551615,"type":"t"}"#),
            Err(StatementError::IntegerOutOfRange("$.n".into()))
        );
        assert!(parse_canonical(br#"{"n":-9007199254740991,"type":"t"}"#).is_ok());
        assert_eq!(parse_canonical(br#"[1]"#), Err(StatementError::NotObject));
        assert_eq!(
            parse_canonical(br#"{"a":[null],"type":"t"}"#),
            Err(StatementError::Null("$.a[0]".into()))
        );
        assert!(matches!(
            SignedStatement::from_parts(
                br#"{"a":1}"#.to_vec(),
                KeyId([0; 32]),
                Signature::from_bytes(&[0; 64])
            ),
            Err(StatementError::MissingType)
        ));
    }

    #[test]
    fn weak_and_non_canonical_keys_are_refused() {
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(MemberPublicKey::from_bytes(&identity), Err(KeyError::Weak));
        // y = p + 1 encodes the identity non-canonically.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert_eq!(
            MemberPublicKey::from_bytes(&non_canonical),
            Err(KeyError::NonCanonical)
        );
        assert_eq!(
            MemberPublicKey::from_bytes(&[1; 31]),
            Err(KeyError::Length(31))
        );
    }

    #[test]
    fn entry_bytes_are_canonical_and_parse_back() {
        let key = signing_key(4);
        let bytes = canonical_bytes(&json!({"type": "t", "n": 1})).unwrap();
        let statement = sign(&key, &bytes);
        let entry = statement.entry_bytes();
        let value: serde_json::Value = serde_json::from_slice(&entry).unwrap();
        assert_eq!(canonical_bytes(&value).unwrap(), entry);
        let back = parse_entry(&entry).unwrap();
        assert_eq!(back.bytes(), statement.bytes());
        assert_eq!(back.key_id(), statement.key_id());
        let spaced = String::from_utf8(entry).unwrap().replace(",", ", ");
        assert!(parse_entry(spaced.as_bytes()).is_err());
    }

    #[test]
    fn wire_encoding_is_strict() {
        let key = signing_key(3);
        let bytes = canonical_bytes(&json!({"type": "t"})).unwrap();
        let id = KeyId::of(key.verifying_key().as_bytes()).to_string();
        let sig = BASE64URL.encode(key.sign(&bytes).to_bytes());
        let statement = BASE64URL.encode(&bytes);
        assert!(SignedStatement::from_wire(&statement, &id, &sig).is_ok());
        let padded = format!(
            "{}=",
            base64::engine::general_purpose::URL_SAFE
                .encode(&bytes)
                .trim_end_matches('=')
        );
        assert!(SignedStatement::from_wire(&padded, &id, &sig).is_err());
        assert_eq!(
            SignedStatement::from_wire(&statement, &id.to_uppercase(), &sig).unwrap_err(),
            StatementError::BadKeyId
        );
        assert_eq!(
            SignedStatement::from_wire(&statement, &id, &BASE64URL.encode([0u8; 10])).unwrap_err(),
            StatementError::BadSignatureLength
        );
    }
}
