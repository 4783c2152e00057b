use serde::{Deserialize, Serialize};

use super::sync::SyncStatus;

/// The Settings page: how Wharf is connected to its registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    /// Wharf started the registry and is its token server.
    pub managed_registry: bool,
    pub registry_url: String,
    pub registry_host: String,
    /// Set when basic credentials for an unmanaged registry are configured (never the password).
    pub registry_username: Option<String>,
    pub token_realm: String,
    pub token_service: String,
    /// The `notifications` stanza to paste into the registry's config (an unmanaged registry).
    /// Holds the notification secret, so only administrators get it.
    pub notification_stanza: String,
    pub reconcile_interval_secs: u64,
    pub sync: SyncStatus,
}
