//! Integration tests: the real application over HTTP, one binary, a fresh database
//! per test (SQLite, or PostgreSQL when MANDAAT_TEST_DATABASE_URL is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod api_tokens;
mod audit;
mod backup;
mod connections;
mod contract;
mod errors;
mod faults;
mod hardening;
mod health;
mod helpers;
mod import;
mod keys;
mod members;
mod membership;
mod observability;
mod oidc_provider;
mod openapi;
mod people;
mod rate_limits;
mod receipt_cli;
mod schema;
mod sign_in;
mod startup;
mod tokens;
mod vectors;
mod voting;
mod web;
mod webhooks;
mod write_path;
