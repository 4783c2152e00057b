//! Reusable view pieces.

pub mod charts;
pub mod confirm_form;
pub mod copy_button;
pub mod error_panel;
pub mod housekeeping_tabs;
pub mod live;
pub mod nav;
pub mod new_secret;
pub mod pager;
pub mod pull_commands;
pub mod sync_banner;
pub mod time;
pub mod typing_history;
