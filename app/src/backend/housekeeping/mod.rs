//! Housekeeping: what keeps a registry from only growing (retention, garbage collection,
//! storage insights).

pub mod cron;
pub mod gc;
pub mod insights;
pub mod retention;
