use serde::{Deserialize, Serialize};

/// The signed-in user as the views see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub username: String,
    /// Owner of the whole registry: settings, users, resync.
    pub can_administer: bool,
}
