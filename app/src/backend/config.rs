//! Runtime settings the server crate derives from flags and environment.

use std::path::PathBuf;

#[derive(Clone)]
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
    /// Basic-auth user name for a registry Wharf does not manage (the password is not kept here).
    pub registry_username: Option<String>,
    /// Where users and registry clients reach the console.
    pub public_url: url::Url,
    /// Time between periodic reconciles (zero: only on start and on request).
    pub reconcile_interval: std::time::Duration,
    /// How long registry events and webhook deliveries are kept.
    pub event_retention: std::time::Duration,
    /// How long audit log entries are kept.
    pub audit_retention: std::time::Duration,
    /// Longest robot lifetime in days (0: no limit, robots may never expire).
    pub robot_max_days: u32,
    /// How long a refresh token (what `docker login` keeps) works after it was issued, however
    /// much it is used.
    pub refresh_token_lifetime: std::time::Duration,
    /// Catalog pages a reconcile reads at most.
    pub catalog_max_pages: usize,
    /// Repositories a reconcile reads from the registry at the same time.
    pub registry_concurrency: usize,
    /// A timed reconcile checks the tag digests of one repository in this many.
    pub reconcile_digest_slices: u32,
}

/// Everything but the notification secret.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("registry_url", &self.registry_url.as_str())
            .field("registry_host", &self.registry_host)
            .field("public_url", &self.public_url.as_str())
            .field("notification_secret", &"<redacted>")
            .field("managed_registry", &self.managed_registry)
            .finish_non_exhaustive()
    }
}

pub const TOKEN_SERVICE: &str = "wharf-registry";
pub const TOKEN_ISSUER: &str = "wharf";
