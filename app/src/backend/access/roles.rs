//! Roles and the actions they allow, as in Azure Container Registry: Reader, Contributor and
//! Owner for people and teams; Puller, Pusher and Deleter for robots.

use serde::{Deserialize, Serialize};

/// Something a subject may do. Repository actions apply to a repository; the others to the
/// scope they are checked at (webhooks and assignments in a namespace, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Browse and pull.
    Pull,
    Push,
    /// Delete tags and images.
    Delete,
    ManageWebhooks,
    /// Assign roles and manage robots.
    ManageAccess,
    /// Registry-wide settings: resync, users, teams, single sign-on.
    Administer,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Pull,
        Action::Push,
        Action::Delete,
        Action::ManageWebhooks,
        Action::ManageAccess,
        Action::Administer,
    ];

    /// The registry token's action, for the repository actions.
    pub fn registry_action(self) -> Option<&'static str> {
        match self {
            Action::Pull => Some("pull"),
            Action::Push => Some("push"),
            Action::Delete => Some("delete"),
            _ => None,
        }
    }

    /// The repository actions a registry token action stands for (`*` is all of them).
    pub fn from_registry_action(action: &str) -> &'static [Action] {
        match action {
            "pull" => &[Action::Pull],
            "push" => &[Action::Push],
            "delete" => &[Action::Delete],
            "*" => &[Action::Pull, Action::Push, Action::Delete],
            _ => &[],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
            Action::ManageWebhooks => "manage webhooks",
            Action::ManageAccess => "manage access",
            Action::Administer => "administer",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.label() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Reader,
    Contributor,
    Owner,
    Puller,
    Pusher,
    Deleter,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Reader,
        Role::Contributor,
        Role::Owner,
        Role::Puller,
        Role::Pusher,
        Role::Deleter,
    ];

    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Owner => true,
            Role::Contributor => matches!(action, Pull | Push | Delete | ManageWebhooks),
            Role::Reader | Role::Puller => action == Pull,
            Role::Pusher => matches!(action, Pull | Push),
            Role::Deleter => matches!(action, Pull | Delete),
        }
    }

    /// Robots get the narrow roles, people and teams the broad ones.
    pub fn for_robots(self) -> bool {
        matches!(self, Role::Puller | Role::Pusher | Role::Deleter)
    }

    /// How it is stored (`role_assignments.role`) and written in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Contributor => "contributor",
            Role::Owner => "owner",
            Role::Puller => "puller",
            Role::Pusher => "pusher",
            Role::Deleter => "deleter",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Reader => "Reader",
            Role::Contributor => "Contributor",
            Role::Owner => "Owner",
            Role::Puller => "Puller",
            Role::Pusher => "Pusher",
            Role::Deleter => "Deleter",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grow_as_in_acr() {
        for action in Action::ALL {
            assert!(Role::Owner.allows(action));
            if Role::Reader.allows(action) {
                assert!(Role::Contributor.allows(action), "{action:?}");
            }
        }
        assert!(Role::Reader.allows(Action::Pull));
        assert!(!Role::Reader.allows(Action::Push));
        assert!(Role::Contributor.allows(Action::Delete));
        assert!(Role::Contributor.allows(Action::ManageWebhooks));
        assert!(!Role::Contributor.allows(Action::ManageAccess));
        assert!(Role::Pusher.allows(Action::Push));
        assert!(!Role::Pusher.allows(Action::Delete));
        assert!(!Role::Puller.allows(Action::Push));
        assert!(Role::Deleter.allows(Action::Delete));
        assert!(!Role::Deleter.allows(Action::Push));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Action::from_registry_action("*").len(), 3);
        assert!(Action::from_registry_action("mount").is_empty());
    }
}
