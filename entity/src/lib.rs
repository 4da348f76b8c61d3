//! sea-orm entities: the database rows, nothing more. Domain rules live in the
//! `mandaat` crate; these types never leave its storage layer.

pub mod log_entry;
pub mod member;
pub mod member_key;
pub mod server_key;
