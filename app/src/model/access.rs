//! Access management as the pages see it: assignments, users, teams, robots, tokens.

use serde::{Deserialize, Serialize};

/// One role assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentView {
    pub id: String,
    /// "user", "team", "robot" or "anonymous".
    pub principal_kind: String,
    /// User, team or robot name; "anyone" for anonymous.
    pub principal_name: String,
    /// "Reader", "Contributor", …
    pub role: String,
    /// The scope's text form: "" (whole registry), "team-a/", "team-a/api-*".
    pub scope: String,
}

impl AssignmentView {
    pub fn scope_label(&self) -> String {
        if self.scope.is_empty() {
            "whole registry".to_string()
        } else {
            self.scope.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub disabled: bool,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    /// The provider group the team follows (single sign-on), if any.
    pub sso_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RobotView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub scope: String,
    pub enabled: bool,
    pub expires_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

/// The Access page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessView {
    /// The assignments the reader may manage.
    pub assignments: Vec<AssignmentView>,
    /// Users and teams: filled for registry administrators only.
    pub users: Vec<UserView>,
    pub teams: Vec<TeamView>,
    /// The robots the reader may manage.
    pub robots: Vec<RobotView>,
    /// Every user's personal access tokens: filled for registry administrators only.
    pub tokens: Vec<TokenView>,
    pub can_administer: bool,
    /// Longest robot lifetime in days (0: no limit, "never expires" allowed).
    pub robot_max_days: u32,
    pub generated_at_ms: i64,
}

/// A secret shown once: a new robot's secret, a personal access token, a generated password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSecret {
    /// Who logs in with it.
    pub login: String,
    pub secret: String,
    /// `docker login` line (without the secret).
    pub docker_login: String,
    /// For robots: how to use it from Kubernetes.
    pub pull_secret: Option<PullSecretView>,
}

/// A Kubernetes imagePullSecret for a robot, three ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullSecretView {
    pub secret_name: String,
    pub kubectl: String,
    pub yaml: String,
    pub pod_spec: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// The user it belongs to.
    pub owner: String,
    pub expires_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

/// A refresh token a registry client (docker) keeps to log in again, as listed on Profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenView {
    pub id: String,
    /// The `client_id` the client sent (e.g. `docker`), if any.
    pub client: Option<String>,
    /// The personal access token it was issued for; `None`: for the password.
    pub token_name: Option<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
}

/// The Profile page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub username: String,
    pub docker_login: String,
    pub tokens: Vec<TokenView>,
    pub refresh_tokens: Vec<RefreshTokenView>,
    /// A token just created by a form posted without JavaScript, shown this once.
    pub new_token: Option<NewSecret>,
    pub generated_at_ms: i64,
}

/// Repository → Access: every assignment that reaches this repository, and what it allows here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryAccessView {
    pub repository: String,
    pub entries: Vec<RepositoryAccessEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryAccessEntry {
    pub assignment: AssignmentView,
    /// "pull", "push", "delete", "manage webhooks", "manage access".
    pub actions: Vec<String>,
}

/// The answer of the "Why?" explainer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub allowed: bool,
    pub principal: String,
    pub repository: String,
    pub action: String,
    /// The assignments that allow it (empty when denied), within the scopes the asker manages.
    pub matched: Vec<AssignmentView>,
    /// Every assignment that applies to the subject, for a denial's "what it does have", within
    /// the scopes the asker manages.
    pub considered: Vec<AssignmentView>,
    /// Allowed (also) by assignments outside the scopes the asker manages, which are not listed.
    #[serde(default)]
    pub granted_elsewhere: bool,
}
