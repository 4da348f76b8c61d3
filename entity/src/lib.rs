//! sea-orm entities: the database rows, nothing more. Domain rules live in the
//! `mandaat` crate; these types never leave its storage layer.

pub mod account;
pub mod api_token;
pub mod ballot;
pub mod checkpoint;
pub mod invitation;
pub mod log_entry;
pub mod member;
pub mod member_key;
pub mod membership;
pub mod nonce;
pub mod person;
pub mod proposal;
pub mod proxy;
pub mod school;
pub mod server_key;
pub mod session;
pub mod sign_in_flow;
pub mod sign_in_request;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_event;
pub mod webhook_subscription;
