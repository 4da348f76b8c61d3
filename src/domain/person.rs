//! People who sign in, what they are designated to do, and the rules of their
//! invitations and sessions. Time is always a parameter.

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::member::Sector;
use crate::domain::statement::BASE64URL;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    #[error("name must be 1 to {max} characters without control characters", max = PersonName::MAX_CHARS)]
    InvalidName,
    #[error("{0:?} is not an e-mail address like name@school.nl")]
    InvalidEmail(String),
    #[error(
        "a board person needs member_id (and no sector); a council person needs sector (and no member_id); admins and auditors need neither"
    )]
    InconsistentDesignation,
    #[error("an invitation is valid for 1 to {max} days, not {0}", max = INVITATION_MAX_DAYS)]
    InvitationValidity(i64),
}

/// A person's name as shown to the secretariat: trimmed, non-empty, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 200;

    pub fn new(raw: &str) -> Result<Self, PersonError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(PersonError::InvalidName);
        }
        Ok(PersonName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, checked for shape only: one `@`, a dotted domain, no spaces.
/// It is a contact detail, never an identity (accounts are keyed by their issuer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;

    pub fn new(raw: &str) -> Result<Self, PersonError> {
        let email = raw.trim();
        let invalid = || PersonError::InvalidEmail(raw.to_owned());
        if email.chars().count() > Self::MAX_CHARS
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Email(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a person may do, and for whom: the role with its role-specific claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Designation {
    Admin,
    Board { member_id: Uuid },
    Council { sector: Sector },
    Auditor,
}

impl Designation {
    /// Builds a designation from a role name and its claims, which must agree.
    pub fn new(
        role: &str,
        member_id: Option<Uuid>,
        sector: Option<Sector>,
    ) -> Result<Self, PersonError> {
        match (role, member_id, sector) {
            ("admin", None, None) => Ok(Designation::Admin),
            ("auditor", None, None) => Ok(Designation::Auditor),
            ("board", Some(member_id), None) => Ok(Designation::Board { member_id }),
            ("council", None, Some(sector)) => Ok(Designation::Council { sector }),
            _ => Err(PersonError::InconsistentDesignation),
        }
    }

    pub fn role(self) -> &'static str {
        match self {
            Designation::Admin => "admin",
            Designation::Board { .. } => "board",
            Designation::Council { .. } => "council",
            Designation::Auditor => "auditor",
        }
    }

    pub fn member_id(self) -> Option<Uuid> {
        match self {
            Designation::Board { member_id } => Some(member_id),
            _ => None,
        }
    }

    pub fn sector(self) -> Option<Sector> {
        match self {
            Designation::Council { sector } => Some(sector),
            _ => None,
        }
    }
}

/// A person as the register holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: Uuid,
    pub name: PersonName,
    pub email: Email,
    pub designation: Designation,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// When the secretariat removed the designation: the person can no longer sign
    /// in and has no live session.
    pub removed_at: Option<DateTime<Utc>>,
}

/// A bearer secret for an invitation link or a session cookie: 32 random bytes,
/// base64url. Only its hash is stored, so a copy of the database signs no one in.
pub struct Secret(String);

impl Secret {
    pub const BYTES: usize = 32;

    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; Self::BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Secret(BASE64URL.encode(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Lowercase hex SHA-256 of a presented secret: what the database stores and looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretHash {
    /// Hashes any presented text; an unknown or malformed secret simply finds nothing.
    pub fn of(presented: &str) -> Self {
        SecretHash(hex::encode(Sha256::digest(presented.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const INVITATION_DEFAULT_DAYS: i64 = 7;
pub const INVITATION_MAX_DAYS: i64 = 30;

/// How long an invitation link stays usable.
pub fn invitation_validity(days: Option<i64>) -> Result<Duration, PersonError> {
    let days = days.unwrap_or(INVITATION_DEFAULT_DAYS);
    if !(1..=INVITATION_MAX_DAYS).contains(&days) {
        return Err(PersonError::InvitationValidity(days));
    }
    Ok(Duration::days(days))
}

/// Why an invitation cannot sign anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvitationRefusal {
    #[error("this invitation link is not known; check that the whole link was copied")]
    Unknown,
    #[error("this invitation link was already used; ask the secretariat for a new one")]
    Used,
    #[error("this invitation link has expired; ask the secretariat for a new one")]
    Expired,
    #[error("the designation of the person this link was for has been removed")]
    PersonRemoved,
}

/// An invitation signs its person in once, before it expires.
pub fn check_invitation(
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), InvitationRefusal> {
    if used_at.is_some() {
        Err(InvitationRefusal::Used)
    } else if now >= expires_at {
        Err(InvitationRefusal::Expired)
    } else {
        Ok(())
    }
}

/// Sessions end when idle for `idle`; each use moves the end forward. To spare the
/// database a write per request, the end is moved only once `TOUCH_INTERVAL` has
/// passed since it was last moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: Duration,
}

impl SessionPolicy {
    pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

    pub fn expires_at(self, last_seen: DateTime<Utc>) -> DateTime<Utc> {
        last_seen + self.idle
    }

    pub fn is_live(
        self,
        expires_at: DateTime<Utc>,
        ended_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        ended_at.is_none() && now < expires_at
    }

    pub fn needs_touch(self, last_seen: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now - last_seen >= Self::TOUCH_INTERVAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert_eq!(
            Email::new(" secretaris@stichting.nl ").unwrap().as_str(),
            "secretaris@stichting.nl"
        );
        for bad in [
            "",
            "no-at.nl",
            "a@b",
            "a@@b.nl",
            "@b.nl",
            "a b@c.nl",
            "a@b..nl",
            "a@b.nl\u{0}",
        ] {
            assert!(Email::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_refuse_control_characters_and_emptiness() {
        assert!(PersonName::new("Anna de Vries").is_ok());
        assert!(PersonName::new("  ").is_err());
        assert!(PersonName::new("a\u{0}b").is_err());
        assert!(PersonName::new(&"x".repeat(201)).is_err());
    }

    #[test]
    fn designation_claims_must_agree() {
        let id = Uuid::nil();
        assert_eq!(
            Designation::new("board", Some(id), None),
            Ok(Designation::Board { member_id: id })
        );
        assert!(Designation::new("board", None, None).is_err());
        assert!(Designation::new("council", Some(id), Some(Sector::Po)).is_err());
        assert!(Designation::new("admin", None, Some(Sector::Vo)).is_err());
        assert!(Designation::new("root", None, None).is_err());
    }

    #[test]
    fn invitations_are_single_use_and_expire() {
        assert_eq!(check_invitation(t(10), None, t(0)), Ok(()));
        assert_eq!(
            check_invitation(t(10), None, t(10)),
            Err(InvitationRefusal::Expired)
        );
        assert_eq!(
            check_invitation(t(10), Some(t(1)), t(2)),
            Err(InvitationRefusal::Used)
        );
        assert!(invitation_validity(None).is_ok());
        assert!(invitation_validity(Some(0)).is_err());
        assert!(invitation_validity(Some(31)).is_err());
    }

    #[test]
    fn sessions_expire_when_idle_and_when_ended() {
        let policy = SessionPolicy {
            idle: Duration::hours(8),
        };
        let expires = policy.expires_at(t(0));
        assert!(policy.is_live(expires, None, t(8 * 3600 - 1)));
        assert!(!policy.is_live(expires, None, t(8 * 3600)));
        assert!(!policy.is_live(expires, Some(t(5)), t(6)));
        assert!(!policy.needs_touch(t(0), t(59)));
        assert!(policy.needs_touch(t(0), t(60)));
    }

    #[test]
    fn secrets_are_random_and_stored_as_hashes() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 43);
        assert_eq!(a.hash(), SecretHash::of(a.as_str()));
        assert_eq!(a.hash().as_str().len(), 64);
    }
}
