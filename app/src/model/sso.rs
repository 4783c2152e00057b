//! Single sign-on as the pages see it.

use serde::{Deserialize, Serialize};

/// The Single sign-on settings (the client secret is never sent back: `has_secret` tells whether
/// one is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettingsView {
    pub enabled: bool,
    pub issuer_url: String,
    pub client_id: String,
    pub has_secret: bool,
    pub username_claim: String,
    pub groups_claim: String,
    pub create_users: bool,
    pub label: String,
    /// Provider groups of which a user needs one to sign in (empty: any).
    pub allowed_groups: Vec<String>,
    /// E-mail domains of which a user needs one to sign in (empty: any).
    pub allowed_domains: Vec<String>,
    /// The redirect URI to register at the provider.
    pub callback_url: String,
    /// What the test sign-in named in the page's address returned.
    pub test_result: Option<SsoTestResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoTestResult {
    pub username: String,
    pub groups: Vec<String>,
    pub subject: String,
    /// Which teams would follow, by their provider group.
    pub teams: Vec<String>,
    /// The e-mail address the allow-list would check.
    pub email: Option<String>,
    /// Why the allow-list would refuse this user (`None`: allowed).
    pub refusal: Option<String>,
}

/// What the sign-in page offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoLoginOption {
    /// The button's text, when single sign-on is on.
    pub label: Option<String>,
    /// Why the last single sign-on attempt failed, shown once.
    pub error: Option<String>,
}
