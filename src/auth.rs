//! Access tokens: EdDSA-signed JWTs, the roles they carry, and the verifier that
//! turns a bearer token into a [`Principal`].
//!
//! Verification is behind [`TokenVerifier`], selected by the token's issuer, so a
//! second trusted issuer (an OpenID Connect provider's JWKS, such as the Entree
//! Federatie) can be added to [`Authenticator`] without touching any handler.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::member::Sector;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 5;

/// The longest `sub` a token may carry.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// What a token allows its holder to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The cooperative's secretariat: manages members and proposals.
    Admin,
    /// A member board: manages its own keys, votes.
    Board,
    /// A sector council (PO-Raad, VO-raad): reads its sector's results.
    Council,
    /// An auditor: reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Board => "board",
            Role::Council => "council",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "board" => Ok(Role::Board),
            "council" => Ok(Role::Council),
            "auditor" => Ok(Role::Auditor),
            other => Err(format!(
                "unknown role {other:?}; expected admin, board, council or auditor"
            )),
        }
    }
}

/// The claims of a Mandaat access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<Sector>,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

/// Who is calling, established from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin { sub: String },
    Board { sub: String, member_id: Uuid },
    Council { sub: String, sector: Sector },
    Auditor { sub: String },
}

impl Principal {
    /// A token's role and its role-specific claim must agree: a board token names
    /// exactly one member, a council token exactly one sector, others neither.
    /// The subject must name someone: not empty, not only spaces, and free of
    /// control characters (it is recorded, e.g. as who revoked a key).
    pub fn from_claims(claims: &Claims) -> Result<Self, AuthError> {
        let sub = claims.sub.clone();
        let chars = sub.chars().count();
        if sub.trim().is_empty() || chars > MAX_SUBJECT_CHARS || sub.chars().any(char::is_control) {
            return Err(AuthError::BadSubject);
        }
        match (claims.role, claims.member_id, claims.sector) {
            (Role::Admin, None, None) => Ok(Principal::Admin { sub }),
            (Role::Auditor, None, None) => Ok(Principal::Auditor { sub }),
            (Role::Board, Some(member_id), None) => Ok(Principal::Board { sub, member_id }),
            (Role::Council, None, Some(sector)) => Ok(Principal::Council { sub, sector }),
            (role, _, _) => Err(AuthError::InconsistentClaims(role)),
        }
    }

    pub fn role(&self) -> Role {
        match self {
            Principal::Admin { .. } => Role::Admin,
            Principal::Board { .. } => Role::Board,
            Principal::Council { .. } => Role::Council,
            Principal::Auditor { .. } => Role::Auditor,
        }
    }

    pub fn subject(&self) -> &str {
        match self {
            Principal::Admin { sub }
            | Principal::Board { sub, .. }
            | Principal::Council { sub, .. }
            | Principal::Auditor { sub } => sub,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token was given")]
    Missing,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is signed with an algorithm other than EdDSA")]
    WrongAlgorithm,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    #[error("the token is not meant for this service (aud)")]
    WrongAudience,
    #[error("the token lacks the required claim {0:?}")]
    MissingClaim(String),
    #[error("the token's claims are invalid: {0}")]
    InvalidClaims(String),
    #[error("the session has ended or expired; sign in again")]
    SessionInvalid,
    #[error("a {0} token must carry member_id only for board and sector only for council")]
    InconsistentClaims(Role),
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token's subject (sub) must be 1 to 200 characters without control characters")]
    BadSubject,
    #[error("the token's member_id names no member")]
    UnknownMember,
    #[error("{0}")]
    ApiToken(#[from] crate::domain::api_token::ApiTokenRefusal),
}

/// A presented credential that is looked up in the database (a session cookie, an API
/// token) and does not authenticate (401), or a failure behind the lookup (500).
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Internal(#[from] crate::error::Error),
}

impl From<jsonwebtoken::errors::Error> for AuthError {
    fn from(err: jsonwebtoken::errors::Error) -> Self {
        match err.kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                AuthError::WrongAlgorithm
            }
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidIssuer => AuthError::UnknownIssuer,
            ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => {
                AuthError::InvalidClaims(format!("bad {claim}"))
            }
            ErrorKind::Json(e) => AuthError::InvalidClaims(e.to_string()),
            _ => AuthError::Malformed,
        }
    }
}

/// Verifies tokens of one issuer.
pub trait TokenVerifier: Send + Sync {
    /// The `iss` value this verifier is responsible for.
    fn issuer(&self) -> &str;
    fn verify(&self, token: &str) -> Result<Claims, AuthError>;
}

/// All trusted issuers. A token is routed by its (unverified) `iss` to exactly one
/// verifier, which then checks everything, `iss` included.
#[derive(Clone, Default)]
pub struct Authenticator {
    verifiers: HashMap<String, Arc<dyn TokenVerifier>>,
    verified: Arc<VerifiedTokens>,
}

/// Tokens whose signature and claims were checked, by the SHA-256 of the token: in a
/// deadline rush a board sends every ballot with the same token, and checking its
/// signature again costs as much as checking the ballot's. Only its expiry can change
/// its verdict (the issuers are fixed for the process), so a hit checks that alone.
#[derive(Default)]
struct VerifiedTokens {
    entries: std::sync::Mutex<HashMap<[u8; 32], (Principal, i64)>>,
}

impl VerifiedTokens {
    /// Enough for every board of a large cooperative several times over.
    const CAPACITY: usize = 16_384;

    /// What a token is remembered by: its SHA-256, so the cache holds no bearer secret.
    fn key(token: &str) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(token.as_bytes()).into()
    }

    fn get(&self, key: &[u8; 32], now: i64) -> Option<Principal> {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(key) {
            Some((principal, exp)) if is_unexpired(*exp, now) => Some(principal.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn insert(&self, key: [u8; 32], principal: Principal, exp: i64, now: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= Self::CAPACITY {
            entries.retain(|_, (_, exp)| is_unexpired(*exp, now));
            if entries.len() >= Self::CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (principal, exp));
    }
}

/// jsonwebtoken's own test: a token has expired once `exp` is more than the leeway
/// in the past.
fn is_unexpired(exp: i64, now: i64) -> bool {
    exp.saturating_add(LEEWAY_SECONDS as i64) >= now
}

impl Authenticator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trust(mut self, verifier: Arc<dyn TokenVerifier>) -> Self {
        self.verifiers
            .insert(verifier.issuer().to_owned(), verifier);
        self
    }

    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        // The clock jsonwebtoken checks `exp` with, so a hit and a miss agree.
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        self.authenticate_at(token, now)
    }

    fn authenticate_at(&self, token: &str, now: i64) -> Result<Principal, AuthError> {
        let key = VerifiedTokens::key(token);
        if let Some(principal) = self.verified.get(&key, now) {
            return Ok(principal);
        }
        let (principal, exp) = self.verify(token)?;
        self.verified.insert(key, principal.clone(), exp, now);
        Ok(principal)
    }

    fn verify(&self, token: &str) -> Result<(Principal, i64), AuthError> {
        #[derive(Deserialize)]
        struct Issuer {
            iss: Option<String>,
        }
        let unverified: Issuer = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| AuthError::Malformed)?;
        let iss = unverified
            .iss
            .ok_or_else(|| AuthError::MissingClaim("iss".into()))?;
        let verifier = self.verifiers.get(&iss).ok_or(AuthError::UnknownIssuer)?;
        let claims = verifier.verify(token)?;
        Ok((Principal::from_claims(&claims)?, claims.exp))
    }
}

/// What a new token should say.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub subject: String,
    pub role: Role,
    pub member_id: Option<Uuid>,
    pub sector: Option<Sector>,
    pub ttl: Duration,
}

/// This server as a token issuer: signs with its own Ed25519 key and verifies its own tokens.
pub struct LocalIssuer {
    issuer: String,
    audience: String,
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    validation: Validation,
}

impl LocalIssuer {
    pub fn new(key: &SigningKey, issuer: &str, audience: &str) -> Result<Self, AuthError> {
        let der = key
            .to_pkcs8_der()
            .map_err(|e| AuthError::InvalidClaims(format!("cannot encode signing key: {e}")))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // jsonwebtoken checks iss/aud only when present unless they are required.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        // `nbf` is optional, but a token that says it is not valid yet is refused.
        validation.validate_nbf = true;
        Ok(LocalIssuer {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            encoding_key: EncodingKey::from_ed_der(der.as_bytes()),
            decoding_key: DecodingKey::from_ed_der(key.verifying_key().as_bytes()),
            validation,
        })
    }

    pub fn issue(&self, request: &TokenRequest, now: DateTime<Utc>) -> Result<String, AuthError> {
        let claims = Claims {
            sub: request.subject.clone(),
            role: request.role,
            member_id: request.member_id,
            sector: request.sector,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now.timestamp() + i64::try_from(request.ttl.as_secs()).unwrap_or(i64::MAX / 2),
            iat: now.timestamp(),
            jti: Uuid::new_v4().simple().to_string(),
        };
        // Refuse to mint what we would refuse to accept.
        Principal::from_claims(&claims)?;
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding_key)
            .map_err(AuthError::from)
    }
}

impl TokenVerifier for LocalIssuer {
    fn issuer(&self) -> &str {
        &self.issuer
    }

    fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding_key, &self.validation)?.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> LocalIssuer {
        LocalIssuer::new(&SigningKey::from_bytes(&[9; 32]), "mandaat-test", "mandaat").unwrap()
    }

    fn request(role: Role) -> TokenRequest {
        TokenRequest {
            subject: "tester".into(),
            role,
            member_id: None,
            sector: None,
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn issued_token_authenticates() {
        let issuer = Arc::new(issuer());
        let token = issuer.issue(&request(Role::Admin), Utc::now()).unwrap();
        let auth = Authenticator::new().trust(issuer);
        assert_eq!(
            auth.authenticate(&token).unwrap(),
            Principal::Admin {
                sub: "tester".into()
            }
        );
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let issuer = Arc::new(issuer());
        let auth = Authenticator::new().trust(issuer.clone());
        let token = issuer.issue(&request(Role::Admin), Utc::now()).unwrap();
        let now = Utc::now().timestamp();
        let principal = auth.authenticate_at(&token, now).unwrap();
        let key = VerifiedTokens::key(&token);
        let exp = now + 60;
        assert_eq!(auth.verified.get(&key, now), Some(principal.clone()));
        assert_eq!(
            auth.verified.get(&key, exp + LEEWAY_SECONDS as i64),
            Some(principal),
            "within the leeway"
        );
        assert_eq!(
            auth.verified.get(&key, exp + LEEWAY_SECONDS as i64 + 2),
            None,
            "expired: forgotten, so the next use is verified (and refused) again"
        );
        assert_eq!(auth.verified.get(&key, now), None);

        // A refused token is never remembered: each use is refused again.
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        for _ in 0..2 {
            assert!(auth.authenticate_at(&forged, now).is_err());
        }
        assert_eq!(auth.verified.get(&VerifiedTokens::key(&forged), now), None);
    }

    #[test]
    fn remembered_tokens_are_bounded() {
        let tokens = VerifiedTokens::default();
        let admin = Principal::Admin { sub: "a".into() };
        for i in 0..VerifiedTokens::CAPACITY + 10 {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            // Half of them expired long ago: those go first.
            let exp = if i % 2 == 0 { 0 } else { 1_000 };
            tokens.insert(key, admin.clone(), exp, 500);
        }
        let len = tokens.entries.lock().unwrap().len();
        assert!(len <= VerifiedTokens::CAPACITY, "{len}");
        assert!(
            len > VerifiedTokens::CAPACITY / 4,
            "unexpired ones stay: {len}"
        );
    }

    #[test]
    fn role_claims_must_agree() {
        let issuer = issuer();
        assert_eq!(
            issuer.issue(&request(Role::Board), Utc::now()),
            Err(AuthError::InconsistentClaims(Role::Board))
        );
        let mut council = request(Role::Council);
        council.sector = Some(Sector::Po);
        assert!(issuer.issue(&council, Utc::now()).is_ok());
        council.member_id = Some(Uuid::nil());
        assert!(issuer.issue(&council, Utc::now()).is_err());
    }

    #[test]
    fn empty_or_blank_subject_is_refused() {
        let issuer = issuer();
        for subject in ["", "   ", "a\u{0}b"] {
            let mut request = request(Role::Admin);
            request.subject = subject.into();
            assert_eq!(
                issuer.issue(&request, Utc::now()),
                Err(AuthError::BadSubject),
                "{subject:?}"
            );
        }
    }

    #[test]
    fn expired_token_is_refused_beyond_the_leeway() {
        let issuer = Arc::new(issuer());
        let long_ago = Utc::now() - chrono::Duration::seconds(120);
        let token = issuer.issue(&request(Role::Auditor), long_ago).unwrap();
        let auth = Authenticator::new().trust(issuer);
        assert_eq!(auth.authenticate(&token), Err(AuthError::Expired));
    }
}
