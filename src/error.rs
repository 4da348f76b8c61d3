//! The application's error: what can go wrong in a use case, independent of HTTP.
//! `#[from]` conversions let `?` work across store calls and transactions alike.

use crate::domain::keys::ContentError;
use crate::domain::member::MemberError;
use crate::domain::statement::{KeyError, StatementError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{detail}")]
    Conflict { kind: ConflictKind, detail: String },
    #[error(transparent)]
    Member(#[from] MemberError),
    #[error(transparent)]
    Statement(#[from] StatementError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A well-formed statement that says something other than the request.
    #[error(transparent)]
    StatementContent(#[from] ContentError),
    /// A request value that no domain type could parse (a client mistake).
    #[error("{0}")]
    Validation(String),
    /// A log range or position that the log cannot answer for (a client mistake).
    #[error(transparent)]
    LogRange(#[from] crate::transparency::merkle::MerkleError),
    /// A voting rule refused the request; `rule` names which.
    #[error("{detail}")]
    Rule { rule: Rule, detail: String },
    #[error(transparent)]
    Proposal(#[from] crate::domain::proposal::ProposalError),
    #[error(transparent)]
    Choice(#[from] crate::domain::proposal::ChoiceError),
    #[error(transparent)]
    Person(#[from] crate::domain::person::PersonError),
    #[error(transparent)]
    ApiToken(#[from] crate::domain::api_token::ApiTokenError),
    /// A webhook subscription's target or field that is refused.
    #[error(transparent)]
    Webhook(#[from] crate::domain::webhook::WebhookError),
    /// A sign-in provider that cannot be reached, or whose discovery is unusable.
    #[error("{0}")]
    ProviderUnavailable(String),
    /// An invitation link that cannot sign anyone in.
    #[error(transparent)]
    Invitation(#[from] crate::domain::person::InvitationRefusal),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// A fault of the server itself (serialising its own values, say): logged with
    /// detail, answered as 500 without it.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error: {0}")]
    /// A database failure that is neither a conflict nor unavailability; its text
    /// goes to the log only.
    Db(String),
    /// The database cannot be reached: refused or lost connections, no connection
    /// within the database timeout, the server shutting down, SQLite's file locked or
    /// unwritable. The request may succeed later. The text is for the log only.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    DuplicateBgNumber,
    KeyAlreadyRegistered,
    KeyRevoked,
    MemberSuspended,
    /// The membership register does not allow the change (admitting a member, ending
    /// a membership that is not open, a period overlapping another).
    Membership,
    /// A unique constraint caught a race that the checks before it could not.
    Concurrent,
    /// A sign-in request that was already approved or rejected.
    RequestDecided,
    /// A person whose designation was removed.
    PersonRemoved,
}

impl ConflictKind {
    pub const ALL: [ConflictKind; 8] = [
        ConflictKind::DuplicateBgNumber,
        ConflictKind::KeyAlreadyRegistered,
        ConflictKind::KeyRevoked,
        ConflictKind::MemberSuspended,
        ConflictKind::Membership,
        ConflictKind::Concurrent,
        ConflictKind::RequestDecided,
        ConflictKind::PersonRemoved,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ConflictKind::DuplicateBgNumber => "duplicate-bg-number",
            ConflictKind::KeyAlreadyRegistered => "key-already-registered",
            ConflictKind::KeyRevoked => "key-revoked",
            ConflictKind::MemberSuspended => "member-suspended",
            ConflictKind::Membership => "membership-conflict",
            ConflictKind::Concurrent => "conflict",
            ConflictKind::RequestDecided => "request-decided",
            ConflictKind::PersonRemoved => "person-removed",
        }
    }
}

/// The voting rules a ballot, proxy or lifecycle step can break, each with a stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The proposal is not in the state the action needs (e.g. not open).
    WrongState,
    /// Outside the voting window, or the window has not ended yet.
    OutsideWindow,
    DigestMismatch,
    /// The ballot's or proxy's signer is not the token's member.
    NotTokenMember,
    /// The key is not the signer's, or was not valid at the statement's time.
    KeyNotValid,
    /// The statement's time is too far from the server's clock.
    ClockSkew,
    NonceReused,
    NotEligible,
    NoProxy,
    ProxyExists,
    ProxyCapReached,
    /// Results are not shown while voting is open.
    ResultNotAvailable,
    EmptyRoll,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::WrongState,
        Rule::OutsideWindow,
        Rule::DigestMismatch,
        Rule::NotTokenMember,
        Rule::KeyNotValid,
        Rule::ClockSkew,
        Rule::NonceReused,
        Rule::NotEligible,
        Rule::NoProxy,
        Rule::ProxyExists,
        Rule::ProxyCapReached,
        Rule::ResultNotAvailable,
        Rule::EmptyRoll,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Rule::WrongState => "proposal-state",
            Rule::OutsideWindow => "voting-window",
            Rule::DigestMismatch => "digest-mismatch",
            Rule::NotTokenMember => "not-token-member",
            Rule::KeyNotValid => "key-not-valid",
            Rule::ClockSkew => "clock-skew",
            Rule::NonceReused => "nonce-reused",
            Rule::NotEligible => "not-eligible",
            Rule::NoProxy => "no-proxy",
            Rule::ProxyExists => "proxy-exists",
            Rule::ProxyCapReached => "proxy-cap-reached",
            Rule::ResultNotAvailable => "result-not-available",
            Rule::EmptyRoll => "empty-voter-roll",
        }
    }
}

impl Error {
    pub fn rule(rule: Rule, detail: impl Into<String>) -> Self {
        Error::Rule {
            rule,
            detail: detail.into(),
        }
    }

    pub fn conflict(kind: ConflictKind, detail: impl Into<String>) -> Self {
        Error::Conflict {
            kind,
            detail: detail.into(),
        }
    }
}

impl Error {
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Error::Internal(err.to_string())
    }
}

impl From<crate::domain::lifecycle::LifecycleError> for Error {
    fn from(err: crate::domain::lifecycle::LifecycleError) -> Self {
        use crate::domain::lifecycle::LifecycleError as L;
        match err {
            L::NotAllowed { .. } => Error::rule(Rule::WrongState, err.to_string()),
            // Statuses are written only by this server: an unknown one is damage.
            L::UnknownStatus(_) => Error::Corrupt(err.to_string()),
        }
    }
}

impl From<crate::transparency::NotALogIndex> for Error {
    fn from(err: crate::transparency::NotALogIndex) -> Self {
        // Indexes come from the log itself; a bad one read back is damage.
        Error::Corrupt(err.to_string())
    }
}

impl From<crate::access::Denied> for Error {
    fn from(denied: crate::access::Denied) -> Self {
        Error::Forbidden(denied.0)
    }
}

impl From<crate::domain::lifecycle::FrozenError> for Error {
    fn from(err: crate::domain::lifecycle::FrozenError) -> Self {
        Error::Corrupt(err.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
