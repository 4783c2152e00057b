//! Client for the registry's v2 API, with timeouts on every call and either minted tokens (the
//! console's own access) or credentials answered to the registry's auth challenge.

mod challenge;
mod client;
mod error;

pub use challenge::{parse_challenge, Challenge};
pub use client::{RegistryAuth, RegistryClient, MANIFEST_ACCEPT, MAX_CONFIG_BYTES};
pub use error::RegistryError;
