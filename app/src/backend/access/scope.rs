//! Where an assignment applies: the whole registry, a namespace and everything below it, or the
//! repositories a name or glob matches. Written as text: `` (registry), `team-a/` (namespace),
//! `team-a/api-*` (glob; `*` matches any characters, `/` included).
//!
//! Namespaces and globs are written in the repository-name grammar (`crate::names`), a glob's
//! `*` counting as a letter; a scope covers only names of that grammar, so a name such as
//! `team-a/../secret/app` is covered by no scope at all, whatever its text starts with.

use globset::{GlobBuilder, GlobMatcher};

use crate::backend::index::queries::like_escape;
use crate::names::is_path;

#[derive(Debug, Clone)]
pub enum Scope {
    Registry,
    /// Without the trailing `/`.
    Namespace(String),
    Repositories(RepositoryGlob),
}

#[derive(Debug, Clone)]
pub struct RepositoryGlob {
    pattern: String,
    matcher: GlobMatcher,
}

impl PartialEq for Scope {
    fn eq(&self, other: &Scope) -> bool {
        self.to_text() == other.to_text()
    }
}
impl Eq for Scope {}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("a scope is at most 255 characters")]
    TooLong,
    #[error(
        "{0:?} is not a scope: use lower-case letters, digits, '.', '_', '-' and '/' \
         (and '*' in a repository glob), e.g. team-a/ or team-a/api-*"
    )]
    Invalid(String),
}

impl Scope {
    /// Parses the text form (see the module doc). Leading and trailing spaces are ignored.
    pub fn parse(text: &str) -> Result<Scope, ScopeError> {
        let text = text.trim();
        if text.len() > 255 {
            return Err(ScopeError::TooLong);
        }
        if text.is_empty() {
            return Ok(Scope::Registry);
        }
        let invalid = || ScopeError::Invalid(text.to_string());
        if let Some(namespace) = text.strip_suffix('/') {
            if !is_path(namespace, false) {
                return Err(invalid());
            }
            return Ok(Scope::Namespace(namespace.to_string()));
        }
        if !is_path(text, true) {
            return Err(invalid());
        }
        let matcher = GlobBuilder::new(text)
            .literal_separator(false)
            .backslash_escape(false)
            .build()
            .map_err(|_| invalid())?
            .compile_matcher();
        Ok(Scope::Repositories(RepositoryGlob {
            pattern: text.to_string(),
            matcher,
        }))
    }

    /// The stored and displayed form.
    pub fn to_text(&self) -> String {
        match self {
            Scope::Registry => String::new(),
            Scope::Namespace(namespace) => format!("{namespace}/"),
            Scope::Repositories(glob) => glob.pattern.clone(),
        }
    }

    /// For people: "the whole registry", "team-a/", "team-a/api-*".
    pub fn describe(&self) -> String {
        match self {
            Scope::Registry => "the whole registry".to_string(),
            other => other.to_text(),
        }
    }

    /// Whether `repository` is within this scope; never for text that is not a repository name.
    pub fn covers(&self, repository: &str) -> bool {
        if !is_path(repository, false) {
            return false;
        }
        match self {
            Scope::Registry => true,
            Scope::Namespace(namespace) => repository
                .strip_prefix(namespace.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
            Scope::Repositories(glob) => glob.matcher.is_match(repository),
        }
    }

    /// Whether everything `other` covers is covered by this scope too (managing assignments
    /// and robots within a scope needs a role over all of it).
    pub fn contains(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Registry, _) => true,
            (_, Scope::Registry) => false,
            (Scope::Namespace(outer), Scope::Namespace(inner)) => {
                inner == outer
                    || inner
                        .strip_prefix(outer.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            (Scope::Namespace(outer), Scope::Repositories(glob)) => glob
                .pattern
                .strip_prefix(outer.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
            (Scope::Repositories(outer), Scope::Repositories(glob)) => {
                outer.pattern == glob.pattern || (!glob.pattern.contains('*') && outer.matcher.is_match(&glob.pattern))
            }
            (Scope::Repositories(_), Scope::Namespace(_)) => false,
        }
    }

    /// A `LIKE` pattern (with `ESCAPE '\'`) matching the same repository names as [`covers`];
    /// `None` for the registry (everything).
    ///
    /// [`covers`]: Scope::covers
    pub fn like_pattern(&self) -> Option<String> {
        match self {
            Scope::Registry => None,
            Scope::Namespace(namespace) => Some(format!("{}/%", like_escape(namespace))),
            Scope::Repositories(glob) => Some(glob.pattern.split('*').map(like_escape).collect::<Vec<_>>().join("%")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(pattern: &str, text: &str) -> bool {
        // The SQL LIKE semantics, for the patterns like_pattern produces.
        fn go(p: &[char], t: &[char]) -> bool {
            match p.split_first() {
                None => t.is_empty(),
                Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
                Some(('\\', rest)) => {
                    let (c, rest) = rest.split_first().unwrap();
                    t.first() == Some(c) && go(rest, &t[1..])
                }
                Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
                Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
            }
        }
        go(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>())
    }

    #[test]
    fn scopes_parse_and_cover() {
        assert_eq!(Scope::parse("").unwrap(), Scope::Registry);
        assert_eq!(Scope::parse(" team-a/ ").unwrap().to_text(), "team-a/");
        let namespace = Scope::parse("team-a/").unwrap();
        assert!(namespace.covers("team-a/api"));
        assert!(namespace.covers("team-a/x/y"));
        assert!(!namespace.covers("team-a"));
        assert!(!namespace.covers("team-ab/api"));
        let glob = Scope::parse("team-a/api-*").unwrap();
        assert!(glob.covers("team-a/api-gateway"));
        assert!(glob.covers("team-a/api-x/y"));
        assert!(!glob.covers("team-a/web"));
        let exact = Scope::parse("shop/api").unwrap();
        assert!(exact.covers("shop/api"));
        assert!(!exact.covers("shop/api2"));
        for good in ["a.b/", "x_y/z-1", "team-*/api", "*/web", "a__b/c"] {
            assert!(Scope::parse(good).is_ok(), "{good:?}");
        }
        let dotted = Scope::parse("a.b/c").unwrap();
        assert!(!dotted.covers("aXb/c"), "a dot is literal");
        for bad in [
            "/",
            "a//b",
            "/a",
            "A/b",
            "a b",
            "a/[b]",
            "a/{b,c}",
            "a/?",
            "a\\b",
            "a/b//",
            "../",
            "a/../b",
            ".hidden/",
            "-x/",
            "team-/",
            "a/b.",
            "a..b/",
            "a._b/c",
            "a___b/",
            "team-a/../secret/",
            "%2e%2e/",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Scope::parse(&"a".repeat(256)), Err(ScopeError::TooLong));
    }

    #[test]
    fn no_scope_covers_what_is_not_a_name() {
        for scope in ["", "team-a/", "team-a/*", "*"] {
            let scope = Scope::parse(scope).unwrap();
            assert!(scope.covers("team-a/app"), "{scope:?}");
            for name in [
                "team-a/../secret/app",
                "team-a/./app",
                "team-a//app",
                "team-a/%2e%2e/secret",
                "team-a/App",
                "team-a/app/",
                "team-a/äpp",
            ] {
                assert!(!scope.covers(name), "{scope:?} {name:?}");
            }
        }
    }

    #[test]
    fn containment() {
        let s = |t: &str| Scope::parse(t).unwrap();
        assert!(s("").contains(&s("a/")));
        assert!(!s("a/").contains(&s("")));
        assert!(s("a/").contains(&s("a/")));
        assert!(s("a/").contains(&s("a/b/")));
        assert!(!s("a/").contains(&s("ab/")));
        assert!(s("a/").contains(&s("a/api-*")));
        assert!(!s("a/").contains(&s("a*")));
        assert!(s("a/api-*").contains(&s("a/api-1")));
        assert!(!s("a/api-*").contains(&s("a/api-1*")));
        assert!(!s("a/api").contains(&s("a/")));
    }

    #[test]
    fn like_patterns_agree_with_covers() {
        let names = [
            "team-a/api",
            "team-a/api-gateway",
            "team-a/x/y",
            "team-a",
            "team-ab/api",
            "team_a/api",
            "teamxa/api",
            "shop/api",
            "shop/api2",
            "a.b/c",
        ];
        for scope in ["team-a/", "team-a/api-*", "team_a/", "shop/api", "*/api", "a.b/*", "*"] {
            let scope = Scope::parse(scope).unwrap();
            let pattern = scope.like_pattern().unwrap();
            for name in names {
                assert_eq!(like(&pattern, name), scope.covers(name), "{scope:?} {pattern} {name}");
            }
        }
        assert_eq!(Scope::Registry.like_pattern(), None);
    }
}
