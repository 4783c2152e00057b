//! Retention policies: which images of a scope to keep, decided by one pure function
//! ([`decide`]) that the dry run and the real run both call.

pub mod decide;
pub mod facts;
pub mod plan;
pub mod rules;
pub mod runner;
pub mod schedule;
pub mod store;
