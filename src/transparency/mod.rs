//! Transparency log primitives. The log is an RFC 9162 Merkle tree whose signed
//! state is published as a C2SP tlog-checkpoint wrapped in a C2SP signed-note,
//! so that auditors can check it with tools we did not write (Go's sumdb/note,
//! Sigsum and witness tooling) instead of trusting code from this repository.

pub mod checkpoint;
pub mod merkle;
pub mod note;

/// A position in the log: the 0-based index of an entry. The log and every record
/// that points into it (a ballot, a key's registration, a proposal's closing) name a
/// position with this type; databases store it as a signed 64-bit integer, so it is
/// below 2^63, and anything negative read back is damage.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct LogIndex(u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a log index")]
pub struct NotALogIndex(pub i128);

impl LogIndex {
    pub const FIRST: LogIndex = LogIndex(0);

    pub fn new(index: u64) -> Result<Self, NotALogIndex> {
        i64::try_from(index)
            .map(|_| LogIndex(index))
            .map_err(|_| NotALogIndex(i128::from(index)))
    }

    /// As the databases store it.
    pub fn from_stored(stored: i64) -> Result<Self, NotALogIndex> {
        u64::try_from(stored)
            .map(LogIndex)
            .map_err(|_| NotALogIndex(i128::from(stored)))
    }

    pub fn stored(self) -> i64 {
        // `new` and `from_stored` keep it below 2^63.
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The size of the log whose last entry this is.
    pub fn size_through(self) -> u64 {
        self.0 + 1
    }
}

impl std::fmt::Display for LogIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::LogIndex;

    #[test]
    fn log_indexes_fit_the_databases() {
        assert_eq!(LogIndex::new(7).map(LogIndex::stored), Ok(7));
        assert!(LogIndex::new(1 << 63).is_err());
        assert!(LogIndex::from_stored(-1).is_err());
        assert_eq!(
            LogIndex::from_stored(41).map(LogIndex::size_through),
            Ok(42)
        );
    }
}
