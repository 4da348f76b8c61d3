//! Named API tokens for machines: what one may be called, whom it may act as, how
//! long it lives, and when a presented one is refused.
//!
//! A token is an opaque secret (`mdt_` and 32 random bytes, base64url), not a JWT:
//! the server looks up its hash on every request, so a revocation takes effect from
//! the next request on and every use can be recorded. Only the hash is stored.

use chrono::{DateTime, Duration, Utc};

use super::member::Sector;
use super::person::{Secret, SecretHash};

/// What every API token's secret starts with, so the server (and a secret scanner)
/// can tell it from a JWT.
pub const PREFIX: &str = "mdt_";
pub const NAME_MAX_CHARS: usize = 100;
pub const MAX_VALID_DAYS: i64 = 730;
/// The last use is recorded at most once a minute, to spare the database a write
/// per request.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiTokenError {
    #[error("name must be 1 to {NAME_MAX_CHARS} characters without control characters")]
    Name,
    #[error(
        "an API token is for a council (with its sector) or an auditor (without one); \
         people sign in instead, and board ballots are signed by the board's own key"
    )]
    Role,
    #[error("valid_days must be between 1 and {MAX_VALID_DAYS}, or left out for no expiry")]
    Validity(i64),
}

/// Why a presented API token does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiTokenRefusal {
    #[error("the API token is not known")]
    Unknown,
    #[error("the API token was revoked")]
    Revoked,
    #[error("the API token has expired")]
    Expired,
}

/// A token's name, as the secretariat recognises it in the list ("PO-Raad dashboard").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenName(String);

impl ApiTokenName {
    pub fn new(raw: &str) -> Result<Self, ApiTokenError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > NAME_MAX_CHARS || name.chars().any(char::is_control) {
            return Err(ApiTokenError::Name);
        }
        Ok(ApiTokenName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whom a token acts as: a machine reads; it never votes or administers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiTokenGrant {
    Council { sector: Sector },
    Auditor,
}

impl ApiTokenGrant {
    pub fn new(role: &str, sector: Option<Sector>) -> Result<Self, ApiTokenError> {
        match (role, sector) {
            ("council", Some(sector)) => Ok(ApiTokenGrant::Council { sector }),
            ("auditor", None) => Ok(ApiTokenGrant::Auditor),
            _ => Err(ApiTokenError::Role),
        }
    }

    pub fn role(self) -> &'static str {
        match self {
            ApiTokenGrant::Council { .. } => "council",
            ApiTokenGrant::Auditor => "auditor",
        }
    }

    pub fn sector(self) -> Option<Sector> {
        match self {
            ApiTokenGrant::Council { sector } => Some(sector),
            ApiTokenGrant::Auditor => None,
        }
    }
}

/// How long a new token is valid: `None` is until revoked.
pub fn validity(days: Option<i64>) -> Result<Option<Duration>, ApiTokenError> {
    match days {
        None => Ok(None),
        Some(d) if (1..=MAX_VALID_DAYS).contains(&d) => Ok(Some(Duration::days(d))),
        Some(d) => Err(ApiTokenError::Validity(d)),
    }
}

/// A new token's secret, shown once.
pub struct ApiTokenSecret(String);

impl ApiTokenSecret {
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(ApiTokenSecret(format!(
            "{PREFIX}{}",
            Secret::generate()?.as_str()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl std::fmt::Debug for ApiTokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiTokenSecret(…)")
    }
}

/// Whether a presented bearer token is an API token rather than a JWT.
pub fn is_api_token(presented: &str) -> bool {
    presented.starts_with(PREFIX)
}

/// A stored token authenticates until it is revoked or expires.
pub fn check_usable(
    revoked_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), ApiTokenRefusal> {
    if revoked_at.is_some() {
        Err(ApiTokenRefusal::Revoked)
    } else if expires_at.is_some_and(|at| now >= at) {
        Err(ApiTokenRefusal::Expired)
    } else {
        Ok(())
    }
}

/// Whether this use should be recorded as the token's last use.
pub fn needs_touch(last_used_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used_at.is_none_or(|at| now - at >= TOUCH_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            ApiTokenName::new("  PO-Raad dashboard ").unwrap().as_str(),
            "PO-Raad dashboard"
        );
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(NAME_MAX_CHARS + 1)] {
            assert_eq!(ApiTokenName::new(bad), Err(ApiTokenError::Name), "{bad:?}");
        }
        assert!(ApiTokenName::new(&"é".repeat(NAME_MAX_CHARS)).is_ok());
    }

    #[test]
    fn only_councils_with_a_sector_and_auditors_without_one() {
        assert_eq!(
            ApiTokenGrant::new("council", Some(Sector::Vo)),
            Ok(ApiTokenGrant::Council { sector: Sector::Vo })
        );
        assert_eq!(
            ApiTokenGrant::new("auditor", None),
            Ok(ApiTokenGrant::Auditor)
        );
        for (role, sector) in [
            ("council", None),
            ("auditor", Some(Sector::Po)),
            ("admin", None),
            ("board", None),
        ] {
            assert_eq!(ApiTokenGrant::new(role, sector), Err(ApiTokenError::Role));
        }
    }

    #[test]
    fn validity_is_optional_and_bounded() {
        assert_eq!(validity(None), Ok(None));
        assert_eq!(validity(Some(1)), Ok(Some(Duration::days(1))));
        assert_eq!(
            validity(Some(MAX_VALID_DAYS)),
            Ok(Some(Duration::days(730)))
        );
        assert_eq!(validity(Some(0)), Err(ApiTokenError::Validity(0)));
        assert_eq!(validity(Some(731)), Err(ApiTokenError::Validity(731)));
    }

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let a = ApiTokenSecret::generate().unwrap();
        let b = ApiTokenSecret::generate().unwrap();
        assert!(is_api_token(a.as_str()));
        assert!(!is_api_token("eyJhbGciOiJFZERTQSJ9.e30.sig"));
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.hash(), SecretHash::of(a.as_str()));
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn revoked_or_expired_tokens_are_refused() {
        assert_eq!(check_usable(None, None, t(0)), Ok(()));
        assert_eq!(check_usable(None, Some(t(10)), t(9)), Ok(()));
        assert_eq!(
            check_usable(None, Some(t(10)), t(10)),
            Err(ApiTokenRefusal::Expired)
        );
        assert_eq!(
            check_usable(Some(t(5)), Some(t(10)), t(6)),
            Err(ApiTokenRefusal::Revoked)
        );
    }

    #[test]
    fn last_use_is_recorded_at_most_once_a_minute() {
        assert!(needs_touch(None, t(0)));
        assert!(!needs_touch(Some(t(0)), t(59)));
        assert!(needs_touch(Some(t(0)), t(60)));
    }
}
