//! The one decision: may these grants do this action here? [`decide`] answers, with the
//! assignments that made the answer, and everything else (the token server, server functions,
//! catalog filtering, the live stream, the explainer) is built on it.

use super::roles::{Action, Role};
use super::scope::Scope;

/// Who an assignment is given to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(String),
    Team(String),
    Robot(String),
    /// Everyone, signed in or not (public images).
    Anonymous,
}

impl Principal {
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::Team(_) => "team",
            Principal::Robot(_) => "robot",
            Principal::Anonymous => "anonymous",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Principal::User(id) | Principal::Team(id) | Principal::Robot(id) => id,
            Principal::Anonymous => "",
        }
    }

    pub fn from_parts(kind: &str, id: &str) -> Option<Principal> {
        Some(match kind {
            "user" => Principal::User(id.to_string()),
            "team" => Principal::Team(id.to_string()),
            "robot" => Principal::Robot(id.to_string()),
            "anonymous" => Principal::Anonymous,
            _ => return None,
        })
    }
}

/// A role given to a principal within a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub id: String,
    pub principal: Principal,
    pub role: Role,
    pub scope: Scope,
}

/// What an action is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Registry-wide: the catalog as a whole, settings, users.
    Registry,
    Repository(&'a str),
    /// All of a scope: assignments and robots in it are managed by whoever may manage access
    /// over all of it.
    Within(&'a Scope),
}

/// Every assignment that applies to one subject (its own, its teams', the anonymous ones).
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// The console itself: everything.
    pub console: bool,
    pub assignments: Vec<Assignment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The assignments whose role allows the action and whose scope covers the target.
    pub matched: Vec<Assignment>,
}

/// May `grants` do `action` on `target`? A registry-wide target is covered only by assignments
/// at registry scope; a repository by any scope that covers its name.
///
/// Text that is not a repository name is never allowed, not even to the console: every request
/// the console sends for a repository is for one of that grammar.
pub fn decide(grants: &Grants, target: Target<'_>, action: Action) -> Decision {
    if let Target::Repository(name) = target {
        if !crate::names::is_path(name, false) {
            return Decision {
                allowed: false,
                matched: Vec::new(),
            };
        }
    }
    let matched: Vec<Assignment> = grants
        .assignments
        .iter()
        .filter(|a| a.role.allows(action))
        .filter(|a| match target {
            Target::Registry => a.scope == Scope::Registry,
            Target::Repository(name) => a.scope.covers(name),
            Target::Within(scope) => a.scope.contains(scope),
        })
        .cloned()
        .collect();
    Decision {
        allowed: grants.console || !matched.is_empty(),
        matched,
    }
}

/// Which repositories a subject may read, for filtering lists in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// Repositories covered by one of these scopes (none: nothing).
    Only(Vec<Scope>),
}

/// Nothing, until a caller's grants say otherwise.
impl Default for Visibility {
    fn default() -> Visibility {
        Visibility::Only(Vec::new())
    }
}

impl Visibility {
    /// An SQL condition on `column` and its `LIKE` patterns, to bind as placeholders numbered
    /// from `$first`; `None` when everything is visible.
    pub fn sql_condition(&self, column: &str, first: usize) -> Option<(String, Vec<String>)> {
        let Visibility::Only(scopes) = self else {
            return None;
        };
        let patterns: Vec<String> = scopes.iter().filter_map(Scope::like_pattern).collect();
        let alternatives: Vec<String> = (0..patterns.len())
            .map(|i| format!("{column} LIKE ${} ESCAPE '\\'", first + i))
            .collect();
        Some(if alternatives.is_empty() {
            ("1 = 0".to_string(), patterns)
        } else {
            (format!("({})", alternatives.join(" OR ")), patterns)
        })
    }

    pub fn includes(&self, repository: &str) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Only(scopes) => scopes.iter().any(|s| s.covers(repository)),
        }
    }
}

impl Grants {
    pub fn allows(&self, target: Target<'_>, action: Action) -> bool {
        decide(self, target, action).allowed
    }

    /// The scopes in which these grants may do `action`, widest first and without one inside
    /// another: where a caller may put what it manages (a webhook, a robot). Empty: nowhere.
    pub fn scopes_for(&self, action: Action) -> Vec<Scope> {
        if self.console {
            return vec![Scope::Registry];
        }
        let mut scopes: Vec<Scope> = self
            .assignments
            .iter()
            .filter(|a| a.role.allows(action))
            .map(|a| a.scope.clone())
            .collect();
        scopes.sort_by_key(|s| (!matches!(s, Scope::Registry), s.to_text()));
        let mut widest: Vec<Scope> = Vec::new();
        for scope in scopes {
            if !widest.iter().any(|w| w.contains(&scope)) {
                widest.push(scope);
            }
        }
        widest
    }

    /// The repositories these grants may pull: everything when [`decide`] allows pulling at
    /// registry scope, else the scopes of the assignments that allow pulling.
    pub fn readable(&self) -> Visibility {
        if self.allows(Target::Registry, Action::Pull) {
            return Visibility::All;
        }
        Visibility::Only(
            self.assignments
                .iter()
                .filter(|a| a.role.allows(Action::Pull))
                .map(|a| a.scope.clone())
                .collect(),
        )
    }

    /// The subset of a token scope's `requested` actions these grants allow. `*` stays `*` when
    /// everything it stands for is allowed, and becomes the allowed actions otherwise.
    pub fn token_actions(&self, resource_type: &str, name: &str, requested: &[String]) -> Vec<String> {
        if self.console {
            return requested.to_vec();
        }
        let mut granted: Vec<String> = Vec::new();
        let mut grant = |action: &str| {
            if !granted.iter().any(|g| g == action) {
                granted.push(action.to_string());
            }
        };
        match resource_type {
            "repository" => {
                for asked in requested {
                    let actions = Action::from_registry_action(asked);
                    let allowed: Vec<Action> = actions
                        .iter()
                        .copied()
                        .filter(|a| self.allows(Target::Repository(name), *a))
                        .collect();
                    if !actions.is_empty() && allowed.len() == actions.len() {
                        grant(asked);
                    } else {
                        allowed.iter().filter_map(|a| a.registry_action()).for_each(&mut grant);
                    }
                }
            }
            "registry" if name == "catalog" && self.allows(Target::Registry, Action::Pull) => {
                requested.iter().for_each(|a| grant(a));
            }
            _ => {}
        }
        granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(role: Role, scope: &str) -> Assignment {
        Assignment {
            id: format!("{role:?}-{scope}"),
            principal: Principal::User("u".into()),
            role,
            scope: Scope::parse(scope).unwrap(),
        }
    }

    fn grants(list: &[(Role, &str)]) -> Grants {
        Grants {
            console: false,
            assignments: list.iter().map(|(r, s)| assignment(*r, s)).collect(),
        }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_for_an_action_are_the_widest_that_allow_it() {
        let g = grants(&[
            (Role::Reader, ""),
            (Role::Contributor, "team-a/api-*"),
            (Role::Contributor, "team-b/"),
            (Role::Owner, "team-a/"),
            (Role::Contributor, "team-b/web/"),
        ]);
        let texts = |action| g.scopes_for(action).iter().map(Scope::to_text).collect::<Vec<_>>();
        assert_eq!(texts(Action::ManageWebhooks), ["team-a/", "team-b/"]);
        assert_eq!(texts(Action::ManageAccess), ["team-a/"]);
        assert_eq!(texts(Action::Pull), [""]);
        assert!(grants(&[(Role::Reader, "x/")]).scopes_for(Action::Push).is_empty());
    }

    #[test]
    fn decisions_follow_role_and_scope() {
        let g = grants(&[
            (Role::Reader, ""),
            (Role::Contributor, "team-a/"),
            (Role::Owner, "team-a/api-*"),
        ]);
        assert!(g.allows(Target::Registry, Action::Pull));
        assert!(!g.allows(Target::Registry, Action::Push));
        assert!(g.allows(Target::Repository("other/x"), Action::Pull));
        assert!(!g.allows(Target::Repository("other/x"), Action::Push));
        assert!(g.allows(Target::Repository("team-a/web"), Action::Delete));
        assert!(!g.allows(Target::Repository("team-a/web"), Action::ManageAccess));
        assert!(g.allows(Target::Repository("team-a/api-1"), Action::ManageAccess));
        // Only registry-scoped assignments count for registry-wide actions.
        assert!(!g.allows(Target::Registry, Action::ManageWebhooks));
        let api = Scope::parse("team-a/api-*").unwrap();
        assert!(g.allows(Target::Within(&api), Action::ManageAccess));
        let team = Scope::parse("team-a/").unwrap();
        assert!(!g.allows(Target::Within(&team), Action::ManageAccess));
        assert!(g.allows(Target::Within(&team), Action::Push));
        let why = decide(&g, Target::Repository("team-a/api-1"), Action::Push);
        assert_eq!(why.matched.len(), 2, "{why:?}");
        let nothing = decide(&Grants::default(), Target::Repository("a/b"), Action::Pull);
        assert!(!nothing.allowed && nothing.matched.is_empty());
        let console = Grants {
            console: true,
            assignments: vec![],
        };
        assert!(console.allows(Target::Registry, Action::Administer));
        assert!(console.allows(Target::Repository("secret/app"), Action::Delete));
        for traversal in [
            "team-a/../secret/app",
            "team-a/%2e%2e/secret/app",
            "team-a//app",
            "Team-a/app",
        ] {
            assert!(
                !console.allows(Target::Repository(traversal), Action::Pull),
                "{traversal}"
            );
            assert!(!g.allows(Target::Repository(traversal), Action::Pull), "{traversal}");
        }
    }

    #[test]
    fn token_actions_are_the_allowed_subset() {
        let g = grants(&[(Role::Reader, "team-a/"), (Role::Deleter, "team-a/old")]);
        let asked = strings(&["pull", "push"]);
        assert_eq!(g.token_actions("repository", "team-a/api", &asked), strings(&["pull"]));
        assert!(g.token_actions("repository", "team-b/api", &asked).is_empty());
        assert_eq!(
            g.token_actions("repository", "team-a/old", &strings(&["*"])),
            strings(&["pull", "delete"])
        );
        assert!(g.token_actions("registry", "catalog", &strings(&["*"])).is_empty());
        assert!(g
            .token_actions("repository", "team-a/api", &strings(&["mount", ""]))
            .is_empty());
        let owner = grants(&[(Role::Owner, "")]);
        assert_eq!(
            owner.token_actions("repository", "x", &strings(&["*"])),
            strings(&["*"])
        );
        assert_eq!(
            owner.token_actions("registry", "catalog", &strings(&["*"])),
            strings(&["*"])
        );
        assert!(owner.token_actions("registry", "other", &strings(&["*"])).is_empty());
    }

    #[test]
    fn visibility_is_what_decide_allows_to_pull() {
        let g = grants(&[
            (Role::Reader, "team-a/"),
            (Role::Pusher, "shop/api"),
            (Role::Deleter, "x/*"),
        ]);
        let visible = g.readable();
        for name in ["team-a/api", "shop/api", "x/y", "shop/web", "team-b/a"] {
            assert_eq!(
                visible.includes(name),
                g.allows(Target::Repository(name), Action::Pull),
                "{name}"
            );
        }
        let (sql, params) = visible.sql_condition("name", 2).unwrap();
        assert_eq!(params, strings(&["team-a/%", "shop/api", "x/%"]));
        assert!(sql.contains("$2") && sql.contains("$4") && !sql.contains("$5"), "{sql}");
        assert_eq!(grants(&[(Role::Reader, "")]).readable(), Visibility::All);
        assert_eq!(
            Grants::default().readable().sql_condition("name", 1),
            Some(("1 = 0".to_string(), Vec::new()))
        );
    }
}
