//! The domain: member boards, chambers and signed statements. Pure code, free of
//! HTTP and database types, so that every rule is unit-tested directly.

pub mod ballot;
pub mod keys;
pub mod member;
pub mod person;
pub mod proposal;
pub mod statement;
pub mod tally;
