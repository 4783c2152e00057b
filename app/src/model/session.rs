use serde::{Deserialize, Serialize};

/// The signed-in user as the views see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub username: String,
    /// Owner of the whole registry: settings, users, resync.
    pub can_administer: bool,
    /// May manage webhooks somewhere (the registry, a namespace, some repositories).
    pub manages_webhooks: bool,
    /// May manage access somewhere: assignments and robots.
    pub manages_access: bool,
}
