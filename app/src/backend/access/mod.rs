//! Who may do what. Subjects (users, their teams, robots, anyone) get roles within scopes by
//! role assignments; [`decide`] is the one function that turns them into an answer, and the token
//! server, every server function, catalog filtering and the explainer call it.

pub mod assignments;
pub mod credentials;
mod decision;
pub mod personal_tokens;
pub mod pull_secret;
pub mod refresh_tokens;
pub mod robots;
mod roles;
mod scope;
pub mod secrets;
pub mod teams;
mod throttle;

pub use decision::{decide, Assignment, Decision, Grants, Principal, Target, Visibility};
pub use roles::{Action, Role};
pub use scope::{Scope, ScopeError};
pub use throttle::Throttle;

use super::users::User;
use robots::Robot;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Anonymous,
    User(User),
    Robot(Robot),
    /// The console itself, when it calls the registry.
    Console,
}

impl Subject {
    /// The `sub` claim of a registry token (what the registry's events name as the actor).
    pub fn token_subject(&self) -> String {
        match self {
            Subject::Anonymous => String::new(),
            Subject::User(user) => user.username.clone(),
            Subject::Robot(robot) => robot.name.clone(),
            Subject::Console => "wharf-console".to_string(),
        }
    }

    /// The principal its own assignments are given to.
    pub fn principal(&self) -> Option<Principal> {
        match self {
            Subject::User(user) => Some(Principal::User(user.id.clone())),
            Subject::Robot(robot) => Some(Principal::Robot(robot.id.clone())),
            Subject::Anonymous => Some(Principal::Anonymous),
            Subject::Console => None,
        }
    }
}
