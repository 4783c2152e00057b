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

use super::db::{now_ms, Db};
use super::users::User;
use robots::Robot;

/// The tables whose rows record when a credential was last used.
#[derive(Debug, Clone, Copy)]
pub enum UsedCredential {
    Robot,
    AccessToken,
    RefreshToken,
}

/// Records a use of the credential row `id`, at most once a minute (a pull storm is not a
/// write storm).
pub async fn record_use(db: &Db, kind: UsedCredential, id: &str) -> Result<(), sqlx::Error> {
    let table = match kind {
        UsedCredential::Robot => "robots",
        UsedCredential::AccessToken => "access_tokens",
        UsedCredential::RefreshToken => "refresh_tokens",
    };
    let now = now_ms();
    sqlx::query(&format!(
        "UPDATE {table} SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)"
    ))
    .bind(now)
    .bind(id)
    .bind(now - 60_000)
    .execute(&db.pool)
    .await?;
    Ok(())
}

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
