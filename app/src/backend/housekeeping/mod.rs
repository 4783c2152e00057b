//! Housekeeping: retention policies, garbage collection and storage insights.

pub mod insights;
pub mod retention;
