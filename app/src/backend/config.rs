//! Runtime settings the server crate derives from flags and environment.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// Base URL of the registry's v2 API as the console reaches it, e.g. `http://127.0.0.1:5000`.
    pub registry_url: url::Url,
    /// `host:port` that users push to (shown in pull commands and help texts).
    pub registry_host: String,
    /// The `service` in tokens, the same value the registry config names.
    pub token_service: String,
    /// The `iss` in tokens.
    pub token_issuer: String,
    /// Shared secret the registry sends in `Authorization: Bearer` with every notification.
    pub notification_secret: String,
    /// Whether the console generated and started the registry itself.
    pub managed_registry: bool,
}

pub const TOKEN_SERVICE: &str = "wharf-registry";
pub const TOKEN_ISSUER: &str = "wharf";
