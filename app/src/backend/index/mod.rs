//! The index: Wharf's copy of what the registry holds (repositories, tags, manifests, platforms,
//! sizes, push times), kept in the database so every page is one quick query. The registry stays
//! the source of truth: `sync` feeds this from events and reconcile.

pub mod blobs;
pub mod catalog_counts;
pub mod detail;
pub use fetch::FetchError;
pub mod fetch;
pub mod labels;
pub mod parse;
pub mod queries;
pub mod search_index;
pub mod store;
