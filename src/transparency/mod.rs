//! Transparency log primitives. The log is an RFC 9162 Merkle tree whose signed
//! state is published as a C2SP tlog-checkpoint wrapped in a C2SP signed-note,
//! so that auditors can check it with tools we did not write (Go's sumdb/note,
//! Sigsum and witness tooling) instead of trusting code from this repository.

pub mod checkpoint;
pub mod merkle;
pub mod note;
