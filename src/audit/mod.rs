//! The independent audit: checks an audit bundle ([`bundle::Bundle`]) without
//! trusting the server that produced it. Everything is derived again from the signed
//! entries: the Merkle root, the signatures, which keys were valid when, what each
//! proposal froze, and every tally. The bundle's own summaries (keys, proposals,
//! stored results) are only compared against that derivation, never believed.

pub mod bundle;
mod membership;
mod verify;

pub use bundle::read_bundle;
pub use verify::{Failure, Report, VerifyOptions, verify};
