//! Keeping the index in step with the registry: events applied as they arrive, a reconcile
//! that walks the registry, and the live updates pages subscribe to.

pub mod apply;
pub mod hub;
pub mod reconcile;
pub mod turns;
pub mod worker;

pub use hub::SyncHub;
