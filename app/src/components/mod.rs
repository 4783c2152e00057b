//! Reusable view pieces.

pub mod error_panel;
pub mod format;
pub mod nav;
