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

/// The one spelling of an identifier in a signed statement: a UUID in lowercase,
/// hyphenated form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`). Braces, `urn:uuid:`,
/// upper case and the simple form are refused, so that a server and a verifier
/// comparing ids as strings can never disagree about who a statement names.
pub fn canonical_uuid(text: &str) -> Option<uuid::Uuid> {
    let id = uuid::Uuid::try_parse(text).ok()?;
    (id.hyphenated().to_string() == text).then_some(id)
}

/// The one spelling of a time in a signed statement: RFC 3339 in UTC with whole
/// seconds, `YYYY-MM-DDTHH:MM:SSZ` (upper-case `T` and `Z`, no fraction, no offset).
pub fn canonical_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let time = chrono::DateTime::parse_from_rfc3339(text)
        .ok()?
        .with_timezone(&chrono::Utc);
    (time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) == text).then_some(time)
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

/// Signs `body`'s canonical form with `key`, for tests of the statement parsers.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn signed_for_test(key: &ed25519_dalek::SigningKey, body: &Value) -> SignedStatement {
    use ed25519_dalek::Signer as _;
    let bytes = canonical_bytes(body).unwrap();
    SignedStatement::from_parts(
        bytes.clone(),
        KeyId::of(key.verifying_key().as_bytes()),
        key.sign(&bytes),
    )
    .unwrap()
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

/// Property tests (issue 10): parsing and the canonical-form check never panic on
/// arbitrary input, accept exactly the canonical form of a valid statement, and every
/// accepted statement re-serialises to exactly its bytes.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::Config;
    use std::fmt::Write as _;

    const BYTE_SOUP_CASES: u32 = 2000;
    const STRUCTURED_CASES: u32 = 500;

    fn config(cases: u32) -> Config {
        Config {
            cases,
            // A failing case is printed, shrunk; it is not written under src/.
            failure_persistence: None,
            ..Config::default()
        }
    }

    fn dummy_key_id() -> KeyId {
        KeyId([7; 32])
    }

    fn dummy_signature() -> Signature {
        Signature::from_bytes(&[0; 64])
    }

    /// Everything the statement parsers do with `bytes`; none may panic, and whatever
    /// is accepted must be its own canonical form.
    fn check_bytes(bytes: &[u8]) {
        if let Ok(map) = parse_canonical(bytes) {
            let value = Value::Object(map);
            assert_eq!(canonical_bytes(&value).unwrap(), bytes);
            assert_eq!(serde_json_canonicalizer::to_vec(&value).unwrap(), bytes);
        }
        if let Ok(statement) =
            SignedStatement::from_parts(bytes.to_vec(), dummy_key_id(), dummy_signature())
        {
            assert_eq!(statement.bytes(), bytes);
            let value = Value::Object(statement.body().clone());
            assert_eq!(canonical_bytes(&value).unwrap(), bytes);
            assert_eq!(
                statement.str_field("type"),
                Some(statement.statement_type())
            );
        }
        let wire = BASE64URL.encode(bytes);
        let id = dummy_key_id().to_string();
        let sig = BASE64URL.encode(dummy_signature().to_bytes());
        match SignedStatement::from_wire(&wire, &id, &sig) {
            Ok(statement) => {
                assert!(bytes.len() <= MAX_STATEMENT_BYTES);
                assert_eq!(statement.bytes(), bytes);
            }
            Err(StatementError::TooLarge) => assert!(bytes.len() > MAX_STATEMENT_BYTES),
            Err(_) => {}
        }
        if let Ok(entry) = parse_entry(bytes) {
            assert_eq!(entry.entry_bytes(), bytes);
        }
    }

    // ---- strategies -------------------------------------------------------------

    /// Characters that stress the string and key rules: escapes, controls, the
    /// solidus, DEL, line separators, BMP private use (sorts after surrogates in
    /// UTF-8 order but before them in UTF-16 order) and non-BMP characters.
    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => any::<char>(),
            3 => prop::char::range('a', 'e'),
            2 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
            3 => prop::sample::select(vec![
                '"', '\\', '/', '\u{7f}', '\u{80}', 'é', '\u{2028}', '\u{2029}', '\u{e000}',
                '\u{ffff}', '\u{fffd}', '\u{10000}', '\u{1f600}', '\u{10ffff}', 'ﬀ',
            ]),
        ]
    }

    fn tricky_string(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(tricky_char(), 0..max).prop_map(|cs| cs.into_iter().collect())
    }

    fn integer() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => (-1000i64..1000).prop_map(Value::from),
            2 => (-3i64..=3).prop_map(|d| Value::from(MAX_SAFE_INTEGER + d)),
            2 => (-3i64..=3).prop_map(|d| Value::from(-MAX_SAFE_INTEGER + d)),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => prop::sample::select(vec![i64::MIN, i64::MAX]).prop_map(Value::from),
        ]
    }

    /// Leaves, including the ones statements refuse (null, floats), rarely.
    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => tricky_string(12).prop_map(Value::String),
            3 => integer(),
            2 => any::<bool>().prop_map(Value::Bool),
            1 => Just(Value::Null),
            // Never integral, so every serialisation writes a fraction or exponent.
            1 => prop::sample::select(vec![0.5, -1.5, 1e-7, 1.5e300, 4503599627370495.5])
                .prop_map(Value::from),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(tricky_string(6), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A statement-shaped object: mostly with a string `type`, sometimes without or
    /// with a `type` that is not a string.
    fn statement_value() -> impl Strategy<Value = Value> {
        (
            prop::collection::btree_map(tricky_string(6), json_value(), 0..6),
            prop_oneof![
                6 => tricky_string(20).prop_map(|t| Some(Value::String(t))),
                1 => Just(None),
                1 => json_value().prop_map(Some),
            ],
        )
            .prop_map(|(members, ty)| {
                let mut map: Map<String, Value> = members.into_iter().collect();
                match ty {
                    Some(t) => {
                        map.insert("type".into(), t);
                    }
                    None => {
                        map.remove("type");
                    }
                }
                Value::Object(map)
            })
    }

    /// The rules of docs/signing.md §1 other than size and `type`, decided
    /// independently of the code under test.
    fn obeys_value_rules(value: &Value) -> bool {
        match value {
            Value::Null => false,
            Value::Bool(_) | Value::String(_) => true,
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() <= MAX_SAFE_INTEGER as u64,
                (None, Some(u)) => u <= MAX_SAFE_INTEGER as u64,
                (None, None) => false,
            },
            Value::Array(items) => items.iter().all(obeys_value_rules),
            Value::Object(map) => map.values().all(obeys_value_rules),
        }
    }

    /// How to write a value other than canonically (all still parse to the same value).
    #[derive(Debug, Clone, Copy)]
    struct Style {
        reverse_keys: bool,
        ascii_only: bool,
        upper_hex: bool,
        spaces: bool,
        duplicate_first_key: bool,
    }

    fn style() -> impl Strategy<Value = Style> {
        any::<(bool, bool, bool, bool, bool)>().prop_map(
            |(reverse_keys, ascii_only, upper_hex, spaces, duplicate_first_key)| Style {
                reverse_keys,
                ascii_only,
                upper_hex,
                spaces,
                duplicate_first_key,
            },
        )
    }

    fn write_string(s: &str, style: Style, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 || (style.ascii_only && !c.is_ascii()) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        if style.upper_hex {
                            write!(out, "\\u{unit:04X}").unwrap();
                        } else {
                            write!(out, "\\u{unit:04x}").unwrap();
                        }
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn write_styled(value: &Value, style: Style, out: &mut String) {
        let (comma, colon) = if style.spaces {
            (", ", ": ")
        } else {
            (",", ":")
        };
        match value {
            Value::String(s) => write_string(s, style, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(comma);
                    }
                    write_styled(item, style, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                if style.reverse_keys {
                    members.reverse();
                }
                if style.duplicate_first_key {
                    // serde_json keeps the last of duplicate members, so this parses to
                    // the same value.
                    if let Some(&first) = members.first() {
                        members.insert(0, first);
                    }
                }
                out.push('{');
                for (i, (key, item)) in members.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(comma);
                    }
                    write_string(key, style, out);
                    out.push_str(colon);
                    write_styled(item, style, out);
                }
                out.push('}');
            }
            other => out.push_str(&serde_json::to_string(other).unwrap()),
        }
    }

    /// A valid canonical statement, then mangled by a few random byte edits.
    fn mutated_statement() -> impl Strategy<Value = Vec<u8>> {
        (
            statement_value(),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..4),
        )
            .prop_map(|(value, edits)| {
                let mut bytes = serde_json_canonicalizer::to_vec(&value).unwrap();
                for (at, byte, op) in edits {
                    let i = at.index(bytes.len() + 1);
                    match op {
                        0 => bytes.insert(i, byte),
                        1 if i < bytes.len() => bytes[i] = byte,
                        _ if i < bytes.len() => {
                            bytes.remove(i);
                        }
                        _ => {}
                    }
                }
                bytes
            })
    }

    /// Concatenations of JSON fragments: far more of these parse than of byte soup.
    fn json_ish() -> impl Strategy<Value = String> {
        let tokens = vec![
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            "\"type\"",
            "\"t\"",
            "\"a\"",
            "0",
            "1",
            "-",
            "-0",
            "01",
            "9007199254740991",
            "9007199254740992",
            "18446744073709551616",
            ".5",
            "e1",
            "E+2",
            "true",
            "false",
            "null",
            " ",
            "\n",
            "\\u0041",
            "\\u00e9",
            "\\ud83d\\ude00",
            "\\ud800",
            "\\/",
            "\\u001F",
            "é",
            "😀",
            "\u{0}",
            "\u{1f}",
        ];
        prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|ts| ts.concat())
    }

    fn base64url_ish(max: usize) -> impl Strategy<Value = String> {
        let alphabet: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .\u{e9}"
                .chars()
                .collect();
        prop_oneof![
            4 => prop::collection::vec(prop::sample::select(alphabet), 0..max)
                .prop_map(|cs| cs.into_iter().collect::<String>()),
            1 => any::<String>(),
        ]
    }

    fn key_id_ish() -> impl Strategy<Value = String> {
        let hex: Vec<char> = "0123456789abcdefABCDEFg \u{e9}".chars().collect();
        prop_oneof![
            // Well-formed ids, so that the accepting path is taken too.
            4 => any::<[u8; 32]>().prop_map(hex::encode),
            2 => prop::collection::vec(prop::sample::select(hex.clone()), 64..=64)
                .prop_map(|cs| cs.into_iter().collect::<String>()),
            2 => prop::collection::vec(prop::sample::select(hex), 60..68)
                .prop_map(|cs| cs.into_iter().collect::<String>()),
            1 => any::<String>(),
        ]
    }

    // ---- properties -------------------------------------------------------------

    proptest! {
        #![proptest_config(config(BYTE_SOUP_CASES))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            check_bytes(&bytes);
        }

        #[test]
        fn arbitrary_utf8_never_panics(s in any::<String>()) {
            check_bytes(s.as_bytes());
        }

        #[test]
        fn json_fragments_never_panic(s in json_ish()) {
            check_bytes(s.as_bytes());
        }

        #[test]
        fn mutated_statements_never_panic(bytes in mutated_statement()) {
            check_bytes(&bytes);
        }

        #[test]
        fn wire_form_never_panics(
            statement in prop_oneof![
                base64url_ish(120),
                mutated_statement().prop_map(|b| BASE64URL.encode(b)),
            ],
            key_id in key_id_ish(),
            signature in prop_oneof![
                base64url_ish(90),
                prop::collection::vec(any::<u8>(), 62..66).prop_map(|b| BASE64URL.encode(b)),
            ],
        ) {
            if let Ok(parsed) = SignedStatement::from_wire(&statement, &key_id, &signature) {
                // Each accepted wire value has exactly one encoding.
                prop_assert_eq!(BASE64URL.encode(parsed.bytes()), statement);
                prop_assert_eq!(parsed.key_id().to_string(), key_id);
                prop_assert_eq!(BASE64URL.encode(parsed.signature().to_bytes()), signature);
                let entry = parsed.entry_bytes();
                let back = parse_entry(&entry).unwrap();
                prop_assert_eq!(back.bytes(), parsed.bytes());
                prop_assert_eq!(back.entry_bytes(), entry);
            }
        }
    }

    proptest! {
        #![proptest_config(config(STRUCTURED_CASES))]

        /// The canonical form of a statement value is accepted iff the value obeys
        /// the rules, and then parses back to the same value and bytes.
        #[test]
        fn canonical_form_accepted_iff_valid(value in statement_value()) {
            let bytes = serde_json_canonicalizer::to_vec(&value).unwrap();
            let valid = obeys_value_rules(&value);
            let typed = matches!(value.get("type"), Some(Value::String(_)));
            let parsed = parse_canonical(&bytes);
            prop_assert_eq!(parsed.is_ok(), valid, "{:?}", parsed);
            if let Ok(map) = parsed {
                prop_assert_eq!(&Value::Object(map), &value);
                prop_assert_eq!(canonical_bytes(&value).unwrap(), bytes.clone());
            }
            let wire = SignedStatement::from_wire(
                &BASE64URL.encode(&bytes),
                &dummy_key_id().to_string(),
                &BASE64URL.encode(dummy_signature().to_bytes()),
            );
            let fits = bytes.len() <= MAX_STATEMENT_BYTES;
            prop_assert_eq!(wire.is_ok(), valid && typed && fits, "{:?}", wire);
            check_bytes(&bytes);
        }

        /// Any other serialisation of the same value is refused; one that happens to
        /// be byte-identical to the canonical form is accepted as such.
        #[test]
        fn other_serialisations_refused(value in statement_value(), style in style()) {
            let canonical = serde_json_canonicalizer::to_vec(&value).unwrap();
            let valid = obeys_value_rules(&value);
            let mut styled = String::new();
            write_styled(&value, style, &mut styled);
            let candidates = [
                styled.into_bytes(),
                serde_json::to_vec(&value).unwrap(),
                serde_json::to_vec_pretty(&value).unwrap(),
            ];
            for bytes in candidates {
                // Each really is a serialisation of the value.
                prop_assert_eq!(&serde_json::from_slice::<Value>(&bytes).unwrap(), &value);
                let accepted = parse_canonical(&bytes).is_ok();
                prop_assert_eq!(
                    accepted,
                    valid && bytes == canonical,
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
                check_bytes(&bytes);
            }
        }

        /// The size limit is exact: canonical statements of up to 65,536 bytes pass
        /// the wire check and one byte more does not.
        #[test]
        fn size_limit_is_exact(
            slack in 0usize..16,
            pad in prop::sample::select(vec!['x', 'é', '😀', '\n', '\u{1}']),
        ) {
            let one = serde_json_canonicalizer::to_vec(&Value::String(pad.to_string()))
                .unwrap()
                .len()
                - 2;
            let overhead = br#"{"pad":"","type":"t"}"#.len();
            let count = (MAX_STATEMENT_BYTES + 8 - overhead - slack) / one;
            let value = serde_json::json!({"pad": pad.to_string().repeat(count), "type": "t"});
            let bytes = canonical_bytes(&value).unwrap();
            let wire = SignedStatement::from_wire(
                &BASE64URL.encode(&bytes),
                &dummy_key_id().to_string(),
                &BASE64URL.encode(dummy_signature().to_bytes()),
            );
            if bytes.len() <= MAX_STATEMENT_BYTES {
                prop_assert!(wire.is_ok(), "{} bytes: {:?}", bytes.len(), wire);
            } else {
                prop_assert_eq!(wire.unwrap_err(), StatementError::TooLarge);
            }
        }
    }

    #[test]
    fn identifiers_and_times_have_one_spelling() {
        let id = "0b0e6a6e-54c5-4c1c-9a43-2f1e0d5e7a10";
        assert_eq!(
            canonical_uuid(id).map(|u| u.to_string()),
            Some(id.to_owned())
        );
        for other in [
            "0B0E6A6E-54C5-4C1C-9A43-2F1E0D5E7A10",
            "0b0e6a6e54c54c1c9a432f1e0d5e7a10",
            "{0b0e6a6e-54c5-4c1c-9a43-2f1e0d5e7a10}",
            "urn:uuid:0b0e6a6e-54c5-4c1c-9a43-2f1e0d5e7a10",
            " 0b0e6a6e-54c5-4c1c-9a43-2f1e0d5e7a10",
        ] {
            assert_eq!(canonical_uuid(other), None, "{other}");
        }
        let at = "2026-12-01T14:03:07Z";
        assert_eq!(
            canonical_time(at).map(|t| t.timestamp()),
            Some(1_796_133_787)
        );
        for other in [
            "2026-12-01t14:03:07z",
            "2026-12-01 14:03:07Z",
            "2026-12-01T14:03:07+00:00",
            "2026-12-01T15:03:07+01:00",
            "2026-12-01T14:03:07.000Z",
            "2026-12-01T14:03:07.5Z",
            "2026-12-01T14:03Z",
        ] {
            assert_eq!(canonical_time(other), None, "{other}");
        }
    }
}
