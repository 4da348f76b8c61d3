//! Mandaat: governance and voting for a purchasing cooperative of school boards.
//!
//! Layers: `domain` (pure rules), `access` (who may do what), `store` (the only code
//! that touches sea-orm), `service` (use cases), `api` (poem-openapi handlers),
//! `startup` (wiring, shared by `main` and the tests).

pub mod access;
pub mod api;
pub mod audit;
pub mod audit_cli;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connection;
pub mod domain;
pub mod duo;
pub mod error;
pub mod import;
pub mod observe;
pub mod rate_limit;
pub mod receipt_cli;
pub mod server_keys;
pub mod service;
pub mod startup;
pub mod store;
pub mod transparency;
pub mod web;

pub use config::Config;
pub use startup::Application;
