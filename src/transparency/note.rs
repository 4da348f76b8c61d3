//! C2SP signed-note (<https://c2sp.org/signed-note>) with Ed25519 keys, byte-compatible
//! with Go's `golang.org/x/mod/sumdb/note`.

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hex::FromHex;
use sha2::{Digest, Sha256};

/// Signature type byte for Ed25519, used in key strings and key IDs.
const ALG_ED25519: u8 = 0x01;
/// Signature lines start with an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Go's note.Open refuses more signatures than this; so do we.
const MAX_SIGNATURES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("invalid key name: must be non-empty, without spaces, '+' or control characters")]
    InvalidName,
    #[error("invalid note text: {0}")]
    InvalidText(&'static str),
    #[error("malformed verifier key: {0}")]
    MalformedKey(&'static str),
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    #[error("note has no signature by this key")]
    NoSignature,
    #[error("note signature does not verify")]
    InvalidSignature,
}

/// Key names appear in signature lines, which are split on spaces and key strings on '+'.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c.is_control() || c == '+')
}

/// Readers (Go's included) refuse notes with control characters other than newline.
fn has_control_chars(s: &str) -> bool {
    s.chars().any(|c| c < ' ' && c != '\n')
}

/// Key ID = SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[..4], as the spec recommends.
fn compute_key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let hash = Sha256::new()
        .chain_update(name)
        .chain_update([b'\n', ALG_ED25519])
        .chain_update(key.as_bytes())
        .finalize();
    [hash[0], hash[1], hash[2], hash[3]]
}

/// Signs note texts with one named Ed25519 key.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    key_id: [u8; 4],
}

// Hand-written so the private key can never end up in logs.
impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::InvalidName);
        }
        let key_id = compute_key_id(name, &key.verifying_key());
        Ok(Self {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The public key string that verifiers are configured with:
    /// `name+<8 hex key id>+base64(0x01 ‖ public key)`.
    pub fn verifier_key(&self) -> String {
        let mut key = vec![ALG_ED25519];
        key.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            STANDARD.encode(key)
        )
    }

    /// Returns the signed note: the text, a blank line and our signature line.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        // Also rules out the empty text.
        if !text.ends_with('\n') {
            return Err(NoteError::InvalidText("must end with a newline"));
        }
        if has_control_chars(text) {
            return Err(NoteError::InvalidText(
                "control character other than newline",
            ));
        }
        let signature = self.key.sign(text.as_bytes());
        let mut blob = self.key_id.to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        ))
    }
}

/// Verifies notes signed by one named Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `name+<8 hex key id>+base64(0x01 ‖ public key)`.
    pub fn from_key_string(s: &str) -> Result<Self, NoteError> {
        // At most three parts: the base64 key may itself contain '+'.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey("expected name+keyid+key"));
        };
        if !is_valid_name(name) {
            return Err(NoteError::InvalidName);
        }
        let key_id = <[u8; 4]>::from_hex(id_hex)
            .map_err(|_| NoteError::MalformedKey("key id must be 8 hex digits"))?;
        let raw = STANDARD
            .decode(key_b64)
            .map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        let key = match raw.split_first() {
            Some((&ALG_ED25519, key)) => <[u8; 32]>::try_from(key)
                .map_err(|_| NoteError::MalformedKey("Ed25519 key must be 32 bytes"))?,
            _ => return Err(NoteError::MalformedKey("not an Ed25519 key")),
        };
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::MalformedKey("invalid Ed25519 key"))?;
        if compute_key_id(name, &key) != key_id {
            return Err(NoteError::MalformedKey(
                "key id does not match name and key",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks our signature on `note` and returns its text (with its final newline).
    /// Signatures by other keys are ignored; as in Go's note.Open, the first line
    /// with our name and key id decides.
    pub fn verify(&self, note: &str) -> Result<String, NoteError> {
        if has_control_chars(note) {
            return Err(NoteError::MalformedNote(
                "control character other than newline",
            ));
        }
        // Signature lines cannot be blank, so the last blank line ends the text.
        let (body, sigs) = note
            .rsplit_once("\n\n")
            .ok_or(NoteError::MalformedNote("no blank line before signatures"))?;
        let text = format!("{body}\n");
        let sigs = sigs.strip_suffix('\n').ok_or(NoteError::MalformedNote(
            "signatures must end with a newline",
        ))?;
        if sigs.split('\n').count() > MAX_SIGNATURES {
            return Err(NoteError::MalformedNote("too many signatures"));
        }
        for line in sigs.split('\n') {
            let (name, blob) = line
                .strip_prefix(SIG_PREFIX)
                .and_then(|rest| rest.rsplit_once(' '))
                .ok_or(NoteError::MalformedNote("bad signature line"))?;
            let blob = STANDARD
                .decode(blob)
                .map_err(|_| NoteError::MalformedNote("signature is not base64"))?;
            let (id, signature) = match blob.split_at_checked(4) {
                Some((id, sig)) if is_valid_name(name) && !sig.is_empty() => (id, sig),
                _ => return Err(NoteError::MalformedNote("bad signature line")),
            };
            if name != self.name || id != self.key_id {
                continue;
            }
            let signature =
                Signature::from_slice(signature).map_err(|_| NoteError::InvalidSignature)?;
            return self
                .key
                .verify_strict(text.as_bytes(), &signature)
                .map(|()| text)
                .map_err(|_| NoteError::InvalidSignature);
        }
        Err(NoteError::NoSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference vector from golang.org/x/mod/sumdb/note.
    const PRIVATE_KEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VERIFIER_KEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const SIG_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn go_signer() -> NoteSigner {
        let parts: Vec<&str> = PRIVATE_KEY.splitn(5, '+').collect();
        assert_eq!(parts[..4], ["PRIVATE", "KEY", "PeterNeumann", "c74f20a3"]);
        let raw = STANDARD.decode(parts[4]).unwrap();
        assert_eq!(raw[0], ALG_ED25519);
        let seed: [u8; 32] = raw[1..].try_into().unwrap();
        NoteSigner::new(parts[2], SigningKey::from_bytes(&seed)).unwrap()
    }

    fn go_note() -> String {
        format!("{TEXT}\n{SIG_LINE}")
    }

    #[test]
    fn matches_go_reference_vector() {
        let signer = go_signer();
        assert_eq!(signer.name(), "PeterNeumann");
        assert_eq!(hex::encode(signer.key_id()), "c74f20a3");
        assert_eq!(signer.verifier_key(), VERIFIER_KEY);
        assert_eq!(signer.sign(TEXT).unwrap(), go_note());

        let verifier = NoteVerifier::from_key_string(VERIFIER_KEY).unwrap();
        assert_eq!(verifier.name(), "PeterNeumann");
        assert_eq!(verifier.key_id(), signer.key_id());
        assert_eq!(verifier.verifying_key(), &signer.key.verifying_key());
        assert_eq!(verifier.verify(&go_note()).unwrap(), TEXT);
    }

    #[test]
    fn rejects_changed_text_and_signature() {
        let verifier = NoteVerifier::from_key_string(VERIFIER_KEY).unwrap();
        let changed = go_note().replacen("problem,", "problems,", 1);
        assert_eq!(verifier.verify(&changed), Err(NoteError::InvalidSignature));

        let note = go_note();
        let (text, line) = note.rsplit_once("\n\n").unwrap();
        let b64 = line.trim_end().rsplit_once(' ').unwrap().1;
        let mut blob = STANDARD.decode(b64).unwrap();
        blob[10] ^= 1;
        let forged = format!(
            "{text}\n\n{SIG_PREFIX}PeterNeumann {}\n",
            STANDARD.encode(&blob)
        );
        assert_eq!(verifier.verify(&forged), Err(NoteError::InvalidSignature));

        // The same signature under another key id is not ours, so it is not found.
        blob[10] ^= 1;
        blob[0] ^= 1;
        let other_id = format!(
            "{text}\n\n{SIG_PREFIX}PeterNeumann {}\n",
            STANDARD.encode(&blob)
        );
        assert_eq!(verifier.verify(&other_id), Err(NoteError::NoSignature));
    }

    #[test]
    fn rejects_wrong_key_id_in_key_string() {
        let wrong = VERIFIER_KEY.replace("c74f20a3", "c74f20a4");
        assert!(matches!(
            NoteVerifier::from_key_string(&wrong),
            Err(NoteError::MalformedKey(_))
        ));
        let renamed = VERIFIER_KEY.replace("PeterNeumann", "PeterNeuman");
        assert!(NoteVerifier::from_key_string(&renamed).is_err());
        for bad in [
            "",
            "PeterNeumann",
            "PeterNeumann+c74f20a3",
            "PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+AhpcQQ==",
            "PeterNeumann+c74f20a3+not base64",
        ] {
            assert!(NoteVerifier::from_key_string(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn other_keys_are_ignored_but_do_not_count() {
        let verifier = NoteVerifier::from_key_string(VERIFIER_KEY).unwrap();
        let impostor = NoteSigner::new("PeterNeumann", SigningKey::from_bytes(&[7; 32])).unwrap();
        let forged = impostor.sign(TEXT).unwrap();
        assert_eq!(verifier.verify(&forged), Err(NoteError::NoSignature));

        // A cosignature by someone else, before or after ours, does not matter.
        let witness = NoteSigner::new("witness.example", SigningKey::from_bytes(&[9; 32])).unwrap();
        let cosig = witness.sign(TEXT).unwrap().replacen(TEXT, "", 1);
        let cosig = cosig.trim_start_matches('\n');
        assert_eq!(
            verifier.verify(&format!("{}{cosig}", go_note())).unwrap(),
            TEXT
        );
        assert_eq!(
            verifier
                .verify(&format!("{TEXT}\n{cosig}{SIG_LINE}"))
                .unwrap(),
            TEXT
        );
        let witness_verifier = NoteVerifier::from_key_string(&witness.verifier_key()).unwrap();
        assert_eq!(
            witness_verifier
                .verify(&format!("{}{cosig}", go_note()))
                .unwrap(),
            TEXT
        );
    }

    #[test]
    fn refuses_bad_names_texts_and_notes() {
        let key = SigningKey::from_bytes(&[1; 32]);
        for name in ["", "a b", "a+b", "a\tb", "a\u{a0}b"] {
            assert_eq!(
                NoteSigner::new(name, key.clone()).unwrap_err(),
                NoteError::InvalidName
            );
        }
        let signer = go_signer();
        for text in ["", "no newline", "bell\u{7}\n"] {
            assert!(signer.sign(text).is_err(), "{text:?}");
        }
        let verifier = NoteVerifier::from_key_string(VERIFIER_KEY).unwrap();
        for note in [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", SIG_LINE.trim_end()),
            format!("{TEXT}\n{}", SIG_LINE.replacen('\u{2014}', "-", 1)),
            format!("{TEXT}\n\n{SIG_LINE}"),
            format!("{TEXT}\n{SIG_LINE}\n"),
            format!("{TEXT}\r\n{SIG_LINE}"),
        ] {
            assert!(verifier.verify(&note).is_err(), "{note:?}");
        }
    }

    #[test]
    fn round_trips_own_notes() {
        let signer =
            NoteSigner::new("log.example/mandaat", SigningKey::from_bytes(&[3; 32])).unwrap();
        let verifier = NoteVerifier::from_key_string(&signer.verifier_key()).unwrap();
        let text = "log.example/mandaat\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        assert_eq!(verifier.verify(&signer.sign(text).unwrap()).unwrap(), text);
    }
}
