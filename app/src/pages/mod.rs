//! One module per page.

pub mod catalog;
pub mod coming;
pub mod events;
pub mod login;
pub mod not_found;
