//! Which events a webhook receives: its actions, its scope and its pusher filter.
//!
//! The scope works as Azure Container Registry's: a list of `repository:tag` globs
//! (`shop/*:v*`), where `*` alone is everything, a repository without `:tag` means its `latest`
//! tag (as in ACR), and an empty list is the whole registry. `*` matches across `/`, so
//! `shop/*` covers `shop/api` and `shop/team/api`. An event without a tag (an image deleted by
//! digest) matches entries whose tag part is `*`.
//!
//! Both parts are written in the grammar of what they match (`crate::names`): a part without
//! glob characters must be a repository name or a tag, and a pattern uses only their characters
//! besides the glob ones, with no empty, `.` or `..` path part.

use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::names::{is_path, Tag};

/// The characters with a meaning in a glob.
const GLOB_CHARS: &[char] = &['*', '?', '[', ']', '{', '}', ',', '!', '\\'];

/// Entries in one scope, and the length of one entry: enough for any real use.
pub const MAX_ENTRIES: usize = 50;
pub const MAX_ENTRY_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("a scope has at most {MAX_ENTRIES} entries")]
    TooMany,
    #[error("scope entry \"{0}\" is longer than {MAX_ENTRY_LEN} characters")]
    TooLong(String),
    #[error("scope entry \"{entry}\" is not a valid pattern: {reason}")]
    Invalid { entry: String, reason: String },
}

#[derive(Debug, Clone)]
struct Entry {
    repository: GlobMatcher,
    tag: GlobMatcher,
    any_tag: bool,
}

/// A compiled scope.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    entries: Vec<Entry>,
}

fn glob(entry: &str, pattern: &str) -> Result<GlobMatcher, ScopeError> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .map_err(|e| ScopeError::Invalid {
            entry: entry.to_string(),
            reason: e.kind().to_string(),
        })
}

/// The repository part names repositories and the tag part tags, as patterns or literally.
fn check_parts(entry: &str, repository: &str, tag: &str) -> Result<(), ScopeError> {
    let invalid = |reason: &str| ScopeError::Invalid {
        entry: entry.to_string(),
        reason: reason.to_string(),
    };
    let repository_ok = if repository.contains(GLOB_CHARS) {
        repository
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c) || GLOB_CHARS.contains(&c))
            && repository.split('/').all(|part| !matches!(part, "" | "." | ".."))
    } else {
        is_path(repository, false)
    };
    if !repository_ok {
        return Err(invalid(
            "the repository part is not a repository name or a pattern of one: use lower-case letters, digits, \
             '.', '_', '-' and '/' (e.g. shop/api or shop/*)",
        ));
    }
    let tag_ok = if tag.contains(GLOB_CHARS) {
        tag.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c) || GLOB_CHARS.contains(&c))
    } else {
        Tag::parse(tag).is_ok()
    };
    if !tag_ok {
        return Err(invalid(
            "the tag part is not a tag or a pattern of one: use letters, digits, '_', '.' and '-' (e.g. v1.2 or v*)",
        ));
    }
    Ok(())
}

impl Scope {
    /// Compiles a scope, refusing too many, too long or malformed entries. Blank entries are skipped.
    pub fn parse(entries: &[String]) -> Result<Scope, ScopeError> {
        if entries.len() > MAX_ENTRIES {
            return Err(ScopeError::TooMany);
        }
        let mut compiled = Vec::new();
        for raw in entries {
            let entry = raw.trim();
            if entry.is_empty() {
                continue;
            }
            if entry.len() > MAX_ENTRY_LEN {
                return Err(ScopeError::TooLong(entry.chars().take(40).collect()));
            }
            let (repository, tag) = match entry {
                "*" => ("*", "*"),
                _ => entry.rsplit_once(':').unwrap_or((entry, "latest")),
            };
            if repository.is_empty() || tag.is_empty() {
                return Err(ScopeError::Invalid {
                    entry: entry.to_string(),
                    reason: "write it as repository:tag".into(),
                });
            }
            if tag.contains('/') {
                return Err(ScopeError::Invalid {
                    entry: entry.to_string(),
                    reason: "a tag has no '/': leave the registry host out (shop/api:v*, not host:5000/shop/api:v*)"
                        .into(),
                });
            }
            check_parts(entry, repository, tag)?;
            compiled.push(Entry {
                repository: glob(entry, repository)?,
                tag: glob(entry, tag)?,
                any_tag: tag == "*",
            });
        }
        Ok(Scope { entries: compiled })
    }

    /// The whole registry?
    pub fn is_everything(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn matches(&self, repository: &str, tag: Option<&str>) -> bool {
        self.entries.is_empty()
            || self.entries.iter().any(|entry| {
                entry.repository.is_match(repository)
                    && match tag {
                        Some(tag) => entry.tag.is_match(tag),
                        None => entry.any_tag,
                    }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(entries: &[&str]) -> Scope {
        Scope::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn matches_like_acr() {
        let shop = scope(&["shop/*:v*"]);
        assert!(shop.matches("shop/api", Some("v1.2")));
        assert!(shop.matches("shop/team/api", Some("v2")));
        assert!(!shop.matches("shop/api", Some("latest")));
        assert!(!shop.matches("other/api", Some("v1")));
        assert!(
            !shop.matches("shop/api", None),
            "an untagged event needs a tag part of *"
        );

        let plain = scope(&["base"]);
        assert!(plain.matches("base", Some("latest")));
        assert!(
            !plain.matches("base", Some("flask")),
            "a repository alone means its latest tag"
        );

        let all_tags = scope(&["base:*"]);
        assert!(all_tags.matches("base", Some("flask")) && all_tags.matches("base", None));
        assert!(!all_tags.matches("base2", Some("flask")));

        assert!(scope(&["*"]).matches("any/thing", None));
        assert!(scope(&[]).matches("any/thing", Some("x")) && scope(&[]).is_everything());
        assert!(scope(&["  ", "a:b"]).matches("a", Some("b")));
    }

    #[test]
    fn the_last_colon_separates_the_tag() {
        let odd = Scope::parse(&["a:b:c".to_string()]).unwrap_err();
        assert!(odd.to_string().contains("repository part"), "{odd}");
        let pasted = Scope::parse(&["registry:5000/shop/api".to_string()]).unwrap_err();
        assert!(pasted.to_string().contains("registry host"), "{pasted}");
    }

    #[test]
    fn refuses_bad_scopes() {
        let many: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("r{i}:*")).collect();
        assert_eq!(Scope::parse(&many).unwrap_err(), ScopeError::TooMany);
        assert!(matches!(
            Scope::parse(&["x".repeat(300)]).unwrap_err(),
            ScopeError::TooLong(_)
        ));
        assert!(matches!(
            Scope::parse(&["shop/[a:*".to_string()]).unwrap_err(),
            ScopeError::Invalid { .. }
        ));
        assert!(matches!(
            Scope::parse(&[":v1".to_string()]).unwrap_err(),
            ScopeError::Invalid { .. }
        ));
    }

    #[test]
    fn parts_are_names_and_tags() {
        for good in [
            "shop/api",
            "shop/*:v*",
            "shop/{api,web}:v?.[0-9]",
            "*/web:*",
            "a__b/c-d:1.0_rc",
        ] {
            assert!(Scope::parse(&[good.to_string()]).is_ok(), "{good:?}");
        }
        for bad in [
            "team-a/../secret/app:*",
            "team-a/../*:*",
            "shop//api",
            "/shop/api",
            "shop/api/",
            "Shop/api",
            "shop/%2e%2e/api",
            "shop/äpi",
            "shop/api:.hidden",
            "shop/api:-x",
            "shop/api:ü*",
            "shop/api:a%2f*",
        ] {
            let err = Scope::parse(&[bad.to_string()]).unwrap_err();
            assert!(matches!(err, ScopeError::Invalid { .. }), "{bad:?}: {err}");
        }
    }
}
