//! Who may do what. Every permission check in Wharf goes through [`allowed_actions`]: the token
//! server, server functions and (later) catalog filtering.
//!
//! Until role assignments exist, the rule is: administrators may do everything, everyone else
//! nothing.

use super::users::User;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Anonymous,
    User(User),
    /// The console itself, when it calls the registry.
    Console,
}

impl Subject {
    /// The `sub` claim of a registry token.
    pub fn token_subject(&self) -> String {
        match self {
            Subject::Anonymous => String::new(),
            Subject::User(user) => user.username.clone(),
            Subject::Console => "wharf-console".to_string(),
        }
    }
}

/// The subset of `requested` actions that `subject` may perform on the resource.
pub fn allowed_actions(
    subject: &Subject,
    _resource_type: &str,
    _resource_name: &str,
    requested: &[String],
) -> Vec<String> {
    let everything = match subject {
        Subject::Console => true,
        Subject::User(user) => user.is_admin,
        Subject::Anonymous => false,
    };
    if everything {
        requested.to_vec()
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(is_admin: bool) -> Subject {
        Subject::User(User {
            id: "1".into(),
            username: "u".into(),
            is_admin,
        })
    }

    #[test]
    fn admin_gets_what_it_asks_for_and_others_nothing() {
        let asked = vec!["pull".to_string(), "push".to_string()];
        assert_eq!(allowed_actions(&user(true), "repository", "a/b", &asked), asked);
        assert!(allowed_actions(&user(false), "repository", "a/b", &asked).is_empty());
        assert!(allowed_actions(&Subject::Anonymous, "repository", "a/b", &asked).is_empty());
        assert_eq!(
            allowed_actions(&Subject::Console, "registry", "catalog", &["*".to_string()]),
            vec!["*"]
        );
    }
}
