//! The application's error: what can go wrong in a use case, independent of HTTP.
//! `#[from]` conversions let `?` work across store calls and transactions alike.

use sea_orm::{DbErr, SqlErr};

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
    #[error("{0}")]
    Invalid(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(DbErr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    DuplicateBgNumber,
    KeyAlreadyRegistered,
    KeyRevoked,
    MemberSuspended,
    /// A unique constraint caught a race that the checks before it could not.
    Concurrent,
}

impl ConflictKind {
    pub fn slug(self) -> &'static str {
        match self {
            ConflictKind::DuplicateBgNumber => "duplicate-bg-number",
            ConflictKind::KeyAlreadyRegistered => "key-already-registered",
            ConflictKind::KeyRevoked => "key-revoked",
            ConflictKind::MemberSuspended => "member-suspended",
            ConflictKind::Concurrent => "conflict",
        }
    }
}

impl Error {
    pub fn conflict(kind: ConflictKind, detail: impl Into<String>) -> Self {
        Error::Conflict {
            kind,
            detail: detail.into(),
        }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => Error::conflict(
                ConflictKind::Concurrent,
                format!("the change conflicts with existing data: {detail}"),
            ),
            _ => Error::Db(err),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
