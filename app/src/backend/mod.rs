//! Server-side domain code: database, registry client, token service, events, index and sync,
//! users. Nothing here knows about Leptos views; HTTP handlers live in the server crate or in `api`.

pub mod access;
pub mod audit;
pub mod config;
pub mod console_deletes;
pub mod db;
pub mod deletion;
pub mod events;
pub mod housekeeping;
pub mod index;
pub mod intake;
pub mod intake_journal;
pub mod metrics;
pub mod notifier;
pub mod passwords;
pub mod placeholders;
pub mod registry;
pub mod registry_config;
pub mod replicas;
pub mod responses;
pub mod retention;
pub mod session;
pub mod sso;
pub mod state;
pub mod sync;
pub mod synthetic;
pub mod tokens;
pub mod users;
pub mod webhooks;
pub mod work;

pub use state::AppState;
