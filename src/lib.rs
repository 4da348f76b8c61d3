//! Mandaat: governance and voting for a purchasing cooperative of school boards.

pub mod domain;
pub mod duo;
