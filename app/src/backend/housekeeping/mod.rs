//! Housekeeping: retention policies, garbage collection and storage insights.

pub mod retention;
